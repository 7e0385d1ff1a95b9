"""``jegal fetch released``: the authors' released model, downloaded once, verified, imported into the user cache.

    jegal fetch released
    jegal fetch released --base-url https://mirror.example.org/jegal/checkpoints --cache /data/jegal-cache
    jegal fetch released --text-model /models/xlm-roberta-base
    jegal spot video.mp4 --model released --out video.spot

An explicit step: nothing in jegal downloads anything at import or as a side effect of another
command. ``jegal.pth`` and ``gestsync.pth`` come from the URLs the authors publish (:data:`OFFICIAL_BASE`;
the official README's ``jegal.pth`` link has a doubled scheme, ``https://https://``, corrected here),
or from ``--base-url`` (a mirror holding the two files under those names). Each download is
resumable: bytes go to ``NAME.part`` (an HTTP Range request continues it, here or in a later run)
and the file is renamed into place once its size is the server's. Verification: the size, the
SHA-256 (recorded in ``CACHE/released/manifest.json`` at the first download and checked on every
later run and download: a mismatch is refused, naming the file), and the keys (the importer reads
each file with ``torch.load(weights_only=True)`` and checks every key and shape). xlm-roberta-base
(the text backbone the released text head reads) comes through the Hugging Face client, or from a
local folder (``--text-model DIR``); without it the model runs with speech only. The files are then
imported with ``jegal import-released``'s code into ``CACHE/released/model``, which ``--model
released`` names in every command. The cache is ``--cache``, else ``$JEGAL_CACHE``, else
``~/.cache/jegal``. docs/released.md tells the story.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

OFFICIAL_BASE = "https://www.robots.ox.ac.uk/~vgg/research/jegal/checkpoints"
FILES = ("jegal.pth", "gestsync.pth")
REPOSITORY = "https://github.com/Sindhu-Hegde/jegal"
README_FIX = ("the official README links jegal.pth as 'https://https://www.robots.ox.ac.uk/~vgg/research/jegal/"
              "checkpoints/jegal.pth' (scheme doubled); the corrected URL is used")
TERMS = (f"the authors' repository ({REPOSITORY}, checked at commit e1de48f) states no licence for the code or "
         "the checkpoints: use them on the authors' terms (ask them; cite arXiv 2503.22668)")
TEXT_REPO = "FacebookAI/xlm-roberta-base"
TEXT_TERMS = "xlm-roberta-base: MIT licence (its Hugging Face model card, huggingface.co/FacebookAI/xlm-roberta-base)"
TEXT_FILES = ["config.json", "model.safetensors", "sentencepiece.bpe.model", "tokenizer.json"]
MANIFEST = "manifest.json"
CHUNK = 1 << 20


class FetchError(RuntimeError):
    """A download or verification that failed; the message names the file and what to do."""


class Offline(FetchError):
    """The server cannot be reached at all (no network, refused, unknown host, timeout)."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=["released"], help="what to fetch: released = the authors' jegal.pth + "
                                                             "gestsync.pth (+ xlm-roberta-base)")
    parser.add_argument("--base-url", default=OFFICIAL_BASE, metavar="URL",
                        help="where the two .pth files are (a mirror: URL/jegal.pth, URL/gestsync.pth)")
    parser.add_argument("--cache", default=None, type=Path, metavar="DIR",
                        help="the cache (default $JEGAL_CACHE, else ~/.cache/jegal)")
    parser.add_argument("--text-model", default=TEXT_REPO, metavar="REPO_OR_DIR",
                        help="xlm-roberta-base: a Hugging Face repo id (downloaded with the Hugging Face client "
                             "into CACHE/xlm-roberta-base), a local folder, or 'none' (speech only)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S", help="seconds without data before "
                                                                                 "a connection is given up")
    parser.add_argument("--force", action="store_true", help="import again even when the cache's model is current")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def urls(base_url: str = OFFICIAL_BASE) -> dict[str, str]:
    """file name -> its URL under ``base_url``."""
    return {name: f"{base_url.rstrip('/')}/{name}" for name in FILES}


def offline_line(base_url: str = OFFICIAL_BASE) -> str:
    """What to do without a network: the one line ``jegal fetch`` prints."""
    return ("no network: download these two files on another machine and run `jegal import-released --jegal "
            "jegal.pth --gestsync gestsync.pth --out DIR` (then --model DIR): " + " ".join(urls(base_url).values()))


def _total(content_range: str | None) -> int | None:
    """N of a ``Content-Range: bytes a-b/N`` (or ``bytes */N``) header; None when absent or ``*``."""
    if not content_range or "/" not in content_range:
        return None
    n = content_range.rsplit("/", 1)[1].strip()
    return int(n) if n.isdigit() else None


def _is_offline(err: BaseException) -> bool:
    """Whether ``err`` (from opening a connection) means the server cannot be reached at all: no
    route, no name resolution, refused, reset or timed out (not an SSL or an HTTP error)."""
    import errno

    reason = getattr(err, "reason", err)
    if isinstance(reason, (ConnectionRefusedError, ConnectionResetError, socket.gaierror, TimeoutError)):
        return True
    return isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH,
                                                            errno.ENETDOWN, errno.EHOSTDOWN)


def download(url: str, dest: Path, timeout: float = 30.0, attempts: int = 3, log=None) -> int:
    """``url`` into ``dest``, resumable: bytes go to ``dest.part``, a Range request continues a
    ``.part`` left by an interrupted run (a server that ignores Range starts it again), and the
    file is renamed into place once its size is the server's. Up to ``attempts`` connections per
    call. Returns the size. Raises :class:`Offline` when the server cannot be reached at all,
    :class:`FetchError` for an HTTP error or a download that stays incomplete (the ``.part`` is kept
    for the next run)."""
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    last = ""
    for _ in range(attempts):
        have = part.stat().st_size if part.exists() else 0
        request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as err:
            if err.code == 416 and have and _total(err.headers.get("Content-Range")) == have:
                os.replace(part, dest)  # the .part was complete: an earlier run stopped before the rename
                return have
            if err.code == 416:
                part.unlink(missing_ok=True)
                continue
            raise FetchError(f"{url}: HTTP {err.code} {err.reason} (a mirror: --base-url)") from None
        except (urllib.error.URLError, OSError) as err:
            if have == 0 and _is_offline(err):
                raise Offline(f"{url}: {getattr(err, 'reason', err)}") from None
            last = f"{type(err).__name__}: {getattr(err, 'reason', err)}"
            continue
        with response:
            resumed = have > 0 and response.status == 206
            total = _total(response.headers.get("Content-Range")) if resumed else None
            if total is None:
                length = response.headers.get("Content-Length")
                total = (int(length) + (have if resumed else 0)) if length and length.isdigit() else None
            if log and not resumed:
                log(f"downloading {dest.name}" + (f" ({total / 1e6:.1f} MB)" if total else "") + f" from {url}")
            elif log:
                log(f"resuming {dest.name} at byte {have}" + (f" of {total}" if total else ""))
            try:
                with open(part, "ab" if resumed else "wb") as f:
                    while block := response.read(CHUNK):
                        f.write(block)
            except (http.client.IncompleteRead, OSError) as err:
                last = f"connection lost ({type(err).__name__})"
        size = part.stat().st_size
        if total is not None and size < total:
            last = last or f"connection closed at byte {size} of {total}"
            continue
        if total is not None and size > total:
            part.unlink()
            raise FetchError(f"{url}: received {size} bytes, the server announced {total}; the partial file was "
                             "deleted, run again")
        os.replace(part, dest)
        return size
    got = part.stat().st_size if part.exists() else 0
    if got == 0:
        raise FetchError(f"{url}: could not download ({last}); a mirror: --base-url")
    raise FetchError(f"{url}: download interrupted ({last}); {got} bytes are kept in {part}: run `jegal fetch "
                     "released` again to resume")


def read_manifest(root: Path) -> dict:
    path = root / MANIFEST
    if not path.is_file():
        return {"files": {}}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise FetchError(f"{path}: damaged ({err}); delete it to record the files' checksums again") from None


def fetch_file(name: str, url: str, root: Path, manifest: dict, timeout: float, log) -> Path:
    """One checkpoint in ``root/downloads``: downloaded (resuming) unless present, then its SHA-256
    checked against the one ``manifest`` recorded at its first download (recorded now if none).
    Raises :class:`FetchError` naming the file on a mismatch (a downloaded one is deleted)."""
    from jegal.atomic import write_json_atomic

    path = root / "downloads" / name
    fresh = not path.is_file()
    if fresh:
        size = download(url, path, timeout=timeout, log=log)
    else:
        size = path.stat().st_size
    digest = sha256_file(path)
    recorded = manifest["files"].get(name)
    if recorded and (recorded["sha256"] != digest or recorded["size"] != size):
        if fresh:
            path.unlink()
        raise FetchError(
            f"{path}: SHA-256 {digest[:16]}... ({size} bytes) is not the {recorded['sha256'][:16]}... "
            f"({recorded['size']} bytes) recorded at its first download ({recorded['url']}, "
            f"{recorded['downloaded']}) in {root / MANIFEST}; refused, nothing imported. "
            + ("The server's file differs from the first one." if fresh else
               "The file changed on disk: delete it to download it again.")
            + " If the new file is the one you want, delete its entry from the manifest.")
    if not recorded:
        manifest["files"][name] = {"url": url, "size": size, "sha256": digest,
                                   "downloaded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        write_json_atomic(root / MANIFEST, manifest)
    return path


def fetch_text(text_model: str, cache: Path, log) -> tuple[str | None, str]:
    """(the text backbone to import with, or None for speech only; what happened). A local folder
    is used as it is; a hub repo id is downloaded with the Hugging Face client (resumable, its own
    cache logic) into ``cache/xlm-roberta-base``."""
    if text_model.lower() == "none":
        return None, "not fetched (--text-model none): speech only"
    local = Path(text_model).expanduser()
    if local.exists():
        return str(local.resolve()), f"local folder {local.resolve()}"
    target = cache / "xlm-roberta-base"
    try:
        from huggingface_hub import snapshot_download

        log(f"downloading {text_model} with the Hugging Face client into {target}")
        snapshot_download(repo_id=text_model, local_dir=str(target), allow_patterns=TEXT_FILES)
    except ImportError:
        return None, "huggingface_hub is not installed: speech only (pip install huggingface_hub, or --text-model DIR)"
    except Exception as err:  # the hub client's errors have no common base: report and go on with speech only
        return None, (f"{text_model} could not be fetched ({type(err).__name__}: {str(err).splitlines()[0][:160]}); "
                      "speech only until `jegal fetch released` runs online or --text-model DIR is given")
    return str(target), f"{text_model} (Hugging Face) in {target}"


def fetch_released(base_url: str = OFFICIAL_BASE, cache: str | os.PathLike | None = None,
                   text_model: str = TEXT_REPO, timeout: float = 30.0, force: bool = False, log=print) -> dict:
    """Download (resuming), verify and import the released model into ``cache`` (None: the user
    cache); returns a summary: where each file is, its SHA-256, the model directory, the text
    backbone's state and the terms. Raises :class:`Offline`, :class:`FetchError`,
    :class:`~jegal.model.released.ReleasedCheckpointError` (keys or shapes, naming the file)."""
    from jegal.atomic import write_json_atomic
    from jegal.model.pretrained import released_model_dir, user_cache
    from jegal.released.cli import TEXT_BACKBONE, import_released

    cache = Path(cache) if cache is not None else user_cache()
    root = cache / "released"
    manifest = read_manifest(root)
    paths = {name: fetch_file(name, url, root, manifest, timeout, log) for name, url in urls(base_url).items()}
    backbone, text_note = fetch_text(text_model, cache, log)
    model_dir = released_model_dir(cache)
    wanted = {"jegal_sha256": manifest["files"]["jegal.pth"]["sha256"],
              "gestsync_sha256": manifest["files"]["gestsync.pth"]["sha256"], "text_backbone": backbone}
    current = manifest.get("imported") == wanted and (model_dir / "model.safetensors").is_file()
    summary = {"files": {n: {"path": str(p), "sha256": manifest["files"][n]["sha256"],
                             "url": manifest["files"][n]["url"]} for n, p in paths.items()},
               "model": str(model_dir), "text": text_note, "imported": not current or force, "terms": TERMS,
               "text_terms": TEXT_TERMS if backbone else None}
    if current and not force:
        summary["text_state"] = manifest.get("text_state", "")
        return summary
    imported = import_released(paths["jegal.pth"], model_dir, paths["gestsync.pth"],
                               text_backbone=backbone or TEXT_BACKBONE, force=True)
    manifest["imported"] = wanted
    manifest["text_state"] = summary["text_state"] = imported["text"]
    write_json_atomic(root / MANIFEST, manifest)
    return summary


def run(args: argparse.Namespace) -> int:
    from jegal.model.released import ReleasedCheckpointError

    def log(line: str) -> None:
        print(line, file=sys.stderr)

    try:
        summary = fetch_released(args.base_url, args.cache, args.text_model, args.timeout, args.force, log)
    except Offline as err:
        print(f"jegal fetch: {offline_line(args.base_url)} ({err})", file=sys.stderr)
        return 1
    except (FetchError, ReleasedCheckpointError, OSError) as err:
        print(f"jegal fetch: {err}", file=sys.stderr)
        return 1
    for name, f in summary["files"].items():
        print(f"{name}: {f['path']} (sha256 {f['sha256']}, from {f['url']})")
    if args.base_url == OFFICIAL_BASE:
        print(f"note: {README_FIX}")
    print(f"model: {summary['model']} ({'imported' if summary['imported'] else 'already imported, current'}); "
          "use it with --model released")
    print(f"text: {summary['text']}; {summary.get('text_state', '')}")
    if summary.get("text_state", "available") != "available":
        print("      the model runs with speech only (--modalities a) until xlm-roberta-base is fetched")
    print(f"terms: {summary['terms']}")
    if summary["text_terms"]:
        print(f"       {summary['text_terms']}")
    return 0
