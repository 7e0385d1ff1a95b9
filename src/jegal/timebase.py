"""The one time base every module shares (docs/design.md section 2).

Video runs at 25 fps, audio at 16 kHz, and the log-mel hop is 10 ms, so one video
frame spans exactly 640 samples and 4 mel frames. An audio encoder with time
stride 4 therefore yields exactly one feature per video frame.
"""

FPS = 25
SAMPLE_RATE = 16_000
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS  # 640
MEL_HOP = 160
MEL_WINDOW = 320
MEL_N_FFT = 512
MEL_BINS = 80
MEL_PER_FRAME = SAMPLES_PER_FRAME // MEL_HOP  # 4


def seconds_to_frame(t: float) -> int:
    """A time in seconds to a 25 fps frame index, ``round(t * 25)``."""
    return int(round(t * FPS))


def frame_to_seconds(frame: int) -> float:
    return frame / FPS
