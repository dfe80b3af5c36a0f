"""The gallery's examples run end to end, on reduced data.

Each ``examples/plot_*.py`` reads its sizes (rows, epochs, permutations) from module constants,
and a block hidden from the rendered page shrinks them when ``SKLEARN_NCE_EXAMPLES_QUICK`` is
set. Running every example that way here makes a broken example fail the test suite, not only
the documentation build. Nothing is asserted about accuracy: the reduced fits are too small.
"""

import runpy
import warnings
from pathlib import Path

import pytest

matplotlib = pytest.importorskip("matplotlib")

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("plot_*.py"))
QUICK_VARIABLE = "SKLEARN_NCE_EXAMPLES_QUICK"


@pytest.fixture
def pyplot():
    """pyplot on the non-interactive Agg backend, with every figure closed before and after."""
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.close("all")
    yield plt
    plt.close("all")


def test_examples_found():
    assert (EXAMPLES_DIR / "README.rst").is_file()
    assert len(EXAMPLES) >= 6, [path.name for path in EXAMPLES]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_example_runs_and_draws(path, pyplot, monkeypatch):
    # Without the reduced sizes an example would run for up to a minute.
    assert QUICK_VARIABLE in path.read_text(encoding="utf-8")
    monkeypatch.setenv(QUICK_VARIABLE, "1")
    with warnings.catch_warnings():
        # plt.show() on Agg says it cannot show anything; that is expected here.
        warnings.filterwarnings("ignore", message=".*non-interactive.*", category=UserWarning)
        runpy.run_path(str(path), run_name="__main__")

    figures = [pyplot.figure(number) for number in pyplot.get_fignums()]
    assert figures, f"{path.name} drew no figure"
    for figure in figures:
        drawn = [ax for ax in figure.get_axes() if ax.has_data() or ax.images]
        assert drawn, f"{path.name}: a figure has no axes with data"
        figure.canvas.draw()  # layout and rendering run without error
