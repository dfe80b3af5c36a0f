"""What every benchmark script shares: the README writer, mean-std summaries, the git state."""

import re
import subprocess
import warnings
from pathlib import Path

import numpy as np

README = Path(__file__).parent.parent / "README.md"


def write_readme_block(name, lines):
    """Replace the README's text between ``<!-- BENCHMARK:name -->`` and its closing marker."""
    start, end = f"<!-- BENCHMARK:{name} -->", f"<!-- /BENCHMARK:{name} -->"
    text = README.read_text()
    if start not in text:
        warnings.warn(f"README has no BENCHMARK:{name} markers; not updated.", stacklevel=2)
        return
    block = "\n".join([start, *lines, end])
    text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    README.write_text(text)


def mean_std(values):
    """Mean, sample standard deviation (ddof=1; 0 for one value) and the values, for JSON."""
    values = np.asarray(values, dtype=float)
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return dict(mean=float(values.mean()), std=std, values=values.tolist())


def git_state():
    """The commit a run used and whether ``sklearn_nce/`` had uncommitted changes.

    Both are None outside a git checkout (e.g. an unpacked sdist).
    """
    status = _git("status", "--porcelain", "sklearn_nce")
    return dict(
        git_commit=_git("rev-parse", "HEAD"),
        package_uncommitted_changes=None if status is None else bool(status),
    )


def _git(*command):
    try:
        result = subprocess.run(
            ["git", *command], capture_output=True, text=True, cwd=README.parent, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return result.stdout.strip()
