"""``jegal embed INPUT --model M --out X.npz``: gesture and content embeddings of videos or clips.

    jegal embed demo_out/real/input/sample1.avi --model demo_out --out sample1.npz   # one video (transcript or ASR)
    jegal embed demo_out/real/input --model demo_out/run/model --out samples.npz     # every video of a folder
    jegal embed demo_out/corpus/test --model demo_out --out test.npz --modalities t  # a shard set (prepare / synth)

INPUT is one video (or ``<name>.kps.npz`` with ``<name>.wav`` beside it), a folder of them, or a
shard set (a folder of ``.tar`` shards with or without ``manifest.json``, or one ``.tar``).
Videos go through :func:`jegal.use.video.read_video` (people, keypoints, words, overlapping
windows); every window of every person is embedded in batches (:func:`jegal.inference.embed_clips`).
A shard set is read one shard at a time, each clip its own window.

**Units and windows.** A *unit* is one person of one video (a shard clip is a unit of its own).
Its frame embeddings ``(T, d)`` cover the person's track, each frame taken from the window in which
it lies most centrally; its word embeddings ``(W, d)`` cover the words spoken while it is in
view, each word from the window in which it lies most centrally (the rule of
:func:`jegal.use.video.central_window`, as ``jegal spot`` uses). Clip vectors are per *window*
(gesture: every window; content: the windows that hold words): they are what ``jegal search``
indexes and what retrieval compares.

**The file** (``.npz``, plain arrays, no pickle, written atomically) is an
:class:`jegal.inference.Embeddings` file (``Embeddings.load`` reads its clip vectors: ids
``gesture_ids`` / ``content_ids`` are window ids, the per-window frame / word arrays are empty)
with these arrays beside (:class:`EmbedSet` reads it all):

- ``format`` = "jegal-embed", ``embed_version``; ``meta``: JSON (model directory and digest,
  what the model knows (``model_training``: :func:`model_info`), content inputs, input, fps 25,
  window settings, warnings);
- ``window_meta``: JSON list, one per gesture window: ``clip_id``, ``unit`` (row of the units),
  ``source``, ``person``, ``speaker``, ``start_frame``, ``end_frame`` (inclusive, 25 fps, from
  the source's start), ``start`` / ``end`` (seconds, end exclusive), ``has_words``;
- ``units``: JSON list: ``id``, ``source``, ``person``, ``speaker``, ``start_frame``,
  ``num_frames``, ``num_words``, ``transcript_source``;
- ``unit_frames`` (sum T, d) float32 and ``unit_frame_offsets`` (U + 1,): unit u's frames are rows
  ``offsets[u]:offsets[u + 1]``, frame ``start_frame + i`` of the source;
- ``unit_words`` (sum W, d) float32 and ``unit_word_offsets`` (U + 1,); ``word_text`` (normalised),
  ``word_display`` (as written), ``word_spans`` (sum W, 2) inclusive frames from the source's start.

With ``--clip-vectors-only`` the unit arrays hold no rows (small files for search galleries).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jegal.data.words import Word
from jegal.timebase import FPS

FORMAT = "jegal-embed"
FORMAT_VERSION = 1
SHARDS, VIDEO, VIDEOS, EMBEDDINGS = "shards", "video", "videos", "embeddings"


class EmbedInputError(ValueError):
    """An INPUT that is none of the kinds a command takes; the message names it and says what is expected."""


def input_kind(path: str | os.PathLike, embeddings: bool = False) -> str:
    """What INPUT is: ``"video"`` (a video file or ``.kps.npz``), ``"videos"`` (a folder without
    shards), ``"shards"`` (a ``.tar`` or a folder of them), or, with ``embeddings``, an ``.npz``
    written by ``jegal embed`` (``"embeddings"``). Raises FileNotFoundError / :class:`EmbedInputError`."""
    from jegal.perception.discover import KPS_SUFFIX, VIDEO_SUFFIXES

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file or folder")
    name = p.name.lower()
    if p.is_file():
        if name.endswith(KPS_SUFFIX) or p.suffix.lower() in VIDEO_SUFFIXES:
            return VIDEO
        if name.endswith(".tar"):
            return SHARDS
        if embeddings and name.endswith(".npz"):
            return EMBEDDINGS
        kinds = "a video, a .kps.npz, a shard .tar" + (", an .npz from jegal embed" if embeddings else "")
        raise EmbedInputError(f"{p}: not an input this command takes ({kinds}, or a folder)")
    if (p / "manifest.json").is_file() or any(p.glob("*.tar")):
        return SHARDS
    if (p / "train").is_dir() and (p / "test").is_dir():
        raise EmbedInputError(f"{p}: a corpus with train/ and test/; give one of its shard sets, e.g. {p / 'test'}")
    return VIDEOS


# -- the result -------------------------------------------------------------------------------------
@dataclass
class EmbedSet:
    """Embeddings of an input (module docstring): clip vectors per window in ``windows`` (an
    :class:`~jegal.inference.Embeddings` whose per-window frames / words are empty), and per
    unit (person of a video, or shard clip) the merged frames ``unit_frames[u]`` (T_u, d), word
    embeddings ``unit_words[u]`` (W_u, d) and the words themselves ``unit_word_list[u]`` (spans in
    frames from the source's start)."""

    windows: "Embeddings"  # noqa: F821 (jegal.inference.Embeddings, imported lazily)
    window_meta: list[dict]
    units: list[dict]
    unit_frames: list[np.ndarray]
    unit_words: list[np.ndarray]
    unit_word_list: list[list[Word]]
    meta: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return self.windows.dim

    def unit(self, u: int) -> dict:
        """Unit ``u`` as one dict: its record plus ``frames`` (T, d), ``words`` (W, d) and ``word_list``."""
        return {**self.units[u], "frames": self.unit_frames[u], "words": self.unit_words[u],
                "word_list": self.unit_word_list[u]}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the ``.npz`` (module docstring), atomically."""
        from jegal.inference.embed import ragged

        frames, frame_off = ragged(self.unit_frames, self.dim)
        words, word_off = ragged(self.unit_words, self.dim)
        every = [w for ws in self.unit_word_list for w in ws]
        extra = {"format": np.array(FORMAT), "embed_version": np.int64(FORMAT_VERSION),
                 "window_meta": np.array(json.dumps(self.window_meta)), "units": np.array(json.dumps(self.units)),
                 "unit_frames": frames, "unit_frame_offsets": frame_off, "unit_words": words,
                 "unit_word_offsets": word_off, "word_text": np.array([w.text for w in every], dtype=str),
                 "word_display": np.array([w.display for w in every], dtype=str),
                 "word_spans": np.array([[w.start, w.end] for w in every], np.int64).reshape(-1, 2)}
        return self.windows.save(path, meta=self.meta, extra=extra)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "EmbedSet":
        """Read a file :meth:`save` wrote. Raises :class:`EmbedInputError` naming the file when it
        is not one (e.g. a benchmark embedding cache of ``jegal eval``) or of another version."""
        from jegal.inference import Embeddings

        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                if "format" not in z.files or str(z["format"]) != FORMAT:
                    raise EmbedInputError(f"{path}: not an embeddings file written by jegal embed")
                if int(z["embed_version"]) != FORMAT_VERSION:
                    raise EmbedInputError(f"{path}: jegal embed file version {int(z['embed_version'])}, "
                                          f"expected {FORMAT_VERSION}; embed again")
                meta = json.loads(str(z["meta"]))
                window_meta, units = json.loads(str(z["window_meta"])), json.loads(str(z["units"]))
                fo, wo = z["unit_frame_offsets"], z["unit_word_offsets"]
                frames, words = z["unit_frames"], z["unit_words"]
                text, display, spans = z["word_text"], z["word_display"], z["word_spans"]
            windows = Embeddings.load(path)
        except (OSError, ValueError, KeyError) as err:
            if isinstance(err, EmbedInputError):
                raise
            raise EmbedInputError(f"{path}: unreadable embeddings file ({err})") from None
        U = len(units)
        word_list = [[Word(str(text[i]), int(spans[i, 0]), int(spans[i, 1]), str(display[i]))
                      for i in range(wo[u], wo[u + 1])] for u in range(U)]
        return cls(windows, window_meta, units, [frames[fo[u]:fo[u + 1]] for u in range(U)],
                   [words[wo[u]:wo[u + 1]] for u in range(U)], word_list, meta)


class _Collector:
    """Gathers the embeddings of one input piece by piece (a shard, a video) into an :class:`EmbedSet`."""

    def __init__(self, dim_hint: int = 0, keep_units: bool = True):
        self.keep_units = keep_units
        self.g_ids, self.g_vecs, self.c_ids, self.c_vecs = [], [], [], []
        self.window_meta, self.units, self.frames, self.words, self.word_list = [], [], [], [], []
        self.dim = dim_hint

    def _windows(self, emb, clips, unit_of: list[int], starts: list[int], meta: list[dict],
                 ids: list[str] | None = None) -> None:
        """Windows ``clips`` (stored under ``ids``, default their clip ids) of the units ``unit_of``."""
        ids = ids or [c.clip_id for c in clips]
        for c, cid, u, s, m in zip(clips, ids, unit_of, starts, meta):
            e = s + c.num_frames - 1
            self.window_meta.append({"clip_id": cid, "unit": u, **m, "start_frame": int(s), "end_frame": int(e),
                                     "start": round(s / FPS, 3), "end": round((e + 1) / FPS, 3),
                                     "has_words": bool(c.words)})
        g = {cid: i for i, cid in enumerate(emb.gesture_ids)}
        rename = {c.clip_id: cid for c, cid in zip(clips, ids)}
        self.g_ids += ids
        self.g_vecs.append(emb.gesture_clip[[g[c.clip_id] for c in clips]])
        mine = [i for i, cid in enumerate(emb.content_ids) if cid in rename]
        self.c_ids += [rename[emb.content_ids[i]] for i in mine]
        self.c_vecs.append(emb.content_clip[mine])
        self.dim = self.dim or emb.dim

    def _unit(self, record: dict, frames: np.ndarray, words: np.ndarray, word_list: list[Word]) -> None:
        self.units.append({**record, "num_frames": int(len(frames)), "num_words": len(word_list)})
        d = frames.shape[1] if frames.ndim == 2 else self.dim
        self.frames.append(frames if self.keep_units else np.zeros((0, d), np.float32))
        self.words.append(words if self.keep_units else np.zeros((0, d), np.float32))
        self.word_list.append(word_list)

    def add_clips(self, clips: list, emb) -> None:
        """Shard clips, each a window and a unit of its own; ``emb`` their :class:`Embeddings`."""
        u0 = len(self.units)
        meta, starts = [], []
        for c in clips:
            start = int(c.extra.get("start_frame", 0) or 0)
            person = c.extra.get("track", c.extra.get("person"))
            meta.append({"source": c.source, "person": person, "speaker": c.speaker_id})
            starts.append(start)
        self._windows(emb, clips, list(range(u0, u0 + len(clips))), starts, meta)
        for c, start, m in zip(clips, starts, meta):
            frames = emb.gesture(c.clip_id)[1]
            words = emb.content(c.clip_id)[1] if emb.has_content(c.clip_id) else np.zeros((0, frames.shape[1]),
                                                                                         np.float32)
            self._unit({"id": c.clip_id, **m, "start_frame": start,
                        "transcript_source": c.extra.get("transcript_source", "")},
                       frames, words, [w.shifted(-start) for w in c.words] if words.size else [])

    def add_video(self, video, emb, name: str) -> None:
        """Every person of a :class:`jegal.use.video.VideoInput`; ``emb`` the embeddings of their
        windows; ``name`` the video's name in the input (unique within it): units are
        ``<name>/<person:05d>``, windows ``<name>/<person:05d>@<first frame:06d>``."""
        from jegal.inference.windows import central_window, merge_frames

        starts = np.array([w.start for w in video.words], np.int64)
        ends = np.array([w.end for w in video.words], np.int64)
        for person in video.people:
            u = len(self.units)
            speaker = f"{name}/{person.person:05d}"
            m = {"source": str(video.path), "person": person.person, "speaker": speaker}
            ids = [f"{speaker}@{s:06d}" for s in person.start_frame]
            self._windows(emb, person.clips, [u] * len(person.clips), person.start_frame, [m] * len(person.clips), ids)
            first, T = person.first_frame, person.last_frame - person.first_frame + 1
            win = np.asarray(person.windows, np.int64).reshape(-1, 2)
            frames = merge_frames([emb.gesture(c.clip_id)[1] for c in person.clips], win - first, T, fill=0.0)
            scored = central_window(starts, ends, win)  # (W,) the window deciding each word, -1: not in view
            rows, kept = [], []
            for w in np.flatnonzero(scored >= 0):
                k = int(scored[w])
                members = np.flatnonzero((starts >= win[k, 0]) & (ends <= win[k, 1]))  # window k's words, in order
                rows.append(emb.content(person.clips[k].clip_id)[1][int(np.searchsorted(members, w))])
                kept.append(video.words[w])
            words = np.stack(rows).astype(np.float32) if rows else np.zeros((0, frames.shape[1]), np.float32)
            self._unit({"id": speaker, **m, "start_frame": int(first), "transcript_source": video.transcript_source},
                       frames, words, kept)

    def result(self, meta: dict) -> EmbedSet:
        from jegal.inference import Embeddings

        d = self.dim

        def stack(parts):
            parts = [p for p in parts if len(p)]
            return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, d), np.float32)

        empty = np.zeros((0, d), np.float32)
        windows = Embeddings(self.g_ids, stack(self.g_vecs), [empty] * len(self.g_ids), self.c_ids, stack(self.c_vecs),
                             [empty] * len(self.c_ids))
        return EmbedSet(windows, self.window_meta, self.units, self.frames, self.words, self.word_list, meta)


# -- embedding --------------------------------------------------------------------------------------
@dataclass
class VideoOptions:
    """How videos are read (the arguments of :func:`jegal.use.video.read_video`)."""

    transcript: str | None = None  # one video only
    asr: str = "auto"
    asr_model: str | None = None
    window_frames: int = 100
    overlap_frames: int = 50
    rgb_size: int | None = None
    tier: str | None = None  # the words tier of .eaf / .TextGrid transcripts


def embed_input(model, source: str | os.PathLike, modalities: str, batch_size: int = 32,
                video: VideoOptions | None = None, keep_units: bool = True, progress=None,
                model_info: dict | None = None, model_dir: str | os.PathLike | None = None) -> EmbedSet:
    """Embed INPUT (a video, a folder of videos or a shard set; :func:`input_kind`) with ``model``.

    ``modalities``: content inputs ("t", "a", "ta"). ``keep_units=False`` keeps clip vectors only.
    ``model_dir``: the model's folder, where a ``features`` model (an imported released model) keeps
    the GestSync weights its per-frame features come from (:func:`jegal.use.video.model_inputs`).
    Videos of a folder that cannot be read are skipped and listed in ``meta["warnings"]``; a
    single video that cannot be read raises its :class:`~jegal.perception.errors.PrepareError`.
    Raises :class:`EmbedInputError` when nothing could be embedded. ``progress(stage, fraction)``:
    :mod:`jegal.use.progress`'s protocol (per shard, per video, and within a video as it is read)."""
    from jegal.inference import embed_clips
    from jegal.use.progress import quiet

    progress = progress or quiet

    source = Path(source)
    kind = input_kind(source)
    video = video or VideoOptions()
    col = _Collector(keep_units=keep_units)
    warnings: list[str] = []
    meta = {"input": str(source), "input_kind": kind, "modalities": modalities, "fps": FPS, **(model_info or {})}
    if kind == SHARDS:
        from jegal.data.shards import list_shards, read_clip_list

        shards = list_shards(source)
        for k, shard in enumerate(shards):
            progress(f"shard {k + 1} of {len(shards)}", k / len(shards))
            clips, skipped = read_clip_list(shard)
            warnings += [f"{key}: {why}" for key, why in skipped]
            if clips:
                emb = embed_clips(model, clips, [c for c in clips if c.words], modalities, batch_size)
                col.add_clips(clips, emb)
    else:
        from jegal.perception.discover import KPS_SUFFIX, discover
        from jegal.perception.errors import PrepareError
        from jegal.use.video import model_inputs, read_video, video_preparer

        if kind == VIDEO:
            paths = {source.name[:-len(KPS_SUFFIX)] if source.name.endswith(KPS_SUFFIX) else source.stem: source}
        else:  # names relative to the folder (unique: discover refuses two inputs of one name)
            paths = {it.name: it.source for it in discover(source)}
        if not paths:
            raise EmbedInputError(f"{source}: no video or .kps.npz in this folder (and no .tar shards)")
        if kind == VIDEOS and video.transcript:
            raise EmbedInputError("--transcript names the transcript of one video; for a folder put each "
                                  "transcript beside its video (<name>.txt/.json/.TextGrid)")
        meta.update(window_frames=video.window_frames, overlap_frames=video.overlap_frames)
        # one preparer (its mediapipe models, its recogniser, the GestSync weights) for every video, making
        # the inputs this model needs: rgb crops, GestSync features, the log-mel it was trained on
        needs = model_inputs(model, model_dir, None, video.rgb_size)
        preparer = video_preparer(asr=video.asr, asr_model=video.asr_model, **needs)
        try:
            for k, (name, path) in enumerate(paths.items()):
                def within(stage: str, fraction: float, k=k, name=name) -> None:  # this video's share of the whole
                    progress(f"{name} ({k + 1} of {len(paths)}): {stage}", (k + 0.9 * fraction) / len(paths))

                try:
                    model_inputs(model, model_dir, path, video.rgb_size)  # rgb/features: not from a .kps.npz
                    v = read_video(path, video.transcript, window_frames=video.window_frames,
                                   overlap_frames=video.overlap_frames, progress=within, require_words=False,
                                   preparer=preparer, tier=video.tier)
                except PrepareError as err:
                    if kind == VIDEO:
                        raise
                    warnings.append(f"skipped {err}")
                    continue
                warnings += v.warnings
                clips = [c for p in v.people for c in p.clips]
                emb = embed_clips(model, clips, [c for c in clips if c.words], modalities, batch_size)
                col.add_video(v, emb, name)
        finally:
            preparer.close()
    if not col.g_ids:
        raise EmbedInputError(f"{source}: nothing to embed" + (f" ({warnings[0]} ...)" if warnings else ""))
    meta["warnings"] = warnings
    progress("embedded", 1.0)
    return col.result(meta)


def write_embeddings(source: str | os.PathLike, model, *, out: str | os.PathLike, model_dir: str | os.PathLike | None = None,
          modalities: str | None = None, batch_size: int = 32, video: VideoOptions | None = None,
          keep_units: bool = True, progress=None) -> EmbedSet:
    """``jegal embed``: the embeddings of ``source`` (a video, a folder of videos or a shard set)
    by ``model`` (loaded, :meth:`jegal.model.JEGAL.from_pretrained`; ``model_dir`` its folder, recorded
    with its digest; default: the folder it was loaded from), written to ``out`` (``.npz``, atomically;
    format in the module docstring).
    ``modalities`` None: the model's own (:func:`jegal.use.common.content_modalities`); ``video``:
    how videos are read; ``progress(stage, fraction)``: :mod:`jegal.use.progress`'s protocol.
    Returns the :class:`EmbedSet` written. Raises :class:`EmbedInputError` (an ``out`` not ending
    in ``.npz``, an input that is none of the three, nothing to embed) and what
    :func:`embed_input` raises."""
    from jegal.use.common import content_modalities

    out = Path(out)
    if out.suffix != ".npz":
        raise EmbedInputError(f"--out {out}: the embeddings file must end in .npz")
    input_kind(source)
    model_dir = model_dir if model_dir is not None else getattr(model, "source_dir", None)
    modalities = content_modalities(model, modalities)
    result = embed_input(model, source, modalities, batch_size, video, keep_units=keep_units, progress=progress,
                         model_info=None if model_dir is None else model_info(Path(model_dir)), model_dir=model_dir)
    result.save(out)
    return result


def model_info(model_dir: Path) -> dict:
    """What an embeddings file or a search index records about its model: directory (``model``),
    digest (``model_id``) and what it knows (``model_training``: ``kind``, ``synthetic``,
    ``statement``, ``training_data``, from its card by :func:`jegal.model.card.training_statement`)."""
    from jegal.model.card import CardError, read_card, training_statement
    from jegal.model.pretrained import model_identity

    try:
        card = read_card(model_dir)
    except CardError:
        card = None  # the model loads without it (JEGAL.from_pretrained warns); so does its statement
    return {"model": str(Path(model_dir).resolve()), "model_id": model_identity(model_dir),
            "model_training": training_statement(card, model_dir)}


# -- command line -----------------------------------------------------------------------------------
def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags for reading videos (:class:`VideoOptions`) and ``--batch-size``, ``--quiet``."""
    from jegal.perception.asr import ASR_HELP, ASR_MODEL_HELP, ASR_MODES
    from jegal.perception.transcripts import TIER_HELP
    from jegal.inference.windows import OVERLAP_FRAMES, WINDOW_FRAMES

    parser.add_argument("--transcript", default=None, metavar="FILE",
                        help="with one video: its transcript (default: <name>.txt/.json/.TextGrid/.vtt/.srt/.eaf or "
                             "<name>.<lang>.vtt beside it, else ASR)")
    parser.add_argument("--tier", default=None, metavar="NAME", help=TIER_HELP)
    parser.add_argument("--asr", choices=ASR_MODES, default="auto",
                        help=ASR_HELP + " (none: gesture embeddings only)")
    parser.add_argument("--asr-model", default=None, metavar="NAME|DIR", help=ASR_MODEL_HELP)
    parser.add_argument("--window-frames", type=int, default=WINDOW_FRAMES, help="frames (25 fps) per window")
    parser.add_argument("--overlap-frames", type=int, default=OVERLAP_FRAMES, help="frames shared by neighbouring windows")
    parser.add_argument("--rgb-size", type=int, default=None, metavar="PX", help="crop size for an rgb model (default 112)")
    parser.add_argument("--batch-size", type=int, default=32, help="windows / clips per model batch")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def video_options(args: argparse.Namespace) -> VideoOptions:
    from jegal.use.common import check_flags

    check_flags(args)
    return VideoOptions(args.transcript, args.asr, args.asr_model, args.window_frames, args.overlap_frames,
                        args.rgb_size, args.tier)


def configure(parser: argparse.ArgumentParser) -> None:
    from jegal.use.common import add_model_arguments

    parser.description = __doc__.split("\n\n")[0]
    parser.add_argument("input", metavar="INPUT", help="a video (or .kps.npz), a folder of videos, or a shard set")
    parser.add_argument("--out", required=True, metavar="X.npz", help="the embeddings file to write")
    add_model_arguments(parser)
    add_input_arguments(parser)
    parser.add_argument("--clip-vectors-only", action="store_true",
                        help="keep clip vectors only (no per-frame / per-word embeddings): small files")


def run(args: argparse.Namespace) -> int:
    from jegal.model import JEGAL
    from jegal.use.common import check_device, expected_errors, report_error
    from jegal.use.progress import ProgressBar

    out = Path(args.out)
    if out.suffix != ".npz":
        return report_error("embed", ValueError(f"--out {out}: the embeddings file must end in .npz"))
    try:
        kind = input_kind(args.input)
        options = video_options(args)
        device = check_device(args.device, args.threads)
        model = JEGAL.from_pretrained(args.model, args.checkpoint, device).load_text_backbone()
        t0 = time.perf_counter()
        with ProgressBar("embed", disable=args.quiet) as bar:
            result = write_embeddings(args.input, model, out=out, modalities=args.modalities,
                                      batch_size=args.batch_size, video=options,
                                      keep_units=not args.clip_vectors_only, progress=bar)
    except expected_errors() + (EmbedInputError,) as err:
        return report_error("embed", err)
    seconds = time.perf_counter() - t0
    n_words = sum(len(w) for w in result.unit_word_list)
    if result.meta.get("model_training"):
        print(f"model: {result.meta['model_training']['statement']}")
    print(f"embedded {kind} {args.input}: {len(result.units)} units (people / clips), {len(result.window_meta)} "
          f"windows, {n_words} words, d={result.dim}, content {result.meta['modalities']}, in {seconds:.1f} s")
    if result.meta["warnings"]:
        print(f"{len(result.meta['warnings'])} warnings, e.g. {result.meta['warnings'][0]}", file=sys.stderr)
    print(f"wrote {out}")
    return 0
