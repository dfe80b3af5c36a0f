"""Contrastive losses as pure functions of critic outputs.

Every loss here takes the critic's output on *positive* samples (the numerator
sample, or data) and on *negative* samples (the denominator sample, or noise)
and returns a scalar to minimise. The critic output is parameterised as a log
density ratio ``h(x) = log p_pos(x) / p_neg(x)``: every loss below is a proper
scoring rule whose population minimiser is exactly that log ratio, whatever
the class sizes or the noise weight. Keeping the parameterisation fixed means
the estimators never need to undo a prior shift after training.

The noise weight ``M`` says how many negatives each positive is contrasted
with, *as if* the negative sample were ``M`` times its size. The implied
classifier logit is ``h - log M``:

* ``M = n_neg / n_pos`` reproduces logistic regression on the stacked samples
  (vanilla NCE with its class-prior correction);
* a large ``M`` gives "Noisier" NCE: positives get gradient weight
  ``M / (r + M)`` and negatives ``M r / (r + M)``, which tend to ``1`` and
  ``r`` (the maximum-likelihood / KLIEP gradient) as ``M`` grows.
"""

import math

import torch
import torch.nn.functional as F

# A class's sample weights in a batch sum to at least this before dividing:
# a batch whose rows of one class all weigh 0 adds 0 for that class, not NaN.
_MIN_WEIGHT_SUM = 1e-12

__all__ = [
    "LOSSES",
    "SCORING_RULES",
    "BOUND_LOSSES",
    "balanced_log_likelihood",
    "dv_loss",
    "brier_loss",
    "cnce_loss",
    "infonce_anchor_loss",
    "mine_loss",
    "infonce_loss",
    "log_mean_exp",
    "logistic_loss",
    "lsif_loss",
    "noisier_nce_loss",
    "nwj_loss",
    "two_sample_loss",
]


def logistic_loss(
    log_ratio_pos, log_ratio_neg, noise_weight=1.0, weight_pos=None, weight_neg=None
):
    """Binary NCE: mean logistic loss over a virtual stacked sample.

    Parameters
    ----------
    log_ratio_pos, log_ratio_neg : torch.Tensor of shape (n_pos,), (n_neg,)
        Critic outputs ``h`` on positive and negative samples.
    noise_weight : float, default=1.0
        Virtual number of negatives per positive (the class-prior ratio
        ``n_neg / n_pos``). The optimum is ``h = log r`` for any value.
    weight_pos, weight_neg : torch.Tensor of shape (n_pos,), (n_neg,) or None
        Row weights: each mean becomes a weighted mean, as if a row of
        weight 2 were two rows (the same for the other losses here).

    Returns
    -------
    loss : torch.Tensor of shape ()
        ``[mean softplus(-g_pos) + M mean softplus(g_neg)] / (1 + M)`` with
        ``g = h - log M``: the average cross-entropy per stacked sample.
    """
    total = _weighted_logistic(log_ratio_pos, log_ratio_neg, noise_weight, weight_pos, weight_neg)
    return total / (1.0 + noise_weight)


def noisier_nce_loss(log_ratio_pos, log_ratio_neg, noise_weight, weight_pos=None, weight_neg=None):
    """ "Noisier" NCE: the noise term is weighted by ``M`` at no sampling cost.

    ``mean softplus(-(h_pos - log M)) + M mean softplus(h_neg - log M)``; as
    ``M`` grows its gradient tends to the maximum-likelihood gradient with an
    importance-sampled partition function (see the module docstring).
    """
    return _weighted_logistic(log_ratio_pos, log_ratio_neg, noise_weight, weight_pos, weight_neg)


def brier_loss(log_ratio_pos, log_ratio_neg, noise_weight=1.0, weight_pos=None, weight_neg=None):
    """Brier (squared-error) score of the implied class probability.

    ``p = sigmoid(h - log M)``; the loss is
    ``[mean (1 - p_pos)^2 + M mean p_neg^2] / (1 + M)``. Bounded per sample, so
    it is less swayed than the log score by a few confidently wrong points.
    """
    shift = math.log(noise_weight)
    prob_pos = torch.sigmoid(log_ratio_pos - shift)
    prob_neg = torch.sigmoid(log_ratio_neg - shift)
    total = _mean((1.0 - prob_pos).square(), weight_pos) + noise_weight * _mean(
        prob_neg.square(), weight_neg
    )
    return total / (1.0 + noise_weight)


def lsif_loss(log_ratio_pos, log_ratio_neg, noise_weight=1.0, weight_pos=None, weight_neg=None):
    """Least-squares importance fitting: ``0.5 mean r_neg^2 - mean r_pos``.

    The squared loss on the ratio ``r = exp(h)`` itself (uLSIF with a neural
    model). ``noise_weight`` is accepted for a uniform signature; the LSIF
    optimum ``r = p_pos / p_neg`` does not depend on it.
    """
    del noise_weight
    return 0.5 * _mean(torch.exp(2.0 * log_ratio_neg), weight_neg) - _mean(
        torch.exp(log_ratio_pos), weight_pos
    )


def balanced_log_likelihood(log_ratio_pos, log_ratio_neg):
    """Class-balanced log-likelihood of the two-sample classifier (higher is better).

    The mean over the two samples of ``log P(correct sample | x)`` with equal
    priors; 0 is perfect, ``-log 2`` is chance. Used as the held-out ``score``
    so that models trained with different losses are compared on one scale.
    """
    return -logistic_loss(log_ratio_pos, log_ratio_neg, noise_weight=1.0)


def infonce_loss(scores):
    """InfoNCE: K-way cross-entropy with the positive candidate in column 0.

    Parameters
    ----------
    scores : torch.Tensor of shape (n_tuples, K)
        Critic scores ``s(x, y_k)`` of each anchor x against K candidates;
        column 0 holds the positive ``y ~ p(y | x)``, the rest ``y ~ p(y)``.

    Returns
    -------
    loss : torch.Tensor of shape ()
        ``mean[-s_0 + logsumexp_k s_k]``. Its optimum is ``log r(x, y) + c(x)``
        for an arbitrary ``c(x)``, so it does not identify the log ratio.
    """
    return (torch.logsumexp(scores, dim=1) - scores[:, 0]).mean()


def infonce_anchor_loss(scores_pos, scores_anchor, nu=1.0, scoring="log"):
    """InfoNCE-anchor: (K+1)-way classification with an anchor class of fixed logit ``log nu``.

    A tuple holds an anchor x and K candidates. With prior ``K / (K + nu)``
    one candidate (column 0 of ``scores_pos``) is the positive; with prior
    ``nu / (K + nu)`` none is (``scores_anchor``, all candidates from p(y))
    and the correct class is the anchor. The Bayes posterior over the K + 1
    classes is proportional to ``[r(x, y_1), ..., r(x, y_K), nu]``, so the
    logits ``[s_1, ..., s_K, log nu]`` are matched only by ``s = log r``: the
    fixed anchor logit pins the constant that InfoNCE leaves free.

    Parameters
    ----------
    scores_pos : torch.Tensor of shape (n_pos_tuples, K)
        Scores of tuples whose positive is in column 0.
    scores_anchor : torch.Tensor of shape (n_anchor_tuples, K)
        Scores of tuples with no positive.
    nu : float > 0, default=1.0
        Anchor weight; ``nu -> 0`` recovers InfoNCE (weight on the anchor
        tuples vanishes).
    scoring : {"log", "brier"}, default="log"
        Proper scoring rule on the (K+1)-class probabilities: "log" is the
        paper's InfoNCE-anchor, "brier" the squared-error generalisation.

    Returns
    -------
    loss : torch.Tensor of shape ()
    """
    n_candidates = scores_pos.shape[1]
    if scores_anchor.shape[1] != n_candidates:
        raise ValueError(
            f"Positive and anchor tuples need the same number of candidates; got "
            f"{n_candidates} and {scores_anchor.shape[1]}."
        )
    rule = SCORING_RULES[scoring]
    weight_pos = n_candidates / (n_candidates + nu)
    pos_term = rule(_with_anchor(scores_pos, nu), 0).mean()
    if nu == 0:
        return pos_term
    anchor_term = rule(_with_anchor(scores_anchor, nu), n_candidates).mean()
    return weight_pos * pos_term + (1.0 - weight_pos) * anchor_term


def nwj_loss(scores_joint, scores_marginal):
    """Negative NWJ bound ``E_p[T] - exp(-1) E_q[exp T]``; its optimum is ``T = 1 + log r``.

    ``scores_joint`` are critic values on joint pairs, ``scores_marginal`` on
    product-of-marginals pairs (any shape; all entries are averaged).
    """
    return -(scores_joint.mean() - torch.exp(log_mean_exp(scores_marginal) - 1.0))


def dv_loss(scores_joint, scores_marginal):
    """Negative Donsker-Varadhan bound ``E_p[T] - log E_q[exp T]``; optimum ``T = log r + c``."""
    return -(scores_joint.mean() - log_mean_exp(scores_marginal))


def mine_loss(scores_joint, scores_marginal, log_running_mean):
    """Surrogate loss whose gradient is MINE's bias-corrected DV gradient (Belghazi et al. 2018).

    The gradient of ``log E_q[exp T]`` estimated on one batch,
    ``grad mean(exp T) / mean(exp T)``, is biased; MINE divides by a running
    mean of ``mean(exp T)`` over past batches instead. This returns
    ``-(mean(T_joint) - mean(exp T_marginal) / running_mean)``, computed in
    log space: its *value* is not the bound (score with :func:`dv_loss`), its
    gradient is MINE's.

    Parameters
    ----------
    scores_joint, scores_marginal : torch.Tensor
        Critic values on joint and on product-of-marginals pairs.
    log_running_mean : torch.Tensor of shape ()
        Log of the running mean of ``mean(exp T_marginal)`` (treated as a
        constant: no gradient flows through it).
    """
    log_mean = log_mean_exp(scores_marginal)
    return -(scores_joint.mean() - torch.exp(log_mean - log_running_mean.detach()))


def cnce_loss(log_phi_data, log_phi_noise, log_noise_correction=None):
    """Conditional NCE (Ceylan & Gutmann 2018): a data point against its own noise draws.

    For data ``x`` and ``kappa`` draws ``y_j ~ pn(y | x)``,
    ``G(x, y) = log phi(x) - log phi(y) + log pn(y | x) - log pn(x | y)`` and
    the loss is ``mean softplus(-G)``, the logistic loss of telling the
    ordered pair (data, noise) from its swap. The partition function cancels
    in ``G``, so ``phi`` is any unnormalised density. This is the paper's
    equation (3) divided by 2.

    Parameters
    ----------
    log_phi_data : torch.Tensor of shape (n_data,)
        Unnormalised log density (negative energy) of the data points.
    log_phi_noise : torch.Tensor of shape (n_data, kappa)
        Unnormalised log density of each data point's noise draws.
    log_noise_correction : torch.Tensor of shape (n_data, kappa) or None
        ``log pn(y | x) - log pn(x | y)``; None for symmetric noise (it is 0).

    Returns
    -------
    loss : torch.Tensor of shape ()
    """
    contrast = log_phi_data.unsqueeze(1) - log_phi_noise
    if log_noise_correction is not None:
        contrast = contrast + log_noise_correction
    return F.softplus(-contrast).mean()


def log_mean_exp(values):
    """``log mean exp(values)`` over every entry, computed stably (a tensor of shape ())."""
    flat = values.reshape(-1)
    return torch.logsumexp(flat, dim=0) - math.log(flat.numel())


#: Variational MI lower bounds trained directly: name -> negative bound.
BOUND_LOSSES = {"nwj": nwj_loss, "dv": dv_loss}


def _with_anchor(scores, nu):
    anchor = torch.full_like(scores[:, :1], math.log(nu) if nu > 0 else -math.inf)
    return torch.cat([scores, anchor], dim=1)


def _log_score(logits, label):
    """Negative log-probability of class ``label`` (the same label for every row)."""
    return torch.logsumexp(logits, dim=1) - logits[:, label]


def _brier_score(logits, label):
    """Squared error between the softmax probabilities and the one-hot of ``label``."""
    probs = torch.softmax(logits, dim=1)
    target = torch.zeros_like(probs)
    target[:, label] = 1.0
    return (probs - target).square().sum(dim=1)


#: Name -> proper scoring rule ``rule(logits, label) -> per-row loss``.
SCORING_RULES = {"log": _log_score, "brier": _brier_score}


def _weighted_logistic(
    log_ratio_pos, log_ratio_neg, noise_weight, weight_pos=None, weight_neg=None
):
    shift = math.log(noise_weight)
    pos_term = _mean(F.softplus(-(log_ratio_pos - shift)), weight_pos)
    neg_term = _mean(F.softplus(log_ratio_neg - shift), weight_neg)
    return pos_term + noise_weight * neg_term


def _mean(values, weight=None):
    """The mean of ``values``, or their ``weight``-weighted mean (0 where the weights sum to 0)."""
    if weight is None:
        return values.mean()
    return (values * weight).sum() / weight.sum().clamp_min(_MIN_WEIGHT_SUM)


def two_sample_loss(loss, log_ratio, is_pos, noise_weight, sample_weight=None):
    """``loss(log_ratio[is_pos], log_ratio[~is_pos], noise_weight)`` of a labelled batch.

    The logistic and noisier losses are computed on the batch as it comes,
    each row weighted by its class (1 / n_pos, or M / n_neg), instead of being
    split by label first: the same value and gradient, without the two boolean
    gathers and their backward scatters, which cost ~10% of a training step of
    the default density-ratio critic. Other losses are split and called.
    ``sample_weight`` (per row, or None) makes each class's mean a weighted one.

    Parameters
    ----------
    loss : callable
        ``loss(log_ratio_pos, log_ratio_neg, noise_weight) -> scalar``.
    log_ratio : torch.Tensor of shape (n,)
        Critic outputs on the whole batch.
    is_pos : torch.Tensor of bool, shape (n,)
        Which rows are positives; the batch must hold both classes.
    noise_weight : float
        Passed to ``loss``.
    sample_weight : torch.Tensor of shape (n,) or None, default=None
        Row weights, passed to ``loss`` split by label.
    """
    if loss is logistic_loss or loss is noisier_nce_loss:
        scale = 1.0 / (1.0 + noise_weight) if loss is logistic_loss else 1.0
        return _weighted_logistic_by_label(log_ratio, is_pos, noise_weight, scale, sample_weight)
    if sample_weight is None:
        return loss(log_ratio[is_pos], log_ratio[~is_pos], noise_weight)
    return loss(
        log_ratio[is_pos],
        log_ratio[~is_pos],
        noise_weight,
        weight_pos=sample_weight[is_pos],
        weight_neg=sample_weight[~is_pos],
    )


def _weighted_logistic_by_label(log_ratio, is_pos, noise_weight, scale=1.0, sample_weight=None):
    # scale * _weighted_logistic as one weighted binary cross-entropy of the
    # classifier logit h - log M: positives weigh 1 / n_pos, negatives
    # M / n_neg (with sample weights s: s / sum s over the row's class). torch's
    # fused BCE is one autograd node where softplus, signs and weights written
    # out are six; the weights come from the labels and need no gradient.
    target = is_pos.to(log_ratio.dtype)
    if sample_weight is None:
        n_pos = target.sum()
        weight = torch.where(is_pos, scale / n_pos, scale * noise_weight / (len(target) - n_pos))
    else:
        sum_pos = (sample_weight * target).sum()
        sum_neg = sample_weight.sum() - sum_pos
        weight = sample_weight * torch.where(
            is_pos,
            scale / sum_pos.clamp_min(_MIN_WEIGHT_SUM),
            scale * noise_weight / sum_neg.clamp_min(_MIN_WEIGHT_SUM),
        )
    if noise_weight != 1.0:
        log_ratio = log_ratio - math.log(noise_weight)
    return F.binary_cross_entropy_with_logits(log_ratio, target, weight=weight, reduction="sum")


#: Name -> loss function; every function has the signature
#: ``loss(log_ratio_pos, log_ratio_neg, noise_weight, weight_pos=None, weight_neg=None)``.
LOSSES = {
    "logistic": logistic_loss,
    "noisier": noisier_nce_loss,
    "brier": brier_loss,
    "lsif": lsif_loss,
}
