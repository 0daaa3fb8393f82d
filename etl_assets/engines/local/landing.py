"""Raw files in the local landing folder, with their arrival times."""

from __future__ import annotations

from pathlib import Path

from etl_assets.conventions import is_data_file


def local_listing(folder: Path) -> dict[str, int]:
    """Data files under a local folder (relative names), with their arrival time in ms.

    Arrival is the later of the modification and the status-change time: moving an old file in
    keeps its modification time but changes its status-change time.
    """
    if not folder.is_dir():
        return {}
    listing = {}
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if path.is_file() and all(is_data_file(part) for part in relative.parts):
            stat = path.stat()
            listing[relative.as_posix()] = max(stat.st_mtime_ns, stat.st_ctime_ns) // 1_000_000
    return listing
