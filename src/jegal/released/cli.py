"""``jegal import-released``: the released ``jegal.pth`` (and ``gestsync.pth``) as a model directory.

    jegal import-released --jegal jegal.pth --gestsync gestsync.pth --out models/released

reads each file with ``torch.load(..., map_location="cpu", weights_only=True)`` (a file that needs
full unpickling is refused with what to do, never unpickled here), removes ``module.`` from its
keys, checks that every key is consumed (the GestSync audio branch: checked present, then skipped
knowingly) and that every shape fits, reporting each offending key, and writes ``--out``:
``config.json`` + ``model.safetensors`` (the ``released`` preset filled with ``jegal.pth``), the
model card (``card.json`` + ``README.md``) and, with ``--gestsync``, ``gestsync.safetensors`` (the
RGB branch that computes the model's 1024-d per-frame features: ``jegal prepare --rgb-features
gestsync --gestsync-weights DIR``). docs/released.md tells the whole story.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

TEXT_BACKBONE = "xlm-roberta-base"
TEXT_WIDTH = 768
RELEASED_STATEMENT = ("trained on real video: the authors' released checkpoint, trained on their corpus of "
                      "co-speech video (imported, not trained here); expect lower scores on speakers, languages "
                      "and recordings unlike theirs")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jegal", required=True, type=Path, metavar="PTH", help="the released jegal.pth")
    parser.add_argument("--gestsync", type=Path, metavar="PTH",
                        help="the released gestsync.pth: its RGB branch is stored as gestsync.safetensors "
                             "(it computes the 1024-d gesture features the model reads)")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="the model directory to write")
    parser.add_argument("--text-backbone", default=TEXT_BACKBONE, metavar="NAME_OR_DIR",
                        help=f"the text backbone the released text head reads (default {TEXT_BACKBONE}; a local "
                             "copy's folder works offline)")
    parser.add_argument("--force", action="store_true", help="overwrite a model already in --out")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def text_backbone_problem(name: str) -> str | None:
    """Why the text backbone ``name`` cannot run here (offline: only local folders and the hub cache
    are looked at, never the network), or None when its config is found with width 768."""
    from jegal.model.text import TextBackboneError, resolve_backbone

    try:
        source = resolve_backbone(name)
        from transformers import AutoConfig

        width = int(AutoConfig.from_pretrained(source, local_files_only=True).hidden_size)
    except (TextBackboneError, OSError, ValueError, KeyError) as e:
        return f"{name!r} is not available locally ({type(e).__name__})"
    if width != TEXT_WIDTH:
        return f"{name!r} has width {width}; the released text head reads {TEXT_WIDTH}-d states ({TEXT_BACKBONE})"
    return None


def import_released(jegal_pth: str | Path, out: str | Path, gestsync_pth: str | Path | None = None,
                    text_backbone: str = TEXT_BACKBONE, force: bool = False) -> dict:
    """Convert the released checkpoint(s) and write the model directory ``out``; returns a summary
    (keys consumed / skipped, text availability, files written).

    Raises :class:`~jegal.model.released.ReleasedCheckpointError` naming the file and every missing,
    unexpected or misshaped key (nothing is written then), and FileExistsError when ``out`` already
    holds a model and ``force`` is false."""
    from safetensors.torch import save_file

    from jegal.atomic import atomic_path
    from jegal.model import JEGAL
    from jegal.model.gestsync import WEIGHTS_FILE, convert_gestsync
    from jegal.model.released import convert_state, jegal_key_map, read_checkpoint

    out = Path(out)
    if (out / "model.safetensors").exists() and not force:
        raise FileExistsError(f"{out} already holds a model; pass --force to overwrite it")
    jegal_pth = Path(jegal_pth)
    model = JEGAL.from_preset("released", {"text.backbone": text_backbone, "text.backbone_dim": TEXT_WIDTH})
    conv = convert_state(read_checkpoint(jegal_pth), jegal_key_map(model.config), model.state_dict(), str(jegal_pth),
                         keep_prefixes=("loss.",))
    model.load_state_dict(conv.state)
    gestsync = None
    if gestsync_pth is not None:
        gestsync_pth = Path(gestsync_pth)
        gestsync = convert_gestsync(read_checkpoint(gestsync_pth), str(gestsync_pth))
    text_problem = text_backbone_problem(text_backbone)
    summary = {"jegal": {"file": str(jegal_pth), "sha256": _sha256(jegal_pth), "consumed": len(conv.consumed),
                         "kept_initial": conv.kept},
               "text": "available" if text_problem is None else f"speech only: {text_problem}",
               "out": str(out)}
    if gestsync is not None:
        summary["gestsync"] = {"file": str(gestsync_pth), "sha256": _sha256(gestsync_pth),
                               "consumed": len(gestsync.consumed), "skipped_audio_branch": len(gestsync.skipped)}
    card = _card(summary, text_problem)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, card=card)
    if gestsync is not None:
        with atomic_path(out / WEIGHTS_FILE) as tmp:
            save_file({k: v.contiguous() for k, v in gestsync.state.items()}, str(tmp),
                      metadata={"format": "pt", "source": gestsync_pth.name})
    return summary


def _card(summary: dict, text_problem: str | None) -> dict:
    """The model card's fields for an imported model."""
    text = ("The text head reads xlm-roberta-base states; this machine has them." if text_problem is None else
            f"Text: {text_problem}. The model runs with speech only (`--modalities a`) until a local copy of "
            "xlm-roberta-base is given (`--set text.backbone=/path/to/xlm-roberta-base`, or import again with "
            "`--text-backbone DIR`).")
    gestsync = ("gestsync.safetensors holds the GestSync RGB branch that computes the 1024-d per-frame features "
                "the gesture head reads (`jegal prepare --rgb-features gestsync --gestsync-weights DIR`)."
                if "gestsync" in summary else
                "No GestSync weights were imported: the gesture head needs 1024-d GestSync features per frame "
                "(import again with `--gestsync gestsync.pth`).")
    return {"training_data": "the authors' released checkpoint (jegal.pth), trained on their co-speech video corpus; "
                             "imported, not trained here",
            "limits": ("Gesture input is 1024-d GestSync features of face-masked 480 x 270 frames (one person in "
                       "view), at most 500 frames (20 s) a clip; speech input is the reference's log-mel "
                       "(`jegal prepare --mel reference`); text needs xlm-roberta-base. Expect lower scores on "
                       "speakers, languages and recordings unlike the authors' training data. Scores are "
                       "similarities, not calibrated probabilities. Not for identifying people, judging them, or "
                       "any decision about a person."),
            "training_kind": "real", "training_statement": RELEASED_STATEMENT,
            "preset": "released", "objective": "jegal",
            "notes": ("Imported from the released checkpoint of \"Understanding Co-speech Gestures in-the-wild\" "
                      "(ICCV 2025) with `jegal import-released`. Deliberate differences from the reference's numbers: "
                      "a word's text feature pools only its own subwords, and speech word frames are indexed from "
                      "the clip's start (docs/released.md). The speech CNN reads the reference's log-mel "
                      "(jegal.model.released.reference_log_mel). " + text + " " + gestsync),
            "extra": {"imported_from": summary["jegal"]["file"], "jegal_sha256": summary["jegal"]["sha256"],
                      **({"gestsync_sha256": summary["gestsync"]["sha256"]} if "gestsync" in summary else {})}}


def run(args: argparse.Namespace) -> int:
    from jegal.model.released import ReleasedCheckpointError

    try:
        summary = import_released(args.jegal, args.out, args.gestsync, args.text_backbone, args.force)
    except (ReleasedCheckpointError, FileExistsError) as e:
        print(f"jegal import-released: {e}", file=sys.stderr)
        return 2
    j = summary["jegal"]
    print(f"{j['file']}: {j['consumed']} keys consumed; kept at their initial values (training only): "
          f"{', '.join(j['kept_initial']) or 'none'}")
    if "gestsync" in summary:
        g = summary["gestsync"]
        print(f"{g['file']}: {g['consumed']} RGB-branch keys consumed, {g['skipped_audio_branch']} audio-branch keys "
              "skipped (not used for features)")
    print(f"text: {summary['text']}")
    if summary["text"] != "available":
        print("      the model runs with speech only: pass --modalities a (docs/released.md)")
    print(f"wrote {summary['out']}")
    return 0
