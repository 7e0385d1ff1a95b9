"""Generate the SynthGest corpus: training shards, test shards, media, benchmarks, ground truth.

Layout of ``out_dir``:

- ``train/``  WebDataset shards + ``manifest.json`` (training speakers only)
- ``test/``   shards + ``manifest.json`` of the test clips (disjoint speakers); each
  ``clip_id`` equals the benchmark CSVs' ``filename``
- ``media/<clip_id>.wav|.txt|.kps.npz[|.mp4]`` for every test clip (and for training clips
  with ``train_media=True``), so the corpus can also go through ``jegal prepare``
- ``benchmarks/spot.csv, ret.csv, asd.csv`` in exactly the AVS columns
- ``benchmarks/gestured_words.csv``: one row per (clip, word) of every clip, both splits (the
  columns of :mod:`jegal.data.gestured_words`): is a semantic gesture on the word, its stroke
  frames, the stress label; the ground truth of ``jegal eval gestured``
- ``ground_truth.jsonl``: one line per clip with every gesture (family, variant, stroke
  frames, the word it belongs to), the stressed words and the speaker
- ``synth.json``: settings, speakers and counts

Every clip draws its randomness from ``(seed, split, index)`` alone, so output bytes do not
depend on the number of worker processes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jegal.data.clip import Clip
from jegal.data.gestured_words import FILENAME as GESTURED_WORDS_CSV
from jegal.data.gestured_words import rows_from_ground_truth, write_gestured_words
from jegal.data.keypoints import normalise
from jegal.atomic import write_bytes_atomic, write_json_atomic
from jegal.csvcells import safe_dict
from jegal.data.shards import write_shards
from jegal.data.transcripts import format_txt, format_word_boundaries
from jegal.data.words import Word
from jegal.perception.discover import KPS_SUFFIX
from jegal.synth.lexicon import family_of, sample_words
from jegal.synth.motion import CANVAS, animate, plan_events
from jegal.synth.speakers import Speaker, make_speakers
from jegal.timebase import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME

SOURCE = "synthgest"
TRAIN_FRAMES = (50, 100)  # 2-4 s
TEST_FRAMES = 75  # one length for every test clip, so clip length says nothing in retrieval
SPOT_COLUMNS = ["video_id", "start_time", "end_time", "filename", "num_frames", "phrase", "target_word",
                "target_word_boundary", "word_boundaries", "stress_label", "lighting", "speaker_pose"]
RET_COLUMNS = ["video_id", "start_time", "end_time", "filename", "phrase", "word_boundaries"]
ASD_COLUMNS = ["video_id", "start_time", "end_time", "filename", "phrase", "word_boundaries", "neg_files",
               "num_frames", "score", "correct_2spk", "correct_4spk", "correct_6spk"]
_SPLIT_CODE = {"train": 1, "test": 2, "spot": 3}
CONCEPT_STRESS_PROB = 0.55


class SynthError(RuntimeError):
    """Corpus generation failed; the message names the clip or the setting."""


@dataclass(frozen=True)
class ClipSpec:
    split: str  # "train", "test" (retrieval/ASD pool) or "spot" (extra spotting clips)
    index: int
    speaker: int  # index into the speaker list
    num_frames: int
    force_gesture: bool = False


def clip_identity(spec: ClipSpec, spk: Speaker) -> tuple[str, str]:
    """``(video_id, clip_id)``; test clip ids follow the AVS ``filename`` pattern."""
    if spec.split == "train":
        return f"sg-train-{spec.index:06d}", f"sg-train-{spec.index:06d}"
    video_id = f"sg{spec.split}-{spk.speaker_id}-{spec.index:05d}"
    return video_id, f"{video_id}_0.000000-{spec.num_frames / FPS:.6f}/00000"


def make_clip(spec: ClipSpec, speakers: list[Speaker], seed: int) -> dict:
    """One clip: the Clip, its media payloads, and its ground-truth record."""
    from jegal.data.audio import log_mel
    from jegal.synth.speech import SpeechError, get_speech

    rng = np.random.default_rng([seed, _SPLIT_CODE[spec.split], spec.index])
    spk = speakers[spec.speaker]
    T = spec.num_frames
    video_id, clip_id = clip_identity(spec, spk)
    offset = float(rng.uniform(0.05, 0.6))
    words_per_s = spk.rate_wpm / 60 * 1.25
    n_words = int(np.ceil((T / FPS - offset) * words_per_s * 1.15)) + 1
    for attempt in range(3):
        words = sample_words(rng, n_words, spk.concept_prob, force_concept=spec.force_gesture)
        stressed = [bool(rng.random() < (CONCEPT_STRESS_PROB if family_of(w) else spk.stress_prob)) for w in words]
        try:
            utt = get_speech().synthesize(words, stressed, spk.voice, spk.rate_wpm, spk.pitch)
            break
        except SpeechError as err:
            # A sentence espeak cannot time is redrawn (from the same clip rng: still deterministic).
            if attempt == 2:
                raise SynthError(f"clip {clip_id}: {err}") from err
    times = [(s + offset, e + offset) for s, e in utt.times]
    kept = 0
    while kept < len(words) and round(times[kept][1] * FPS) <= T - 1:
        kept += 1
    if kept == 0:
        raise SynthError(f"clip {clip_id}: no word fits in {T} frames")
    force_word = None
    if spec.force_gesture:
        force_word = next((i for i in range(kept) if family_of(words[i])), None)
    events = plan_events(rng, spk, words, times, stressed, force_word)
    clean, observed = animate(rng, spk, events, T)

    wave = np.zeros(T * SAMPLES_PER_FRAME, dtype=np.float32)
    a = int(round(offset * SAMPLE_RATE))
    seg = utt.wave[: max(0, len(wave) - a)]
    wave[a : a + len(seg)] = seg
    mel = log_mel(wave, T)

    clip_words = [Word.from_display("I" if w == "i" else w, round(s * FPS), round(e * FPS))
                  for w, (s, e) in zip(words[:kept], times[:kept])]
    gestures = []
    for ev in events:
        if ev.retract_end * FPS < 0 or ev.prep_start * FPS > T - 1:
            continue
        sf, ef = int(round(ev.stroke_start * FPS)), int(round(ev.stroke_end * FPS))
        in_clip = ev.word_index < kept and ev.word_index >= 0
        gestures.append({
            "kind": ev.kind, "family": ev.family, "variant": ev.variant,
            "word_index": ev.word_index if in_clip else -1, "word": ev.word,
            "two_handed": ev.two_handed, "stroke": [max(0, sf), min(T - 1, ef)],
            "stroke_inside": bool(sf >= 0 and ef <= T - 1),
            "prep_start": int(round(ev.prep_start * FPS)), "retract_end": int(round(ev.retract_end * FPS)),
        })
    semantic = [[g["word_index"], g["family"], *g["stroke"]] for g in gestures
                if g["kind"] == "semantic" and g["word_index"] >= 0]
    clip = Clip(
        clip_id=clip_id, keypoints=normalise(observed), mel=mel, words=clip_words, speaker_id=spk.speaker_id,
        source=SOURCE,
        extra={"split": "train" if spec.split == "train" else "test", "gestures": semantic,
               "stressed": [i for i in range(kept) if stressed[i]]},
    ).validate()
    truth = {
        "clip_id": clip_id, "video_id": video_id, "split": clip.extra["split"], "pool": spec.split,
        "speaker_id": spk.speaker_id, "num_frames": T,
        "words": [[w.display, w.start, w.end] for w in clip_words],
        "stressed": [bool(s) for s in stressed[:kept]],
        "gestures": gestures, "lag_s": round(spk.lag, 4), "right_handed": spk.right_handed,
    }
    return {"clip": clip, "truth": truth, "wave": wave, "times": times[:kept], "observed": observed,
            "clean": clean, "video_id": video_id}


def _npz_bytes(arrays: dict) -> bytes:
    """An .npz with fixed zip timestamps (np.savez stamps the current time, which would
    break byte-identical reruns)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            npy = io.BytesIO()
            np.save(npy, np.asarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, npy.getvalue())
    return buf.getvalue()


def write_media(item: dict, media_dir: Path, speakers: list[Speaker], render: bool) -> None:
    """``<clip_id>.wav`` (16 kHz PCM16), ``.txt`` (reference transcript), ``.kps.npz``
    (observed keypoints in canvas pixels, our layout, before normalisation) and, with
    ``render``, ``.mp4`` (25 fps drawing of the clean pose)."""
    import soundfile as sf

    clip: Clip = item["clip"]
    base = media_dir / clip.clip_id
    buf = io.BytesIO()
    sf.write(buf, item["wave"], SAMPLE_RATE, subtype="PCM_16", format="WAV")
    write_bytes_atomic(base.with_name(base.name + ".wav"), buf.getvalue())
    write_bytes_atomic(base.with_name(base.name + ".txt"), format_txt(clip.words, item["times"]).encode())
    write_bytes_atomic(base.with_name(base.name + KPS_SUFFIX), _npz_bytes({
        "keypoints": item["observed"], "fps": np.int64(FPS), "width": np.int64(CANVAS), "height": np.int64(CANVAS),
        "layout": np.array("jegal56")}))
    if render:
        from jegal.synth.render import draw_frames, write_video

        spk = next(s for s in speakers if s.speaker_id == clip.speaker_id)
        write_video(draw_frames(item["clean"], spk), base.with_name(base.name + ".mp4"))


# Worker state (set once per process by _init_worker).
_W: dict = {}


def _init_worker(speakers, seed, media_dir, render, media_splits):
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    _W.update(speakers=speakers, seed=seed, media_dir=media_dir, render=render, media_splits=media_splits)


def _work(spec: ClipSpec) -> dict:
    item = make_clip(spec, _W["speakers"], _W["seed"])
    split = "train" if spec.split == "train" else "test"
    if split in _W["media_splits"]:
        write_media(item, _W["media_dir"], _W["speakers"], _W["render"])
    # The parent needs the clip and its truth; the big arrays stay here.
    return {"clip": item["clip"], "truth": item["truth"], "video_id": item["video_id"]}


def _run(specs: list[ClipSpec], workers: int, init_args, desc: str, progress: bool):
    """Yield the generated clips in spec order (a pool of ``workers`` processes for big
    batches; a generator, so training clips stream into their shards)."""
    from jegal.native_logs import progress_bar

    bar = progress_bar(len(specs), desc, unit="clip", disable=not progress)
    try:
        if workers <= 1 or len(specs) < 64:
            _init_worker(*init_args)
            for spec in specs:
                yield _work(spec)
                bar.update()
        else:
            import multiprocessing as mp

            with mp.get_context("fork").Pool(workers, initializer=_init_worker, initargs=init_args) as pool:
                for item in pool.imap(_work, specs, chunksize=8):
                    yield item
                    bar.update()
    finally:
        bar.close()


def generate_corpus(out_dir: str | os.PathLike, speakers: int = 40, train_clips: int = 3000, test_clips: int = 500,
                    seed: int = 0, render: bool = False, progress: bool = True, train_media: bool = False,
                    workers: int | None = None, clips_per_shard: int = 500) -> dict:
    """Write the SynthGest corpus under ``out_dir`` (layout in the module docstring).

    ``speakers`` in all; a fifth of them (at least 2) are test speakers. ``test_clips`` is
    the number of rows of every benchmark: the retrieval and ASD clips are ``test_clips``
    natural clips; spotting uses those with a truly gestured word and tops up with extra
    test clips that carry a gesturable word. Returns the summary also written to
    ``synth.json`` (plus ``seconds``, which is not written, to keep reruns byte-identical).
    """
    t0 = time.perf_counter()
    if speakers < 3:
        raise SynthError(f"--speakers must be at least 3 (train and 2 test speakers), got {speakers}")
    if train_clips < 1 or test_clips < 1:
        raise SynthError("--train-clips and --test-clips must be positive")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    media_dir = out_dir / "media"
    spk_list = make_speakers(speakers, seed)
    n_test_spk = max(2, int(round(0.2 * speakers)))
    train_spk = list(range(speakers - n_test_spk))
    test_spk = list(range(speakers - n_test_spk, speakers))
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    media_splits = {"test"} | ({"train"} if train_media else set())
    init_args = (spk_list, seed, media_dir, render, media_splits)

    plan_rng = np.random.default_rng([seed, 99])
    train_specs = [ClipSpec("train", i, int(plan_rng.choice(train_spk)),
                            int(plan_rng.integers(TRAIN_FRAMES[0], TRAIN_FRAMES[1] + 1)))
                   for i in range(train_clips)]
    test_specs = [ClipSpec("test", i, test_spk[i % len(test_spk)], TEST_FRAMES) for i in range(test_clips)]
    train_truth = []

    def train_stream():
        for it in _run(train_specs, workers, init_args, "synth train", progress):
            train_truth.append(it["truth"])
            yield it["clip"]

    write_shards(train_stream(), out_dir / "train", clips_per_shard=clips_per_shard)
    test = list(_run(test_specs, workers, init_args, "synth test", progress))

    spot_rng = np.random.default_rng([seed, 98])
    spot_rows = [r for r in (_spot_row(it, spot_rng) for it in test) if r is not None][:test_clips]
    extra, next_index = [], 0
    while len(spot_rows) < test_clips:
        need = test_clips - len(spot_rows)
        specs = [ClipSpec("spot", next_index + k, test_spk[(next_index + k) % len(test_spk)], TEST_FRAMES, True)
                 for k in range(need + need // 4 + 2)]
        next_index += len(specs)
        for it in _run(specs, workers, init_args, "synth spot", progress):
            extra.append(it)
            row = _spot_row(it, spot_rng)
            if row is not None and len(spot_rows) < test_clips:
                spot_rows.append(row)
        if next_index > 20 * test_clips + 100:
            raise SynthError(f"could not find {test_clips} spotting clips with a gestured word")
    write_shards((it["clip"] for it in test + extra), out_dir / "test", clips_per_shard=clips_per_shard)

    ret_rows = [_ret_row(it) for it in test]
    asd_rows = _asd_rows(test, np.random.default_rng([seed, 97]))
    bench = out_dir / "benchmarks"
    _write_csv(bench / "spot.csv", SPOT_COLUMNS, spot_rows)
    _write_csv(bench / "ret.csv", RET_COLUMNS, ret_rows)
    _write_csv(bench / "asd.csv", ASD_COLUMNS, asd_rows)
    truths = train_truth + [it["truth"] for it in test + extra]
    truth_lines = "".join(json.dumps(t) + "\n" for t in truths)
    write_bytes_atomic(out_dir / "ground_truth.jsonl", truth_lines.encode())
    write_gestured_words(bench / GESTURED_WORDS_CSV, rows_from_ground_truth(truths))

    def count(kind):
        return sum(1 for t in truths for g in t["gestures"] if g["kind"] == kind and g["word_index"] >= 0)

    no_sem = sum(1 for t in truths if not any(g["kind"] == "semantic" and g["word_index"] >= 0 for g in t["gestures"]))
    summary = {
        "generator": "jegal.synth", "version": 1, "seed": seed, "render": render, "train_media": train_media,
        "canvas": [CANVAS, CANVAS], "fps": FPS, "sample_rate": SAMPLE_RATE,
        "speakers": [s.to_json() for s in spk_list],
        "train_speakers": [spk_list[i].speaker_id for i in train_spk],
        "test_speakers": [spk_list[i].speaker_id for i in test_spk],
        "counts": {"train_clips": len(train_truth), "test_clips": len(test) + len(extra),
                   "retrieval_asd_clips": len(test),
                   "extra_spotting_clips": len(extra), "spot_rows": len(spot_rows), "ret_rows": len(ret_rows),
                   "asd_rows": len(asd_rows), "semantic_gestures": count("semantic"), "beats": count("beat"),
                   "clips_without_semantic_gesture": no_sem,
                   "train_frames": int(sum(t["num_frames"] for t in train_truth))},
    }
    write_json_atomic(out_dir / "synth.json", summary)
    return {**summary, "seconds": round(time.perf_counter() - t0, 2)}


def _spot_row(item: dict, rng: np.random.Generator) -> dict | None:
    truth, clip = item["truth"], item["clip"]
    cands = [g for g in truth["gestures"] if g["kind"] == "semantic" and g["word_index"] >= 0 and g["stroke_inside"]]
    if not cands:
        return None
    g = cands[int(rng.integers(len(cands)))]
    w = clip.words[g["word_index"]]
    return {
        "video_id": item["video_id"], "start_time": 0.0, "end_time": clip.num_frames / FPS, "filename": clip.clip_id,
        "num_frames": clip.num_frames, "phrase": " ".join(x.display for x in clip.words), "target_word": w.display,
        "target_word_boundary": repr([w.display, w.start, w.end]),
        "word_boundaries": format_word_boundaries(clip.words),
        "stress_label": int(truth["stressed"][g["word_index"]]), "lighting": "synthetic", "speaker_pose": "frontal",
    }


def _ret_row(item: dict) -> dict:
    clip = item["clip"]
    return {"video_id": item["video_id"], "start_time": 0.0, "end_time": clip.num_frames / FPS,
            "filename": clip.clip_id, "phrase": " ".join(x.display for x in clip.words),
            "word_boundaries": format_word_boundaries(clip.words)}


def _asd_rows(items: list[dict], rng: np.random.Generator, n_neg: int = 5) -> list[dict]:
    rows = []
    ids = np.array([it["clip"].clip_id for it in items])
    spk = np.array([it["clip"].speaker_id for it in items])
    for it in items:
        others = ids[spk != it["clip"].speaker_id]
        if len(others) == 0:
            raise SynthError("ASD needs test clips of at least two speakers")
        negs = rng.choice(others, size=n_neg, replace=len(others) < n_neg)
        rows.append({**_ret_row(it), "neg_files": repr([str(x) for x in negs]), "num_frames": it["clip"].num_frames,
                     "score": "", "correct_2spk": "", "correct_4spk": "", "correct_6spk": ""})
    return rows


def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(safe_dict(r) for r in rows)  # text that would start a spreadsheet formula stays text
    write_bytes_atomic(path, buf.getvalue().encode())
