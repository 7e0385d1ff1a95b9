"""``jegal search build`` / ``jegal search query``: a FAISS gallery of gesture clips, queried by text, speech or video.

    jegal search build demo_out/corpus/test --model demo_out --index gallery/    # a shard set
    jegal search build demo_out/real/input --model demo_out --index videos/      # every person of every video
    jegal search build samples.npz --model demo_out --index samples/             # embeddings from jegal embed
    jegal search query --index gallery/ --text "a big round ball" -k 5
    jegal search query --index gallery/ --audio demo_out/real/input/sample1.wav  # words: transcript beside it, or ASR
    jegal search query --index gallery/ --video demo_out/real/input/sample2.avi --json

**Build.** The gallery's gesture clip vectors (one per shard clip, or per window of each person
of each video: :mod:`jegal.use.embed`) go into a :class:`jegal.inference.GalleryIndex`: exact
search for small galleries, HNSW above :data:`jegal.inference.search.APPROX_ABOVE` vectors,
calibrated at build time to recall@10 >= 0.95 against exact search. The recall is measured on
the gallery's own *content* clip vectors (the queries a gallery really gets) when it has words,
else on a sample of its gesture vectors; the build prints it. The index directory stores each
clip's id, source, start / end seconds, person and speaker, and the model it was built with
(its directory and digest, :func:`jegal.model.pretrained.model_identity`, and what it knows:
``model_training``, :func:`jegal.model.card.training_statement`; the build prints its statement).

**Query.** Queries are embedded with the index's model (loaded from the recorded directory, or
``--model`` pointing at a copy: its digest must match, else the query is refused: vectors of two
models are not comparable). The query's *content* clip vector is searched against the gallery's
*gesture* clip vectors:

- ``--text``: the words alone, content input ``t``; no audio or video involved (each word is
  given :data:`WORD_FRAMES` frames, which the text encoder does not see);
- ``--audio FILE``: the speech, content input ``a``; its words (the spans over which the speech
  encoder pools) come from ``--transcript``, else the transcript beside the file
  (``<name>.txt/.json/.TextGrid``), else offline speech recognition (``--asr``,
  :mod:`jegal.perception.asr`: pocketsphinx, or faster-whisper with a local model);
- ``--video FILE``: the video's speech and words, as the model was trained (default ``ta``;
  ``--modalities`` changes it); words as for ``--audio``. Only the sound track is read: the query
  side of a search is content, so no person needs to be in view.

``--span START END`` (seconds) queries part of a recording. At most :data:`MAX_QUERY_WORDS`
words are used (the model was trained on 5-20 word clips, and its text encoder reads a bounded
number of subwords). Results: rank, cosine score, clip id, source, start-end seconds, person, after
one line that says what the model knows; as JSON with ``--json``, its ``model`` section
(:func:`jegal.model.card.model_record`, as in ``spot.json``) beside the hits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from jegal.data.clip import Clip
from jegal.data.words import Word, normalise_word
from jegal.timebase import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME

WORD_FRAMES = 8  # frames per word of a text query (~0.3 s, a typical spoken word); unused by the text encoder
MAX_QUERY_WORDS = 60
ITEM_KEYS = ("source", "start", "end", "person", "speaker", "start_frame", "end_frame")


class IndexModelMismatch(ValueError):
    """The model at hand is not the one the index was built with."""


class EmptyQuery(ValueError):
    """A query with nothing to search for (no words, no speech)."""


# -- build ------------------------------------------------------------------------------------------
def build_gallery(embedded, kind: str = "auto", info: dict | None = None, progress: bool = False):
    """A :class:`~jegal.inference.GalleryIndex` over the gesture clip vectors of an
    :class:`jegal.use.embed.EmbedSet`, each with its window's metadata; the recall of an
    approximate index is measured with the set's content clip vectors as queries (if it has at
    least 10). ``info`` (model, digest, ...) is stored with it."""
    from jegal.inference.search import GalleryIndex

    w = embedded.windows
    items = [{k: m.get(k) for k in ITEM_KEYS} for m in embedded.window_meta]
    queries = w.content_clip if len(w.content_clip) >= 10 else None
    return GalleryIndex(w.gesture_clip, w.gesture_ids, items=items, kind=kind, recall_queries=queries,
                        info=info, progress=progress)


def _build(args: argparse.Namespace) -> int:
    import faiss

    from jegal.model import JEGAL
    from jegal.use.common import check_device, content_modalities, expected_errors, report_error
    from jegal.use.embed import EMBEDDINGS, EmbedInputError, EmbedSet, embed_input, input_kind, model_info, \
        video_options
    from jegal.inference.search import GalleryError, GalleryIndex
    from jegal.use.progress import ProgressBar

    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    t0 = time.perf_counter()
    try:
        GalleryIndex.check_destination(args.index)  # before the embedding, which may take hours
        kind = input_kind(args.gallery, embeddings=True)
        if kind == EMBEDDINGS:
            embedded = EmbedSet.load(args.gallery)
            info = {k: embedded.meta.get(k) for k in ("model", "model_id", "modalities")}
            from jegal.model.pretrained import resolve_model_dir

            given = model_info(resolve_model_dir(args.model, args.checkpoint))
            if given["model_id"] != info["model_id"]:
                raise IndexModelMismatch(f"{args.gallery} was embedded with the model {info['model']} "
                                         f"(digest {info['model_id']}), not with --model {args.model} "
                                         f"(digest {given['model_id']})")
            info.update(model=given["model"], model_training=given["model_training"])
        else:
            options = video_options(args)
            device = check_device(args.device, args.threads)
            model = JEGAL.from_pretrained(args.model, args.checkpoint, device).load_text_backbone()
            model_dir = model.source_dir
            modalities = content_modalities(model, args.modalities)
            info = {**model_info(model_dir), "modalities": modalities}
            with ProgressBar("embed", disable=args.quiet) as bar:
                embedded = embed_input(model, args.gallery, modalities, args.batch_size, options, keep_units=False,
                                       progress=bar, model_info=info, model_dir=model_dir)
        info["gallery"] = str(Path(args.gallery).resolve())
        embed_s = time.perf_counter() - t0
        gallery = build_gallery(embedded, args.kind, info, progress=not args.quiet)
        gallery.save(args.index)
    except expected_errors() + (EmbedInputError, GalleryError, IndexModelMismatch) as err:
        return report_error("search build", err)
    print(f"model: {info['model_training']['statement']}")
    r = gallery.report
    setting = next((f"{label} {r[key]:g}" for key, label in (("ef_search", "efSearch"), ("k_factor", "k_factor"))
                    if key in r), None)
    recall = (f"recall@10 {r['recall@10']:.3f} against exact search ({r.get('recall_queries')} "
              f"{r.get('recall_query_source')} queries, {setting})" if setting else "exact search")
    print(f"gallery: {len(gallery)} gesture clips from {args.gallery} (embedding {embed_s:.1f} s), "
          f"index {gallery.kind} built in {r['build_seconds_total']:.1f} s, {recall}")
    if r.get("fallback"):
        print(f"note: {r['fallback']}")
    print(f"wrote {args.index}")
    return 0


# -- queries ----------------------------------------------------------------------------------------
def text_clip(text: str, clip_id: str = "query") -> Clip:
    """A content clip of the words of ``text`` (whitespace-separated; each gets :data:`WORD_FRAMES`
    frames, silent mel). Raises :class:`EmptyQuery` when no word is left after normalisation."""
    from jegal.data.audio import log_mel

    words = [(t, normalise_word(t)) for t in text.split()]
    words = [(d, n) for d, n in words if n][:MAX_QUERY_WORDS]
    if not words:
        raise EmptyQuery(f"--text {text!r}: no words to search for")
    T = WORD_FRAMES * len(words)
    spans = [Word(n, i * WORD_FRAMES, (i + 1) * WORD_FRAMES - 1, d) for i, (d, n) in enumerate(words)]
    return Clip(clip_id, np.zeros((T, 56, 3), np.float32), log_mel(np.zeros(T * SAMPLES_PER_FRAME, np.float32), T),
                spans).validate()


def speech_clip(path: str | os.PathLike, transcript: str | os.PathLike | None = None, asr: str = "auto",
                asr_model: str | os.PathLike | None = None, span: tuple[float, float] | None = None,
                clip_id: str = "query", warnings: list[str] | None = None,
                mel: str = "jegal", tier: str | None = None) -> tuple[Clip, str]:
    """(content clip, transcript source) of the sound of ``path`` (an audio or a video file; the
    audio track at 16 kHz mono, or ``<name>.wav`` beside a video when there is one, as ``jegal
    prepare`` reads it) and its words: ``transcript``, else the transcript beside the file,
    else offline recognition (``asr``: :data:`jegal.perception.asr.ASR_MODES`). ``span`` (start, end)
    seconds keeps that part. ``mel``: the log-mel kind of the model that will embed the clip
    (``model.input_spec.mel``, :class:`jegal.model.spec.InputSpec`). ``tier``: the words tier of an
    ``.eaf`` / ``.TextGrid`` transcript. Raises FileNotFoundError,
    :class:`EmptyQuery` (no word in the span) and the prepare errors (``NoAudio``, ``BadAudio``,
    ``NoTranscript`` when nothing was recognised, ``BadTranscript``, ``TranscriptTooLong``, ...),
    each naming the file."""
    from jegal.model.spec import log_mel_for
    from jegal.perception.asr import Transcriber, check_asr
    from jegal.perception.decode import load_audio_for
    from jegal.perception.discover import Item
    from jegal.perception.transcripts import find_transcript

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if transcript is not None and not Path(transcript).is_file():
        raise FileNotFoundError(f"--transcript {transcript}: no such file")
    check_asr(asr, asr_model)
    wav = path.with_suffix(".wav")  # as jegal prepare: a <name>.wav beside a video is its sound
    audio = load_audio_for(path, wav if wav != path and wav.is_file() else None)
    item = Item(name=path.stem, video=path, transcript=Path(transcript) if transcript else find_transcript(path),
                tier=tier)
    chosen = Transcriber(asr, asr_model).words(item, audio, None, warnings)
    words = chosen.words
    T = -(-len(audio) // SAMPLES_PER_FRAME)
    first = 0
    if span is not None:
        a, b = span
        if not 0 <= a < b:
            raise EmptyQuery(f"--span {a} {b}: needs 0 <= START < END seconds")
        first, last = int(round(a * FPS)), min(T - 1, int(round(b * FPS)) - 1)
        if last < first:
            raise EmptyQuery(f"--span {a} {b}: {path} lasts only {T / FPS:.2f} s")
        audio = audio[first * SAMPLES_PER_FRAME:(last + 1) * SAMPLES_PER_FRAME]
        words = [w.shifted(first) for w in words if w.start >= first and w.end <= last]
        T = last - first + 1
    words = [w for w in words if 0 <= w.start and w.end < T]
    if not words:
        raise EmptyQuery(f"{path}: no word " + (f"between {span[0]} and {span[1]} s" if span else "inside the audio"))
    if len(words) > MAX_QUERY_WORDS:
        if warnings is not None:
            warnings.append(f"{path}: {len(words)} words; the query uses the first {MAX_QUERY_WORDS} "
                            "(choose a part with --span)")
        words = words[:MAX_QUERY_WORDS]
        T = words[-1].end + 1
        audio = audio[:T * SAMPLES_PER_FRAME]
    clip = Clip(clip_id, np.zeros((T, 56, 3), np.float32), log_mel_for(mel)(audio, T), words, source=str(path),
                extra={"start_frame": first})
    return clip.validate(), chosen.source


class Searcher:
    """A gallery index and the model it was built with, ready for queries.

    >>> s = Searcher("gallery/")
    >>> s.text("a big round ball", k=5)            # [{"rank", "score", "clip_id", "source", "start", "end", ...}]
    >>> s.search_clips(content_clips, "ta", k=10)  # many queries at once (batched embedding and search)

    ``model``: a copy of the index's model elsewhere (default: the directory recorded in the index).
    Raises :class:`jegal.inference.search.GalleryError` (not an index), FileNotFoundError (the model
    is gone), :class:`IndexModelMismatch` (another model), and the model loading errors of
    :meth:`jegal.model.JEGAL.from_pretrained`."""

    def __init__(self, index: str | os.PathLike, model: str | os.PathLike | None = None, device: str = "cpu",
                 threads: int = 0):
        from jegal.inference.search import GalleryError, GalleryIndex
        from jegal.model import JEGAL
        from jegal.use.common import check_device

        self.gallery = GalleryIndex.load(index)
        info = self.gallery.info
        if not info.get("model_id"):
            raise GalleryError(f"{index}: this index records no model; build it with `jegal search build`")
        where = model or info.get("model")
        if model is None and not Path(where).is_dir():
            raise FileNotFoundError(f"{index} was built with the model {where}, which is not there any more; "
                                    "pass --model with a copy of it")
        self.model = JEGAL.from_pretrained(where, device=check_device(device, threads)).load_text_backbone()
        model_dir, digest = self.model.source_dir, self.model.identity
        if digest != info["model_id"]:
            raise IndexModelMismatch(f"{index} was built with another model (digest {info['model_id']}, from "
                                     f"{info.get('model')}); {model_dir} has digest {digest}. Rebuild the index "
                                     "with this model, or query with the model it was built with")
        self.model_dir = model_dir

    def modalities(self, asked: str | None, default: str | None = None) -> str:
        """The content inputs to use (raises :class:`jegal.use.common.BadFlag` if the model lacks them)."""
        from jegal.use.common import content_modalities

        return content_modalities(self.model, asked or default)

    def vectors(self, clips: list[Clip], modalities: str, batch_size: int = 32) -> np.ndarray:
        """(Q, d) content clip vectors of ``clips`` (unique ids), in their order."""
        from jegal.inference import embed_clips

        emb = embed_clips(self.model, [], clips, modalities=modalities, batch_size=batch_size)
        return np.stack([emb.content(c.clip_id)[0] for c in clips])

    def search_clips(self, clips: list[Clip], modalities: str, k: int = 10) -> list[list[dict]]:
        """Per content clip, its top ``k`` gallery hits (:meth:`jegal.inference.GalleryIndex.hits`)."""
        return self.gallery.hits(self.vectors(clips, modalities), k)

    def text(self, text: str, k: int = 10) -> list[dict]:
        """Top ``k`` gesture clips for the words of ``text`` (content input ``t``)."""
        return self.search_clips([text_clip(text)], self.modalities("t"), k)[0]

    def speech(self, path: str | os.PathLike, k: int = 10, modalities: str = "a", **kw) -> list[dict]:
        """Top ``k`` for the speech of an audio or video file (:func:`speech_clip` takes ``kw``), made
        with the log-mel the model reads."""
        mods = self.modalities(modalities)
        clip, _ = speech_clip(path, **kw, mel=self.model.input_spec.mel)
        return self.search_clips([clip], mods, k)[0]


def _query(args: argparse.Namespace) -> int:
    import faiss

    from jegal.inference.search import GalleryError
    from jegal.model.card import model_record
    from jegal.use.common import expected_errors, report_error

    faiss.omp_set_num_threads(1)  # one query: measured faster on one thread (bench/bench_search.py)
    warnings: list[str] = []
    try:
        if args.k < 1:
            raise EmptyQuery(f"-k {args.k}: must be at least 1")
        if args.text is not None and not args.text.strip():
            raise EmptyQuery("--text is empty")
        searcher = Searcher(args.index, args.model, args.device, args.threads)
        t0 = time.perf_counter()
        if args.text is not None:
            mods, source = searcher.modalities("t"), "typed"
            clip = text_clip(args.text)
        else:
            path = args.audio or args.video
            mods = searcher.modalities(args.modalities, "a" if args.audio else None)
            clip, source = speech_clip(path, args.transcript, args.asr, args.asr_model,
                                       tuple(args.span) if args.span else None, warnings=warnings,
                                       mel=searcher.model.input_spec.mel, tier=args.tier)
        hits = searcher.search_clips([clip], mods, args.k)[0]
        seconds = time.perf_counter() - t0
    except expected_errors() + (GalleryError, IndexModelMismatch, EmptyQuery) as err:
        return report_error("search query", err)
    for w in warnings:
        print(f"note: {w}", file=sys.stderr)
    query = {"kind": "text" if args.text is not None else "audio" if args.audio else "video",
             "value": args.text if args.text is not None else str(args.audio or args.video), "modalities": mods,
             "words": [w.display for w in clip.words], "words_from": source, "seconds": round(seconds, 3)}
    model = model_record(searcher.model, searcher.model_dir)
    if args.json:
        print(json.dumps({"query": query, "index": str(args.index), "gallery_size": len(searcher.gallery),
                          "index_kind": searcher.gallery.kind, "model": model, "hits": hits}, indent=2))
        return 0
    print(f"model: {model['statement']}")
    print(f"{query['kind']} query ({mods}): {' '.join(query['words'])!r} -> top {len(hits)} of "
          f"{len(searcher.gallery)} gesture clips ({searcher.gallery.kind} index, {1000 * seconds:.0f} ms)")
    print(f"{'rank':>4}  {'score':>6}  {'start-end s':>13}  {'person':>6}  clip / source")
    for h in hits:
        span = f"{h['start']:.2f}-{h['end']:.2f}" if h.get("start") is not None else "-"
        person = "-" if h.get("person") is None else str(h["person"])
        print(f"{h['rank']:>4}  {h['score']:6.3f}  {span:>13}  {person:>6}  {h['clip_id']}  ({h.get('source')})")
    return 0


# -- command line -----------------------------------------------------------------------------------
def configure(parser: argparse.ArgumentParser) -> None:
    from jegal.inference.search import KINDS
    from jegal.perception.asr import ASR_HELP, ASR_MODEL_HELP, ASR_MODES
    from jegal.perception.transcripts import TIER_HELP
    from jegal.use.common import add_model_arguments
    from jegal.use.embed import add_input_arguments

    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="embed a gallery and index its gesture clip vectors")
    b.add_argument("gallery", metavar="GALLERY", help="a shard set, a folder of videos (or one video), or an .npz "
                                                     "from jegal embed")
    b.add_argument("--index", required=True, metavar="DIR", help="the index directory to write")
    b.add_argument("--kind", choices=KINDS, default="auto",
                   help="exact, hnsw, pq (product quantisation + exact re-ranking), or auto: exact up to a measured "
                        "size, then HNSW calibrated to recall@10 >= 0.95, else pq, else exact")
    add_model_arguments(b)
    add_input_arguments(b)
    q = sub.add_parser("query", help="the gesture clips that go with a text, a recording or a video's speech")
    q.add_argument("--index", required=True, metavar="DIR", help="an index directory from jegal search build")
    what = q.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", default=None, help="words to search for (content input t)")
    what.add_argument("--audio", default=None, metavar="FILE", help="a recording of speech (content input a)")
    what.add_argument("--video", default=None, metavar="FILE", help="a video: its speech and words (content input as "
                                                                    "trained, or --modalities)")
    q.add_argument("-k", type=int, default=10, help="hits to return")
    q.add_argument("--json", action="store_true", help="print the hits as JSON")
    q.add_argument("--model", default=None, metavar="DIR",
                   help="a copy of the index's model (default: the directory recorded in the index)")
    q.add_argument("--modalities", default=None, choices=("t", "a", "ta"), help="content inputs of a --video query")
    q.add_argument("--transcript", default=None, metavar="FILE",
                   help="words of --audio / --video (default: the transcript beside it, else speech recognition)")
    q.add_argument("--tier", default=None, metavar="NAME", help=TIER_HELP)
    q.add_argument("--asr", choices=ASR_MODES, default="auto", help=ASR_HELP)
    q.add_argument("--asr-model", default=None, metavar="NAME|DIR", help=ASR_MODEL_HELP)
    q.add_argument("--span", type=float, nargs=2, default=None, metavar=("START", "END"),
                   help="seconds of the recording to query")
    q.add_argument("--device", default="cpu", help="torch device for the model")
    q.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")


def run(args: argparse.Namespace) -> int:
    return _build(args) if args.action == "build" else _query(args)
