"""jegal.native_logs: mediapipe's native INFO/WARNING lines are dropped from fd 2, everything else passes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jegal.native_logs import is_native_chatter

SCRIPT = r"""
import sys
from jegal.native_logs import quiet_native_logs
quiet_native_logs(filter_fd=True)
import numpy as np, mediapipe as mp
from mediapipe.tasks.python import BaseOptions, vision
from jegal.perception.pose_model import pose_landmarker_bundle
opts = vision.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_buffer=pose_landmarker_bundle()),
                                    running_mode=vision.RunningMode.VIDEO)
with vision.PoseLandmarker.create_from_options(opts) as lm:
    for i in range(2):
        lm.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.zeros((64, 64, 3), np.uint8)), 40 * i)
print("jegal: a message of our own", file=sys.stderr)
print("E0000 00:00:1.5 7 x.cc:1] a native error stays", file=sys.stderr)
"""


def test_native_info_and_warning_lines_are_recognised_and_nothing_else():
    assert is_native_chatter(b"W0000 00:00:1796675115.900796   11832 inference_feedback_manager.cc:114] Feedback")
    assert is_native_chatter(b"I0000 00:00:1796675115.772443   11806 task_runner.cc:85] GPU suport is not available")
    assert is_native_chatter(b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.")
    assert is_native_chatter(b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR")
    assert not is_native_chatter(b"E0000 00:00:1796675115.9 11832 x.cc:1] an error")
    assert not is_native_chatter(b"Traceback (most recent call last):")
    assert not is_native_chatter(b"WARNING: something of ours")


@pytest.mark.slow
def test_a_pose_model_run_leaves_only_our_own_lines_on_stderr():
    pytest.importorskip("mediapipe")
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, timeout=300)
    err = done.stderr.decode()
    assert done.returncode == 0, err
    assert "jegal: a message of our own" in err and "a native error stays" in err
    assert "XNNPACK" not in err and "inference_feedback_manager" not in err and "InitializeLog" not in err, err
