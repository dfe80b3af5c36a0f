"""Objectives: how a mini-batch becomes positive and negative critic outputs.

An objective is an ``nn.Module`` called as ``objective(critic, X, y)`` that
returns the scalar loss of one batch; :class:`~.training.ContrastiveNet` uses
it as its criterion. The loss functions themselves live in ``losses``.
"""

import functools
import math

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from torch import nn

from .critics import BaseCorrectedDensity, as_scores, single_scores
from .losses import (
    BOUND_LOSSES,
    cnce_loss,
    dv_loss,
    infonce_anchor_loss,
    log_mean_exp,
    logistic_loss,
    lsif_loss,
    mine_loss,
    noisier_nce_loss,
    two_sample_loss,
)

__all__ = [
    "ConditionalNoiseObjective",
    "NoiseContrastObjective",
    "InBatchMIObjective",
    "TelescopingObjective",
    "TwoSampleObjective",
    "anchor_level_information",
    "in_batch_anchor_log_loss",
    "in_batch_tuples",
    "rows_and_weights",
    "telescoping_coefficients",
    "weighted_rows",
]

# The keys of the inputs of a two-sample fit with sample weights.
_ROWS, _WEIGHTS = "rows", "sample_weight"


def weighted_rows(X, sample_weight):
    """The inputs of a two-sample objective: ``X``, or with row weights a dict of both.

    The weights travel with their rows through the validation split and the
    batches (which take the rows of every array in a dict alike).
    """
    if sample_weight is None:
        return X
    return {_ROWS: X, _WEIGHTS: sample_weight}


def rows_and_weights(X):
    """``(rows, sample_weight)`` of :func:`weighted_rows`'s inputs (the weights None without)."""
    if isinstance(X, dict) and _WEIGHTS in X:
        return X[_ROWS], X[_WEIGHTS]
    return X, None


def _divergence_hint(loss):
    """What to change besides ``lr`` when a two-sample fit diverges with ``loss``."""
    if loss is lsif_loss:
        return "choose a bounded loss such as loss='logistic'"
    return "add weight_decay"


def _loss_and_weight(objective):
    """The loss and noise weight that score a batch in the objective's current mode."""
    if objective.training:
        return objective.loss, objective.noise_weight
    # Held-out batches are always scored by the class-balanced log loss: it is
    # proper, bounded below and low-variance, whereas e.g. the noisier loss's
    # M * mean(r) term makes a noisy early-stopping signal, and losses with
    # different scales could not be compared.
    return logistic_loss, 1.0


class TwoSampleObjective(nn.Module):
    """Contrast rows labelled 1 (positives) with rows labelled 0 (negatives).

    Parameters
    ----------
    loss : callable
        ``loss(log_ratio_pos, log_ratio_neg, noise_weight) -> scalar``.
    noise_weight : float
        Passed to ``loss``.
    """

    divergence_hint = property(lambda self: _divergence_hint(self.loss))

    def __init__(self, loss, noise_weight):
        super().__init__()
        self.loss = loss
        self.noise_weight = float(noise_weight)

    def forward(self, critic, X, y):
        X, sample_weight = rows_and_weights(X)
        hint = " Use a critic with a single output (or set telescoping_steps to its count)."
        log_ratio = single_scores(critic(X), len(X), hint=hint)
        loss, noise_weight = _loss_and_weight(self)
        return two_sample_loss(loss, log_ratio, y == 1, noise_weight, sample_weight)


class _NoiseDrawingObjective(nn.Module):
    """Base of the density objectives: noise draws, and an optional judge of held-out rows.

    Validation draws come from a fixed generator, reseeded on every call, so a
    validation batch of a given size gets the same draws on every epoch:
    drawing them anew took a third of the sampling in a small fit
    (ionosphere, 300 epochs of one step). Draws that depend on the rows
    (conditional noise) are drawn every time.

    ``validation_noise`` (None: the training noise judges): a fitted
    unconditional density whose global jumps score the held-out rows
    (:meth:`_jump_loss`) instead. A noise far from the data, or jumps that
    only compare a row with its neighbourhood, give a held-out loss that can
    keep falling while the density gets worse. On issue 34's 20-d mixture
    (``base=None, noise="mix"``, seed 0) the pairwise log-density error
    (Ratio) read 19.7, 56.5, 34.3 and 20.8 after 1, 20, 60 and 150 epochs
    while the "mix" held-out loss kept improving (each run's best epoch was
    its last); the held-out loss against the BIC mixture went 1.86, 3.13,
    2.39, 1.89: it tracks Ratio.
    """

    # Each row is scored against its own draws: batches need not be full.
    full_batches = False

    def __init__(self, noise, n_noise, validation_noise=None):
        super().__init__()
        self.noise = noise
        self.n_noise = int(n_noise)
        self.validation_noise = validation_noise
        self._kept_draws = {}

    def _judged(self):
        """True for a held-out batch that the validation noise scores."""
        return not self.training and self.validation_noise is not None

    def _jump_loss(self, critic, X, noise):
        """CNCE loss of rows ``X`` against ``n_noise`` jumps each from ``noise``.

        ``G = log phi(x) - log phi(y) + log pn(y | x) - log pn(x | y)``; an
        unconditional ``noise`` gives global jumps, whose loss needs no
        normalising constant.
        """
        n_data, n_features = X.shape
        draws = self._draws(noise, X)
        points = torch.cat([X, draws.reshape(-1, n_features)])
        # Jumps to the base itself: G = f(x) - f(y) exactly (log b and log pn
        # cancel), so neither density is evaluated per step.
        to_base = isinstance(critic, BaseCorrectedDensity) and critic.base is noise
        log_phi = critic.correction(points) if to_base else log_density(critic, points)
        log_phi_data = log_phi[:n_data]
        log_phi_noise = log_phi[n_data:].reshape(n_data, self.n_noise)
        correction = None
        if not (to_base or getattr(noise, "symmetric", False)):
            data = X.unsqueeze(1)
            correction = noise.log_prob_given(draws, data) - noise.log_prob_given(data, draws)
        return cnce_loss(log_phi_data, log_phi_noise, correction)

    def _draws(self, noise, X):
        """``n_noise`` draws of ``noise`` per row of ``X``, shape ``(len(X), n_noise, d)``."""
        generator = _draw_generator(self.training)
        if getattr(noise, "conditional", False):
            return noise.sample_given(X, self.n_noise, generator)
        if self.training:
            return self._unconditional_draws(noise, X, generator)
        key = (id(noise), len(X), X.device)
        if key not in self._kept_draws:
            self._kept_draws[key] = self._unconditional_draws(noise, X, generator)
        return self._kept_draws[key]

    def _unconditional_draws(self, noise, X, generator):
        draws = noise.sample(len(X) * self.n_noise, generator)
        return draws.reshape(len(X), self.n_noise, -1)

    def __getstate__(self):
        # The kept draws are a cache: pickles and copies start without them.
        state = self.__dict__.copy()
        state["_kept_draws"] = {}
        return state


class NoiseContrastObjective(_NoiseDrawingObjective):
    """NCE of a density model against unconditional noise ``q``, with noise weight ``M``.

    The critic returns the model's unnormalised log density ``log phi``; the
    classifier's log ratio is ``h = log phi - log q``. Each batch of data is
    contrasted with ``n_noise`` draws from ``q`` per row, and the loss is
    :func:`~.losses.noisier_nce_loss` with weight ``M``: ``M = n_noise`` is
    vanilla NCE (the logistic loss of the stacked sample, up to a factor), a
    larger ``M`` is "Noisier" NCE. Either way the optimum is
    ``phi = p_data`` *normalised*, since the model's free constant is learnt.

    Validation batches are scored by the logistic loss at the true class ratio
    ``n_noise`` (proper and bounded; the noisier loss's ``M mean(r)`` term makes
    a noisy stopping signal), on noise drawn from a fixed generator.

    Parameters
    ----------
    noise : Noise
        A fitted unconditional noise (``sample``, ``log_prob``).
    n_noise : int
        Noise draws per data row.
    noise_weight : float or None, default=None
        ``M``; None means ``n_noise``.
    validation_noise : Noise or None, default=None
        A fitted unconditional density whose global jumps score the held-out
        rows instead (see :class:`_NoiseDrawingObjective`).
    """

    estimate_name = "log Z"
    # Set while a progress bar shows batch_estimate: reading it costs a sync
    # per batch, which nothing else needs.
    report_estimate = False
    batch_estimate = None

    def __init__(self, noise, n_noise, noise_weight=None, validation_noise=None):
        super().__init__(noise, n_noise, validation_noise)
        self.noise_weight = noise_weight

    def forward(self, critic, X, y):
        del y
        if self._judged():
            return self._jump_loss(critic, X, self.validation_noise)
        draws = self._draws(self.noise, X)
        points = torch.cat([X, draws.reshape(-1, X.shape[1])])
        log_ratio = log_ratio_to_noise(critic, points, self.noise)
        log_ratio_data, log_ratio_noise = log_ratio[: len(X)], log_ratio[len(X) :]
        if not self.training:
            return logistic_loss(log_ratio_data, log_ratio_noise, float(self.n_noise))
        if self.report_estimate:
            # The model's normaliser as NCE sees it: log E_q[phi / q], which
            # NCE drives to 0.
            self.batch_estimate = float(log_mean_exp(log_ratio_noise.detach()))
        weight = float(self.noise_weight or self.n_noise)
        return noisier_nce_loss(log_ratio_data, log_ratio_noise, weight)


class ConditionalNoiseObjective(_NoiseDrawingObjective):
    """Conditional NCE: each data row against ``n_noise`` draws from ``pn(y | x)``.

    The critic returns ``log phi`` (unnormalised); see
    :func:`~.losses.cnce_loss`. The correction ``log pn(y | x) - log pn(x | y)``
    is computed unless the noise declares itself ``symmetric``. Validation
    noise comes from a fixed generator, so that early stopping watches a loss
    that does not move by chance alone.

    Parameters
    ----------
    noise : Noise
        A fitted noise with ``sample_given`` and ``log_prob_given``
        (an unconditional noise gives global jumps).
    n_noise : int
        ``kappa``, noise draws per data row.
    validation_noise : Noise or None, default=None
        A fitted unconditional density whose global jumps score the held-out
        rows instead (see :class:`_NoiseDrawingObjective`).
    """

    def forward(self, critic, X, y):
        del y
        noise = self.validation_noise if self._judged() else self.noise
        return self._jump_loss(critic, X, noise)


def log_density(critic, X):
    """The critic's single output as a 1-D tensor: a density model's ``log phi(X)``."""
    return single_scores(critic(X), len(X), "A density model's critic")


def log_ratio_to_noise(critic, X, noise):
    """``log phi(X) - log q(X)``: the classifier's logit against the noise ``q``.

    When the critic is ``exp(f) q`` (a :class:`~.critics.BaseCorrectedDensity`
    over this very noise, as in ``NoisierNCEClassifier``) the two ``log q``
    terms cancel exactly, so only ``f`` is computed: no mixture log density
    per step, which would otherwise cost more than the network.
    """
    if isinstance(critic, BaseCorrectedDensity) and critic.base is noise:
        return critic.correction(X)
    return log_density(critic, X) - noise.log_prob(X)


def _draw_generator(resample):
    """None (torch's seeded global RNG) to resample; a fixed CPU generator to repeat draws."""
    return None if resample else torch.Generator().manual_seed(0)


class TelescopingObjective(nn.Module):
    """Telescoping density-ratio estimation (TRE, Rhodes et al. 2020).

    Builds waymarks ``x_k = c_k x_pos + s_k x_neg`` (``c_k^2 + s_k^2 = 1``)
    from random (positive, negative) pairs, going from ``x_pos`` (k = 0) to
    ``x_neg`` (k = n_steps), and trains head ``k`` of the critic to classify
    ``x_k`` against ``x_{k+1}``. The heads' sum is the log ratio
    ``log p_pos/p_neg``. Each neighbouring pair overlaps far more than the
    two end samples do, so no single classifier faces the density chasm.

    ``spacing`` says which coefficient falls linearly (see
    :func:`telescoping_coefficients`): "numerator" (``c_k = 1 - k/n_steps``)
    splits a mean shift into equal steps, each of KL about
    ``KL / n_steps^2``; "denominator" (``s_k = k/n_steps``, the TRE paper's)
    makes the steps next to ``x_pos`` small, which is where the gap from a
    joint distribution (a thin band) to the product of its marginals is
    steepest.

    ``resample_pairs=True`` draws fresh pairs for every training batch (more
    distinct waymarks for stochastic optimizers); False draws the same pairs
    for the same batch every time, which a line-search optimizer (LBFGS)
    needs to see one fixed loss.
    """

    divergence_hint = property(lambda self: _divergence_hint(self.loss))

    def __init__(self, loss, noise_weight, n_steps, resample_pairs=True, spacing="numerator"):
        super().__init__()
        self.loss = loss
        self.noise_weight = float(noise_weight)
        self.n_steps = int(n_steps)
        self.resample_pairs = resample_pairs
        self.spacing = spacing
        pos_coef, neg_coef = telescoping_coefficients(self.n_steps, spacing)
        self.register_buffer("pos_coef", torch.as_tensor(pos_coef, dtype=torch.float32))
        self.register_buffer("neg_coef", torch.as_tensor(neg_coef, dtype=torch.float32))

    def forward(self, critic, X, y):
        X, sample_weight = rows_and_weights(X)
        is_pos = y == 1
        x_pos, x_neg = X[is_pos], X[~is_pos]
        # As many random pairs as rows in the batch. Validation pairs come from
        # a fixed generator so that the validation loss (which early stopping
        # watches) does not move by chance alone.
        n_pairs = len(X)
        generator = _draw_generator(self.training and self.resample_pairs)
        idx_pos = torch.randint(len(x_pos), (n_pairs,), generator=generator).to(X.device)
        idx_neg = torch.randint(len(x_neg), (n_pairs,), generator=generator).to(X.device)
        x_pos, x_neg = x_pos[idx_pos], x_neg[idx_neg]
        # A pair weighs as both its rows: waymark k is drawn from the weighted
        # samples, and each step contrasts the same pairs at k and k + 1.
        pair_weight = {}
        if sample_weight is not None:
            weight = sample_weight[is_pos][idx_pos] * sample_weight[~is_pos][idx_neg]
            pair_weight = {"weight_pos": weight, "weight_neg": weight}
        waymarks = (
            self.pos_coef[:, None, None] * x_pos[None] + self.neg_coef[:, None, None] * x_neg[None]
        )  # (n_steps + 1, n_pairs, n_features)
        flat = waymarks.reshape(-1, X.shape[1])
        scores = as_scores(critic(flat), len(flat))
        if scores.shape[1] != self.n_steps:
            raise ValueError(
                f"telescoping_steps={self.n_steps} needs a critic with {self.n_steps} outputs "
                f"(one per step); the critic returned {scores.shape[1]}."
            )
        scores = scores.reshape(self.n_steps + 1, n_pairs, -1)
        loss, noise_weight = _loss_and_weight(self)
        total = 0.0
        for step in range(self.n_steps):
            total = total + loss(
                scores[step, :, step], scores[step + 1, :, step], noise_weight, **pair_weight
            )
        return total


def telescoping_coefficients(n_steps, spacing="numerator"):
    """Mixing weights ``(c_k, s_k)``, ``c_k^2 + s_k^2 = 1``, for ``k = 0..n_steps``.

    "numerator": ``c_k = 1 - k/n_steps`` falls linearly; "denominator":
    ``s_k = k/n_steps`` rises linearly (Rhodes et al. 2020).
    """
    fraction = torch.linspace(0.0, 1.0, n_steps + 1, dtype=torch.float64)  # k / n_steps
    if spacing == "numerator":
        pos_coef = 1.0 - fraction
        return pos_coef, torch.sqrt(torch.clamp(1.0 - pos_coef**2, min=0.0))
    if spacing == "denominator":
        return torch.sqrt(torch.clamp(1.0 - fraction**2, min=0.0)), fraction
    raise ValueError(f"spacing must be 'numerator' or 'denominator'; got {spacing!r}.")


class InBatchMIObjective(nn.Module):
    """InfoNCE-anchor on in-batch candidates for a two-variable critic.

    ``X`` is a dict batch ``{"x": ..., "y": ...}`` of aligned joint pairs; the
    critic must offer ``score_matrix(x, y)``. Each row's other ``y``s serve as
    its negatives (see :func:`in_batch_tuples`), so no pair outside the batch
    is ever built.

    Parameters
    ----------
    nu : float >= 0 or None
        Anchor weight (0 gives plain InfoNCE). None sets it to the number of
        candidates per tuple, ``K = B - 1`` for a batch of B pairs: the
        anchor class then has prior 1/2, which maximises what the loss says
        about the critic's level (see :func:`anchor_level_information`).
    scoring : {"log", "brier"}
        Proper scoring rule.
    bound : {"anchor", "nwj", "dv", "mine"}, default="anchor"
        "anchor" trains InfoNCE-anchor; "nwj" and "dv" train the critic on
        that variational lower bound instead, with the off-diagonal pairs as
        product-of-marginals samples (``nu`` and ``scoring`` are then unused).
        "mine" trains the DV bound with MINE's running-mean gradient
        correction and is scored (in eval mode) by the DV bound.
    mine_decay : float in (0, 1], default=0.01
        Weight of the newest batch in MINE's running mean.

    Attributes
    ----------
    batch_estimate : float or None
        The MI estimate of the last training batch (the plug-in mean of the
        joint scores for "anchor", the bound for the others), for progress
        display; computed only while ``report_estimate`` is True.
    """

    estimate_name = "mi"
    # Set while a progress bar shows batch_estimate: the float costs a sync
    # per step (~0.1 of a ~1.2 ms training step at 32 pairs), which nothing
    # else needs.
    report_estimate = False

    def __init__(self, nu, scoring, bound="anchor", mine_decay=0.01):
        super().__init__()
        self.nu = None if nu is None else float(nu)
        self.scoring = scoring
        self.bound = bound
        self.mine_decay = float(mine_decay)
        self.batch_estimate = None
        # log of MINE's running mean of mean(exp T) over marginal pairs; NaN
        # until the first training batch sets it.
        self.register_buffer("log_running_mean", torch.tensor(math.nan, dtype=torch.float32))

    def forward(self, critic, X, y=None):
        return self.loss_from_scores(critic.score_matrix(X["x"], X["y"]))

    def loss_from_scores(self, scores):
        """The batch loss from an all-pairs score matrix (B, B), or a stack (M, B, B) of them.

        The diagonals hold the joint pairs.
        """
        loss = self._loss(scores)
        if self.training and self.report_estimate:
            self.batch_estimate = self._estimate(scores, loss)
        return loss

    def _estimate(self, scores, loss):
        """The batch's MI estimate: the plug-in, the bound, or for MINE the DV bound."""
        if self.bound == "anchor":
            return float(_joint_scores(scores).mean().detach())
        if self.bound == "mine":
            return -float(dv_loss(_joint_scores(scores), in_batch_tuples(scores)[1]).detach())
        return -float(loss.detach())

    def _loss(self, scores):
        if self.bound == "anchor":
            nu = scores.shape[-1] - 1 if self.nu is None else self.nu
            if self.scoring == "log":
                return in_batch_anchor_log_loss(scores, nu)
            return infonce_anchor_loss(*in_batch_tuples(scores), nu, self.scoring)
        scores_pos, scores_anchor = in_batch_tuples(scores)
        # The bounds take the joint scores apart (the anchor loss has them
        # as the first entry of each positive tuple already).
        joint = _joint_scores(scores)
        if self.bound == "mine":
            if not self.training:
                return dv_loss(joint, scores_anchor)
            self._update_running_mean(scores_anchor)
            return mine_loss(joint, scores_anchor, self.log_running_mean)
        return BOUND_LOSSES[self.bound](joint, scores_anchor)

    def fit_offset(self, score_matrices, *, max_shift=3.0):
        """The constant ``c`` minimising the mean anchor loss of ``scores + c`` over the batches.

        Stochastic optimisation leaves the critic's level jittering from step
        to step, and the plug-in estimate moves with it one for one. Refitting
        that one free constant by the same proper scoring rule, on many
        batches at once, removes the jitter. The search is bounded (Brent's
        method on ``[-max_shift, max_shift]``): the log score is convex in
        ``c``, but the Brier score is bounded and can be flat far away. A
        ``c`` that does not lower the loss, or is not finite, gives 0, as
        does ``nu=0`` (plain InfoNCE, whose loss no shift moves).

        The bounds' critics are no log ratios as trained, and ``c`` is the
        shift that makes them one: NWJ's optimum is ``1 + log r`` (``c = -1``);
        DV's and MINE's level is free, ``log r + c'`` (``c`` is minus the log
        mean exp of the scores of the product pairs, off the diagonals).
        Without it their plug-in read the critic as the log ratio (review: NWJ
        1.50 nats on new pairs for a true 0.5, DV 0.02).

        Parameters
        ----------
        score_matrices : iterable of torch.Tensor of shape (B, B)
            All-pairs score matrices of training batches (of one size).
        max_shift : float, default=3.0
            The largest shift considered, in nats (the jitter is ~0.1).

        Returns
        -------
        offset : float
        """
        if self.bound == "nwj":
            return -1.0
        matrices = [matrix.detach().double() for matrix in score_matrices]
        if not matrices:
            return 0.0
        if self.bound != "anchor":
            products = torch.cat([in_batch_tuples(matrix)[1].reshape(-1) for matrix in matrices])
            level = float(log_mean_exp(products))
            return -level if np.isfinite(level) else 0.0
        if self.nu == 0:
            # Plain InfoNCE does not move with a shift: the search's "better"
            # shift was float rounding, anywhere in [-3, 3] (a review).
            return 0.0
        # One (M, B, B) stack: every matrix has the same number of tuples, so
        # the loss over the stack is the mean of the per-matrix losses.
        stacked = torch.stack(matrices)

        def mean_loss(shift):
            with torch.no_grad():
                return float(self._loss(stacked + shift))

        result = minimize_scalar(
            mean_loss, bounds=(-max_shift, max_shift), method="bounded", options={"xatol": 1e-4}
        )
        offset = float(result.x)
        if not (np.isfinite(result.fun) and result.fun < mean_loss(0.0)):
            return 0.0
        return offset

    def _update_running_mean(self, scores_marginal):
        log_mean = log_mean_exp(scores_marginal.detach())
        if torch.isnan(self.log_running_mean):
            self.log_running_mean.copy_(log_mean)
            return
        # running_mean <- (1 - decay) running_mean + decay mean_exp, in log space.
        decay = torch.tensor(self.mine_decay, dtype=log_mean.dtype)
        updated = torch.logaddexp(
            torch.log1p(-decay) + self.log_running_mean, torch.log(decay) + log_mean
        )
        self.log_running_mean.copy_(updated)


def anchor_level_information(n_candidates, nu):
    """Fisher information about the critic's level per tuple, at the optimum.

    Shifting every score by ``c`` changes only the anchor class's probability
    ``p = nu / (K + nu)`` (its expectation under the truth, with
    ``E_p(y) r = 1``); a (K+1)-way proper score carries ``p (1 - p)`` about
    ``c``. With ``nu = 1`` and ``K = 127`` that is 1/128: the level is pinned
    by a hundredth of the data, and it drifts (by +3 nats on a 2000-row
    sine relation). ``nu = K`` gives the maximum, 1/4, as for a balanced
    binary classifier.
    """
    prob_anchor = nu / (n_candidates + nu)
    return prob_anchor * (1.0 - prob_anchor)


def in_batch_tuples(scores):
    """Split all-pairs score matrices into positive and anchor tuples of K = B - 1 candidates.

    Row i of a matrix (shape (B, B); ``scores`` may stack M of them as
    (M, B, B)) scores ``x_i`` against every ``y_j``; the diagonal holds the
    joint pairs. The positive tuple of row i is its diagonal score followed
    by B - 2 of its off-diagonal scores; its anchor tuple is all B - 1
    off-diagonal scores (every candidate from p(y)). Both tuples have the
    same K, as the anchor priors ``K / (K + nu)`` require. The tuples of all
    matrices are returned as rows, (M * B, B - 1) each.
    """
    n = _pairs_per_batch(scores)
    lead = scores.shape[:-2]
    # Row-major, the off-diagonal entries of a matrix are its flat entries
    # without the first, cut into n - 1 rows of n + 1 whose last entry is the
    # next diagonal one: views and one copy, where a boolean mask costs a
    # nonzero and a scatter in the backward pass.
    flat = scores.reshape(*lead, n * n)[..., 1:]
    negatives = flat.reshape(*lead, n - 1, n + 1)[..., :-1].reshape(-1, n - 1)
    positives = torch.cat([_joint_scores(scores)[:, None], negatives[:, 1:]], dim=1)
    return positives, negatives


def in_batch_anchor_log_loss(scores, nu):
    """``infonce_anchor_loss(*in_batch_tuples(scores), nu, "log")``, without building the tuples.

    Each tuple's log-sum-exp is taken over its row of the score matrix with
    the one entry it leaves out masked (the diagonal for the anchor tuple,
    the first off-diagonal entry for the positive one), and the anchor logit
    ``log nu`` is added by ``logaddexp``: the same value and gradient for
    ~2/3 of the time (no copies, no concatenation), which is ~8% of a
    training step at 32 pairs.

    Parameters
    ----------
    scores : torch.Tensor of shape (B, B) or (M, B, B)
        All-pairs score matrices; the diagonals hold the joint pairs.
    nu : float >= 0
        Anchor weight (0 gives plain InfoNCE).
    """
    n = _pairs_per_batch(scores)
    eye, first = _tuple_masks(n, scores.device)
    n_candidates = n - 1
    # new_full fills on the device; new_tensor would copy from the host,
    # which a CUDA graph cannot capture.
    log_nu = scores.new_full((), math.log(nu) if nu > 0 else -math.inf)
    lse_pos = torch.logaddexp(torch.logsumexp(scores.masked_fill(first, -math.inf), -1), log_nu)
    pos_term = (lse_pos - scores.diagonal(dim1=-2, dim2=-1)).mean()
    if nu == 0:
        return pos_term
    lse_anchor = torch.logaddexp(torch.logsumexp(scores.masked_fill(eye, -math.inf), -1), log_nu)
    weight_pos = n_candidates / (n_candidates + nu)
    return weight_pos * pos_term + (1.0 - weight_pos) * (lse_anchor.mean() - log_nu)


def _pairs_per_batch(scores):
    """B of (B, B) score matrices, refusing batches too small for a tuple of 2 candidates."""
    n = scores.shape[-1]
    if n < 3:
        raise ValueError(f"In-batch InfoNCE needs at least 3 pairs per batch; got {n}.")
    return n


@functools.lru_cache(maxsize=8)
def _tuple_masks(n, device):
    """The diagonal, and each row's first off-diagonal entry, of an n x n matrix."""
    # Cached masks must be ordinary tensors even when first built under
    # inference mode (e.g. by a score()), or a later fit could not use them.
    with torch.inference_mode(False):
        eye = torch.eye(n, dtype=torch.bool, device=device)
        # Column 0, or column 1 for row 0: the candidate in_batch_tuples
        # leaves out of the positive tuple.
        first = torch.zeros_like(eye)
        first[1:, 0] = True
        first[0, 1] = True
    return eye, first


def _joint_scores(scores):
    """The diagonals (joint pairs) of one or more score matrices, as one vector."""
    return scores.diagonal(dim1=-2, dim2=-1).reshape(-1)
