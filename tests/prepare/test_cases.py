"""The five shared cases of ``../shared/cases`` (inputs from the wild that ``jegal prepare`` got
wrong) give what a user expects, through the whole pipeline, in one run.

Each case is one member of a kind; the kinds are tested on generated variants in
``tests/perception/``: ``test_transcripts.py``, ``test_decode.py``, ``test_importers.py`` and ``test_align.py``.
"""

import json
import shutil

import numpy as np
import pytest

from jegal.data.audio import load_audio
from jegal.data.keypoints import LEFT_HAND, RIGHT_HAND
from jegal.data.shards import read_clips
from jegal.perception.decode import decode_video
from jegal.perception.errors import FAILURE_REASONS, PrepareError
from jegal.perception.importers import load_keypoints_npz
from jegal.perception.options import PrepareOptions
from jegal.prepare.pipeline import run_prepare
from jegal.perception.transcripts import read_words

from ..conftest import REAL, SHARED

CASES = SHARED / "cases"
NAMES = ["03_textgrid_p2fa_phone_tier_first", "06_rotated_phone_video", "12_holistic_hands_zero_filled",
         "16_txt_curly_apostrophes", "17_plain_text_wrong_audio"]
# sample1 alone: one clip of 55-56 frames with these words (the cases' README).
BASELINE = [("amount", 1, 6), ("of", 7, 9), ("numbers", 9, 16), ("inside", 17, 24), ("the", 24, 27), ("hat", 27, 32),
            ("mixing", 43, 51), ("the", 52, 54)]

pytestmark = pytest.mark.skipif(not CASES.is_dir(),
                                reason=f"the shared cases are not at {CASES} (clone the repo with shared/ beside it)")


# -- each case at the stage it used to go wrong (fast) ---------------------------------------------
def test_03_stage_textgrid_words():
    words = read_words(CASES / NAMES[0] / "clip.TextGrid", load_audio(CASES / NAMES[0] / "clip.wav"))
    assert [(w.text, w.start, w.end) for w in words] == BASELINE


def test_06_stage_decoded_upright_like_the_original():
    rotated = decode_video(CASES / NAMES[1] / "clip.mp4", with_audio=False)
    original = decode_video(REAL / "sample1.avi", with_audio=False)
    assert rotated.frames.shape == original.frames.shape  # 56 frames, 314 high, 228 wide
    diff = np.abs(rotated.frames.astype(np.int16) - original.frames).mean()
    assert diff < 5  # re-encoding noise only; sideways would be about 100


def test_12_stage_found_hands():
    expected = json.loads((CASES / NAMES[2] / "hands_found.json").read_text())
    notes = []
    kp = load_keypoints_npz(CASES / NAMES[2] / "clip.kps.npz", notes)
    assert len(kp) == expected["T"]
    assert int((kp[:, LEFT_HAND, 2] > 0).any(axis=1).sum()) == expected["left_frames"]
    assert int((kp[:, RIGHT_HAND, 2] > 0).any(axis=1).sum()) == expected["right_frames"]
    assert "zeros for not found" in notes[0]


def test_16_stage_words():
    words = read_words(CASES / NAMES[3] / "clip.txt", load_audio(CASES / NAMES[3] / "clip.wav"))
    assert [w.text for w in words] == ["don't", "the", "it's", "diseases", "naïve", "deformans", "o'brien's"]


def test_17_stage_unalignable():
    with pytest.raises(PrepareError) as err:
        read_words(CASES / NAMES[4] / "clip.txt", load_audio(CASES / NAMES[4] / "clip.wav"))
    assert err.value.reason == "unalignable" and "clip.txt" in str(err.value)


# -- all five through the whole pipeline, in one run (slow) ----------------------------------------
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Every case, plus sample1 itself as the baseline, prepared in one run."""
    root = tmp_path_factory.mktemp("cases")
    inp = root / "in"
    for name in NAMES:
        shutil.copytree(CASES / name, inp / name)
    (inp / "baseline").mkdir()
    for suffix in (".avi", ".wav", ".txt"):
        shutil.copy(REAL / f"sample1{suffix}", inp / "baseline" / f"clip{suffix}")
    out = root / "out"
    summary = run_prepare(inp, out, PrepareOptions(), progress=False)
    clips = {clip.clip_id.split("/")[0]: clip for clip in read_clips(out)}
    status = {p.stem.split("__")[0]: json.loads(p.read_text()) for p in (out / "status").glob("*.json")}
    return summary, clips, status


def _words(clip):
    return [(w.text, w.start, w.end) for w in clip.words]


@pytest.mark.slow  # three small videos through face detection and pose
def test_every_case_is_counted_and_only_17_fails(run):
    summary, clips, status = run
    assert summary["items"] == 6 and summary["done"] == 5 and summary["failed"] == 1
    assert set(clips) == {"baseline", *NAMES} - {"17_plain_text_wrong_audio"}
    assert all(f["reason"] in FAILURE_REASONS for f in summary["failures"])
    baseline = clips["baseline"]
    assert 55 <= baseline.num_frames <= 56 and _words(baseline) == BASELINE


@pytest.mark.slow  # three small videos through face detection and pose
def test_03_textgrid_reads_the_word_tier_not_the_phones(run):
    _, clips, status = run
    clip = clips["03_textgrid_p2fa_phone_tier_first"]
    assert 55 <= clip.num_frames <= 56
    assert _words(clip) == BASELINE
    assert [w.display for w in clip.words][:2] == ["AMOUNT", "OF"]


@pytest.mark.slow  # three small videos through face detection and pose
def test_06_rotated_phone_video_is_decoded_upright(run):
    _, clips, _ = run
    clip, baseline = clips["06_rotated_phone_video"], clips["baseline"]
    assert 55 <= clip.num_frames <= 56 and _words(clip) == BASELINE
    # The same person in the same pose as the unrotated original: keypoints (normalised to the
    # shoulders) agree where both see a joint.
    n = min(clip.num_frames, baseline.num_frames)
    a, b = clip.keypoints[:n], baseline.keypoints[:n]
    both = (a[..., 2] > 0.5) & (b[..., 2] > 0.5)
    assert both[:, :14].mean() > 0.5
    assert np.linalg.norm(a[..., :2] - b[..., :2], axis=-1)[both].mean() < 0.1
    box = clip.extra.get("face_box")
    if box is not None:  # in displayed (upright) pixels: 228 wide, 314 high
        x0, y0, x1, y1 = box
        assert 0 <= x0 < x1 <= 228 + 1 and 0 <= y0 < y1 <= 314 + 1


@pytest.mark.slow  # three small videos through face detection and pose
def test_12_zero_filled_hands_count_as_not_found(run):
    summary, clips, status = run
    clip = clips["12_holistic_hands_zero_filled"]
    expected = json.loads((CASES / "12_holistic_hands_zero_filled" / "hands_found.json").read_text())
    assert clip.num_frames == expected["T"] and _words(clip) == BASELINE
    found = {side: int((clip.keypoints[:, hand, 2] > 0).any(axis=1).sum())
             for side, hand in (("left_frames", LEFT_HAND), ("right_frames", RIGHT_HAND))}
    assert found == {"left_frames": expected["left_frames"], "right_frames": expected["right_frames"]}
    # The hand is not at the image corner in the frames it was not found.
    gone = clip.keypoints[:, LEFT_HAND, 2].max(axis=1) == 0
    assert np.all(clip.keypoints[gone][:, LEFT_HAND, :2] == 0)
    notes = status["12_holistic_hands_zero_filled"]["warnings"]
    assert any("left hand stored as all zeros in 50 of 56 frames" in n and "zeros for not found" in n for n in notes)
    assert any("zeros for not found" in n for n in summary["warnings"])


@pytest.mark.slow  # three small videos through face detection and pose
def test_16_typographic_apostrophes_fold_and_letters_stay(run):
    _, clips, _ = run
    clip = clips["16_txt_curly_apostrophes"]
    assert [w.text for w in clip.words] == ["don't", "the", "it's", "diseases", "naïve", "deformans", "o'brien's"]
    assert clip.words[2].display == "it’s"


@pytest.mark.slow  # three small videos through face detection and pose
def test_17_wrong_audio_is_unalignable_and_the_run_goes_on(run):
    summary, _, status = run
    failure = next(f for f in summary["failures"] if f["input"].startswith("17_"))
    assert failure["reason"] == "unalignable"
    assert "17_plain_text_wrong_audio/clip.txt" in failure["message"]
    record = status["17_plain_text_wrong_audio"]
    assert record["reason"] == "unalignable" and not any("Traceback" in w for w in record["warnings"])
