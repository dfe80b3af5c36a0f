"""Noise distributions, the CNCE loss and the sampling core against closed forms."""

import copy
import math
import pickle

import numpy as np
import pytest
import torch
from scipy.integrate import trapezoid
from scipy.special import logsumexp
from scipy.stats import multivariate_normal, norm
from sklearn.neighbors import KernelDensity

from sklearn_nce import NoisierNCEClassifier
from sklearn_nce._core import noise as noise_module
from sklearn_nce._core.critics import BaseCorrectedDensity
from sklearn_nce._core.losses import cnce_loss
from sklearn_nce._core.noise import (
    AdaptiveKernelDensityNoise,
    BoxDensity,
    CauchyNoise,
    DefensiveMixture,
    GaussianMixtureNoise,
    GaussianNoise,
    KernelDensityNoise,
    LocalJumps,
    MixedJumps,
    SelectedDensity,
    StackedDensity,
    _cross_weighed_stack,
    _pooled_mixtures,
    auto_jump_scale,
    cv_bandwidth,
    fit_gaussian_mixture,
    make_noise,
    rate_scaled,
    scott_bandwidth,
    stacking_weights,
)
from sklearn_nce._core.objectives import log_ratio_to_noise
from sklearn_nce._core.sampling import (
    importance_draws,
    importance_log_partition,
    langevin,
    log_partition_statistics,
    pareto_k,
    resample,
)
from sklearn_nce.datasets import IsotropicMixture


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    return rng.randn(400, 3) @ np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 0.5]])


def _t(array):
    return torch.as_tensor(np.asarray(array), dtype=torch.float32)


def test_cnce_loss_hand_computed():
    # G = log phi(x) - log phi(y) (+ correction) = [-1, 1]; softplus(1) and softplus(-1).
    data, noise = torch.tensor([0.0]), torch.tensor([[1.0, -1.0]])
    expected = (math.log1p(math.e) + math.log1p(math.exp(-1.0))) / 2
    assert cnce_loss(data, noise).item() == pytest.approx(expected, rel=1e-6)
    # A correction log pn(y|x) - log pn(x|y) of 0.5 on the first pair: G = [-0.5, 1].
    corrected = cnce_loss(data, noise, torch.tensor([[0.5, 0.0]])).item()
    expected = (math.log1p(math.exp(0.5)) + math.log1p(math.exp(-1.0))) / 2
    assert corrected == pytest.approx(expected, rel=1e-6)


def test_gaussian_noise_matches_scipy(data):
    noise = GaussianNoise().fit(data)
    truth = multivariate_normal(data.mean(0), np.cov(data, rowvar=False))
    np.testing.assert_allclose(
        noise.log_prob(_t(data[:20])).numpy(), truth.logpdf(data[:20]), rtol=1e-4
    )
    draws = noise.sample(20_000, torch.Generator().manual_seed(0)).numpy()
    # 20 000 draws: the mean's standard error is < 0.01 per coordinate.
    np.testing.assert_allclose(draws.mean(0), data.mean(0), atol=0.04)
    np.testing.assert_allclose(np.cov(draws, rowvar=False), truth.cov, atol=0.05)


def test_gaussian_noise_ridge_is_relative_to_each_column():
    # A ridge of the mean variance turned a column of sd 0.1 beside one of
    # sd 1e4 into sd 7.07 (a review); per column, each keeps its sd to
    # sqrt(1 + 1e-6).
    rng = np.random.RandomState(0)
    X = np.c_[1e4 * rng.normal(size=500), 0.1 * rng.normal(size=500)]
    tril = GaussianNoise().fit(X).scale_trils[0].double().numpy()
    np.testing.assert_allclose(np.sqrt(np.diag(tril @ tril.T)), X.std(0, ddof=1), rtol=1e-5)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_mixture_noise_matches_sklearn(data, covariance_type):
    noise = GaussianMixtureNoise(3, covariance_type, random_state=0).fit(data)
    expected = noise.mixture_.score_samples(data[:20])
    np.testing.assert_allclose(noise.log_prob(_t(data[:20])).numpy(), expected, rtol=1e-4)


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_diagonal_mixture_draws_have_its_covariance(data, covariance_type):
    # Diagonal mixtures sample from per-feature scales, not a Cholesky factor.
    noise = GaussianMixtureNoise(1, covariance_type, random_state=0).fit(data)
    draws = noise.sample(20_000, torch.Generator().manual_seed(0)).numpy()
    expected = np.diag(np.broadcast_to(noise.mixture_.covariances_, (1, 3))[0])
    # Sample variances at 20 000 draws have a relative SE of 1%: 5% is 5 SE.
    np.testing.assert_allclose(np.cov(draws, rowvar=False), expected, rtol=0.05, atol=0.02)


def test_mixture_refit_to_another_type_keeps_no_stale_buffer(data):
    noise = GaussianMixtureNoise(2, "full", random_state=0).fit(data)
    noise.covariance_type = "diag"
    noise.fit(data)
    assert sorted(name for name, _ in noise.named_buffers()) == [
        "log_weights",
        "means",
        "scales",
    ]
    expected = noise.mixture_.score_samples(data[:20])
    np.testing.assert_allclose(noise.log_prob(_t(data[:20])).numpy(), expected, rtol=1e-4)


def test_log_ratio_to_own_base_noise_skips_only_exact_cancellation(data):
    # phi = exp(f) q against q itself: log q cancels; against an equal copy of
    # q it is computed and subtracted, and both give the same logit.
    noise = GaussianMixtureNoise(2, "diag", random_state=0).fit(data)
    network = torch.nn.Linear(3, 1)
    critic = BaseCorrectedDensity(network, noise)
    x = _t(data[:50])
    with torch.no_grad():
        cancelled = log_ratio_to_noise(critic, x, noise)
        computed = log_ratio_to_noise(critic, x, copy.deepcopy(noise))
        np.testing.assert_allclose(cancelled.numpy(), network(x)[:, 0].numpy(), rtol=1e-6)
    np.testing.assert_allclose(cancelled.numpy(), computed.numpy(), atol=1e-4)


def test_mixture_sample_weights_and_means():
    truth = IsotropicMixture([[-3.0, 0.0], [3.0, 0.0]], 0.5, weights=[0.7, 0.3])
    noise = GaussianMixtureNoise(2, random_state=0).fit(truth.sample(2000, random_state=0))
    draws = noise.sample(10_000, torch.Generator().manual_seed(0)).numpy()
    # Binomial SE of a weight at 10 000 draws is 0.005; the fit adds ~0.01.
    assert (draws[:, 0] < 0).mean() == pytest.approx(0.7, abs=0.03)


def test_bic_selects_the_true_count():
    truth = IsotropicMixture([[-4.0, 0.0], [0.0, 4.0], [4.0, 0.0]], 0.5)
    mixture = fit_gaussian_mixture(truth.sample(1500, random_state=0), random_state=0)
    assert mixture.n_components == 3
    assert mixture.covariance_type == "spherical"


def test_bic_gives_no_component_to_a_lone_row():
    # A row 20 standard deviations out in one column got a component of its
    # own (a spike at the covariance floor), which BIC rewards: the outlier
    # detector ranked that training row the most normal of 300 (user test).
    # Such components are dropped; the search still reads the BIC of what EM
    # found (the large diagonal mixtures that rank digits well hold them).
    X = np.random.RandomState(2).normal(size=(300, 4))
    X[0, 2] = 20.0
    for (kind, count), mixture in noise_module.bic_neighbourhood(X, 0, 1e-4).items():
        needed = max(X.shape[1] + 1 if kind == "full" else 2, 5)
        assert mixture.weights_.min() * len(X) >= needed - 1e-9
        assert mixture.asked_components_ == count  # the count asked of EM
        assert mixture.n_components == len(mixture.weights_)  # the count kept
    log_density = fit_gaussian_mixture(X, random_state=0).score_samples(X)
    assert log_density.argmin() == 0
    mixture = fit_gaussian_mixture(X, 8, "diag", random_state=0, reg_covar=1e-4)
    assert len(mixture.weights_) < 8 and mixture.weights_.sum() == pytest.approx(1.0)
    assert mixture.score_samples(X).argmin() == 0
    # A warm start from a pruned mixture starts from the components it kept.
    again = noise_module._em_mixture(X, 8, "diag", 1e-4, 0, start=mixture)
    assert len(again.weights_) == len(mixture.weights_)


def test_two_nearby_anomalies_get_no_component_and_are_flagged():
    # Two rows 6 SD out in every column of 150 normal 4-d rows formed a
    # spherical component of their own, and fit_predict at a contamination of
    # 2/150 flagged 2 of 8 over seeds 0-3 (a user test; IsolationForest 8).
    # A component needs 5 rows: 7 of 8 flagged.
    flagged = 0
    for seed in range(4):
        X = np.random.default_rng(seed).normal(size=(150, 4))
        X[-2:] += 6
        mixture = fit_gaussian_mixture(X, 2, "spherical", random_state=0)
        assert mixture.n_components == 1
        labels = NoisierNCEClassifier(contamination=2 / 150, random_state=seed).fit_predict(X)
        flagged += int((labels[-2:] == -1).sum())
    assert flagged >= 6


@pytest.mark.parametrize("covariance_type", ["diag", "spherical", "full"])
def test_narrow_mixture_components_integrate_to_one(covariance_type):
    # A 3-valued column: spikes of width ~1e-3 (reg_covar 1e-6). The
    # diagonal expansion of the squared distance cancelled in float32 and the
    # mixture integrated to 1.0147 (a review); the full one was exact.
    X = np.random.RandomState(0).choice([-1.0, 0.0, 1.5], 200)[:, None]
    noise = GaussianMixtureNoise(3, covariance_type, random_state=0).fit(X)
    grid = np.arange(-3, 3, 2e-5)
    density = np.exp(noise.log_prob(_t(grid[:, None])).double().numpy())
    # A 2e-5 grid resolves a 1e-3-wide spike to ~1e-6.
    assert trapezoid(density, grid) == pytest.approx(1.0, abs=1e-4)


def test_kde_is_exact_far_from_the_origin():
    # Uncentred, float32 lost |x|^2 / h^2's digits: 0.8 nats off at 1000 sd
    # (a review). Now the float32 rounding of the inputs is what is left.
    X = 1e3 + np.random.RandomState(0).normal(size=(300, 2))
    new = 1e3 + np.random.RandomState(1).normal(size=(50, 2))
    ours = KernelDensityNoise(bandwidth=0.3).fit(X).log_prob(_t(new)).double().numpy()
    expected = KernelDensity(bandwidth=0.3).fit(X).score_samples(new)
    np.testing.assert_allclose(ours, expected, atol=5e-3)


def test_kde_noise_matches_sklearn(data):
    noise = KernelDensityNoise(bandwidth=0.4).fit(data)
    expected = KernelDensity(bandwidth=0.4).fit(data).score_samples(data[:20])
    np.testing.assert_allclose(noise.log_prob(_t(data[:20])).numpy(), expected, rtol=1e-4)
    assert noise.sample(7).shape == (7, 3)


def _narrow_and_wide(n_samples, rng):
    """Half N(0, 0.1^2), half N(4, 2^2), and the mixture's exact log density."""
    narrow = rng.rand(n_samples) < 0.5
    X = np.where(narrow, rng.normal(0, 0.1, n_samples), rng.normal(4, 2, n_samples))[:, None]
    exact = np.log(0.5 * norm.pdf(X, 0, 0.1) + 0.5 * norm.pdf(X, 4, 2))[:, 0]
    return X, exact


def test_adaptive_kde_follows_a_narrow_and_a_wide_cluster():
    rng = np.random.RandomState(0)
    X, _ = _narrow_and_wide(400, rng)
    new, exact = _narrow_and_wide(4000, rng)
    fixed = KernelDensityNoise("cv", random_state=0).fit(X)
    adaptive = AdaptiveKernelDensityNoise(random_state=0).fit(X)
    held_out = {
        kde: kde.log_prob(_t(new)).double().numpy().mean() - exact.mean()
        for kde in (fixed, adaptive)
    }
    # One bandwidth must serve a cluster 20 times narrower than the other:
    # it loses 0.28 nats per new row to the truth, the adaptive kernels 0.06
    # (measured). Over training seeds 0-3 the gap read 0.15-0.22 nats, so
    # 0.1 holds with margin against the 400 training rows' luck.
    assert held_out[adaptive] > held_out[fixed] + 0.1
    widths = adaptive.widths.numpy()
    assert np.median(widths[np.abs(X[:, 0]) < 0.3]) * 5 < np.median(widths[X[:, 0] > 3])
    # Each centre's width is the global bandwidth times its relative width
    # (geometric mean 1), and the density integrates to 1.
    assert np.exp(np.log(widths / adaptive.bandwidth_).mean()) == pytest.approx(1.0, rel=1e-5)
    grid = torch.linspace(-60, 60, 240_001)[:, None]
    density = adaptive.log_prob(grid).exp().numpy()
    assert trapezoid(density, grid[:, 0].numpy()) == pytest.approx(1.0, abs=1e-4)
    # sample() draws from that density: its mass within 0.3 of 0 (about half)
    # against the draws' share (binomial SE 0.0035 at 20 000 draws).
    inside = np.abs(grid[:, 0].numpy()) < 0.3
    mass = trapezoid(density[inside], grid[inside, 0].numpy())
    draws = adaptive.sample(20_000, torch.Generator().manual_seed(0)).numpy()
    assert (np.abs(draws) < 0.3).mean() == pytest.approx(mass, abs=0.012)


def test_adaptive_kde_is_the_sum_of_its_gaussians_far_from_the_origin():
    # The one-product log density against a float64 sum of Gaussians, in 3
    # dimensions, on rows 100 units from the origin (float32 cancellation;
    # before centring on the rows' mean the narrowest kernels were off by 1.3
    # nats there) and with an explicit bandwidth.
    rng = np.random.RandomState(0)
    X = 100.0 + np.r_[0.1 * rng.normal(size=(100, 3)), 2.0 * rng.normal(size=(100, 3))]
    adaptive = AdaptiveKernelDensityNoise(bandwidth=0.5, random_state=0).fit(X)
    widths = adaptive.widths.double().numpy()
    new = X[:50] + 0.05 * rng.normal(size=(50, 3))
    squared = ((new[:, None, :] - X[None]) ** 2).sum(-1)
    log_kernels = -0.5 * squared / widths**2 - 3 * np.log(widths) - 1.5 * math.log(2 * math.pi)
    exact = logsumexp(log_kernels, axis=1) - math.log(len(X))
    np.testing.assert_allclose(adaptive.log_prob(_t(new)).numpy(), exact, atol=1e-3)
    # bandwidth_ times the relative widths (geometric mean 1).
    assert np.exp(np.log(widths / 0.5).mean()) == pytest.approx(1.0, rel=1e-5)
    assert pickle.loads(pickle.dumps(adaptive)).log_prob(_t(new[:3])).numpy() == pytest.approx(
        adaptive.log_prob(_t(new[:3])).numpy()
    )


def test_kdes_are_exact_on_a_tight_cluster():
    # A fifth of the rows within 1e-4 of one point: kernels of width ~3e-5
    # there, and the expanded float32 product read 980 nats off (a review).
    # Such kernels switch log_prob to float64; its error is float64's.
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(400, 4)), 3 + 1e-4 * rng.normal(size=(100, 4))]
    for kde in (
        AdaptiveKernelDensityNoise(random_state=0).fit(X),
        KernelDensityNoise(bandwidth=1e-3).fit(100 + X),
    ):
        centres = kde.centres.double().numpy()
        widths = (kde.widths if hasattr(kde, "widths") else kde.bandwidth_value).double().numpy()
        new = centres[-50:]
        squared = ((new[:, None, :] - centres[None]) ** 2).sum(-1)
        log_kernels = -0.5 * squared / widths**2 - 4 * np.log(widths) - 2 * math.log(2 * math.pi)
        exact = logsumexp(log_kernels, axis=1) - math.log(len(centres))
        np.testing.assert_allclose(kde.log_prob(_t(new)).double().numpy(), exact, atol=1e-4)
        # float64 inside, float32 out, as the float32 product returns.
        assert kde.log_prob(_t(new)).dtype == torch.float32


def test_adaptive_kde_keeps_repeated_rows_apart_and_checks_its_parameters():
    # Integer-valued columns repeat rows; a 10th neighbour at distance 0 is
    # raised to the 10th percentile of the positive distances, so every
    # kernel keeps a width (here at least that percentile times h / mean).
    X = np.random.RandomState(0).randint(1, 5, size=(200, 2)).astype(float)
    adaptive = AdaptiveKernelDensityNoise(bandwidth=0.3).fit(X)
    widths = adaptive.widths.numpy()
    assert widths.min() > 0.01 * 0.3
    assert np.isfinite(adaptive.log_prob(_t(X + 0.5)).numpy()).all()
    scott = AdaptiveKernelDensityNoise(bandwidth="scott").fit(X)
    assert scott.bandwidth_ == pytest.approx(scott_bandwidth(X))
    with pytest.raises(ValueError, match="n_neighbors"):
        AdaptiveKernelDensityNoise(n_neighbors=0).fit(X)


def test_kde_copied_with_another_bandwidth_keeps_its_other_settings():
    # SelectedDensity refits its kernel candidates on all rows this way: an
    # adaptive kernel's n_neighbors must survive, not fall back to the default.
    adaptive = AdaptiveKernelDensityNoise(n_neighbors=3, max_rows=50, random_state=4)
    copied = adaptive._with_bandwidth(0.7)
    assert type(copied) is AdaptiveKernelDensityNoise
    assert (copied.bandwidth, copied.n_neighbors, copied.max_rows, copied.random_state) == (
        0.7,
        3,
        50,
        4,
    )
    fixed = KernelDensityNoise(max_rows=20)._with_bandwidth("cv")
    assert (type(fixed), fixed.bandwidth, fixed.max_rows) == (KernelDensityNoise, "cv", 20)
    X = np.random.RandomState(0).standard_normal((60, 2))
    refitted = SelectedDensity(random_state=0)._refit(adaptive.fit(X[:40]), X)
    assert (type(refitted), refitted.n_neighbors, len(refitted.centres)) == (
        AdaptiveKernelDensityNoise,
        3,
        50,
    )


def test_kde_scott_bandwidth_rule(data):
    noise = KernelDensityNoise().fit(data)
    expected = data.std(axis=0).mean() * len(data) ** (-1 / 7)
    assert noise.bandwidth_ == pytest.approx(expected)


def test_local_jumps_are_symmetric_gaussians(data):
    noise = LocalJumps(scale=0.3).fit(data)
    x = _t(data[:5])
    draws = noise.sample_given(x, 4, torch.Generator().manual_seed(0))
    assert draws.shape == (5, 4, 3)
    forward = noise.log_prob_given(draws, x[:, None])
    backward = noise.log_prob_given(x[:, None], draws)
    torch.testing.assert_close(forward, backward)
    expected = multivariate_normal(data[0], 0.09 * np.eye(3)).logpdf(draws[0].numpy())
    np.testing.assert_allclose(forward[0].numpy(), expected, rtol=1e-4)
    with pytest.raises(NotImplementedError, match="conditional"):
        noise.sample(3)


def test_auto_jump_scale_is_nearest_neighbour_spacing():
    # A regular 1-D grid of spacing 0.1: every nearest neighbour is 0.1 away.
    X = np.arange(0, 10, 0.1)[:, None]
    assert auto_jump_scale(X) == pytest.approx(0.1)


def test_mixed_jumps_density_integrates_to_one():
    X = np.random.RandomState(0).randn(200, 1)
    noise = MixedJumps(LocalJumps(0.2), KernelDensityNoise(0.5), local_proportion=0.7).fit(X)
    grid = torch.linspace(-8, 8, 4001)[:, None]
    x = torch.tensor([[0.3]])
    density = noise.log_prob_given(grid, x).exp().numpy()
    assert trapezoid(density, grid[:, 0].numpy()) == pytest.approx(1.0, abs=1e-3)
    draws = noise.sample_given(x, 20_000, torch.Generator().manual_seed(0))[0, :, 0].numpy()
    # 70% of draws are local jumps within a few 0.2-SDs of 0.3.
    assert np.mean(np.abs(draws - 0.3) < 0.6) > 0.7


def test_defensive_mixture_integrates_to_one_and_bounds_the_tails():
    X = np.random.RandomState(0).randn(300, 1)
    narrow = GaussianNoise().fit(X * 0.01)
    noise = DefensiveMixture(narrow, CauchyNoise().fit(X), 0.01)
    grid = torch.linspace(-300, 300, 600_001)[:, None]
    density = noise.log_prob(grid).exp().numpy()
    # The Cauchy's tails beyond +-300 hold 0.2% of its 1% weight.
    assert trapezoid(density, grid[:, 0].numpy()) == pytest.approx(1.0, abs=1e-4)
    # 50 standard deviations out: the narrow Gaussian alone says -1.25e7
    # nats, the defended mixture log(0.01) + the Cauchy's ~ -12.
    far = torch.tensor([[50.0]])
    assert float(narrow.log_prob(far)) < -1e6
    assert float(noise.log_prob(far)) > -15
    draws = noise.sample(50_000, torch.Generator().manual_seed(0)).numpy()[:, 0]
    assert np.mean(np.abs(draws) > 0.1) == pytest.approx(0.01, abs=0.003)


def test_cv_bandwidth_matches_grid_search_on_a_gaussian():
    X = np.random.RandomState(0).randn(500, 2)
    from sklearn.model_selection import GridSearchCV

    grid = np.geomspace(0.05, 2, 40)
    search = GridSearchCV(KernelDensity(), {"bandwidth": grid}, cv=10).fit(X)
    # Leave-one-out and 10-fold likelihood agree to the grid's resolution
    # and the fold size's effect (10%; measured: 0.395 against 0.364).
    assert cv_bandwidth(X, random_state=0) == pytest.approx(
        search.best_params_["bandwidth"], rel=0.15
    )


def test_leave_one_out_bandwidths_leave_the_copies_out_too():
    # Each row 5 times: a row's copies are the same draw, so the bandwidth is
    # the one of the distinct rows (the log 5 they add to every row's score
    # does not move the optimum), up to the grid's step of 22% (the grids are
    # Scott's rule at 1000 and at 200 rows). With the copies in, the
    # likelihood of a row's own copy drove the choice to the narrowest kernel.
    X = np.random.RandomState(0).randn(200, 2)
    repeated = np.repeat(X, 5, axis=0)
    assert cv_bandwidth(repeated) == pytest.approx(cv_bandwidth(X), rel=0.22)
    adaptive = AdaptiveKernelDensityNoise()
    assert adaptive._cv_bandwidth(repeated) > 0.5 * adaptive._cv_bandwidth(X)


def test_the_defence_is_no_spike_on_a_column_constant_in_a_fold():
    # A flag set on one row: the fold holding it out fits on a constant
    # column, where a Cauchy of scale 1e-12 scored +26.5 nats per held-out
    # row at weight 1e-3 and raised the stack's held-out score by 8.6 nats
    # per row over the same rows without the flag (a review). With the
    # defence no narrower than the candidates' variance floor (1e-4), the
    # flag column can add at most that floor's peak, 0.5 log(1 / (2 pi 1e-4))
    # = 3.69 nats (it added 3.2).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 2))
    flag = np.zeros(300)
    flag[5] = 1
    flagged = np.c_[X, flag]
    flagged = (flagged - flagged.mean(0)) / flagged.std(0)
    without, with_flag = (
        SelectedDensity(random_state=0).fit(data).scores_["stack"] for data in (X, flagged)
    )
    assert with_flag - without < 3.69 + 0.2
    with pytest.raises(ValueError, match="min_scale must be positive"):
        CauchyNoise(min_scale=0).fit(X)


def test_the_stack_parts_refuse_settings_they_cannot_use():
    # Each had failed later and obscurely, or not at all (a review): an empty
    # held-out set gave NaN weights and an IndexError, log(0) a bare
    # ValueError, weights not summing to 1 a log_prob that disagreed with
    # sample(), 2 rows sklearn's KFold error.
    X = np.random.RandomState(0).normal(size=(30, 2))
    for fraction in (0.0, 1.0):
        with pytest.raises(ValueError, match="held_out_fraction must be in"):
            SelectedDensity(held_out_fraction=fraction).fit(X)
    with pytest.raises(ValueError, match="at least 6 rows"):
        SelectedDensity().fit(X[:2])
    with pytest.raises(ValueError, match=r"defensive_weight must be in \[0, 1\)"):
        SelectedDensity(defensive_weight=1.0).fit(X)
    gaussian = GaussianNoise().fit(X)
    with pytest.raises(ValueError, match=r"weight must be in \(0, 1\)"):
        DefensiveMixture(gaussian, CauchyNoise().fit(X), 0)
    with pytest.raises(ValueError, match="summing to 1"):
        StackedDensity([gaussian, GaussianNoise().fit(X)], [0.5, 0.6])


def test_the_stacked_kdes_keep_the_bandwidths_chosen_on_all_rows():
    # The folds' KDEs take the bandwidths chosen once on all rows, moved to
    # their size by the n^(-1 / (d + 4)) rate; the refit moves them back.
    X = np.random.RandomState(0).randn(400, 3)
    selected = SelectedDensity(families=("kde",), random_state=0).fit(X)
    parts = {type(part): part for part in selected.density.density.parts}
    assert set(parts) == {KernelDensityNoise, AdaptiveKernelDensityNoise}
    fixed, adaptive = parts[KernelDensityNoise], parts[AdaptiveKernelDensityNoise]
    assert fixed.bandwidth_ == pytest.approx(cv_bandwidth(X, random_state=0), rel=1e-12)
    chosen = AdaptiveKernelDensityNoise(random_state=0)._cv_bandwidth(X)
    assert adaptive.bandwidth_ == pytest.approx(chosen, rel=1e-12)
    assert rate_scaled(rate_scaled(0.3, 400, 320, X), 320, 400, X) == pytest.approx(0.3)
    assert rate_scaled(0.3, 400, 320, X) > 0.3  # fewer rows, a wider kernel


def test_selected_density_is_a_normalised_density():
    X = np.random.RandomState(0).randn(300, 1) * 2 + 1
    selected = SelectedDensity(random_state=0).fit(X)
    # Spacing 0.004: the narrowest kernel here (0.097 wide) spans 24 steps (the
    # integral agreed to 1e-6 with 0.001, at a quarter of the time).
    grid = torch.linspace(-400, 400, 200_001)[:, None]
    density = selected.log_prob(grid).exp().numpy()
    assert trapezoid(density, grid[:, 0].numpy()) == pytest.approx(1.0, abs=1e-3)
    candidates = set(selected.scores_) - {"stack"}
    assert {"kde", "kde (adaptive)", "gaussian"} <= candidates
    # One covariance type in 1-d, where the three are one model (they had
    # been three copies of each mixture; a user test).
    assert {name.partition(", ")[0] for name in candidates if name.startswith("gmm")} == {
        "gmm (full"
    }
    assert sum(selected.weights_.values()) == pytest.approx(1.0)
    assert min(selected.weights_.values()) >= 0.01
    # The stack is weighed on the held-out rows: at least as likely there as
    # its best candidate (up to the weights under 1% it drops).
    assert selected.scores_["stack"] >= max(selected.scores_[name] for name in candidates) - 0.01


def test_selection_on_many_rows_reads_capped_subsets(monkeypatch):
    # On many rows the candidates are weighed on at most _SELECTION_MAX_HELD_OUT
    # held-out rows, the kept mixtures refitted on at most _REFIT_MAX_ROWS and
    # the in-sample log densities read on at most _IN_SAMPLE_ROWS (each cap
    # shrunk here so that 3000 rows exceed it).
    from sklearn_nce._core import noise

    monkeypatch.setattr(noise, "_SELECTION_MAX_HELD_OUT", 300)
    monkeypatch.setattr(noise, "_REFIT_MAX_ROWS", 800)
    monkeypatch.setattr(noise, "_IN_SAMPLE_ROWS", 500)
    rows = []
    em = noise._em_mixture

    def spy(X, *args, **kwargs):
        rows.append(len(X))
        return em(X, *args, **kwargs)

    monkeypatch.setattr(noise, "_em_mixture", spy)
    X = np.random.RandomState(0).randn(3000, 2)
    selected = SelectedDensity(families=("gmm", "gaussian"), random_state=0).fit(X)
    assert len(selected.held_out_log_density_) == 300
    assert len(selected.in_sample_log_density_) == 500
    # The search fits on the 2700 rows not held out; the refits on 800 of all 3000.
    assert set(rows) == {2700, 800}
    assert np.isfinite(selected.tail_optimism(0.05))
    # Scores in blocks are the scores at once.
    monkeypatch.setattr(noise, "_SCORE_BLOCK_ROWS", 128)
    rows = torch.as_tensor(X[:1000], dtype=torch.float32)
    at_once = selected.log_prob(rows).double().numpy()
    np.testing.assert_allclose(noise._log_prob_by_blocks(selected, X[:1000]), at_once, rtol=1e-6)


def test_collinear_columns_do_not_hand_the_stack_to_the_gaussian():
    # Two clusters in 3-d, plus 3 columns that are linear combinations of
    # them: the rows fill a 3-d subspace of 6 columns. With a ridge of 1e-6
    # against the mixtures' floor of 1e-4, the Gaussian read about 2.3 nats
    # more per null direction and took the whole stack (a user test: on
    # make_classification's 50 columns of rank 40, AUPRC 0.80 / 0.86 against
    # 0.89 / 0.94 with the mixtures it now picks).
    rng = np.random.RandomState(0)
    Z = np.r_[rng.normal(-2, 1, (300, 3)), rng.normal(2, 1, (300, 3))]
    X = np.c_[Z, Z @ rng.normal(size=(3, 3))]
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    selected = SelectedDensity(families=("gmm", "gaussian"), random_state=0).fit(X)
    assert selected.weights_.get("gaussian", 0.0) < 0.1


def test_stacking_weights_recover_a_known_mixture():
    # Rows from 0.3 N(-3, 1) + 0.7 N(3, 1), scored under the two parts: the
    # weights' sampling SD at 5000 rows is sqrt(0.21 / 5000) = 0.0065.
    rng = np.random.RandomState(0)
    X = np.where(rng.uniform(size=5000) < 0.3, -3.0, 3.0) + rng.normal(size=5000)
    log_densities = np.column_stack(
        [
            -0.5 * (X + 3) ** 2 - 0.5 * math.log(2 * math.pi),
            -0.5 * (X - 3) ** 2 - 0.5 * math.log(2 * math.pi),
        ]
    )
    np.testing.assert_allclose(stacking_weights(log_densities), [0.3, 0.7], atol=0.02)


def test_the_stack_is_scored_with_weights_fitted_on_the_other_folds():
    # Two folds that disagree: the first fold's rows are likelier under
    # candidate 0 by 2 nats, the second's under candidate 1. Weighed on its
    # own rows each fold reads log(0.5 e^0 + 0.5 e^-2) = -0.566; weighed on
    # the other fold's rows (which put all weight on the other candidate)
    # it reads -2.
    log_densities = np.array([[0.0, -2.0]] * 50 + [[-2.0, 0.0]] * 50)
    folds = np.repeat([0, 1], 50)
    stack = _cross_weighed_stack(log_densities, folds)
    np.testing.assert_allclose(stack, -2.0, atol=1e-3)
    in_sample = stacking_weights(log_densities)
    assert np.log(in_sample @ np.exp(log_densities[0])) == pytest.approx(-0.566, abs=1e-3)


def test_the_stacks_reported_score_is_its_cross_weighed_held_out_rows():
    X = np.random.RandomState(0).normal(size=(60, 2))
    selected = SelectedDensity(random_state=0).fit(X)
    assert selected.scores_["stack"] == pytest.approx(selected.held_out_log_density_.mean())
    assert len(selected.held_out_log_density_) == 60


def test_one_held_out_row_is_weighed_in_sample():
    # 0.0004 of 2500 rows holds one out: no other fold to weigh it by, and
    # the stack's score read NaN (0/0 weights; review).
    X = np.random.RandomState(0).normal(size=(2500, 2))
    selected = SelectedDensity(held_out_fraction=0.0004, random_state=0).fit(X)
    assert np.isfinite(selected.scores_["stack"])


def test_stacked_density_is_normalised_and_samples_by_weight():
    parts = [GaussianNoise().fit(np.random.RandomState(s).randn(500, 1) + 6 * s) for s in (0, 1)]
    stacked = StackedDensity(parts, [0.25, 0.75])
    grid = torch.linspace(-20, 30, 100_001)[:, None]
    assert trapezoid(stacked.log_prob(grid).exp().numpy(), grid[:, 0].numpy()) == pytest.approx(
        1.0, abs=1e-4
    )
    draws = stacked.sample(20_000, torch.Generator().manual_seed(0))
    # The share drawn from the right part (near 6): 0.75 +- 3 SDs (0.003).
    assert float((draws[:, 0] > 3).float().mean()) == pytest.approx(0.75, abs=0.01)


def test_box_density_is_normalised_and_draws_its_flat_part_by_its_mass():
    box = BoxDensity([-1.0], [2.0])
    grid = torch.linspace(-15, 15, 300_001)[:, None]
    assert trapezoid(box.log_prob(grid).exp().numpy(), grid[:, 0].numpy()) == pytest.approx(
        1.0, abs=1e-5
    )
    draws = box.sample(40_000, torch.Generator().manual_seed(0))[:, 0]
    # Width 3 against the two tails' sqrt(2 pi): 0.545 of the draws inside,
    # the rest split evenly; 3 SDs of the shares are under 0.008.
    inside = float(((draws >= -1) & (draws <= 2)).float().mean())
    assert inside == pytest.approx(3 / (3 + math.sqrt(2 * math.pi)), abs=0.008)
    assert float((draws > 2).float().mean()) == pytest.approx((1 - inside) / 2, abs=0.008)
    # Beyond an edge, a unit half-normal: its mean depth is sqrt(2 / pi).
    assert float((draws[draws > 2] - 2).mean()) == pytest.approx(math.sqrt(2 / math.pi), abs=0.03)


def test_without_a_base_the_critic_adds_the_box_tail_and_with_one_does_not():
    torch.manual_seed(0)
    network = torch.nn.Linear(2, 1)
    low, high = torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 2.0])
    x = torch.tensor([[0.0, 1.0], [3.0, -1.0]])  # inside; 2 and 1 beyond the box
    alone = BaseCorrectedDensity(network, None, bounds=(low, high))
    correction = alone.correction(x)
    torch.testing.assert_close(alone(x), correction - torch.tensor([0.0, 2.5]))
    base = GaussianNoise().fit(np.random.RandomState(0).randn(50, 2))
    based = BaseCorrectedDensity(network, base, bounds=(low, high))
    torch.testing.assert_close(based(x), correction + base.log_prob(x))


def test_stacked_mixtures_pool_into_one_mixture_per_layout():
    # sum_p w_p sum_k pi_pk N_pk is one mixture: the pooled parts must give
    # the stack's log density exactly (float32 rounding) and sklearn's own
    # score_samples on the merged mixture must agree.
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(200, 3), rng.randn(200, 3) * 0.5 + 4])
    kinds = [("spherical", 2), ("diag", 3), ("full", 2), ("full", 1)]
    parts = [GaussianMixtureNoise(k, kind, random_state=0).fit(X) for kind, k in kinds]
    parts.append(GaussianNoise().fit(X))
    weights = np.array([0.1, 0.2, 0.3, 0.15, 0.25])
    pooled, pooled_weights = _pooled_mixtures(parts, weights)
    # The Gaussian stays apart; the diagonal and the full mixtures pool.
    assert [type(part).__name__ for part in pooled] == [
        "GaussianNoise",
        "GaussianMixtureNoise",
        "GaussianMixtureNoise",
    ]
    assert [part.mixture_.n_components for part in pooled[1:]] == [5, 3]
    np.testing.assert_allclose(pooled_weights, [0.25, 0.3, 0.45])
    grid = torch.as_tensor(rng.randn(50, 3) * 3, dtype=torch.float32)
    expected = StackedDensity(parts, weights).log_prob(grid)
    np.testing.assert_allclose(
        StackedDensity(pooled, pooled_weights).log_prob(grid), expected, rtol=1e-5, atol=1e-4
    )
    for merged in pooled[1:]:
        np.testing.assert_allclose(
            merged.mixture_.score_samples(grid.double().numpy()),
            merged.log_prob(grid).double().numpy(),
            rtol=1e-5,
            atol=1e-4,
        )


@pytest.mark.parametrize("n_rows, warm", [(4000, False), (6000, True)])
def test_mixtures_searched_on_a_subsample_continue_from_it(monkeypatch, n_rows, warm):
    # Above 5000 rows the held-out split leaves more fit rows than the BIC
    # search reads (4000): the refits on all rows start from the searched
    # mixtures. Below, the candidates saw every fit row and EM starts afresh.
    starts = []
    em_mixture = noise_module._em_mixture

    def recorded(X, *args, start=None):
        if len(X) == n_rows:
            starts.append(start)
        return em_mixture(X, *args, start=start)

    monkeypatch.setattr(noise_module, "_em_mixture", recorded)
    X = np.random.RandomState(0).randn(n_rows, 2)
    selected = SelectedDensity(families=("gmm",), random_state=0).fit(X)
    assert len(starts) == len(selected.weights_) > 0
    assert all((start is not None) is warm for start in starts)


def test_make_noise_rejects_unknown_name():
    with pytest.raises(ValueError, match="Unknown noise"):
        make_noise("uniform")


def _quartic_1d(x):
    return -0.25 * x[:, 0] ** 4 + torch.sin(2.0 * x[:, 0]) + 3.0


def _ring_2d(x):
    return -0.25 * (x.square().sum(-1) - 1.0).square() * 4.0 + 0.5 * x[:, 0] - 1.0


@pytest.mark.parametrize(
    "log_phi, n_features", [(_quartic_1d, 1), (_ring_2d, 2)], ids=["1d", "2d"]
)
def test_importance_log_partition_matches_quadrature(log_phi, n_features):
    grid = np.linspace(-5, 5, 801)
    mesh = np.stack(np.meshgrid(*[grid] * n_features, indexing="ij"), axis=-1)
    values = log_phi(_t(mesh.reshape(-1, n_features))).exp().numpy().reshape(mesh.shape[:-1])
    for _ in range(n_features):
        values = trapezoid(values, grid, axis=0)
    exact = math.log(values)
    proposal = GaussianNoise().fit(np.random.RandomState(0).randn(500, n_features) * 1.5)
    log_z, log_z_std, ess = importance_log_partition(
        log_phi, proposal, 50_000, torch.Generator().manual_seed(0)
    )
    assert 1 < ess < 50_000
    # The IS error is within 4 standard errors (plus float32 rounding).
    assert abs(log_z - exact) < 4 * log_z_std + 1e-3


def test_importance_log_partition_of_a_normalised_density_is_zero():
    proposal = GaussianNoise().fit(np.random.RandomState(0).randn(500, 2))
    log_z, log_z_std, ess = importance_log_partition(proposal.log_prob, proposal, 1000)
    assert log_z == pytest.approx(0.0, abs=1e-5)
    assert ess == pytest.approx(1000, rel=1e-4)
    assert log_z_std == pytest.approx(0.0, abs=1e-3)


def test_importance_draws_against_the_base_read_its_density_once():
    # With the base as proposal, log phi = correction + log q: the shortcut
    # (log q read once, the weights the correction itself) must give the same
    # draws, log densities and weights as the general path.
    X = np.random.RandomState(0).randn(300, 3)
    base = GaussianMixtureNoise(3, "diag", random_state=0).fit(X)
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    critic = BaseCorrectedDensity(network, base).eval()
    critic.network_scale.fill_(0.7)

    def run(**shortcut):
        return importance_draws(critic, base, 3000, torch.Generator().manual_seed(1), **shortcut)

    draws, log_phi, log_weights = run()
    fast_draws, fast_log_phi, fast_log_weights = run(correction=critic.correction)
    torch.testing.assert_close(fast_draws, draws, rtol=0, atol=0)
    np.testing.assert_allclose(fast_log_phi, log_phi, rtol=0, atol=0)
    # float32: (f + log q) - log q rounds to f within a few ulps of log q.
    np.testing.assert_allclose(fast_log_weights, log_weights, rtol=0, atol=1e-5)
    assert np.ptp(fast_log_weights) > 0.1  # the network is not flat
    # Resampling (sample()'s first stage) takes the same shortcut.
    picks = [
        resample(critic, base, 200, 3000, torch.Generator().manual_seed(2), **shortcut)
        for shortcut in ({}, {"correction": critic.correction})
    ]
    torch.testing.assert_close(picks[1], picks[0], rtol=0, atol=0)


@pytest.mark.parametrize("shape", [0.3, 0.9])
def test_pareto_k_recovers_the_tail_shape_of_pareto_weights(shape):
    # Weights U^(-shape) have a Pareto tail of exactly that shape. Over 40
    # seeds of 10 000 weights the estimate read 0.302 +- 0.08 at 0.3 and
    # ~0.89 +- 0.13 at 0.9 (the prior pulls toward 0.5): 0.25 is two SDs.
    log_weights = -shape * np.log(np.random.default_rng(0).uniform(size=10_000))
    assert abs(pareto_k(log_weights) - shape) < 0.25


def test_pareto_k_of_light_and_equal_weights():
    # Log-normal weights with a small spread have a light tail (k near 0);
    # equal weights (a proposal equal to the target) have none.
    assert pareto_k(np.random.default_rng(0).normal(0, 0.5, 10_000)) < 0.3
    assert pareto_k(np.zeros(1000)) == -math.inf


def test_mala_samples_a_gaussian():
    def log_phi(x):
        return -0.5 * ((x - 1.0) / 0.5).square().sum(-1)

    start = torch.zeros(2000, 2)
    draws, acceptance, step = langevin(
        log_phi,
        start,
        n_steps=100,
        n_adapt=100,
        step_size=0.01,
        generator=torch.Generator().manual_seed(0),
    )
    # Adaptation aims at 57% acceptance; the target is N(1, 0.25 I).
    assert 0.4 < acceptance < 0.75
    np.testing.assert_allclose(draws.mean(0).numpy(), [1.0, 1.0], atol=0.05)
    np.testing.assert_allclose(draws.std(0).numpy(), [0.5, 0.5], atol=0.05)


def test_resample_moves_weight_to_the_target():
    proposal = GaussianNoise().fit(np.random.RandomState(0).randn(2000, 1) * 2)

    def log_phi(x):
        return -0.5 * (x[:, 0] - 1.0).square()

    draws = resample(log_phi, proposal, 5000, 100_000, torch.Generator().manual_seed(0))
    assert draws.mean().item() == pytest.approx(1.0, abs=0.06)
    assert draws.std().item() == pytest.approx(1.0, abs=0.06)


def test_diagonal_mixture_log_density_keeps_float32_digits_on_unstandardised_data():
    # A level of 1e4 with unit spread: the expanded squared distance would
    # lose ~8 nats to float32 rounding without centring first.
    X = 1e4 + np.random.RandomState(0).standard_normal((500, 3))
    noise = GaussianMixtureNoise(2, "diag", random_state=0).fit(X)
    expected = noise.mixture_.score_samples(X[:50])
    np.testing.assert_allclose(noise.log_prob(_t(X[:50])).numpy(), expected, atol=0.05)


@pytest.mark.parametrize("gathered", [False, True])
def test_full_covariance_mixture_draws_are_the_per_row_transform(monkeypatch, gathered):
    # Both ways of drawing (rows grouped by component, one product each; or
    # a d x d factor gathered per row) give the per-row transform, from the
    # same generator calls.
    monkeypatch.setattr(noise_module, "_GATHER_MAX_ENTRIES_PER_COMPONENT", 10**9 * gathered)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)) @ np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 1.0]])
    noise = GaussianMixtureNoise(n_components=3, random_state=0).fit(X)
    draws = noise.sample(500, torch.Generator().manual_seed(0))
    generator = torch.Generator().manual_seed(0)
    weights = noise.log_weights.exp()
    component = torch.multinomial(weights, 500, replacement=True, generator=generator)
    eps = torch.randn((500, 3), generator=generator)
    factors = noise.scale_trils[component]
    expected = noise.means[component] + torch.einsum("nij,nj->ni", factors, eps)
    torch.testing.assert_close(draws, expected)


def test_mixture_weights_are_read_to_the_host_once_and_follow_the_buffer():
    # The multinomial draws read the weights on the CPU; off the CPU that read
    # waits for the device, so the copy is kept while the buffer is unchanged.
    X = np.random.default_rng(0).normal(size=(300, 2))
    noise = GaussianMixtureNoise(n_components=2, random_state=0).fit(X)
    first = noise._host_probabilities(noise.log_weights)
    assert noise._host_probabilities(noise.log_weights) is first
    torch.testing.assert_close(first, noise.log_weights.exp())
    # An in-place change (load_state_dict copies in place) is seen.
    with torch.no_grad():
        noise.log_weights.copy_(torch.log(torch.tensor([0.9, 0.1])))
    torch.testing.assert_close(
        noise._host_probabilities(noise.log_weights), torch.tensor([0.9, 0.1])
    )
    # Not pickled: a copy starts without it, and draws as the original does.
    clone = pickle.loads(pickle.dumps(noise))
    assert "_host_probabilities_cache" not in clone.__dict__
    torch.manual_seed(0)
    expected = noise.sample(50)
    torch.manual_seed(0)
    torch.testing.assert_close(clone.sample(50), expected, rtol=0, atol=0)


def test_noises_show_and_take_their_parameters_as_sklearn_estimators_do():
    # A grid search over noises printed every candidate as "GaussianNoise()"
    # and refused noise__ridge with an AttributeError (user test).
    from sklearn.base import clone

    from sklearn_nce import CNCEEnergyModel, NoisierNCEClassifier
    from sklearn_nce.modules import LocalJumps, MixedJumps

    assert repr(GaussianNoise()) == "GaussianNoise()"
    assert repr(GaussianNoise(ridge=1e-3)) == "GaussianNoise(ridge=0.001)"
    assert repr(GaussianMixtureNoise(n_components=3)) == "GaussianMixtureNoise(n_components=3)"
    detector = NoisierNCEClassifier(noise=GaussianNoise()).set_params(noise__ridge=1.0)
    assert repr(detector) == "NoisierNCEClassifier(noise=GaussianNoise(ridge=1.0))"
    copied = clone(detector)
    assert copied.noise.ridge == 1.0 and copied.noise is not detector.noise
    model = CNCEEnergyModel(noise=MixedJumps(LocalJumps(), GaussianNoise()))
    assert model.set_params(noise__local__scale=0.5).noise.local.scale == 0.5
    # What set_params takes, get_params(deep=True) lists (an API review).
    params = model.get_params()
    assert params["noise__local__scale"] == 0.5 and params["noise__local"] is model.noise.local
    assert detector.get_params()["noise__ridge"] == 1.0
    assert "noise__ridge" not in detector.get_params(deep=False)
    with pytest.raises(ValueError, match=r"'ridg' for GaussianNoise.*\['ridge', 'shrinkage'\]"):
        GaussianNoise().set_params(ridg=1.0)

    zeros = torch.zeros(2)

    class Shifted(GaussianNoise):  # a tensor parameter has no truth value: shown, not compared
        def __init__(self, loc=zeros):
            super().__init__()
            self.loc = loc

    assert repr(Shifted()) == "Shifted()"
    assert repr(Shifted(torch.ones(2))) == "Shifted(loc=tensor([1., 1.]))"


def test_a_draw_where_the_density_is_zero_is_a_weight_of_zero():
    # A base that is 0 outside the data's box gives -inf log weights there:
    # they were read as a diverged fit (a review). NaN and +inf still are.
    log_z, _, ess = log_partition_statistics(np.array([0.0, np.log(3.0), -np.inf, -np.inf]))
    assert log_z == pytest.approx(np.log(4.0 / 4)) and ess == pytest.approx(16 / 10)
    for bad in ([0.0, np.nan], [0.0, np.inf], [-np.inf, -np.inf]):
        assert math.isnan(log_partition_statistics(np.array(bad))[0])
