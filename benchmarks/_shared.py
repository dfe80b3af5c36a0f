"""What every benchmark script shares: the summary writer, mean-std summaries, the git state.

Each script ends by rewriting its summary on the documentation's benchmarks page,
``docs/benchmarks.rst``, between the comment lines ``.. BENCHMARK:name`` and
``.. /BENCHMARK:name``. The scripts produce the summary as Markdown lines (the same lines as their
``benchmarks/results/*.md``); :func:`write_readme_block` converts them to reStructuredText for
the page. The README keeps only a short, hand-written headline table, so it is rewritten only
where it still has a ``<!-- BENCHMARK:name -->`` block.
"""

import json
import os
import platform
import re
import subprocess
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor
from sklearn.svm import OneClassSVM

from sklearn_nce.modules import SelectedDensity

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
BENCHMARKS_PAGE = ROOT / "docs" / "benchmarks.rst"
# The page's directory relative to the repository root, which the Markdown paths are relative to.
_PAGE_TO_ROOT = "../"


def write_readme_block(name, lines):
    """Rewrite the benchmark summary ``name`` from its Markdown ``lines``.

    The summary replaces the text between ``.. BENCHMARK:name`` and ``.. /BENCHMARK:name`` in
    ``docs/benchmarks.rst`` (converted to reStructuredText), and between
    ``<!-- BENCHMARK:name -->`` and ``<!-- /BENCHMARK:name -->`` in the README if the README
    has that block. It warns only when neither file has the markers.
    """
    written = False

    start, end = f"<!-- BENCHMARK:{name} -->", f"<!-- /BENCHMARK:{name} -->"
    text = README.read_text(encoding="utf-8")
    if start in text and end in text:
        block = "\n".join([start, *lines, end])
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
        README.write_text(text, encoding="utf-8")
        written = True

    # Whole lines only: "BENCHMARK:mutual_info" is a prefix of "BENCHMARK:mutual_info_small".
    start, end = f".. BENCHMARK:{name}", f".. /BENCHMARK:{name}"
    pattern = re.compile(rf"^{re.escape(start)}[ \t]*\n.*?^{re.escape(end)}[ \t]*$", re.M | re.S)
    text = BENCHMARKS_PAGE.read_text(encoding="utf-8") if BENCHMARKS_PAGE.exists() else ""
    if pattern.search(text):
        block = "\n".join([start, "", *markdown_to_rst(lines), "", end])
        BENCHMARKS_PAGE.write_text(pattern.sub(lambda _: block, text), encoding="utf-8")
        written = True

    if not written:
        warnings.warn(
            f"Neither {BENCHMARKS_PAGE} nor {README} has BENCHMARK:{name} markers; not updated.",
            stacklevel=2,
        )


# --- Markdown to reStructuredText, for the subset the benchmark summaries use ----------------
# Paragraphs, "#" headings (as rubrics: a section inside a block would break the page's
# levels), "-" lists (nested by two spaces), pipe tables, images on a line of their own, and
# inline `code`, **bold** (code inside it too), *italic* and [links](target).

_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_IMAGE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<target>[^)\s]+)\)\s*$")
_ITEM = re.compile(r"^(?P<indent>\s*)[-*] (?P<text>.*)$")
_HEADING = re.compile(r"^#{1,6} (?P<text>.+)$")
_INLINE = re.compile(
    r"`(?P<code>[^`]+)`"
    r"|\*\*(?P<bold>[^*]+?)\*\*"
    r"|(?<![\w*])\*(?P<italic>[^*\s][^*]*?)\*(?![\w*])"
    r"|\[(?P<label>[^\]]+)\]\((?P<href>[^)\s]+)\)"
)


def markdown_to_rst(lines):
    """The reStructuredText lines for the Markdown ``lines`` of a benchmark summary."""
    blocks = []  # (kind, lines): "table", "image", "list" or "paragraph"
    for line in "\n".join(lines).split("\n"):
        line = line.rstrip()
        kind = blocks[-1][0] if blocks else None
        if not line.strip():
            blocks.append(("blank", []))
        elif line.lstrip().startswith("|"):
            if kind != "table":
                blocks.append(("table", []))
            blocks[-1][1].append(line.strip())
        elif _IMAGE.match(line):
            blocks.append(("image", [line.strip()]))
        elif _HEADING.match(line):
            blocks.append(("heading", [_HEADING.match(line)["text"]]))
        elif _ITEM.match(line):
            if kind != "list":
                blocks.append(("list", []))
            blocks[-1][1].append(line)
        elif kind in ("list", "paragraph") and (kind == "paragraph" or line.startswith(" ")):
            blocks[-1][1].append(line)  # a paragraph's next line or a list item's continuation
        else:
            blocks.append(("paragraph", [line]))

    out = []
    for kind, block in blocks:
        if kind == "blank":
            continue
        if out:
            out.append("")
        if kind == "table":
            out.extend(_table(block))
        elif kind == "image":
            match = _IMAGE.match(block[0])
            out.append(f".. image:: {_target(match['target'])}")
            if match["alt"]:
                out.append(f"   :alt: {match['alt']}")
        elif kind == "list":
            out.extend(_list(block))
        elif kind == "heading":
            out.append(f".. rubric:: {_inline(block[0])}")
        else:
            out.extend(_inline(line) for line in block)
    return out


def _table(rows):
    cells = [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows]
    header_rows = 1 if len(rows) > 1 and _TABLE_SEPARATOR.match(rows[1]) else 0
    if header_rows:
        del cells[1]
    out = [".. list-table::"]
    if header_rows:
        out.append("   :header-rows: 1")
    out.append("")
    for row in cells:
        for i, cell in enumerate(row):
            bullet = "* -" if i == 0 else "  -"
            text = _inline(cell)
            out.append(f"   {bullet} {text}" if text else f"   {bullet}")
    return out


def _list(lines):
    out, level = [], None
    for line in lines:
        match = _ITEM.match(line)
        if match is None:  # continuation of the item above, already indented under it
            out.append(_inline(line))
            continue
        depth = len(match["indent"].expandtabs(4)) // 2
        if level is not None and depth != level:
            out.append("")  # reStructuredText wants a blank line around a nested list
        level = depth
        out.append("  " * depth + "- " + _inline(match["text"]))
    return out


def _inline(text):
    """Inline Markdown to reStructuredText, escaping what reST would read as markup."""
    out, position = [], 0
    for match in _INLINE.finditer(text):
        out.append(_escape(text[position : match.start()]))
        if match["code"] is not None:
            token = f"``{match['code']}``"
        elif match["bold"] is not None:
            token = _bold(match["bold"])
        elif match["italic"] is not None:
            token = f"*{_escape(match['italic'])}*"
        else:
            label, href = match["label"], match["href"]
            if re.match(r"^[a-z]+://", href):
                token = f"`{_escape(label.strip('`'))} <{href}>`__"
            elif label.strip("`") == href:
                token = f"``{href}``"
            else:
                token = f"{_escape(label)} (``{href}``)"
        # Inline markup must be delimited by spaces or punctuation; "\ " is an empty separator.
        if out and out[-1] and (out[-1][-1].isalnum() or out[-1][-1] in "`*_"):
            token = "\\ " + token
        following = text[match.end() : match.end() + 1]
        if following and (following.isalnum() or following in "`*_"):
            token += "\\ "
        out.append(token)
        position = match.end()
    out.append(_escape(text[position:]))
    return "".join(out)


def _bold(text):
    """``**text**``; reST cannot nest code in bold, so code spans inside it stand apart."""
    parts = re.split(r"`([^`]+)`", text)
    tokens = []
    for i, part in enumerate(parts):
        if i % 2:
            tokens.append(f"``{part}``")
        elif part.strip():
            tokens.append(f"**{_escape(part.strip())}**")
    return " ".join(tokens)


def _escape(text):
    # A trailing underscore makes a reference ("name_"), bars a substitution ("|x|"), and a
    # backslash escapes; none of them is meant as markup in a Markdown summary.
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    return re.sub(r"(?<=\w)_(?=\W|$)", r"\\_", text)


def _target(path):
    """An image path relative to the repository root, made relative to the benchmarks page."""
    return path if re.match(r"^([a-z]+://|/)", path) else _PAGE_TO_ROOT + path


def mean_std(values):
    """Mean, sample standard deviation (ddof=1; 0 for one value) and the values, for JSON."""
    values = np.asarray(values, dtype=float)
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return dict(mean=float(values.mean()), std=std, values=values.tolist())


def run_meta(**extra):
    """What every benchmark records about its run: the git state, the machine, then ``extra``."""
    return dict(**git_state(), machine=platform.platform(), **extra)


def device_meta(device):
    """What a run that compares ``device`` with the CPU records about it: name, model, torch."""
    is_cuda = torch.device(device).type == "cuda"
    name = torch.cuda.get_device_name(torch.device(device)) if is_cuda else str(device)
    return dict(device=device, device_name=name, torch=torch.__version__)


def write_device_results(stem, meta, rows, markdown, quick=False, echo=True):
    """Write ``results/<stem>_<device>[_quick].{json,md}``; print the Markdown with ``echo``.

    The device scripts write after every row (``echo=False``), so that a run
    stopped at the device tool's time limit leaves the rows it measured;
    also into ``$BENCHMARK_OUT`` where it is set (the device tool returns
    what its ``$OUT`` holds, even from a command it stopped).
    """
    name = f"{stem}_{meta['device'].replace(':', '')}{'_quick' if quick else ''}"
    folders = [Path(__file__).parent / "results"]
    if os.environ.get("BENCHMARK_OUT"):
        folders.append(Path(os.environ["BENCHMARK_OUT"]))
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.json").write_text(json.dumps(dict(meta=meta, rows=rows), indent=1))
        (folder / f"{name}.md").write_text(markdown)
    if echo:
        print(markdown)


def short_commit(meta, length=10):
    """The run's commit, cut to ``length`` characters ("unknown" outside a git checkout)."""
    return (meta.get("git_commit") or "unknown")[:length]


def git_state():
    """The commit a run used and whether ``sklearn_nce/`` had uncommitted changes.

    Both are None outside a git checkout (e.g. an unpacked sdist), where the
    commit is read from ``SKLEARN_NCE_COMMIT`` if set: the device machine
    gets the working tree without ``.git``.
    """
    status = _git("status", "--porcelain", "sklearn_nce")
    return dict(
        git_commit=_git("rev-parse", "HEAD") or os.environ.get("SKLEARN_NCE_COMMIT"),
        package_uncommitted_changes=None if status is None else bool(status),
    )


def _git(*command):
    try:
        result = subprocess.run(
            ["git", *command], capture_output=True, text=True, cwd=ROOT, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return result.stdout.strip()


class BaseAlone(BaseEstimator):
    """The base the density models build by default (a held-out-likelihood stack), alone.

    The same stack ``CNCEEnergyModel()`` (``shrunk_gaussian=True``) or
    ``NoisierNCEClassifier()`` (False: its noise leaves the Ledoit-Wolf
    Gaussian out) fits on its training rows (with another seed), without the
    network: what the network adds is the difference. ``score_samples`` is its
    log density.
    """

    def __init__(self, random_state=None, shrunk_gaussian=True):
        self.random_state = random_state
        self.shrunk_gaussian = shrunk_gaussian

    def fit(self, X, y=None):
        self.density_ = SelectedDensity(
            random_state=self.random_state, shrunk_gaussian=self.shrunk_gaussian
        ).fit(X)
        return self

    def score_samples(self, X):
        with torch.no_grad():
            rows = torch.as_tensor(np.asarray(X), dtype=torch.float32)
            return self.density_.log_prob(rows).double().numpy()


def classical_detector(method, seed):
    """The sklearn outlier detectors both outlier benchmarks run, by name (None if not one)."""
    if method == "IsolationForest":
        return IsolationForest(random_state=seed)
    if method == "LOF (novelty)":
        return LocalOutlierFactor(novelty=True)
    if method == "OneClassSVM":
        return OneClassSVM(gamma="scale", nu=0.1)
    return None
