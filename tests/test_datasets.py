"""Tests of the synthetic ground-truth problems in sklearn_nce.datasets."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from sklearn_nce.datasets import GaussianPair, make_mean_shift, make_scale_change


def _general_pair():
    """A 2-D pair with different means and correlated, different covariances."""
    return GaussianPair(
        mean_numerator=[0.5, -1.0],
        cov_numerator=[[1.5, 0.4], [0.4, 0.6]],
        mean_denominator=[0.0, 0.3],
        cov_denominator=[[2.0, -0.3], [-0.3, 1.0]],
    )


PAIRS = {
    "mean_shift": lambda: make_mean_shift(n_features=3, kl=1.5),
    "scale_change": lambda: make_scale_change(n_features=3, kl=1.5),
    "general": _general_pair,
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_kl_matches_monte_carlo(name):
    pair = PAIRS[name]()
    X_nu = pair.numerator.rvs(20_000, random_state=0)
    log_ratio = pair.log_ratio(X_nu)
    estimate = log_ratio.mean()
    # KL = E_nu[log r]; the Monte-Carlo mean has standard error
    # std(log r) / sqrt(n) (about 0.01 here). Five standard errors fail by
    # chance with probability < 1e-6, while a wrong term in the closed form
    # (e.g. a missing log-determinant or trace) moves it by far more.
    standard_error = log_ratio.std(ddof=1) / np.sqrt(len(log_ratio))
    assert abs(pair.kl - estimate) < 5 * standard_error
    assert pair.kl > 0


def test_kl_is_zero_for_identical_distributions():
    pair = GaussianPair([1.0, 2.0], np.eye(2), [1.0, 2.0], np.eye(2))
    assert pair.kl == pytest.approx(0.0, abs=1e-12)
    assert np.allclose(pair.log_ratio(np.random.default_rng(0).normal(size=(5, 2))), 0.0)


@pytest.mark.parametrize("n_features", [1, 2, 5, 20])
@pytest.mark.parametrize("kl", [0.1, 2.5, 20.0])
def test_make_mean_shift_hits_kl(n_features, kl):
    pair = make_mean_shift(n_features=n_features, kl=kl)
    assert pair.n_features == n_features
    assert pair.kl == pytest.approx(kl, rel=1e-10)
    # N(mu, I) over N(0, I): KL = |mu|^2 / 2 with equal covariances.
    mu = pair.numerator.mean
    assert 0.5 * mu @ mu == pytest.approx(kl, rel=1e-10)
    np.testing.assert_array_equal(pair.denominator.mean, np.zeros(n_features))
    np.testing.assert_array_equal(pair.numerator.cov, np.eye(n_features))


@pytest.mark.parametrize("n_features", [1, 2, 5, 20])
@pytest.mark.parametrize("kl", [0.1, 2.5, 20.0])
def test_make_scale_change_hits_kl(n_features, kl):
    pair = make_scale_change(n_features=n_features, kl=kl)
    assert pair.kl == pytest.approx(kl, rel=1e-8)
    # The numerator is the wider, isotropic one; both are centred.
    variance = pair.numerator.cov[0, 0]
    assert variance > 1.0
    np.testing.assert_allclose(pair.numerator.cov, variance * np.eye(n_features))
    np.testing.assert_array_equal(pair.denominator.cov, np.eye(n_features))
    np.testing.assert_array_equal(pair.numerator.mean, np.zeros(n_features))


def test_mean_shift_log_ratio_is_linear():
    # Closed form from the docstring: log r(x) = mu.x - |mu|^2 / 2.
    pair = make_mean_shift(n_features=4, kl=2.0)
    X = np.random.default_rng(0).normal(size=(50, 4))
    mu = pair.numerator.mean
    np.testing.assert_allclose(pair.log_ratio(X), X @ mu - mu @ mu / 2, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_log_ratio_agrees_with_scipy(name):
    pair = PAIRS[name]()
    # Rebuild both densities from scratch with scipy and compare pointwise.
    numerator = multivariate_normal(pair.numerator.mean, pair.numerator.cov)
    denominator = multivariate_normal(pair.denominator.mean, pair.denominator.cov)
    X = np.random.default_rng(1).normal(scale=2.0, size=(40, pair.n_features))
    expected = numerator.logpdf(X) - denominator.logpdf(X)
    got = pair.log_ratio(X)
    assert got.shape == (40,)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_log_ratio_general_pair_by_hand():
    # One point, written out: log N(x; m, S) = -0.5 (d log 2pi + log|S| + q).
    pair = _general_pair()
    X = np.array([[0.7, -0.2], [-1.0, 2.0]])

    def log_normal(x, mean, cov):
        diff = x - np.asarray(mean)
        q = diff @ np.linalg.solve(cov, diff)
        return -0.5 * (2 * np.log(2 * np.pi) + np.log(np.linalg.det(cov)) + q)

    expected = [
        log_normal(x, [0.5, -1.0], [[1.5, 0.4], [0.4, 0.6]])
        - log_normal(x, [0.0, 0.3], [[2.0, -0.3], [-0.3, 1.0]])
        for x in X
    ]
    assert pair.log_ratio(X).tolist() == pytest.approx(expected, rel=1e-10)


def test_log_ratio_single_row_keeps_shape():
    pair = make_mean_shift(n_features=2, kl=1.0)
    assert pair.log_ratio(np.zeros((1, 2))).shape == (1,)


@pytest.mark.parametrize("n_features", [1, 3])
def test_sample_shapes_and_labels(n_features):
    pair = make_mean_shift(n_features=n_features, kl=1.0)
    X, y = pair.sample(7, 13, random_state=0)
    assert X.shape == (20, n_features)
    assert y.shape == (20,)
    assert y.dtype.kind == "i"
    np.testing.assert_array_equal(y, np.r_[np.ones(7), np.zeros(13)])


def test_sample_single_row_per_sample():
    pair = make_mean_shift(n_features=3, kl=1.0)
    X, y = pair.sample(1, 1, random_state=0)
    assert X.shape == (2, 3)
    np.testing.assert_array_equal(y, [1, 0])


def test_sample_with_an_empty_numerator():
    pair = make_mean_shift(n_features=3, kl=1.0)
    X, y = pair.sample(0, 5, random_state=0)
    assert X.shape == (5, 3)
    np.testing.assert_array_equal(y, np.zeros(5))


def test_sample_rows_come_from_the_labelled_distribution():
    pair = make_mean_shift(n_features=2, kl=2.0)
    X, y = pair.sample(4000, 4000, random_state=0)
    # Each coordinate has unit variance, so a sample mean of 4000 rows has
    # standard error 1/sqrt(4000) ~ 0.016; 0.08 is five standard errors.
    np.testing.assert_allclose(X[y == 1].mean(axis=0), pair.numerator.mean, atol=0.08)
    np.testing.assert_allclose(X[y == 0].mean(axis=0), pair.denominator.mean, atol=0.08)


def test_sample_reproducible_with_random_state():
    pair = make_scale_change(n_features=3, kl=1.0)
    X1, y1 = pair.sample(30, 20, random_state=42)
    X2, y2 = pair.sample(30, 20, random_state=42)
    X3, _ = pair.sample(30, 20, random_state=43)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(X1, X3)
    # A RandomState instance is accepted and advanced, as in scikit-learn.
    rng = np.random.RandomState(42)
    X4, _ = pair.sample(30, 20, random_state=rng)
    X5, _ = pair.sample(30, 20, random_state=rng)
    np.testing.assert_array_equal(X4, X1)
    assert not np.allclose(X4, X5)
