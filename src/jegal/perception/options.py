"""The knobs of the perception stages (decode, people, pose, recognition, features), shared by every
stage; ``jegal prepare`` maps each of its CLI flags onto one field, other callers set the fields they need."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PrepareOptions:
    """Every knob of the perception stages; each ``jegal prepare`` flag maps onto one field."""

    max_side: int = 640  # decode frames no larger than this (pixels, longer side)
    rgb_size: int | None = None  # also store face-masked rgb crops of this size
    rgb_features: str | None = None  # also store per-frame features: "gestsync" (jegal.perception.features)
    gestsync_weights: str | None = None  # GestSync RGB weights: an imported model dir, .safetensors or gestsync.pth
    mel: str = "jegal"  # the log-mel stored: "jegal" (jegal.data.audio.log_mel) | "reference" (the released model's)
    raw_audio: bool = False  # also store the 16 kHz waveform (int16) per clip
    min_activity: float = 0.0  # drop clips whose gesture-activity score is lower
    max_frames: int = 750  # split longer tracks into segments of at most this many frames
    min_frames: int = 25  # shortest person track / segment kept
    scene_threshold: float = 0.15
    detect_stride: int = 5  # face seeds: face detection on every k-th frame (jegal.perception.people)
    pose_seed_stride: int = 20  # body seeds: the Tasks pose landmarker on every k-th frame (one view in turn)
    max_lost: int = 12  # frames a followed body may go unseen before its follow ends (0.5 s)
    link_gap: int = 38  # frames between two pieces of one person that are still linked into one (1.5 s)
    hands: str = "auto"  # auto | always | never
    crop_side: int = 320
    hand_stride: int = 1  # run the hand model on every k-th frame, interpolate between
    max_overhang_s: float = 1.0
    chunk_frames: int = 750  # decode and track this many frames at a time (bounds memory)
    threads: int = 1  # threads within one video (mediapipe releases the GIL): seeds and blocks of frames in parallel
    asr: str = "auto"  # no transcript: auto | pocketsphinx | faster-whisper | none (jegal.perception.asr)
    asr_model: str | None = None  # a local CTranslate2 Whisper model directory for faster-whisper (never downloaded)
