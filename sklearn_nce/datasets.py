"""Synthetic problems whose ground truth is known in closed form.

:class:`GaussianPair` holds two multivariate normals (numerator and
denominator) and gives their exact log density ratio and KL divergence; the
``make_*`` constructors set one up at a requested KL. These are what the
tests and benchmarks measure the estimators against.
"""

import numpy as np
from scipy.optimize import brentq
from scipy.stats import multivariate_normal
from sklearn.utils import check_random_state

__all__ = ["GaussianPair", "make_mean_shift", "make_scale_change"]


class GaussianPair:
    """Two Gaussians ``p_nu = N(mean_nu, cov_nu)`` and ``p_de = N(mean_de, cov_de)``.

    Parameters
    ----------
    mean_numerator, mean_denominator : array-like of shape (n_features,)
        Means of the numerator and denominator distributions.
    cov_numerator, cov_denominator : array-like of shape (n_features, n_features)
        Covariance matrices (symmetric positive definite).

    Examples
    --------
    >>> from sklearn_nce.datasets import make_mean_shift
    >>> pair = make_mean_shift(n_features=3, kl=2.0)
    >>> round(pair.kl, 6)
    2.0
    >>> X, y = pair.sample(100, 200, random_state=0)
    >>> X.shape, int(y.sum())
    ((300, 3), 100)
    """

    def __init__(self, mean_numerator, cov_numerator, mean_denominator, cov_denominator):
        self.numerator = multivariate_normal(mean_numerator, cov_numerator)
        self.denominator = multivariate_normal(mean_denominator, cov_denominator)

    @property
    def n_features(self):
        return self.numerator.dim

    @property
    def kl(self):
        """KL(p_nu || p_de) in nats, in closed form."""
        mean_diff = self.denominator.mean - self.numerator.mean
        cov_nu, cov_de = self.numerator.cov, self.denominator.cov
        cov_de_inv = np.linalg.inv(cov_de)
        _, logdet_nu = np.linalg.slogdet(cov_nu)
        _, logdet_de = np.linalg.slogdet(cov_de)
        return 0.5 * float(
            np.trace(cov_de_inv @ cov_nu)
            + mean_diff @ cov_de_inv @ mean_diff
            - self.n_features
            + logdet_de
            - logdet_nu
        )

    def log_ratio(self, X):
        """Exact ``log p_nu(x) - log p_de(x)`` for each row of X."""
        X = np.asarray(X, dtype=np.float64)
        # scipy squeezes a single row to a scalar; keep shape (n_samples,).
        return np.atleast_1d(self.numerator.logpdf(X) - self.denominator.logpdf(X))

    def sample(self, n_numerator, n_denominator, random_state=None):
        """Draw a two-sample data set: ``X`` stacked, ``y = 1`` for numerator rows.

        Returns
        -------
        X : ndarray of shape (n_numerator + n_denominator, n_features)
        y : ndarray of shape (n_numerator + n_denominator,)
        """
        rng = check_random_state(random_state)
        shape = (-1, self.n_features)
        X_nu = np.reshape(self.numerator.rvs(n_numerator, random_state=rng), shape)
        X_de = np.reshape(self.denominator.rvs(n_denominator, random_state=rng), shape)
        X = np.vstack([X_nu, X_de])
        y = np.r_[np.ones(n_numerator, dtype=int), np.zeros(n_denominator, dtype=int)]
        return X, y


def make_mean_shift(n_features=5, kl=2.5):
    """``N(mu, I)`` over ``N(0, I)`` with ``mu`` along the diagonal and ``|mu|^2 / 2 = kl``.

    The true log ratio is linear, ``mu.x - |mu|^2/2``; its variance on the
    denominator sample is ``2 kl``.
    """
    identity = np.eye(n_features)
    mean = np.full(n_features, np.sqrt(2.0 * kl / n_features))
    return GaussianPair(mean, identity, np.zeros(n_features), identity)


def make_scale_change(n_features=5, kl=2.5):
    """``N(0, s^2 I)`` over ``N(0, I)`` with ``s > 1`` chosen so that KL equals ``kl``.

    The numerator is the wider one, as a test set that spreads beyond the
    training domain; the true log ratio is quadratic.
    """
    per_dim = kl / n_features

    def kl_gap(log_var):
        return 0.5 * (np.exp(log_var) - 1.0 - log_var) - per_dim

    log_var = brentq(kl_gap, 0.0, 2.0 * per_dim + 10.0)
    identity = np.eye(n_features)
    zeros = np.zeros(n_features)
    return GaussianPair(zeros, np.exp(log_var) * identity, zeros, identity)
