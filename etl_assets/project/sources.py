"""The datasets a pipeline source file defines, read from its code (no Spark).

Python files only; SQL files and notebook sources are refused with a clear error until they
can be read.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path


def datasets_defined(path: str | os.PathLike[str]) -> dict[str, int]:
    """Dataset name -> line of its definition in a Python transformation file."""
    from etl_assets.project.bundle import datasets_in

    file = Path(path)
    if file.suffix != ".py":
        raise ValueError(f"{file}: only Python transformation files can be read")
    return datasets_in(ast.parse(file.read_text(encoding="utf-8"), filename=str(file)))
