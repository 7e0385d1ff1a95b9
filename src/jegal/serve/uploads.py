"""What an upload to ``jegal serve`` is allowed to be, checked by content, never by name.

**Safety.** Uploads are checked by content, never by name: the first bytes must be a known video
container (:func:`sniff_video`), then PyAV must open it, find a video stream and demux packets
whose timestamps stay within ``max_seconds`` (:func:`probe_video`); the extension the file is
saved with comes from the container PyAV found. A transcript must be text (UTF-8/16 or
Windows-1252, no NUL bytes) and is saved as ``.json``/``.TextGrid``/``.vtt``/``.srt``/``.eaf``/``.txt``
by what it holds (a name of one of those kinds decides, as ``jegal spot`` reads it; a name of a kind
jegal does not read, such as ``.sbv`` or ``.docx``, is refused).

:func:`check_upload` saves a form's files under fixed names in the job's input folder (no name or
path from the user reaches the file system) and returns the job's :class:`~jegal.serve.queue.Inputs`.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from jegal.serve.errors import Refused
from jegal.serve.queue import Inputs, Job, Limits

# Container formats accepted (PyAV/FFmpeg format name -> the suffix the upload is saved with).
FORMATS = {"avi": ".avi", "mov": ".mp4", "mp4": ".mp4", "matroska": ".mkv", "webm": ".webm", "flv": ".flv",
           "mpeg": ".mpg", "mpegts": ".ts", "asf": ".wmv"}


def sniff_video(head: bytes) -> str | None:
    """The container family the first bytes of a file announce (``avi``, ``mp4``, ``matroska``,
    ``flv``, ``mpeg``, ``mpegts``, ``asf``), None when they are no video container's.
    Sources: the containers' specifications (RIFF 'AVI ' form; ISO/IEC 14496-12 boxes; the EBML
    magic 1A 45 DF A3; 'FLV'; MPEG-PS pack 00 00 01 BA; 188-byte MPEG-TS packets with sync byte
    0x47; the ASF header GUID)."""
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:3] == b"FLV":
        return "flv"
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "mpeg"
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:
        return "mpegts"
    if head[:16] == bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c"):
        return "asf"
    return None


def sniff_audio(head: bytes) -> bool:
    """Whether the first bytes announce an audio file (WAV, FLAC, MP3, Ogg, AIFF, AMR, CAF, or a
    video container, whose sound track is used)."""
    return (sniff_video(head) is not None or (head[:4] == b"RIFF" and head[8:12] == b"WAVE")
            or head[:4] in (b"fLaC", b"OggS", b"FORM", b"caff") or head[:3] == b"ID3" or head[:5] == b"#!AMR"
            or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0))


def _clean(err: BaseException, path: Path, name: str) -> str:
    """An FFmpeg/OS error's text with the server's path replaced by the user's file name."""
    return str(err).replace(str(path), name)


def probe_video(path: Path, max_seconds: float, name: str, sniffed: bool = False) -> dict:
    """Open ``path`` with PyAV and demux its video packets: ``{"suffix", "duration_s" (the
    packets'), "declared_s" (the header's, at most ``max_seconds`` + 1), "has_audio", "format"}``. Raises :class:`Refused`: ``not_a_video`` (PyAV cannot open it, or
    not an accepted container), ``no_video`` (no video stream), ``corrupt_video`` (no packet can
    be read, or ``sniffed``: the first bytes announced a video container, yet PyAV cannot open
    it), ``too_long`` (a packet ends after ``max_seconds``). ``name`` is the user's file name,
    for the messages."""
    import av

    from jegal.perception.decode import declared_seconds, pick_stream

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as err:
        if sniffed:
            raise Refused(422, "corrupt_video", f"{name}: starts like a video file but cannot be opened "
                                                f"({_clean(err, path, name)})") from None
        raise Refused(415, "not_a_video", f"{name}: cannot be opened as a video ({_clean(err, path, name)})") from None
    with container:
        names = (container.format.name or "").split(",")
        suffix = next((FORMATS[n] for n in names if n in FORMATS), None)
        if suffix is None:
            raise Refused(415, "not_a_video", f"{name}: a {container.format.long_name or names[0]} file, not a video "
                                              "container this page reads")
        stream = pick_stream(container.streams.video)
        if stream is None:
            raise Refused(422, "no_video", f"{name}: has no video stream")
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        end, packets = 0.0, 0
        try:
            for packet in container.demux(stream):
                if packet.pts is None:
                    continue
                packets += 1
                end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base) - start)
                if end > max_seconds + 0.1:  # (a tenth of a second for timestamp rounding)
                    raise Refused(413, "too_long", f"{name}: longer than the limit of {max_seconds:g} s")
        except av.error.FFmpegError as err:
            if not packets:
                raise Refused(422, "corrupt_video", f"{name}: no video packet can be read "
                                                    f"({_clean(err, path, name)})") from None
        if not packets:
            raise Refused(422, "corrupt_video", f"{name}: no video packet can be read (empty or damaged file)")
        declared = declared_seconds(stream, container)  # what jegal prepare checks truncation against
        return {"suffix": suffix, "duration_s": end, "has_audio": bool(container.streams.audio),
                "format": names[0], "declared_s": min(end if declared is None else declared, max_seconds + 1.0)}


def probe_audio(path: Path, name: str) -> None:
    """Raises :class:`Refused` ``not_audio`` unless PyAV opens ``path`` and finds a sound stream."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise Refused(415, "not_audio", f"{name}: holds no sound stream")
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as err:
        raise Refused(415, "not_audio", f"{name}: cannot be opened as audio ({_clean(err, path, name)})") from None


def transcript_suffix(data: bytes, name: str) -> str:
    """The suffix a transcript is saved with (``.json``, ``.TextGrid``, ``.vtt``, ``.srt``, ``.eaf`` or
    ``.txt``), by the rules ``jegal spot`` reads a transcript file with
    (:func:`jegal.perception.transcripts.decode_transcript`). Raises :class:`Refused`
    ``not_a_transcript`` for a kind jegal does not read (``.sbv``, ``.docx``, other XML, ...: by
    name), binary content or an undecodable file."""
    from jegal.data.transcripts import TranscriptError
    from jegal.perception.transcripts import decode_transcript

    try:
        return decode_transcript(data, name).suffix
    except TranscriptError as err:
        raise Refused(415, "not_a_transcript", str(err)) from None


def display_name(filename: str | None, fallback: str) -> str:
    """The user's file name for display only (never a path): its last part, printable, at most 100 characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()[:100]
    return name or fallback


def check_upload(form, job: Job, limits: Limits, examples: dict) -> Inputs:
    """The form's files saved under server-chosen names in the job's input folder, checked by content
    (module docstring): an ``example`` (a key of ``examples``, :func:`jegal.serve.examples.list_examples`) or
    a ``video`` with an optional ``transcript`` and ``audio``. Raises :class:`Refused` with the reason."""
    from starlette.datastructures import UploadFile

    folder = job.dir / "input"
    example = form.get("example")
    if isinstance(example, str) and example:
        ex = examples.get(example)
        if ex is None:
            raise Refused(404, "unknown_example", f"no example {example[:40]!r}")
        if ex.video is None:
            return Inputs(video=None, name=ex.title)
        info = probe_video(ex.video, limits.max_seconds, ex.video.name)
        # the example's folder is the server's business: messages name its files alone
        names = {str(ex.video): ex.video.name, str(ex.video.parent) + os.sep: ""}
        return Inputs(video=ex.video, name=ex.title, duration_s=info["duration_s"],
                      silent_s=max(info["duration_s"], info["declared_s"]) if not info["has_audio"]
                      and not ex.video.with_suffix(".wav").is_file() else None, names=names)
    video = form.get("video")
    if not isinstance(video, UploadFile) or not video.filename and not video.size:
        raise Refused(400, "no_file", "no video file in the upload")
    name = display_name(video.filename, "video")
    raw = folder / "upload.bin"
    with open(raw, "wb") as f:
        shutil.copyfileobj(video.file, f, 1 << 20)
    with open(raw, "rb") as f:
        head = f.read(512)
    if not head:
        raise Refused(400, "no_file", f"{name}: the file is empty")
    if sniff_video(head) is None:
        raise Refused(415, "not_a_video", f"{name}: its content is not a video container (checked by content, "
                                          "not by name)")
    info = probe_video(raw, limits.max_seconds, name, sniffed=True)
    path = folder / ("video" + info["suffix"])
    raw.rename(path)
    names = {str(path): name}
    transcript = None
    t_file = form.get("transcript")
    if isinstance(t_file, UploadFile) and (t_file.filename or t_file.size):
        t_name = display_name(t_file.filename, "transcript")
        data = t_file.file.read(limits.max_transcript_bytes + 1)
        if len(data) > limits.max_transcript_bytes:
            raise Refused(413, "too_large", f"{t_name}: a transcript may have at most "
                                            f"{limits.max_transcript_kb:g} kB")
        if not data.strip():
            raise Refused(415, "not_a_transcript", f"{t_name}: the file is empty")
        transcript = folder / ("transcript" + transcript_suffix(data, t_name))
        transcript.write_bytes(data)
        names[str(transcript)] = t_name
    tier = form.get("tier")
    tier = " ".join(tier.split())[:100] if isinstance(tier, str) and tier.strip() else None
    audio = None
    a_file = form.get("audio")
    if isinstance(a_file, UploadFile) and (a_file.filename or a_file.size):
        a_name = display_name(a_file.filename, "audio")
        audio = folder / "audio.bin"
        with open(audio, "wb") as f:
            shutil.copyfileobj(a_file.file, f, 1 << 20)
        with open(audio, "rb") as f:
            if not sniff_audio(f.read(512)):
                raise Refused(415, "not_audio", f"{a_name}: its content is not an audio file")
        probe_audio(audio, a_name)
        names[str(audio)] = a_name
        names[str(path.with_suffix(".wav"))] = a_name
    silent = not info["has_audio"] and audio is None
    return Inputs(video=path, name=name, transcript=transcript, audio=audio, duration_s=info["duration_s"],
                  silent_s=max(info["duration_s"], info["declared_s"]) if silent else None, names=names,
                  tier=tier if transcript is not None else None)


__all__ = ["FORMATS", "check_upload", "display_name", "probe_audio", "probe_video", "sniff_audio", "sniff_video",
           "transcript_suffix"]
