"""Mutual information by InfoNCE with an anchor class.

A critic ``s(x, y)`` is trained to pick each x's partner among in-batch
candidates, with an extra "anchor" class of fixed logit ``log nu`` for tuples
that contain no partner. The anchor makes the optimal critic exactly the log
density ratio ``log p(x, y) / (p(x) p(y))``, so the plug-in mean of ``s`` over
held-out joint pairs estimates the mutual information, even above the
``log(batch_size)`` ceiling of the InfoNCE bound.
"""

import numpy as np
import torch
from scipy.stats import norm
from sklearn.model_selection import train_test_split
from sklearn.utils import TransformerTags, check_random_state
from sklearn.utils._available_if import available_if

from ._core.base import _BaseNCE, take_rows
from ._core.critics import ACTIVATIONS, JointCritic, SeparableCritic
from ._core.losses import SCORING_RULES, infonce_loss
from ._core.objectives import InBatchMIObjective, in_batch_tuples
from ._core.validation import (
    Integral,
    Interval,
    Real,
    StrOptions,
    _fit_context,
    check_is_fitted,
    validate_X,
    validate_X_y,
)

__all__ = ["InfoNCEAnchorMI", "mutual_info_nce"]

ARCHITECTURES = ("joint", "separable")
OBJECTIVES = ("anchor", "nwj", "dv", "mine")


class InfoNCEAnchorMI(_BaseNCE):
    """Mutual information ``I(X; Y)`` in nats by InfoNCE with an anchor class.

    Each training batch of B joint pairs ``(x_i, y_i)`` gives every ``x_i`` a
    (B-1)-candidate tuple holding its partner and a tuple holding none; a
    (K+1)-way proper scoring rule with a fixed anchor logit ``log nu`` trains
    the critic to ``s(x, y) = log p(x, y) / (p(x) p(y))``. The estimate
    ``mi_`` is the mean of ``s`` over a held-out part of the data.

    Read more in the :ref:`User Guide <mutual_info>`.

    Parameters
    ----------
    nu : float >= 0, default=1.0
        Anchor weight (the paper's default is 1). ``nu=0`` gives plain InfoNCE,
        whose critic is identified only up to a function of x, so its plug-in
        estimate is meaningless.
    scoring : {"log", "brier"}, default="log"
        Proper scoring rule: "log" is InfoNCE-anchor, "brier" its squared-error
        generalisation.
    objective : {"anchor", "nwj", "dv", "mine"}, default="anchor"
        "anchor" trains InfoNCE-anchor and reports the plug-in mean of the
        critic. "nwj" and "dv" train the same critic on the NWJ or
        Donsker-Varadhan lower bound (in-batch off-diagonal pairs as marginal
        samples) and report that bound on the held-out rows; "mine" trains
        the DV bound with MINE's running-mean gradient correction (Belghazi
        et al. 2018) and reports the DV bound. They are offered for
        comparison (``nu`` and ``scoring`` are then unused).
    architecture : {"joint", "separable"}, default="joint"
        "joint" scores ``MLP([x, y])`` (flexible; B^2 critic evaluations per
        batch); "separable" scores ``f(x) . g(y)`` (one matrix product, and
        ``transform`` returns ``f(x)``).
    embedding_dim : int, default=32
        Width of ``f(x)`` and ``g(y)`` for the separable critic.
    held_out_fraction : float in (0, 1), default=0.2
        Fraction of rows never trained on; ``mi_`` and ``mi_std_`` are computed
        on them.
    hidden_layer_sizes, activation, critic, optimizer, lr, weight_decay, \
max_epochs, early_stopping, validation_fraction, n_iter_no_change, tol, \
device, random_state, verbose
        As in :class:`~sklearn_nce.NCEDensityRatio` (``optimizer`` without
        "lbfgs", which is full-batch). A user ``critic`` must offer
        ``forward(x, y)`` (aligned pairs) and ``score_matrix(x, y)`` (all pairs).
    batch_size : int, default=128
        Pairs per batch: each x is contrasted with ``batch_size - 1`` candidates.

    Attributes
    ----------
    mi_ : float
        Mutual information estimate (nats) on the held-out rows: the plug-in
        mean of ``s`` for "anchor", the bound's value for "nwj"/"dv"/"mine".
    mi_std_ : float
        Standard error of the mean of ``s`` over the held-out pairs (for
        the bounds this ignores the variance of the marginal term).
    diagnostics_ : dict
        Other estimates from the same critic on the held-out rows, in nats:
        "infonce" (the InfoNCE lower bound ``log B - loss``, capped at
        ``log B``), "nwj" and "dv" (the NWJ and Donsker-Varadhan bounds with
        in-batch product-of-marginals pairs). They read the critic as ``log r``,
        which is what objective="anchor" trains it to be.
    net_, history_, n_iter_, device_, n_features_in_, feature_names_in_
        As in :class:`~sklearn_nce.NCEDensityRatio`.

    References
    ----------
    .. [1] "InfoNCE is not a valid mutual information estimator: the
       InfoNCE-anchor fix", ICLR 2026 (see ``shared/papers``).

    Examples
    --------
    >>> from sklearn_nce import InfoNCEAnchorMI
    >>> from sklearn_nce.datasets import make_correlated_gaussian
    >>> X, Y, true_mi = make_correlated_gaussian(2000, n_features=2, mi=1.0, random_state=0)
    >>> model = InfoNCEAnchorMI(max_epochs=20, random_state=0).fit(X, Y)
    >>> bool(abs(model.mi_ - true_mi) < 0.3)
    True
    """

    _parameter_constraints: dict = {
        **_BaseNCE._parameter_constraints,
        "nu": [Interval(Real, 0, None, closed="left")],
        "scoring": [StrOptions(set(SCORING_RULES))],
        "objective": [StrOptions(set(OBJECTIVES))],
        "architecture": [StrOptions(set(ARCHITECTURES))],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "held_out_fraction": [Interval(Real, 0, 1, closed="neither")],
        "batch_size": [Interval(Integral, 3, None, closed="left")],
        # The batch is the candidate set (K = batch_size - 1), so the
        # full-batch "lbfgs" would change the objective, not just the solver.
        "optimizer": [StrOptions({"adam", "adamw", "sgd"})],
    }

    def __init__(
        self,
        *,
        nu=1.0,
        scoring="log",
        objective="anchor",
        architecture="joint",
        embedding_dim=32,
        held_out_fraction=0.2,
        hidden_layer_sizes=(64, 64),
        activation="silu",
        critic=None,
        optimizer="adam",
        lr=1e-3,
        weight_decay=0.0,
        max_epochs=100,
        batch_size=128,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            critic=critic,
            optimizer=optimizer,
            lr=lr,
            weight_decay=weight_decay,
            max_epochs=max_epochs,
            batch_size=batch_size,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            device=device,
            random_state=random_state,
            verbose=verbose,
        )
        self.nu = nu
        self.scoring = scoring
        self.objective = objective
        self.architecture = architecture
        self.embedding_dim = embedding_dim
        self.held_out_fraction = held_out_fraction

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the critic on joint pairs and estimate the MI on held-out pairs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            First variable.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Second variable, aligned with X row by row.

        Returns
        -------
        self : InfoNCEAnchorMI
        """
        X, y = self._validate_pairs(X, y, reset=True)
        rng = check_random_state(self.random_state)
        # At least 3 held-out pairs (the diagnostics' in-batch negatives need
        # them); MIN_SAMPLES rows leave at least 7 to train on.
        n_held_out = max(3, int(np.ceil(self.held_out_fraction * len(X))))
        train_idx, held_out_idx = train_test_split(
            np.arange(len(X)), test_size=n_held_out, random_state=rng
        )
        self.n_targets_ = y.shape[1]
        pairs = {"x": X, "y": y}
        self._fit_critic(take_rows(pairs, train_idx), None, self._objective())
        x_held, y_held = X[held_out_idx], y[held_out_idx]
        pointwise = self._pointwise(x_held, y_held)
        self.diagnostics_ = self._diagnostics(x_held, y_held)
        if self.objective == "anchor":
            self.mi_ = float(pointwise.mean())
        else:
            # The trained bound itself, evaluated on held-out batches.
            self.mi_ = self.score(x_held, y_held)
        self.mi_std_ = float(pointwise.std(ddof=1) / np.sqrt(len(pointwise)))
        return self

    def confidence_interval(self, alpha=0.05):
        """Normal-approximation ``(1 - alpha)`` interval for the MI from ``mi_std_``.

        Returns
        -------
        (low, high) : tuple of float
        """
        check_is_fitted(self)
        half_width = norm.ppf(1 - alpha / 2) * self.mi_std_
        return self.mi_ - half_width, self.mi_ + half_width

    def pointwise_mi(self, X, y):
        """The critic ``s(x_i, y_i) ~ log p(x_i, y_i) / (p(x_i) p(y_i))`` per pair.

        Returns
        -------
        pmi : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self._pointwise(*self._validate_pairs(X, y, reset=False))

    def estimate(self, X, y):
        """Plug-in MI estimate (nats) on new joint pairs: the mean of :meth:`pointwise_mi`."""
        return float(self.pointwise_mi(X, y).mean())

    def score(self, X, y):
        """Negative training loss on (X, y) in batches of ``batch_size`` (higher is better).

        Uses the estimator's own ``objective``, ``nu`` and ``scoring``, so
        ``GridSearchCV`` compares critics on the objective they were trained
        for. Needs at least 3 rows.
        """
        check_is_fitted(self)
        X, y = self._validate_pairs(X, y, reset=False)
        if len(X) < 3:
            raise ValueError(f"score needs at least 3 pairs; got {len(X)}.")
        # eval(): score every objective by its bound (MINE's training loss is
        # a gradient surrogate, not the bound).
        objective = self._objective().eval()
        losses = [float(objective.loss_from_scores(m)) for m in self._score_matrices(X, y)]
        return -float(np.mean(losses))

    def _objective(self):
        return InBatchMIObjective(self.nu, self.scoring, bound=self.objective)

    def _has_embedding(self):
        return self.architecture == "separable" and self.critic is None

    @available_if(_has_embedding)
    def transform(self, X):
        """The embedding ``f(x)`` of the separable critic.

        Returns
        -------
        embedding : ndarray of shape (n_samples, embedding_dim)
        """
        check_is_fitted(self)
        X = validate_X(self, X, reset=False)
        return self._apply_critic(lambda critic, x: critic.encode_x(x), X)

    @available_if(_has_embedding)
    def fit_transform(self, X, y):
        """Fit, then return the embedding ``f(x)`` of the training rows."""
        return self.fit(X, y).transform(X)

    def _pointwise(self, X, y):
        return self._apply_critic(lambda critic, x, y_: critic(x, y_), X, y)

    def _score_matrices(self, X, y):
        """All-pairs score matrices of consecutive batches (the last may be smaller, >= 3)."""
        batch = min(self.batch_size, len(X))
        starts = range(0, len(X) - batch + 1, batch)
        critic = self.net_.module_
        critic.eval()
        with torch.no_grad():
            for start in starts:
                x_batch = torch.from_numpy(X[start : start + batch]).to(self.net_.device)
                y_batch = torch.from_numpy(y[start : start + batch]).to(self.net_.device)
                yield critic.score_matrix(x_batch, y_batch).cpu()

    def _diagnostics(self, X, y):
        infonce, nwj, dv = [], [], []
        for scores in self._score_matrices(X, y):
            n = scores.shape[0]
            joint = scores.diagonal()
            _, negatives = in_batch_tuples(scores)
            marginal = negatives.reshape(-1)
            # InfoNCE over the whole row: the partner first, then the B - 1 others.
            row_tuples = torch.cat([joint[:, None], negatives], dim=1)
            infonce.append(np.log(n) - float(infonce_loss(row_tuples)))
            log_mean_exp = float(torch.logsumexp(marginal, 0)) - np.log(len(marginal))
            nwj.append(float(joint.mean()) + 1.0 - float(np.exp(log_mean_exp)))
            dv.append(float(joint.mean()) - log_mean_exp)
        return {
            "infonce": float(np.mean(infonce)),
            "nwj": float(np.mean(nwj)),
            "dv": float(np.mean(dv)),
        }

    def _validate_pairs(self, X, y, *, reset):
        X, y = validate_X_y(self, X, y, reset=reset, multi_output=True, y_numeric=True)
        y = np.asarray(y, dtype=np.float32).reshape(len(y), -1)
        if reset:
            _check_not_constant(X, "X")
            _check_not_constant(y, "y")
        elif y.shape[1] != self.n_targets_:
            raise ValueError(
                f"y has {y.shape[1]} columns, but InfoNCEAnchorMI was fitted with "
                f"{self.n_targets_}."
            )
        return X, y

    def _default_critic(self, X, n_outputs):
        x_features, y_features = X["x"].shape[1], X["y"].shape[1]
        hidden = tuple(int(width) for width in self.hidden_layer_sizes)
        activation = ACTIVATIONS[self.activation]
        if self.architecture == "separable":
            return SeparableCritic(x_features, y_features, self.embedding_dim, hidden, activation)
        return JointCritic(x_features, y_features, hidden, activation)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.single_output = False
        tags.target_tags.multi_output = True
        if self._has_embedding():
            tags.transformer_tags = TransformerTags(preserves_dtype=[])
        return tags


def mutual_info_nce(X, y, **params):
    """Mutual information between X and y (nats) by :class:`InfoNCEAnchorMI`.

    Mirrors :func:`sklearn.feature_selection.mutual_info_regression` for a
    joint estimate: one number for the whole of X against the whole of y.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
    **params
        Passed to :class:`InfoNCEAnchorMI`.

    Returns
    -------
    mi : float

    See Also
    --------
    InfoNCEAnchorMI : The estimator, with standard error and diagnostics.

    Examples
    --------
    >>> from sklearn_nce import mutual_info_nce
    >>> from sklearn_nce.datasets import make_correlated_gaussian
    >>> X, Y, true_mi = make_correlated_gaussian(1000, n_features=1, mi=1.0, random_state=0)
    >>> mi = mutual_info_nce(X, Y.ravel(), batch_size=64, max_epochs=15, random_state=0)
    >>> bool(abs(mi - true_mi) < 0.3)
    True
    """
    return InfoNCEAnchorMI(**params).fit(X, y).mi_


def _check_not_constant(array, name):
    constant = np.flatnonzero(np.ptp(array, axis=0) == 0)
    if len(constant):
        raise ValueError(
            f"{name} has constant column(s) {constant.tolist()}: a constant carries no "
            "information about the other variable; drop it before estimating MI."
        )
