"""plot_history / TrainingHistoryDisplay and show_versions."""

import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklearn_nce import (  # noqa: E402
    CNCEEnergyModel,
    InfoNCEAnchorMI,
    NCEDensityRatio,
    NoisierNCEClassifier,
    plot_history,
    show_versions,
)
from sklearn_nce.inspection import TrainingHistoryDisplay  # noqa: E402

RNG = np.random.RandomState(0)
X = RNG.standard_normal((120, 2))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize(
    "estimator, y",
    [
        (
            NCEDensityRatio(max_epochs=3, early_stopping=False, random_state=0),
            np.arange(120) % 2,
        ),
        (
            CNCEEnergyModel(
                max_epochs=3, n_importance_samples=200, early_stopping=False, random_state=0
            ),
            None,
        ),
        (
            NoisierNCEClassifier(
                max_epochs=3, n_importance_samples=200, early_stopping=False, random_state=0
            ),
            None,
        ),
    ],
    ids=lambda value: type(value).__name__,
)
def test_one_training_curve_per_epoch(estimator, y):
    display = plot_history(estimator.fit(X, y))
    assert isinstance(display, TrainingHistoryDisplay)
    (line,) = display.lines_  # no early-stopping split: training loss only
    np.testing.assert_allclose(line.get_ydata(), estimator.history_[:, "train_loss"])
    assert display.ax_.get_title().startswith(type(estimator).__name__)


def test_validation_curve_when_early_stopping():
    model = NCEDensityRatio(max_epochs=4, early_stopping=True, random_state=0)
    display = plot_history(model.fit(X, np.arange(120) % 2))
    train, valid = display.lines_
    assert valid.get_linestyle() == "--"
    np.testing.assert_allclose(valid.get_ydata(), model.history_[:, "valid_loss"])


def test_mutual_information_draws_every_fold_and_the_bounds():
    model = InfoNCEAnchorMI(cv=2, batch_size=16, max_epochs=3, random_state=0)
    model.fit(X, X + RNG.standard_normal((120, 2)))
    fig, ax = plt.subplots()
    display = plot_history(model, ax=ax)
    assert display.ax_ is ax
    assert len(display.lines_) == 2  # one training curve per fold
    text = "\n".join(t.get_text() for t in ax.texts)
    for name in ("mi_", "infonce bound", "nwj bound", "dv bound"):
        assert name in text


def test_unfitted_estimator_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        plot_history(NCEDensityRatio())


def test_a_fitted_pipeline_or_search_draws_its_sklearn_nce_estimator():
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.arange(120) % 2
    pipe = make_pipeline(StandardScaler(), NCEDensityRatio(max_epochs=3, random_state=0))
    display = plot_history(pipe.fit(X, y))  # raised "This Pipeline instance is not fitted"
    np.testing.assert_allclose(display.lines_[0].get_ydata(), pipe[-1].history_[:, "train_loss"])
    search = GridSearchCV(pipe, {"ncedensityratio__max_epochs": [2, 3]}, cv=2)
    best = search.fit(X, y).best_estimator_[-1]
    display = plot_history(search)
    np.testing.assert_allclose(display.lines_[0].get_ydata(), best.history_[:, "train_loss"])
    with pytest.raises(ValueError, match="refit=False"):
        plot_history(
            GridSearchCV(pipe, {"ncedensityratio__max_epochs": [2]}, refit=False, cv=2).fit(X, y)
        )
    # A FrozenEstimator keeps the fitted estimator itself (it raised TypeError).
    from sklearn.frozen import FrozenEstimator

    display = plot_history(FrozenEstimator(pipe))
    np.testing.assert_allclose(display.lines_[0].get_ydata(), pipe[-1].history_[:, "train_loss"])
    # A wrapper that refits a clone draws the clone it refitted, not its template.
    from sklearn.model_selection import TunedThresholdClassifierCV

    tuned = TunedThresholdClassifierCV(NCEDensityRatio(max_epochs=3, random_state=0), cv=2)
    display = plot_history(tuned.fit(X, y))
    np.testing.assert_allclose(
        display.lines_[0].get_ydata(), tuned.estimator_.history_[:, "train_loss"]
    )


def test_other_estimators_and_unfitted_searches_say_what_is_wrong():
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    with pytest.raises(TypeError, match="sklearn_nce estimator.*got LogisticRegression"):
        plot_history(LogisticRegression().fit(X, np.arange(120) % 2))
    with pytest.raises(NotFittedError, match="GridSearchCV"):
        plot_history(GridSearchCV(NCEDensityRatio(), {"max_epochs": [2]}))


def test_display_checks_its_curves_and_takes_no_validation():
    display = TrainingHistoryDisplay(
        train_losses=[np.arange(3.0)], valid_losses=None, estimator_name="x"
    ).plot()
    assert len(display.lines_) == 1
    with pytest.raises(ValueError, match="2 entries for 1 training curves"):
        TrainingHistoryDisplay(
            train_losses=[np.arange(3.0)], valid_losses=[None, None], estimator_name="x"
        )
    with pytest.raises(ValueError, match="2 validation losses for 3 training losses"):
        TrainingHistoryDisplay(
            train_losses=[np.arange(3.0)], valid_losses=[np.arange(2.0)], estimator_name="x"
        )


def test_epochs_are_whole_numbers_on_the_axis():
    model = NCEDensityRatio(max_epochs=3, random_state=0).fit(X, np.arange(120) % 2)
    display = plot_history(model)
    display.figure_.canvas.draw()
    ticks = display.ax_.get_xticks()
    assert np.all(ticks == np.round(ticks))


def test_a_warm_history_that_gained_a_validation_split_draws_a_gap():
    # The first fit had no split, the warm one has: one curve per epoch each,
    # the validation one NaN where there was none (review).
    model = NCEDensityRatio(max_epochs=2, early_stopping=False, warm_start=True, random_state=0)
    model.fit(X, np.arange(120) % 2).set_params(early_stopping=True).fit(X, np.arange(120) % 2)
    train, valid = plot_history(model).lines_
    assert len(train.get_ydata()) == len(valid.get_ydata()) == 4
    assert np.isnan(valid.get_ydata()[:2]).all() and np.isfinite(valid.get_ydata()[2:]).all()


def test_ticks_a_user_set_on_the_axes_stay():
    model = NCEDensityRatio(max_epochs=3, random_state=0).fit(X, np.arange(120) % 2)
    fig, ax = plt.subplots()
    ax.set_xticks([1, 3])  # a FixedLocator: the integer setting does not apply
    display = plot_history(model, ax=ax)
    assert list(display.ax_.get_xticks()) == [1, 3]


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    model = NCEDensityRatio(max_epochs=2, random_state=0).fit(X, np.arange(120) % 2)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_history(model)


def test_show_versions_lists_dependencies_and_devices(capsys):
    show_versions()
    out = capsys.readouterr().out
    names = (
        "sklearn_nce",
        "scikit-learn",
        "torch",
        "skorch",
        "matplotlib",
        "torch devices",
        "cpu",
    )
    for name in names:
        assert name in out
