"""The examples the page offers: the real videos of a folder (each with what lies beside it) and a SynthGest clip."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# The repository's real samples (../shared/data/real beside the checkout), as jegal demo finds them.
DEFAULT_EXAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "real"


@dataclass(frozen=True)
class Example:
    """A bundled example: ``id`` (what the page sends), a title, a description, and its video
    (None for the SynthGest clip, generated on first use)."""

    id: str
    title: str
    description: str
    video: Path | None = None

    def to_json(self) -> dict:
        return {"id": self.id, "title": self.title, "description": self.description}


def list_examples(folder: Path | None) -> dict[str, Example]:
    """The real videos in ``folder`` (each with what lies beside it), then the SynthGest clip."""
    from jegal.perception.discover import VIDEO_SUFFIXES
    from jegal.perception.transcripts import find_transcript

    out: dict[str, Example] = {}
    if folder is not None and Path(folder).is_dir():
        for video in sorted(Path(folder).iterdir()):
            if video.suffix.lower() not in VIDEO_SUFFIXES or not video.is_file():
                continue
            key = "real-" + re.sub(r"[^A-Za-z0-9_-]+", "_", video.stem)
            beside = [what for what, ok in (("its transcript", find_transcript(video) is not None),
                                            ("its separate audio", video.with_suffix(".wav").is_file())) if ok]
            out[key] = Example(key, video.name, "a real video" + (" with " + " and ".join(beside) if beside else
                                                                  ", words from speech recognition"), video)
    out["synthgest"] = Example("synthgest", "SynthGest clip", "a generated cartoon speaker (jegal synth) with "
                                                              "known gestures: what the default model was trained on")
    return out


__all__ = ["DEFAULT_EXAMPLES", "Example", "list_examples"]
