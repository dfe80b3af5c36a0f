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

__all__ = [
    "LOSSES",
    "balanced_log_likelihood",
    "brier_loss",
    "logistic_loss",
    "lsif_loss",
    "noisier_nce_loss",
]


def logistic_loss(log_ratio_pos, log_ratio_neg, noise_weight=1.0):
    """Binary NCE: mean logistic loss over a virtual stacked sample.

    Parameters
    ----------
    log_ratio_pos, log_ratio_neg : torch.Tensor of shape (n_pos,), (n_neg,)
        Critic outputs ``h`` on positive and negative samples.
    noise_weight : float, default=1.0
        Virtual number of negatives per positive (the class-prior ratio
        ``n_neg / n_pos``). The optimum is ``h = log r`` for any value.

    Returns
    -------
    loss : torch.Tensor of shape ()
        ``[mean softplus(-g_pos) + M mean softplus(g_neg)] / (1 + M)`` with
        ``g = h - log M``: the average cross-entropy per stacked sample.
    """
    return _weighted_logistic(log_ratio_pos, log_ratio_neg, noise_weight) / (1.0 + noise_weight)


def noisier_nce_loss(log_ratio_pos, log_ratio_neg, noise_weight):
    """ "Noisier" NCE: the noise term is weighted by ``M`` at no sampling cost.

    ``mean softplus(-(h_pos - log M)) + M mean softplus(h_neg - log M)``; as
    ``M`` grows its gradient tends to the maximum-likelihood gradient with an
    importance-sampled partition function (see the module docstring).
    """
    return _weighted_logistic(log_ratio_pos, log_ratio_neg, noise_weight)


def brier_loss(log_ratio_pos, log_ratio_neg, noise_weight=1.0):
    """Brier (squared-error) score of the implied class probability.

    ``p = sigmoid(h - log M)``; the loss is
    ``[mean (1 - p_pos)^2 + M mean p_neg^2] / (1 + M)``. Bounded per sample, so
    it is less swayed than the log score by a few confidently wrong points.
    """
    shift = math.log(noise_weight)
    prob_pos = torch.sigmoid(log_ratio_pos - shift)
    prob_neg = torch.sigmoid(log_ratio_neg - shift)
    total = (1.0 - prob_pos).square().mean() + noise_weight * prob_neg.square().mean()
    return total / (1.0 + noise_weight)


def lsif_loss(log_ratio_pos, log_ratio_neg, noise_weight=1.0):
    """Least-squares importance fitting: ``0.5 mean r_neg^2 - mean r_pos``.

    The squared loss on the ratio ``r = exp(h)`` itself (uLSIF with a neural
    model). ``noise_weight`` is accepted for a uniform signature; the LSIF
    optimum ``r = p_pos / p_neg`` does not depend on it.
    """
    del noise_weight
    return 0.5 * torch.exp(2.0 * log_ratio_neg).mean() - torch.exp(log_ratio_pos).mean()


def balanced_log_likelihood(log_ratio_pos, log_ratio_neg):
    """Class-balanced log-likelihood of the two-sample classifier (higher is better).

    The mean over the two samples of ``log P(correct sample | x)`` with equal
    priors; 0 is perfect, ``-log 2`` is chance. Used as the held-out ``score``
    so that models trained with different losses are compared on one scale.
    """
    return -logistic_loss(log_ratio_pos, log_ratio_neg, noise_weight=1.0)


def _weighted_logistic(log_ratio_pos, log_ratio_neg, noise_weight):
    shift = math.log(noise_weight)
    pos_term = F.softplus(-(log_ratio_pos - shift)).mean()
    neg_term = F.softplus(log_ratio_neg - shift).mean()
    return pos_term + noise_weight * neg_term


#: Name -> loss function; every function has the signature
#: ``loss(log_ratio_pos, log_ratio_neg, noise_weight)``.
LOSSES = {
    "logistic": logistic_loss,
    "noisier": noisier_nce_loss,
    "brier": brier_loss,
    "lsif": lsif_loss,
}
