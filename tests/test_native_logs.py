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


def test_a_native_line_glued_to_a_progress_bar_loses_only_its_native_part():
    from jegal.native_logs import strip_chatter

    bar = b"\r 76%|#####     | spot: people"
    assert strip_chatter(bar + b"I0000 00:00:1796686022.161716    4896 task_runner.cc:85] GPU suport") == bar
    assert strip_chatter(b"W0000 00:00:1796675115.900796   11832 inference_feedback_manager.cc:114] x") is None
    assert strip_chatter(b"jegal spot: a message") == b"jegal spot: a message"


def test_the_filter_passes_bars_at_once_and_drops_native_lines_wherever_they_fall():
    import os
    import threading

    from jegal.native_logs import _pump

    read_end, write_end = os.pipe()
    out_read, out_write = os.pipe()
    thread = threading.Thread(target=_pump, args=(read_end, out_write), daemon=True)
    thread.start()
    os.write(write_end, b"\r 10%| spot: reading")  # a bar's redraw: no newline, passed on before any other write
    import select

    assert select.select([out_read], [], [], 5)[0], "a bar's redraw was held back"
    first = os.read(out_read, 1000)
    assert first == b"\r 10%| spot: reading"
    os.write(write_end, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
                        b"\r 50%| spot: peopleW0000 00:00:1796675115.9   11832 inference_feedback_manager.cc:114] F\n"
                        b"jegal spot: ours\nE0000 00:00:1.5 7 x.cc:1] a native error stays\n")
    os.close(write_end)
    thread.join(5)
    os.close(out_write)
    rest = b""
    while chunk := os.read(out_read, 1000):
        rest += chunk
    os.close(out_read)
    assert rest == b"\r 50%| spot: peoplejegal spot: ours\nE0000 00:00:1.5 7 x.cc:1] a native error stays\n"


def test_verbose_leaves_the_environment_and_fd_2_alone(monkeypatch):
    import jegal.native_logs as nl

    called = []
    monkeypatch.setattr(nl, "quiet_native_logs", lambda **kw: called.append(kw))
    nl.quiet_for_command(verbose=True)
    assert called == []
    nl.quiet_for_command(verbose=False)
    assert called == [{"filter_fd": False}]  # pytest holds stderr: its file descriptor is not taken over


def test_progress_off_a_terminal_is_at_most_eleven_plain_lines_with_the_count(monkeypatch, capsys):
    from jegal import native_logs

    monkeypatch.setattr(native_logs, "stderr_is_terminal", lambda: False)
    with native_logs.progress_bar(250, "prepare", unit="video") as bar:
        for i in range(250):
            bar.update()
            if i == 100:
                bar.set_postfix(loss="1.5")
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err
    lines = err.splitlines()
    assert 2 <= len(lines) <= 11
    assert lines[0] == "prepare: 25/250 video" and lines[-1] == "prepare: 250/250 video, loss=1.5"
    counts = [int(line.split(": ")[1].split("/")[0]) for line in lines]
    assert counts == sorted(counts)


def test_progress_on_a_terminal_is_a_tqdm_bar_and_disabled_shows_nothing(monkeypatch, capsys):
    from tqdm.auto import tqdm

    from jegal import native_logs

    monkeypatch.setattr(native_logs, "stderr_is_terminal", lambda: True)
    bar = native_logs.progress_bar(3, "x")
    assert isinstance(bar, tqdm)
    bar.close()
    capsys.readouterr()
    monkeypatch.setattr(native_logs, "stderr_is_terminal", lambda: False)
    with native_logs.progress_bar(3, "x", disable=True) as bar:
        bar.update(3)
    assert capsys.readouterr().err == ""
