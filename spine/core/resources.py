"""Where the shipped config and the bundled sample live, in a checkout and when installed.

In a source checkout (editable install) they are the repository's ``config/`` and
``data/sample/``. A non-editable ``pip install .`` copies them as data files to
``<prefix>/share/spine/`` (see ``[options.data_files]`` in ``setup.cfg``), so
``spine check`` and ``spine backtest`` work from any directory.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parents[2]
SHARE_SUBDIR = ("share", "spine")


def _install_roots() -> list[Path]:
    prefixes = [sys.prefix, sysconfig.get_paths().get("data", sys.prefix), sys.base_prefix]
    return [Path(prefix).joinpath(*SHARE_SUBDIR) for prefix in dict.fromkeys(prefixes)]


def shipped_root() -> Path:
    """The folder holding ``config/`` and ``data/sample/``: the checkout, else the installed share folder."""
    if (_SOURCE_ROOT / "setup.cfg").is_file() and (_SOURCE_ROOT / "config").is_dir():
        return _SOURCE_ROOT
    for root in _install_roots():
        if (root / "config").is_dir():
            return root
    return _SOURCE_ROOT  # neither: paths below it do not exist and the loaders say so


def shipped_path(*parts: str) -> Path:
    return shipped_root().joinpath(*parts)


SAMPLE_DIR = shipped_path("data", "sample")  # the checkout's data/sample, or the installed copy
SAMPLE_PRICES = SAMPLE_DIR / "prices"
SAMPLE_SIGNALS = SAMPLE_DIR / "signals.csv"
SAMPLE_VIX = SAMPLE_DIR / "vix.csv"
