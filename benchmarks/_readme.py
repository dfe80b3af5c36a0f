"""The one writer of the README's benchmark summaries, shared by every benchmark script."""

import re
import warnings
from pathlib import Path

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
