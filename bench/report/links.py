"""Evidence paths as links that work: a report links only files that exist, relative to
the page, so a run folder can be moved, zipped or served as a CI artifact."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from urllib.parse import quote

IMAGE_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg",
               ".jpeg": "image/jpeg", ".gif": "image/gif"}


def locate(raw: str | None, run_dir: Path) -> Path | None:
    """The existing file an evidence path names, or None.

    Measurements record paths as they were given (absolute, relative to the run
    folder, or relative to the bench's working directory); a path that moved with the
    run folder is also found by its place inside the folder.
    """
    if not raw:
        return None
    path = Path(raw)
    candidates = [path] if path.is_absolute() else [run_dir / path, path]
    if run_dir.name in path.parts:  # results/<run>/pcaps/x.pcapng after the folder moved
        inside = path.parts[len(path.parts) - path.parts[::-1].index(run_dir.name):]
        candidates.append(run_dir.joinpath(*inside))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def href(target: Path, page_dir: Path) -> str:
    """A relative URL from a page in `page_dir` to `target`."""
    rel = os.path.relpath(target.resolve(), page_dir.resolve())
    return quote(Path(rel).as_posix(), safe="/.-_~")


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_TYPES


def data_uri(path: Path) -> str:
    """The image inline, so the report is one self-contained file."""
    mime = IMAGE_TYPES[path.suffix.lower()]
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def files_in(folder: Path, pattern: str = "*") -> list[Path]:
    """Files (not folders) directly in `folder`, sorted; none if it does not exist."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(pattern) if p.is_file())
