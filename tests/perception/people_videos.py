"""Videos of people with a hand-made truth, for the people stage's acceptance (issue 22).

Three are made from the real footage in ``../shared/data/real`` (speaker_raw.mp4: one woman in a
red jacket before a dark curtain, 480 x 270, 126 frames), 4 s each at 25 fps, written with PyAV:

- ``occluded``: a grey full-height panel sweeps across her (as someone passing close to the
  camera): more than half of her is hidden for half a second (frames 44..56), all of her for 5;
- ``masked``: her face (the face detector's box, widened) painted over with a flat grey oval in
  every frame: a full face mask;
- ``crossing``: two people on a dark curtain walking past each other: the speaker (left to
  right, in front) and her mirror image with the jacket recoloured blue, a little smaller
  (further back), cut from another stretch of the clip (right to left), hidden behind the first
  around the middle.

And the two real videos, whose truth was made by looking at their frames (PNG contact sheets at
every 25th frame and around the cut):

- ``speaker_raw.mp4``: one person in view in all 126 frames (she walks a little; the truth x
  follows her torso, found from the bright pixels against the curtain);
- ``two_speakers_raw.mp4`` (decoded 640 x 360): two shots, frames 0..51 and 52..171 (a cut at
  52, a new camera angle). Both people are in view in both shots: in the first the woman
  (shoulders about x 150..160) sits with her back half to the camera, face in profile, the man
  (x about 420) faces it; in the second the woman (x about 235..245) faces the camera and the
  man (x about 430..445) has his back to it, face unseen. A cut ends every track, so the truth
  holds four persons, one per person and shot.

A :class:`Truth` gives per true person the frames in view and the approximate x of the shoulder
midpoint per frame (decoded-frame pixels; NaN where not in view), which is what tracks are
matched against. In the synthetic videos it comes from the compositing itself (the person's
pixel mask): a person is in view where at least half of its pixels are visible.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FPS = 25
SYNTH_FRAMES = 100
VISIBLE = 0.5  # a person is in view where at least this share of its pixels shows
REAL = ("speaker_raw.mp4", "two_speakers_raw.mp4")
MADE = ("occluded", "masked", "crossing")


@dataclass
class TruePerson:
    label: str
    x: np.ndarray  # (num_frames,) shoulder-midpoint x in decoded pixels, NaN where not in view
    shot: int = 0

    @property
    def frames(self) -> np.ndarray:
        """Frames in view."""
        return np.flatnonzero(~np.isnan(self.x))


@dataclass
class Truth:
    name: str
    path: Path
    num_frames: int
    size: tuple[int, int]  # decoded (width, height)
    persons: list[TruePerson]
    shots: list[tuple[int, int]] = field(default_factory=list)  # inclusive frames of each shot
    note: str = ""

    def to_json(self) -> dict:
        return {"name": self.name, "path": str(self.path), "num_frames": self.num_frames, "size": list(self.size),
                "shots": [list(s) for s in self.shots], "note": self.note,
                "persons": [{"label": p.label, "shot": p.shot,
                             "x": [None if np.isnan(v) else round(float(v), 1) for v in p.x]} for p in self.persons]}

    @classmethod
    def from_json(cls, d: dict) -> Truth:
        persons = [TruePerson(p["label"], np.array([np.nan if v is None else v for v in p["x"]], np.float64), p["shot"])
                   for p in d["persons"]]
        return cls(d["name"], Path(d["path"]), d["num_frames"], tuple(d["size"]), persons,
                   [tuple(s) for s in d["shots"]], d.get("note", ""))


# -- reading and writing ---------------------------------------------------------------------------
def decode(path: Path) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB frames at 25 fps, at most 640 px (as the people stage decodes them)."""
    from jegal.perception.decode import decode_video

    return decode_video(path, max_side=640).frames


def write_video(path: Path, frames: np.ndarray) -> Path:
    """Frames (T, H, W, 3) uint8 RGB as an H.264 mp4 at 25 fps (PyAV), near-lossless."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt, stream.options = "yuv420p", {"preset": "veryfast", "crf": "16"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    tmp.replace(path)
    return path


# -- the speaker's pixels ------------------------------------------------------------------------
def person_mask(frame: np.ndarray, threshold: int = 60) -> np.ndarray:
    """(H, W) bool: the speaker of speaker_raw.mp4 against the dark curtain (the largest bright
    region, holes closed)."""
    import cv2

    m = (frame.max(-1) > threshold).astype(np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m)
    if n < 2:
        return np.zeros(m.shape, bool)
    keep = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    region = (lab == keep).astype(np.uint8)
    # fill the holes inside the silhouette (dark hair, shadows)
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(region)
    cv2.drawContours(filled, contours, -1, 1, thickness=-1)
    return filled.astype(bool)


def torso_x(mask: np.ndarray) -> float:
    """x of the shoulder midpoint: the mean column of the mask's rows between 30 % and 50 % of
    its height (the chest, below the shoulders, above the hands); NaN for an empty mask."""
    rows = np.flatnonzero(mask.any(1))
    if not len(rows):
        return float("nan")
    top, h = rows[0], rows[-1] - rows[0] + 1
    band = mask[top + int(0.3 * h):top + int(0.5 * h)]
    ys, xs = np.nonzero(band)
    return float(xs.mean()) if len(xs) else float("nan")


def face_boxes(frames: np.ndarray) -> np.ndarray:
    """(T, 4) the face detector's box per frame, filled across misses from the nearest found."""
    from jegal.perception.people import FaceDetector

    det = FaceDetector()
    try:
        boxes = np.full((len(frames), 4), np.nan)
        for t, f in enumerate(frames):
            found = det(f)
            if len(found):
                boxes[t] = found[np.argmax(found[:, 4]), :4]
    finally:
        det.close()
    ok = np.flatnonzero(~np.isnan(boxes[:, 0]))
    if not len(ok):
        raise RuntimeError("no face found in speaker_raw.mp4")
    for k in range(4):
        boxes[:, k] = np.interp(np.arange(len(frames)), ok, boxes[ok, k])
    return boxes


# -- the three made videos -----------------------------------------------------------------------
def make_occluded(src: np.ndarray, out: Path) -> Truth:
    """A grey panel 250 px wide sweeps left to right at 20 px a frame over the speaker (about
    140 px wide, x about 245), centred on her at frame 50: less than half of her shows for about
    half a second (frames 44..56), none of her for about 5 frames."""
    frames = src[:SYNTH_FRAMES].copy()
    T, H, W = frames.shape[:3]
    x = np.full(T, np.nan)
    for t in range(T):
        mask = person_mask(src[t])
        left = 120 + 20 * (t - 50)
        lo, hi = min(W, max(0, left)), min(W, max(0, left + 250))
        frames[t, :, lo:hi] = (118, 112, 104)
        covered = mask[:, lo:hi].sum() if hi > lo else 0
        if mask.sum() and 1 - covered / mask.sum() >= VISIBLE:
            x[t] = torso_x(mask)
    write_video(out, frames)
    return Truth("occluded", out, T, (W, H), [TruePerson("speaker", x)], [(0, T - 1)],
                 "speaker_raw frames 0-99; a full-height grey panel sweeps over her, half of her or more hidden for 0.5 s")


def make_masked(src: np.ndarray, out: Path) -> Truth:
    """The face (the detector's box, 1.3x wide, 1.5x tall, centred a little high to take in the
    forehead) painted with a flat grey oval in every frame."""
    import cv2

    frames = src[:SYNTH_FRAMES].copy()
    T, H, W = frames.shape[:3]
    boxes = face_boxes(frames)
    x = np.full(T, np.nan)
    for t in range(T):
        x0, y0, x1, y1 = boxes[t]
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - 0.1 * (y1 - y0)
        axes = (int(0.65 * (x1 - x0)), int(0.75 * (y1 - y0)))
        cv2.ellipse(frames[t], (int(cx), int(cy)), axes, 0, 0, 360, (150, 146, 140), thickness=-1)
        x[t] = torso_x(person_mask(src[t]))
    write_video(out, frames)
    return Truth("masked", out, T, (W, H), [TruePerson("masked speaker", x)], [(0, T - 1)],
                 "speaker_raw frames 0-99, the face painted over with a grey oval in every frame")


def _curtain(H: int, W: int) -> np.ndarray:
    """A dark blue stage curtain (vertical folds), like speaker_raw's background."""
    xs = np.arange(W)
    folds = 0.75 + 0.25 * np.sin(xs / 9.0)  # (W,)
    rows = np.linspace(0.4, 1.0, H)[:, None]  # darker at the top
    base = np.array([8, 10, 38], np.float32)
    return np.clip(base[None, None] * (folds[None, :, None] * rows[..., None]), 0, 255).astype(np.uint8)


def _cut_person(frame: np.ndarray, scale: float, mirror: bool, recolour: bool):
    """(pixels, mask) of the speaker in one frame: her bounding box, scaled, mirrored, the red
    jacket recoloured blue (another person)."""
    import cv2

    mask = person_mask(frame)
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    pix, m = frame[y0:y1, x0:x1].copy(), mask[y0:y1, x0:x1].astype(np.uint8)
    if recolour:
        hsv = cv2.cvtColor(pix, cv2.COLOR_RGB2HSV)
        red = ((hsv[..., 0] < 10) | (hsv[..., 0] > 170)) & (hsv[..., 1] > 140)
        hsv[..., 0] = np.where(red, 110, hsv[..., 0])
        pix = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    if mirror:
        pix, m = pix[:, ::-1], m[:, ::-1]
    if scale != 1.0:
        size = (max(1, int(round(pix.shape[1] * scale))), max(1, int(round(pix.shape[0] * scale))))
        pix = cv2.resize(np.ascontiguousarray(pix), size, interpolation=cv2.INTER_AREA)
        m = cv2.resize(np.ascontiguousarray(m), size, interpolation=cv2.INTER_NEAREST)
    return pix, m.astype(bool)


def _paste(canvas: np.ndarray, owner: np.ndarray, pix: np.ndarray, mask: np.ndarray, cx: float, who: int) -> None:
    """Paste a cut-out person with its chest centre at column ``cx``, standing on the bottom
    edge; ``owner`` (H, W) records which person each pixel shows."""
    H, W = canvas.shape[:2]
    h, w = mask.shape
    left = int(round(cx - torso_x(mask)))
    top = H - h
    xs0, xs1 = max(0, left), min(W, left + w)
    ys0 = max(0, top)
    if xs1 <= xs0:
        return
    m = mask[ys0 - top:, xs0 - left:xs1 - left]
    region = canvas[ys0:, xs0:xs1]
    region[m] = pix[ys0 - top:, xs0 - left:xs1 - left][m]
    owner[ys0:, xs0:xs1][m] = who


def make_crossing(src: np.ndarray, out: Path) -> Truth:
    """Two people walk past each other on a curtain 560 x 270: A (the speaker) from x 80 to 480
    in front, B (mirrored, blue jacket, 0.9x, frames 26.. of the clip) from 480 to 80 behind."""
    H, W, T = 270, 560, SYNTH_FRAMES
    bg = _curtain(H, W)
    frames = np.empty((T, H, W, 3), np.uint8)
    xs = {0: np.linspace(80, 480, T), 1: np.linspace(480, 80, T)}
    x = {0: np.full(T, np.nan), 1: np.full(T, np.nan)}
    for t in range(T):
        canvas, owner = bg.copy(), np.full((H, W), -1, np.int8)
        a = _cut_person(src[t % len(src)], 1.0, False, False)
        b = _cut_person(src[(t + 26) % len(src)], 0.9, True, True)
        areas = {}
        for who, (pix, m) in ((1, b), (0, a)):  # B first, A pasted over it
            _paste(canvas, owner, pix, m, xs[who][t], who)
            areas[who] = m.sum()
        for who in (0, 1):
            if (owner == who).sum() >= VISIBLE * areas[who]:
                x[who][t] = xs[who][t]
        frames[t] = canvas
    write_video(out, frames)
    persons = [TruePerson("A: red jacket, left to right, in front", x[0]),
               TruePerson("B: blue jacket, mirrored, right to left, behind", x[1])]
    return Truth("crossing", out, T, (W, H), persons, [(0, T - 1)],
                 "two cut-outs of speaker_raw cross; B is behind A around frame 50")


# -- the real videos -------------------------------------------------------------------------------
def _keyframes(T: int, frames: list[int], values: list[float], lo: int, hi: int) -> np.ndarray:
    x = np.full(T, np.nan)
    x[lo:hi + 1] = np.interp(np.arange(lo, hi + 1), frames, values)
    return x


def truth_speaker_raw(path: Path) -> Truth:
    frames = decode(path)
    x = np.array([torso_x(person_mask(f)) for f in frames])
    T, H, W = frames.shape[:3]
    return Truth("speaker_raw", path, T, (W, H), [TruePerson("speaker", x)], [(0, T - 1)],
                 "one person in view in every frame")


def truth_two_speakers(path: Path) -> Truth:
    """By eye, from frames 0, 25, 51, 52, 75, 100, 110, 125, 150, 171 with an x grid (decoded 640 x 360)."""
    T = 172
    persons = [
        TruePerson("shot 1: woman, left, back half to the camera, face in profile",
                   _keyframes(T, [0, 51], [150, 160], 0, 51), 0),
        TruePerson("shot 1: man, right, facing the camera", _keyframes(T, [0, 51], [420, 425], 0, 51), 0),
        TruePerson("shot 2: woman, left, facing the camera",
                   _keyframes(T, [52, 110, 171], [235, 235, 245], 52, 171), 1),
        TruePerson("shot 2: man, right, back to the camera (face unseen)",
                   _keyframes(T, [52, 110, 171], [430, 445, 420], 52, 171), 1),
    ]
    return Truth("two_speakers_raw", path, T, (640, 360), persons, [(0, 51), (52, 171)],
                 "two people in two shots (cut at frame 52); a cut ends every track")


def make_all(folder: Path, real_dir: Path, names=MADE + REAL) -> dict[str, Truth]:
    """The videos and their truth, name -> :class:`Truth`; made videos are written to
    ``folder`` (and their truth as ``<name>.truth.json``), kept when already there."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Truth] = {}
    src = None
    makers = {"occluded": make_occluded, "masked": make_masked, "crossing": make_crossing}
    for name in names:
        if name in makers:
            video, meta = folder / f"{name}.mp4", folder / f"{name}.truth.json"
            if video.exists() and meta.exists():
                out[name] = Truth.from_json(json.loads(meta.read_text()))
                continue
            if src is None:
                src = decode(Path(real_dir) / "speaker_raw.mp4")
            truth = makers[name](src, video)
            meta.write_text(json.dumps(truth.to_json()))
            out[name] = truth
        elif name == "speaker_raw.mp4":
            out["speaker_raw"] = truth_speaker_raw(Path(real_dir) / name)
        elif name == "two_speakers_raw.mp4":
            out["two_speakers_raw"] = truth_two_speakers(Path(real_dir) / name)
        else:
            raise ValueError(f"unknown video {name!r}")
    return out


# -- scoring a tracker's people against the truth ------------------------------------------------
SEEN = 0.3  # a joint counts as found with at least this confidence (the tracker's SHOULDER_SEEN)
MATCH = 0.15  # a track's frame matches a true person within this share of the frame width
CONTAIN_TOLERANCE = 0.02  # a box contains a keypoint lying at most this share of the frame's longer side outside
MIN_SHARE = 5  # frames of a true person a track must hold to count as one of its identities


@dataclass
class Tracked:
    """One person as a tracker gave it: its parts' first frames, keypoints (n, 56, 3) and boxes
    (n, 4), decoded-frame pixels (what ``People.persons[k]`` holds, without the models)."""

    starts: list[int]
    raws: list[np.ndarray]
    bodies: list[np.ndarray]

    @classmethod
    def from_parts(cls, parts) -> Tracked:
        return cls([int(p.start) for p in parts], [np.asarray(p.raw, np.float32) for p in parts],
                   [np.asarray(p.bodies, np.float32) for p in parts])

    def frames(self):
        """(frame, keypoints (56, 3), box (4,)) for every frame inside one of its parts."""
        for s, raw, box in zip(self.starts, self.raws, self.bodies):
            for i in range(len(raw)):
                yield s + i, raw[i], box[i]

    @property
    def first(self) -> int:
        return min(self.starts)

    @property
    def last(self) -> int:
        return max(s + len(r) - 1 for s, r in zip(self.starts, self.raws))


def track_x(kp: np.ndarray, box: np.ndarray) -> float:
    """The shoulder midpoint's x (both shoulders found), else the mean x of the body joints
    found, else the box's centre; NaN when none."""
    from jegal.data.keypoints import LEFT_SHOULDER, NUM_BODY, RIGHT_SHOULDER

    if kp[[LEFT_SHOULDER, RIGHT_SHOULDER], 2].min() >= SEEN:
        return float(kp[[LEFT_SHOULDER, RIGHT_SHOULDER], 0].mean())
    body = kp[:NUM_BODY]
    if (body[:, 2] >= SEEN).any():
        return float(body[body[:, 2] >= SEEN, 0].mean())
    if box[2] > box[0]:
        return float((box[0] + box[2]) / 2)
    return float("nan")


def _assign(truth: Truth, tracked: list[Tracked]) -> dict[tuple[int, int], int]:
    """(track, frame) -> true person: per frame a Hungarian assignment of the tracks present to
    the true persons in view, on the distance of their x, within ``MATCH`` of the frame width."""
    from scipy.optimize import linear_sum_assignment

    xs: dict[int, list[tuple[int, float]]] = {}
    for k, tr in enumerate(tracked):
        for t, kp, box in tr.frames():
            x = track_x(kp, box)
            if 0 <= t < truth.num_frames and not np.isnan(x):
                xs.setdefault(t, []).append((k, x))
    tol = MATCH * truth.size[0]
    out = {}
    for t, here in xs.items():
        people = [p for p, tp in enumerate(truth.persons) if not np.isnan(tp.x[t])]
        if not people:
            continue
        cost = np.array([[abs(x - truth.persons[p].x[t]) for p in people] for _, x in here])
        cost = np.where(cost <= tol, cost, 1e6)
        for r, c in zip(*linear_sum_assignment(cost)):
            if cost[r, c] < 1e6:
                out[(here[r][0], t)] = people[c]
    return out


def box_sanity(tracked: list[Tracked], size: tuple[int, int]) -> dict:
    """Boxes against the keypoints found in them, over every tracked frame with a box and at least
    4 body joints found: ``contains`` the share of frames whose box holds every keypoint found
    (within ``CONTAIN_TOLERANCE``), ``area_median`` / ``area_p90`` the box's area over that of the
    keypoints' extent (the smallest box around them), ``width_median`` likewise for the width."""
    from jegal.data.keypoints import NUM_BODY

    tol = CONTAIN_TOLERANCE * max(size)
    contains, area, width = [], [], []
    for tr in tracked:
        for _, kp, box in tr.frames():
            found = kp[kp[:, 2] >= SEEN, :2]
            if box[2] <= box[0] or (kp[:NUM_BODY, 2] >= SEEN).sum() < 4:
                continue
            x0, y0 = found.min(0)
            x1, y1 = found.max(0)
            contains.append(bool(box[0] - tol <= x0 and box[1] - tol <= y0 and box[2] + tol >= x1
                                 and box[3] + tol >= y1))
            if x1 - x0 > 1 and y1 - y0 > 1:
                area.append((box[2] - box[0]) * (box[3] - box[1]) / ((x1 - x0) * (y1 - y0)))
                width.append((box[2] - box[0]) / (x1 - x0))
    nan = float("nan")
    return {"box_frames": len(contains), "contains": float(np.mean(contains)) if contains else nan,
            "area_median": float(np.median(area)) if area else nan,
            "area_p90": float(np.percentile(area, 90)) if area else nan,
            "width_median": float(np.median(width)) if width else nan}


def score(truth: Truth, tracked: list[Tracked]) -> dict:
    """How a tracker's people (``tracked``, one :class:`Tracked` per identity) fit ``truth``.

    Per true person: ``coverage``, the share of its in-view frames held by its best-matching
    single identity (the acceptance asks >= 0.95), ``identities``, the tracks holding at least
    ``MIN_SHARE`` of its frames (``splits`` = identities - 1). Per track, ``switches``: how often
    the true person it is matched to changes along it. Plus :func:`box_sanity`."""
    owner = _assign(truth, tracked)
    persons = []
    for p, tp in enumerate(truth.persons):
        held = np.zeros(len(tracked), np.int64)
        for (k, t), q in owner.items():
            if q == p:
                held[k] += 1
        n = len(tp.frames)
        best = int(np.argmax(held)) if len(tracked) else -1
        persons.append({"label": tp.label, "in_view": n, "first": int(tp.frames[0]) if n else None,
                        "last": int(tp.frames[-1]) if n else None,
                        "coverage": float(held[best] / n) if n and best >= 0 else 0.0, "track": best,
                        "identities": int((held >= MIN_SHARE).sum()),
                        "splits": max(0, int((held >= MIN_SHARE).sum()) - 1)})
    switches, unmatched = 0, 0
    for k, tr in enumerate(tracked):
        seq = [owner[(k, t)] for t, _, _ in tr.frames() if (k, t) in owner]
        switches += sum(a != b for a, b in zip(seq, seq[1:]))
        n = sum(1 for _ in tr.frames())
        unmatched += len(seq) < 0.5 * n
    return {"video": truth.name, "found": len(tracked), "true": len(truth.persons), "persons": persons,
            "switches": switches, "unmatched_tracks": unmatched,
            "tracks": [{"first": tr.first, "last": tr.last, "parts": len(tr.starts)} for tr in tracked],
            **box_sanity(tracked, truth.size)}


def save_tracked(path: Path, tracked: list[Tracked], extra: dict) -> None:
    arrays = {"meta": np.array(json.dumps(extra))}
    for k, tr in enumerate(tracked):
        for j, (s, raw, box) in enumerate(zip(tr.starts, tr.raws, tr.bodies)):
            arrays[f"p{k}_{j}_start"] = np.int64(s)
            arrays[f"p{k}_{j}_raw"] = raw
            arrays[f"p{k}_{j}_bodies"] = box
    np.savez_compressed(path, **arrays)


def load_tracked(path: Path) -> tuple[list[Tracked], dict]:
    with np.load(path, allow_pickle=False) as z:
        extra = json.loads(str(z["meta"]))
        tracked: list[Tracked] = []
        k = 0
        while f"p{k}_0_start" in z.files:
            tr = Tracked([], [], [])
            j = 0
            while f"p{k}_{j}_start" in z.files:
                tr.starts.append(int(z[f"p{k}_{j}_start"]))
                tr.raws.append(z[f"p{k}_{j}_raw"])
                tr.bodies.append(z[f"p{k}_{j}_bodies"])
                j += 1
            tracked.append(tr)
            k += 1
    return tracked, extra


def follow(path: Path, options=None) -> tuple[list[Tracked], dict]:
    """The current checkout's people stage on ``path``: one :class:`Tracked` per person, and
    ``{"seconds", "timings", "warnings", "scale", "num_frames", "error"}`` (``NoPerson``: no one)."""
    import time

    from jegal.perception.errors import NoPerson
    from jegal.perception.options import PrepareOptions
    from jegal.perception.track import PeopleTracker

    tracker = PeopleTracker(options or PrepareOptions())
    timings: dict = {}
    warnings: list[str] = []
    t = time.perf_counter()
    try:
        people = tracker.follow(path, Path(path).stem, timings=timings, warnings=warnings)
        tracked = [Tracked.from_parts(parts) for parts in people.persons]
        extra = {"scale": people.scale, "num_frames": people.num_frames, "error": None}
    except NoPerson as err:
        tracked, extra = [], {"scale": None, "num_frames": None, "error": str(err)}
    finally:
        tracker.close()
    extra.update(seconds=time.perf_counter() - t, timings={k: round(v, 3) for k, v in timings.items()},
                 warnings=warnings)
    return tracked, extra
