"""The model card: what a saved model is, what it was trained on, how it scored, what it is for.

:meth:`jegal.model.JEGAL.save_pretrained` writes two files beside ``config.json`` and
``model.safetensors``:

- ``card.json``: the card's fields (:class:`ModelCard`), machine-readable; the one source;
- ``README.md``: the card rendered as markdown (:meth:`ModelCard.render`), what people open, and
  what a model hub shows. It is regenerated from ``card.json`` on every write, so edit ``card.json``
  (or call :func:`update_card`), not the README.

Why a separate ``card.json`` instead of YAML front matter in the README: the card holds nested
metrics (several evaluations, each with its own numbers) that must survive round trips exactly;
JSON does that with the standard library, the same way ``config.json`` is stored, whereas YAML
would need a parser the package does not depend on (and a hand-written YAML subset is a bug
report waiting to happen). The README still opens with a small constant front matter
(``library_name``, ``tags``) so hubs that read it classify the model.

A caller passes the card as a :class:`ModelCard` or a plain dict of its fields; unknown keys are
kept (``extra``) and rendered, not dropped. ``metrics`` maps an evaluation's name to its numbers;
the training loop writes ``"validation"``, ``jegal eval`` one entry per benchmark and content
input (``"spotting: spot.csv (ta)"``), each replacing the previous entry of that name, so the card
always shows the latest result of every evaluation. An entry is either flat numbers
(``{"R@10": 0.31}``) or ``{"values": {...}, "date": ..., "source": ...}`` (:func:`metrics_entry`).

What a model knows: ``training_kind`` (``synthetic``: SynthGest alone, ``real``: real video, ``""``:
unknown) and ``training_statement`` (one sentence) are recorded when the card is written
(:func:`training_data_fields`, called by training and ``jegal import-released``), and
:func:`training_statement` is the one function every output (``spot.json``, ``asd.json``, ``jegal
embed``, ``jegal search``, the page) asks; for an older card without them it infers what it can.

Nothing here imports the applications (training, evaluation); they fill the card.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import os
from pathlib import Path
from typing import Any

from jegal.atomic import write_json_atomic, write_text_atomic

CARD_FILE = "card.json"
SYNTH_FILE = "synth.json"  # what jegal synth writes at the root of a SynthGest corpus
SYNTH_GENERATOR = "jegal.synth"  # its "generator": the mark of a SynthGest corpus
PREPARE_SUMMARY = "summary.json"  # what jegal prepare writes beside the shards it made from videos
TRAINING_KINDS = ("synthetic", "real", "")
README_FILE = "README.md"
CARD_VERSION = 1

DEFAULT_INTENDED_USE = (
    "Research on co-speech gesture: embedding gesture clips, speech and text in one space; retrieving "
    "the gesture clips that go with a sentence or a recording (`jegal search`), spotting which words a "
    "speaker gestured (`jegal spot`), telling from gestures alone who in a video is speaking "
    "(`jegal asd`), and computing embeddings for other work (`jegal embed`).")
DEFAULT_LIMITS = (
    "Trained on the data named above only: expect lower scores on other speakers, languages, camera "
    "set-ups and recording conditions. Gesture input is upper-body and hand keypoints (or RGB crops / "
    "features, as the config says) of one person per clip; people who are cut off, far away or facing "
    "away give poor keypoints. Text goes through the configured text backbone (English unless it is "
    "multilingual). Scores are similarities, not calibrated probabilities. Not for identifying people, "
    "judging them, or any decision about a person.")
FRONT_MATTER = ("---\nlibrary_name: jegal\ntags:\n- co-speech-gesture\n- gesture\n- speech\n- text\n"
                "- multimodal\n- retrieval\n---\n")


class CardError(ValueError):
    """A card file that cannot be read; the message names it."""


def metrics_entry(values: dict[str, Any], source: str = "", date: str | None = None) -> dict:
    """One evaluation's entry for :attr:`ModelCard.metrics`: its ``values`` (metric -> number or
    text), what was evaluated (``source``: a benchmark file, a validation set) and when (ISO date,
    default now, UTC)."""
    return {"values": dict(values), "source": source,
            "date": date or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def _entry(value: Any) -> dict:
    """An entry in the :func:`metrics_entry` layout (flat numbers become its values)."""
    if isinstance(value, dict) and isinstance(value.get("values"), dict):
        return {"values": dict(value["values"]), "source": value.get("source", ""), "date": value.get("date", "")}
    if isinstance(value, dict):
        return {"values": dict(value), "source": "", "date": ""}
    raise CardError(f"a metrics entry must be a dict of metric -> value, got {type(value).__name__}")


@dataclasses.dataclass
class ModelCard:
    """The fields of a model card (every one optional).

    - ``training_data``: what the model was trained on (corpus, paths, hours, speakers); training
      records the resolved path of the shards;
    - ``training_kind``: ``synthetic`` (SynthGest alone), ``real`` (real video) or ``""`` (unknown,
      e.g. a card written before the field existed: :func:`training_statement` then infers it);
    - ``training_statement``: one sentence saying what the model was trained on and what that means;
    - ``preset``, ``objective``, ``steps``: the model preset, ``loss.objective``, optimiser steps;
    - ``metrics``: evaluation name -> entry (:func:`metrics_entry`), the latest of each evaluation;
    - ``intended_use``, ``limits``: prose (defaults: :data:`DEFAULT_INTENDED_USE`, :data:`DEFAULT_LIMITS`);
    - ``training``: other facts of the training run (samples, seconds, device, stopped by);
    - ``model``: facts of the architecture; :meth:`JEGAL.save_pretrained` fills it from the config;
    - ``notes``: free text; ``extra``: any other fields a caller passed (kept and rendered).
    """

    training_data: str = ""
    training_kind: str = ""
    training_statement: str = ""
    preset: str = ""
    objective: str = ""
    steps: int | None = None
    metrics: dict[str, dict] = dataclasses.field(default_factory=dict)
    intended_use: str = DEFAULT_INTENDED_USE
    limits: str = DEFAULT_LIMITS
    training: dict[str, Any] = dataclasses.field(default_factory=dict)
    model: dict[str, Any] = dataclasses.field(default_factory=dict)
    notes: str = ""
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelCard":
        """A card from a dict of its fields; keys that are not fields go to ``extra``. Raises
        :class:`CardError` when ``metrics`` is not a dict of entries."""
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in d.items() if k in names}
        extra = {**d.get("extra", {}), **{k: v for k, v in d.items() if k not in names and k not in ("extra", "version")}}
        metrics = known.pop("metrics", None) or {}
        if not isinstance(metrics, dict):
            raise CardError(f"card metrics must be a dict of evaluation name -> metrics, got {type(metrics).__name__}")
        return cls(**known, metrics={str(k): _entry(v) for k, v in metrics.items()}, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        return {"version": CARD_VERSION, **dataclasses.asdict(self)}

    def merged(self, other: "ModelCard | dict | None") -> "ModelCard":
        """This card with the fields ``other`` sets (non-empty) laid over it; metrics and the
        dict fields are merged by key (``other`` wins)."""
        if other is None:
            return dataclasses.replace(self)
        other = other if isinstance(other, ModelCard) else ModelCard.from_dict(other)
        defaults = ModelCard()
        out = dataclasses.replace(self)
        for f in dataclasses.fields(self):
            new = getattr(other, f.name)
            if isinstance(new, dict):
                setattr(out, f.name, {**getattr(self, f.name), **new})
            elif new not in (None, "") and new != getattr(defaults, f.name):
                setattr(out, f.name, new)
        return out

    def with_metrics(self, name: str, values: dict[str, Any], source: str = "", date: str | None = None) -> "ModelCard":
        """A copy with the evaluation ``name`` set to ``values`` (replacing an older entry of that name)."""
        return dataclasses.replace(self, metrics={**self.metrics, name: metrics_entry(values, source, date)})

    # -- markdown -----------------------------------------------------------------------------
    def render(self, title: str = "JEGAL model") -> str:
        """The card as markdown (front matter, summary table, training, evaluation, use, limits)."""
        m = self.model
        summary = [("preset", self.preset), ("objective", self.objective),
                   ("gesture front end", m.get("gesture_frontend")), ("content inputs", m.get("content_modalities")),
                   ("embedding width d", m.get("d_model")),
                   ("trainable parameters", _count(m.get("trainable_parameters"))),
                   ("text backbone", m.get("text_backbone")), ("training data", self.training_data),
                   ("training data kind", self.training_kind), ("what it knows", self.training_statement),
                   ("training steps", self.steps)]
        lines = [FRONT_MATTER, f"# {title}", "",
                 "A joint embedding of co-speech **gestures**, **speech** and **text** (JEGAL, after "
                 "\"Understanding Co-speech Gestures in-the-wild\", arXiv 2503.22668), made with the `jegal` package.",
                 "", "| | |", "|---|---|"]
        lines += [f"| {k} | {_cell(v)} |" for k, v in summary if v not in (None, "")]
        if self.training:
            lines += ["", "## Training", "", "| | |", "|---|---|"]
            lines += [f"| {k} | {_cell(v)} |" for k, v in self.training.items()]
        lines += ["", "## Evaluation", ""]
        if not self.metrics:
            lines.append("Not evaluated yet: `jegal eval TASK --model DIR ...` adds its results here.")
        for name, entry in self.metrics.items():
            about = ", ".join(x for x in (entry.get("source"), entry.get("date")) if x)
            lines += [f"### {name}", ""] + ([f"{about}", ""] if about else [])
            lines += ["| metric | value |", "|---|---:|"]
            lines += [f"| {k} | {_cell(v)} |" for k, v in entry["values"].items()]
            lines.append("")
        lines += ["## Intended use", "", self.intended_use, "", "## Limits", "", self.limits, ""]
        if self.notes:
            lines += ["## Notes", "", self.notes, ""]
        if self.extra:
            lines += ["## Other", "", "| | |", "|---|---|"] + [f"| {k} | {_cell(v)} |" for k, v in self.extra.items()]
            lines.append("")
        lines += ["## How to use", "", "```python", "from jegal.model import JEGAL", "",
                  'model = JEGAL.from_pretrained("path/to/this/folder")  # config.json + model.safetensors',
                  "emb = model.embed(batch)  # batch from jegal.data.batch.collate_clips", "```", "",
                  "```", "jegal embed VIDEO --model path/to/this/folder --out emb.npz",
                  "jegal search build GALLERY --model path/to/this/folder --index gallery/",
                  'jegal search query --index gallery/ --text "a big round ball"', "```", "",
                  f"This README is generated from `{CARD_FILE}` (the machine-readable card); edit that file.", ""]
        return "\n".join(lines)


def _count(n) -> str | None:
    if n is None:
        return None
    return f"{n / 1e6:.2f} M" if n >= 1e5 else f"{n:,}"


def _cell(v: Any) -> str:
    """A table cell: floats to 4 significant digits, containers as compact JSON, pipes escaped."""
    if isinstance(v, float):
        text = "nan" if math.isnan(v) else f"{v:.4g}"
    elif isinstance(v, (dict, list)):
        text = json.dumps(v, separators=(", ", ": "))
    else:
        text = str(v)
    return text.replace("|", "\\|").replace("\n", " ")


# -- files ------------------------------------------------------------------------------------
def read_card(path: str | os.PathLike) -> ModelCard | None:
    """The card of the model directory ``path`` (None if it has no ``card.json``). Raises
    :class:`CardError` naming the file when it is not a card."""
    f = Path(path) / CARD_FILE
    if not f.is_file():
        return None
    try:
        d = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CardError(f"{f}: unreadable model card ({err})") from None
    if not isinstance(d, dict):
        raise CardError(f"{f}: a model card is a JSON object, got {type(d).__name__}")
    try:
        return ModelCard.from_dict(d)
    except TypeError as err:
        raise CardError(f"{f}: {err}") from None


def write_card(path: str | os.PathLike, card: ModelCard, title: str | None = None) -> Path:
    """Write ``card.json`` and the ``README.md`` rendered from it into the directory ``path``
    (each atomically); returns the README's path."""
    path = Path(path)
    write_json_atomic(path / CARD_FILE, card.to_dict())
    return write_text_atomic(path / README_FILE, card.render(title or f"JEGAL model: {path.resolve().name}"))


def update_card(path: str | os.PathLike, card: ModelCard | dict | None = None,
                metrics: dict[str, dict] | None = None) -> ModelCard:
    """Lay ``card`` (fields) and ``metrics`` (name -> entry, e.g. :func:`metrics_entry`) over the card
    of the model directory ``path`` (an empty card if it has none), write it, and return it.
    Raises ``OSError`` when the directory is not writable."""
    current = read_card(path) or ModelCard()
    new = current.merged(card)
    if metrics:
        new = dataclasses.replace(new, metrics={**new.metrics, **{k: _entry(v) for k, v in metrics.items()}})
    write_card(path, new)
    return new


# -- what the model knows ---------------------------------------------------------------------
REAL_STATEMENT = ("trained on real video: expect lower scores on speakers, languages, cameras and recordings "
                  "unlike its training data")


def _json(path: Path) -> dict | None:
    """The JSON object in ``path``, or None (missing, unreadable, not an object)."""
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def synthgest_corpus(data: str | os.PathLike) -> dict | None:
    """The ``synth.json`` of the SynthGest corpus that ``data`` is (the corpus folder) or lies in (its
    ``train/`` or ``test/`` shards), or None when it is not one (no such file, or not written by
    ``jegal synth``)."""
    data = Path(data)
    for folder in (data, data.parent):
        meta = _json(folder / SYNTH_FILE)
        if meta is not None and meta.get("generator") == SYNTH_GENERATOR:
            return meta
    return None


def synthetic_statement(meta: dict) -> str:
    """The sentence for a model trained on the SynthGest corpus whose ``synth.json`` is ``meta`` (empty:
    a corpus no longer there)."""
    if not meta:
        return "trained on SynthGest only (synthetic speakers); findings on real video are not meaningful"
    speakers = len(meta.get("train_speakers") or [])
    clips = (meta.get("counts") or {}).get("train_clips", "?")
    return (f"trained on SynthGest only: {speakers} synthetic training speaker{'' if speakers == 1 else 's'}, "
            f"{clips} clips; findings on real video are not meaningful")


def training_data_fields(data: str | os.PathLike) -> dict[str, str]:
    """The card fields that say what a model trained on the shards ``data`` knows, for the code that
    writes the card when it trains: ``training_data`` (the resolved path), ``training_kind`` and
    ``training_statement``. ``synthetic`` for a SynthGest corpus (its ``synth.json`` in ``data`` or
    its parent), ``real`` for shards ``jegal prepare`` made from videos (its ``summary.json`` beside
    them), else ``""`` (unknown)."""
    path = Path(data).resolve()
    meta = synthgest_corpus(path)
    if meta is not None:
        return {"training_data": str(path), "training_kind": "synthetic",
                "training_statement": synthetic_statement(meta)}
    summary = _json(path / PREPARE_SUMMARY)
    if summary is not None and "input" in summary:
        return {"training_data": str(path), "training_kind": "real",
                "training_statement": f"trained on real video: {summary.get('clips', '?')} clips prepared from "
                                      f"{summary['input']}; expect lower scores on speakers, languages, cameras "
                                      "and recordings unlike those"}
    return {"training_data": str(path), "training_kind": "", "training_statement": _unknown(str(path))}


def _unknown(data: str) -> str:
    return f"training data of unknown kind: {data}" if data else "training data of unknown kind: its card names none"


def _locate(data: str, model_dir: Path | None) -> Path | None:
    """Where the card's ``training_data`` is now: an absolute path as it is; a relative one (written
    relative to where training ran) against the model directory and each folder above it (a run
    writes its model under the folder it ran in), never against this process's working directory.
    None when it is not found."""
    path = Path(data)
    if path.is_absolute():
        return path if path.exists() else None
    if model_dir is None:
        return None
    for base in (model_dir, *Path(model_dir).resolve().parents):
        if (base / path).exists():
            return (base / path).resolve()
    return None


def _run_records(model_dir: Path | None) -> tuple[str, str]:
    """``(training data, preset)`` from the training run around a model directory whose card names no
    training data (``train_config.json`` beside it); empty when there is none."""
    config = _json(model_dir.parent / "train_config.json") if model_dir is not None else None
    data = (config or {}).get("data")
    if not isinstance(data, dict) or not data.get("train"):
        return "", ""
    return str(data["train"]), str(config.get("preset", ""))


def training_statement(card_or_model=None, model_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """What a model knows, the one answer every output gives: ``kind`` (``synthetic``, ``real`` or
    ``""``), ``synthetic`` (trained on SynthGest alone), ``statement`` (a sentence) and
    ``training_data`` (where it lies now, when it is found; else as the card says).

    ``card_or_model``: a :class:`ModelCard`, a dict of its fields, a loaded
    :class:`jegal.model.JEGAL` (its ``card``; ``model_dir`` then defaults to its ``source_dir``), or
    None. A card that records ``training_kind`` is taken at its word. For an older one the kind is
    inferred: its ``training_data`` (or, when the card names none, the training run's
    ``train_config.json`` beside ``model_dir``, e.g. for a run's ``best/``), a relative path resolved against ``model_dir`` and the folders above it
    (:func:`_locate`), is a SynthGest corpus; a ``released`` preset is the authors' real-video
    checkpoint; else the kind is unknown and the statement says so, naming the data."""
    card = getattr(card_or_model, "card", card_or_model)
    if model_dir is None:
        model_dir = getattr(card_or_model, "source_dir", None)
    model_dir = Path(model_dir) if model_dir is not None else None
    if isinstance(card, dict):
        card = ModelCard.from_dict(card)
    data = getattr(card, "training_data", "") or ""
    kind = getattr(card, "training_kind", "") or ""
    said = getattr(card, "training_statement", "") or ""
    preset = getattr(card, "preset", "") or ""
    if not data:  # no card, or a plain one (a run's best/): the training run's own records
        data, run_preset = _run_records(model_dir)
        preset = preset or run_preset
    found = _locate(data, model_dir) if data else None
    where = str(found) if found is not None else data
    if kind in ("synthetic", "real"):
        meta = synthgest_corpus(found) if found is not None else None  # (a corpus since deleted: None)
        default = synthetic_statement(meta or {}) if kind == "synthetic" else REAL_STATEMENT
        return {"kind": kind, "synthetic": kind == "synthetic", "statement": said or default, "training_data": where}
    meta = synthgest_corpus(found) if found is not None else None
    if meta is not None:
        return {"kind": "synthetic", "synthetic": True, "statement": synthetic_statement(meta), "training_data": where}
    if preset == "released":
        return {"kind": "real", "synthetic": False, "statement": said or REAL_STATEMENT, "training_data": where}
    return {"kind": "", "synthetic": False, "statement": said or _unknown(data), "training_data": where}


def model_record(model, model_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """The ``model`` section of a command's JSON (``spot.json``, ``asd.json``, ``jegal embed``'s and
    ``jegal search``'s outputs): ``dir`` (the folder it was loaded from), ``identity`` (the digest of
    its files, :attr:`jegal.model.JEGAL.identity`) and what it knows (:func:`training_statement`:
    ``kind``, ``synthetic``, ``statement``, ``training_data``). ``model``: a loaded
    :class:`jegal.model.JEGAL`; ``model_dir`` default its ``source_dir``."""
    model_dir = model_dir if model_dir is not None else getattr(model, "source_dir", None)
    return {"dir": None if model_dir is None else str(model_dir), "identity": getattr(model, "identity", None),
            **training_statement(model, model_dir)}
