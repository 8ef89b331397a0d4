"""Where the course's datasets live: $LABKIT_DATASETS, else the project's datasets/ folder."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import LabkitError


def root() -> Path:
    if os.environ.get("LABKIT_DATASETS"):
        return Path(os.environ["LABKIT_DATASETS"])
    here = Path(__file__).resolve().parent.parent / "datasets"
    if here.is_dir():
        return here
    raise LabkitError("The course datasets folder was not found.",
                      fix="run from a checkout of vmotion-labs, or set LABKIT_DATASETS to its datasets/ folder")


def path(*parts: str) -> Path:
    return root().joinpath(*parts)
