"""The perception library reads one input up to its words and people without any application."""

import shutil

import numpy as np

from jegal.data.audio import load_audio
from jegal.perception.discover import discover
from jegal.perception.options import PrepareOptions
from jegal.perception.reader import VideoReader
from tests.perception.wild import moving_hand_keypoints as _kps


def test_a_keypoints_input_is_read_to_its_words_and_person_with_every_stage_timed(tmp_path, real_dir):
    np.savez(tmp_path / "talk.kps.npz", keypoints=_kps(np.random.default_rng(0), 54), fps=25)
    shutil.copy(real_dir / "sample1.wav", tmp_path / "talk.wav")
    shutil.copy(real_dir / "sample1.txt", tmp_path / "talk.txt")
    (item,) = discover(tmp_path)
    reader = VideoReader(PrepareOptions(asr="none"))
    stages, warnings, timings = [], [], {}
    try:
        got = reader.read(item, warnings, timings, stage=stages.append)
    finally:
        reader.close()
    assert stages == ["words", "people"] and {"audio", "transcript"} <= set(timings)
    assert [w.display for w in got.words][:3] == ["amount", "of", "numbers"] and got.transcript.source == "given"
    assert got.people.num_frames == 54 and len(got.people.persons) == 1 and got.features is None
    assert got.audio.dtype == np.float32 and len(got.audio) == len(load_audio(real_dir / "sample1.wav"))
