"""Training insight: the loss curves of a fitted estimator, as a scikit-learn ``Display``.

Like ``sklearn.metrics.RocCurveDisplay``: :meth:`TrainingHistoryDisplay.from_estimator`
reads what it needs from a fitted estimator and draws it; :meth:`~TrainingHistoryDisplay.plot`
redraws on any axes. ``plot_history`` is the one-line shortcut. matplotlib is an
optional dependency, imported only when something is drawn.
"""

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted as sklearn_check_is_fitted

from ._core.base import _BaseNCE
from ._core.validation import check_is_fitted

__all__ = ["TrainingHistoryDisplay", "plot_history"]


class TrainingHistoryDisplay:
    """Train and validation loss per epoch of a fitted sklearn_nce estimator.

    Create it with :meth:`from_estimator` (or :func:`~sklearn_nce.plot_history`); the
    constructor only stores the curves.

    Parameters
    ----------
    train_losses : list of ndarray
        Training loss per epoch, one array per trained critic (several for
        ``InfoNCEAnchorMI``'s cross-fitted folds).
    valid_losses : list of (ndarray or None), or None
        Validation loss per epoch, aligned with ``train_losses`` (None where
        there was no early-stopping split; None alone: none for any).
    estimator_name : str
        Shown in the title.
    diagnostics : dict or None, default=None
        Final figures shown beside the curves (``InfoNCEAnchorMI``'s
        ``mi_`` and the InfoNCE, NWJ and DV bounds of its held-out pairs).

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes drawn on.
    figure_ : matplotlib Figure
        Its figure.
    lines_ : list of matplotlib Line2D
        One line per curve.

    See Also
    --------
    sklearn_nce.plot_history : Draw the curves of a fitted estimator in one call.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nce import NCEDensityRatio
    >>> from sklearn_nce.inspection import TrainingHistoryDisplay
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(0.5, 1, (200, 2)), rng.normal(0, 1, (200, 2))]
    >>> y = np.r_[np.ones(200), np.zeros(200)]
    >>> model = NCEDensityRatio(random_state=0).fit(X, y)
    >>> display = TrainingHistoryDisplay.from_estimator(model)
    >>> len(display.lines_)  # the training loss and the held-out (early-stopping) loss
    2
    """

    def __init__(self, *, train_losses, valid_losses, estimator_name, diagnostics=None):
        self.train_losses = train_losses
        self.valid_losses = [None] * len(train_losses) if valid_losses is None else valid_losses
        _check_curves(self.train_losses, self.valid_losses)
        self.estimator_name = estimator_name
        self.diagnostics = diagnostics

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """Read the loss curves of a fitted estimator and draw them.

        Parameters
        ----------
        estimator : fitted sklearn_nce estimator
            Any of the four estimators, or a fitted ``Pipeline`` ending in
            one, or a fitted search (``GridSearchCV``) whose
            ``best_estimator_`` is one of those.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        display : TrainingHistoryDisplay
        """
        estimator = _nce_estimator(estimator)
        check_is_fitted(estimator, "history_")
        histories = estimator.history_
        # InfoNCEAnchorMI keeps one skorch History per fold; the others one.
        if histories and isinstance(histories[0], dict):
            histories = [histories]
        train = [_column(history, "train_loss") for history in histories]
        valid = [_column(history, "valid_loss") for history in histories]
        display = cls(
            train_losses=train,
            valid_losses=valid,
            estimator_name=type(estimator).__name__,
            diagnostics=_diagnostics(estimator),
        )
        return display.plot(ax=ax)

    def plot(self, ax=None):
        """Draw the curves (epochs on x, loss on y) on ``ax``.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        display : TrainingHistoryDisplay
            ``self``, with ``ax_``, ``figure_`` and ``lines_`` set.
        """
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots()
        several = len(self.train_losses) > 1
        self.lines_ = []
        for k, (train, valid) in enumerate(zip(self.train_losses, self.valid_losses, strict=True)):
            suffix = f" (fold {k})" if several else ""
            epochs = np.arange(1, len(train) + 1)
            (line,) = ax.plot(epochs, train, color=f"C{k}", label=f"train{suffix}")
            self.lines_.append(line)
            if valid is not None:
                (line,) = ax.plot(
                    epochs, valid, color=f"C{k}", linestyle="--", label=f"validation{suffix}"
                )
                self.lines_.append(line)
        from matplotlib.ticker import MaxNLocator  # optional, as plt is

        locator = ax.xaxis.get_major_locator()
        if isinstance(locator, MaxNLocator):  # matplotlib's default: no epoch 1.5
            locator.set_params(integer=True)  # (ticks a user set on ax stay)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.set_title(f"{self.estimator_name}: loss per epoch")
        if self.diagnostics:
            text = "\n".join(f"{name}: {value:.3g}" for name, value in self.diagnostics.items())
            ax.text(0.98, 0.98, text, transform=ax.transAxes, ha="right", va="top", fontsize=8)
        ax.legend(loc="lower left", fontsize=8)
        self.ax_, self.figure_ = ax, ax.figure
        return self


def plot_history(estimator, ax=None):
    """Draw a fitted estimator's train and validation loss per epoch.

    For ``InfoNCEAnchorMI`` every cross-fitted fold gets its curves, and the
    estimate with its InfoNCE, NWJ and DV bounds (nats) is written beside them.

    Parameters
    ----------
    estimator : fitted sklearn_nce estimator
        Any of the four estimators, a fitted ``Pipeline`` ending in one, a
        fitted search whose ``best_estimator_`` is one, a fitted wrapper whose
        ``estimator_`` is one (e.g. ``TunedThresholdClassifierCV``), or a
        ``FrozenEstimator`` of one.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    display : TrainingHistoryDisplay
        Holds the axes (``ax_``), figure (``figure_``) and lines (``lines_``).

    See Also
    --------
    sklearn_nce.inspection.TrainingHistoryDisplay : The display this returns, with its parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nce import NCEDensityRatio, plot_history
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(0.5, 1, (200, 2)), rng.normal(0, 1, (200, 2))]
    >>> y = np.r_[np.ones(200), np.zeros(200)]
    >>> model = NCEDensityRatio(random_state=0).fit(X, y)
    >>> display = plot_history(model)
    >>> display.ax_.get_xlabel()
    'epoch'
    """
    return TrainingHistoryDisplay.from_estimator(estimator, ax=ax)


def _is_fitted(estimator):
    try:
        sklearn_check_is_fitted(estimator)
    except (NotFittedError, TypeError):  # TypeError: None, a class, not an estimator
        return False
    return True


def _nce_estimator(estimator):
    """The sklearn_nce estimator in ``estimator``: itself, a Pipeline's last step, a best one."""
    inner = estimator
    while not isinstance(inner, _BaseNCE):
        if isinstance(inner, Pipeline):
            inner = inner[-1]
        elif hasattr(inner, "best_estimator_"):
            inner = inner.best_estimator_
        elif hasattr(inner, "cv_results_"):
            raise ValueError(
                f"This {type(inner).__name__} was fitted with refit=False: it has no "
                "best_estimator_ whose training to draw. Refit with refit=True, or fit the "
                "estimator of the parameters you want."
            )
        elif _is_fitted(getattr(inner, "estimator_", None)):
            inner = inner.estimator_  # a wrapper's refitted estimator (TunedThreshold...)
        elif isinstance(inner, FrozenEstimator):
            # It keeps the fitted estimator itself (it raised TypeError: user test).
            inner = inner.estimator
        else:
            if hasattr(inner, "estimator"):
                sklearn_check_is_fitted(inner)  # an unfitted search: say so
            raise TypeError(
                "plot_history draws the training of a sklearn_nce estimator (its history_), "
                f"alone, last in a Pipeline or as a search's best_estimator_; got "
                f"{type(inner).__name__}."
            )
    return inner


def _check_curves(train_losses, valid_losses):
    """Refuse curves that do not pair up: one validation entry per training curve, same length."""
    if len(valid_losses) != len(train_losses):
        raise ValueError(
            f"valid_losses has {len(valid_losses)} entries for {len(train_losses)} training "
            "curves: give one per training curve (None where there was no validation)."
        )
    for k, (train, valid) in enumerate(zip(train_losses, valid_losses, strict=True)):
        if valid is not None and len(valid) != len(train):
            raise ValueError(
                f"Curve {k}: {len(valid)} validation losses for {len(train)} training losses; "
                "give one per epoch."
            )


def _column(history, key):
    """One History column per epoch (NaN where an epoch lacks it), or None when none has it.

    A warm fit's history continues one that may have had a validation split
    where it has none (or the reverse): the curve then has a gap.
    """
    values = np.asarray([row.get(key, np.nan) for row in history], dtype=float)
    return None if np.all(np.isnan(values)) else values


def _diagnostics(estimator):
    diagnostics = getattr(estimator, "diagnostics_", None)
    if diagnostics is None:
        return None
    shown = {"mi_": float(estimator.mi_)}
    shown.update({f"{name} bound": float(diagnostics[name]) for name in ("infonce", "nwj", "dv")})
    return shown


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # an optional dependency
        raise ImportError(
            "plot_history and TrainingHistoryDisplay need matplotlib: pip install matplotlib."
        ) from error
    return plt
