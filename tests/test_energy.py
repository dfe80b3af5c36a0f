"""CNCEEnergyModel against densities known in closed form."""

import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.integrate import trapezoid
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nce import CNCEEnergyModel, NoisierNCEClassifier
from sklearn_nce._core import density
from sklearn_nce._core.noise import DefensiveMixture, GaussianNoise
from sklearn_nce._core.sampling import resample
from sklearn_nce.datasets import IsotropicMixture
from sklearn_nce.exceptions import UnreliableEstimateWarning
from sklearn_nce.modules import KernelDensityNoise

# Three separated modes with unequal weights: the learnt density must get both
# the shapes and the relative masses right.
TRUTH = IsotropicMixture([[-1.5, 0.0], [1.5, 0.0], [0.0, 1.5]], 0.4, weights=[0.5, 0.3, 0.2])


@pytest.fixture(scope="module")
def train():
    return TRUTH.sample(1500, random_state=0)


@pytest.fixture(scope="module")
def test():
    return TRUTH.sample(2000, random_state=1)


@pytest.fixture(scope="module")
def default_model(train):
    return CNCEEnergyModel(max_epochs=30, random_state=0).fit(train)


def test_default_log_density_close_to_truth(default_model, test):
    error = default_model.score_samples(test) - TRUTH.log_density(test)
    # The BIC mixture base alone is within ~0.1 nats per point of the truth on
    # 1500 rows (it is the true family); 0.2 leaves room for the network and
    # log Z, and a wrong mode weight (e.g. 0.3 -> 0.2) would cost 0.4 there.
    assert np.mean(np.abs(error)) < 0.2
    assert abs(np.mean(error)) < 0.1
    assert default_model.score(test) == pytest.approx(np.mean(default_model.score_samples(test)))
    np.testing.assert_allclose(
        default_model.score_samples(test),
        -default_model.energy(test) - default_model.log_partition_,
    )


def _grid_log_partition(model, half_width=4.0, n=161):
    grid = np.linspace(-half_width, half_width, n)
    xx, yy = np.meshgrid(grid, grid)
    log_phi = -model.energy(np.c_[xx.ravel(), yy.ravel()]).reshape(xx.shape)
    return np.log(trapezoid(trapezoid(np.exp(log_phi), grid, axis=1), grid))


def test_the_base_is_selected_again_on_every_training_row(default_model, train):
    # Early stopping holds a tenth of the rows out of training; the base is
    # then selected again on all of them (ionosphere's held-out
    # log-likelihood -5.47 -> -4.41 nats). Its in-sample log densities are
    # read on the rows it was fitted on. The outlier detector keeps its base
    # on the training split: its threshold reads the held-out rows as new.
    assert len(default_model.base_.in_sample_log_density_) == len(train)
    assert default_model.base_ is default_model.proposal_ is default_model.net_.module_.base
    assert default_model.base_family_ == default_model.base_.family_
    detector = NoisierNCEClassifier(max_epochs=2, random_state=0).fit(train)
    assert len(detector.base_.in_sample_log_density_) < len(train)
    # Past 2000 rows a selection costs more and a tenth of the rows less.
    many = TRUTH.sample(2200, random_state=2)
    model = CNCEEnergyModel(max_epochs=1, random_state=0).fit(many)
    assert len(model.base_.in_sample_log_density_) < len(many)


@pytest.mark.parametrize("estimator", [CNCEEnergyModel, NoisierNCEClassifier])
def test_batch_size_auto_is_the_ratios_rule(estimator, train):
    # The same grid as NCEDensityRatio's ("auto") had raised here (API review).
    model = estimator(batch_size="auto", max_epochs=1, random_state=0).fit(train[:600])
    assert model.batch_size_ == 256  # 256 up to 25 600 rows


def test_cnce_from_scratch_learns_the_density_and_its_normaliser(train, test):
    # The paper's setting: no base density, mixed local/global jumps.
    model = CNCEEnergyModel(base=None, noise="mix", max_epochs=100, random_state=0).fit(train)
    excess = TRUTH.log_density(test).mean() - model.score(test)
    gaussian = GaussianNoise().fit(train).log_prob(torch.as_tensor(test, dtype=torch.float32))
    gaussian_excess = TRUTH.log_density(test).mean() - gaussian.mean().item()
    # Measured 0.10 nats; one Gaussian misses the three modes by ~0.6.
    assert excess < 0.3 < gaussian_excess
    # The importance-sampled log Z agrees with quadrature on a grid (the
    # grid's own error is < 1e-3 at spacing 0.05) within 4 standard errors.
    assert abs(model.log_partition_ - _grid_log_partition(model)) < (
        4 * model.log_partition_std_ + 0.01
    )


def test_without_a_base_the_density_integrates_to_one_and_draws_stay_near_the_data(train):
    # The network reads rows clamped to a box around the data: flat beyond it,
    # phi had infinite mass, log Z counted only the proposal's region and
    # Langevin draws drifted off (5 epochs: exp(score_samples) summed to 173
    # over [-40, 40]^2 and 98% of draws lay beyond 10; now 0.978 and none).
    model = CNCEEnergyModel(base=None, noise="mix", max_epochs=5, random_state=0).fit(train)
    grid = np.linspace(-40, 40, 801)  # spacing 0.1 against modes of SD 0.4
    xx, yy = np.meshgrid(grid, grid)
    density = np.exp(model.score_samples(np.c_[xx.ravel(), yy.ravel()])).reshape(xx.shape)
    mass = trapezoid(trapezoid(density, grid, axis=1), grid)
    # Within 4 standard errors of log Z (0.035 here), plus the grid's error.
    assert abs(np.log(mass)) < 4 * model.log_partition_std_ + 0.01
    draws = model.sample(500, random_state=0)
    assert np.abs(draws).max() < 10  # the data lie within 3


def test_sample_reproduces_means_and_weights(default_model):
    draws = default_model.sample(3000, random_state=0)
    assert draws.shape == (3000, 2)
    nearest = np.argmin(((draws[:, None] - TRUTH.means[None]) ** 2).sum(-1), axis=1)
    weights = np.bincount(nearest, minlength=3) / len(draws)
    # Binomial SE at 3000 draws is <= 0.009; the fitted weights add ~0.02.
    np.testing.assert_allclose(weights, TRUTH.weights, atol=0.04)
    for k, mean in enumerate(TRUTH.means):
        np.testing.assert_allclose(draws[nearest == k].mean(0), mean, atol=0.1)
    np.testing.assert_array_equal(draws, default_model.sample(3000, random_state=0))
    # The same draws at another torch thread count (the Langevin steps' float
    # reductions had rounded by it: up to 1.7e-7 apart; user test).
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        np.testing.assert_array_equal(draws, default_model.sample(3000, random_state=0))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


def test_sample_of_zero_rows_is_empty_and_the_estimators_seed_does_not_fix_draws(default_model):
    # As KernelDensity.sample: 0 rows give an empty array, and each call
    # without random_state draws afresh (a user test asked which it follows).
    assert default_model.sample(0).shape == (0, default_model.n_features_in_)
    assert not np.array_equal(default_model.sample(3), default_model.sample(3))
    np.testing.assert_array_equal(
        default_model.sample(3, random_state=1), default_model.sample(3, random_state=1)
    )


def test_sample_resamples_enough_candidates_for_distinct_starts():
    # 20 candidates per draw at an importance ESS of 10% left 12% of digits'
    # draws starting as copies (a user test); the count now follows the ESS.
    model = SimpleNamespace(n_importance_samples=10_000)
    counts = {}
    for ess in (9000, 1000, 300, 10):
        model.importance_ess_ = ess
        counts[ess] = CNCEEnergyModel._resample_candidates(model)
    assert counts == {9000: 20, 1000: 100, 300: 200, 10: 200}


def test_sample_resamples_in_chunks(default_model, monkeypatch):
    # One resampling of sample(1_000_000) raised (torch.multinomial takes at
    # most 2^24 categories) after drawing 2e7 candidates at once; draws are
    # resampled in chunks. Chunks of 1000 here: 3000 draws in 3 chunks still
    # follow the mixture's weights (the tolerance of the test above).
    per_draw = default_model._resample_candidates()
    monkeypatch.setattr(density, "_RESAMPLE_CHUNK_CANDIDATES", 1000 * per_draw)
    assert density._chunk_sizes(2500, 1000) == [1000, 1000, 500]
    sizes = []

    def recorded(log_phi, proposal, n_samples, n_candidates, *args, **kwargs):
        sizes.append((n_samples, n_candidates))
        return resample(log_phi, proposal, n_samples, n_candidates, *args, **kwargs)

    monkeypatch.setattr(density, "resample", recorded)
    assert default_model.network_scale_ > 0  # else sample() draws from the base directly
    draws = default_model.sample(3000, random_state=0)
    assert sizes == [(1000, 1000 * per_draw)] * 3
    nearest = np.argmin(((draws[:, None] - TRUTH.means[None]) ** 2).sum(-1), axis=1)
    weights = np.bincount(nearest, minlength=3) / len(draws)
    np.testing.assert_allclose(weights, TRUTH.weights, atol=0.04)


def test_draws_leave_out_the_defensive_tail():
    # The stack's defensive Cauchy (0.1% of the base's mass) put 0.05% of the
    # draws beyond 10 standard deviations and some 1000 out (a user test).
    # 40 rows keep the base alone, drawn directly: of 100 000 draws ~100
    # would be Cauchy ones, and 6% of those lie beyond 10 scales.
    X = np.random.RandomState(0).normal(size=(40, 1))
    model = CNCEEnergyModel(random_state=0).fit(X)
    assert model.network_scale_ == 0.0
    draws = model.sample(100_000, random_state=0)
    assert np.abs((draws - X.mean()) / X.std()).max() < 8.0
    assert isinstance(model.base_.density, DefensiveMixture)  # kept for scoring


def test_the_first_langevin_step_passes_over_lattice_columns():
    # A column whose proposal draws mostly share one value has quartiles that
    # coincide: its zero variance made every MALA step zero (a review). The
    # finest variance is read from the other columns (here 0.5^2).
    class _Lattice(GaussianNoise):
        def sample(self, n_samples, generator=None):
            draws = super().sample(n_samples, generator)
            return torch.cat([draws[:, :1], torch.zeros(n_samples, 1)], dim=1)

    noise = _Lattice().fit(0.5 * np.random.RandomState(0).normal(size=(500, 2)))
    variance = density._finest_variance(noise, torch.Generator().manual_seed(0), "cpu")
    assert variance == pytest.approx(0.25, rel=0.2)  # 1000 draws: IQR within ~10%


def test_a_model_without_its_network_is_drawn_from_its_base(train, monkeypatch):
    # network_scale_ 0: the model is its base, drawn exactly (less its
    # defensive part), with no Langevin steps.
    model = CNCEEnergyModel(max_epochs=2, random_state=0).fit(train[:300])
    model.net_.module_.network_scale.fill_(0.0)
    monkeypatch.setattr(density, "langevin", None)  # a call would raise TypeError
    draws = model.sample(500, random_state=0)
    seed = np.random.RandomState(0).randint(np.iinfo(np.int32).max)
    stack = density._without_defence(model.proposal_)
    base_draws = stack.sample(500, torch.Generator().manual_seed(int(seed)))
    expected = model._standardiser.inverse_transform(base_draws.numpy().astype(np.float64))
    np.testing.assert_allclose(draws, expected, rtol=1e-6)


def test_a_base_with_parameters_is_drawn_from_without_gradients(train):
    # The base-only draws run outside the Langevin path's no_grad (review).
    from sklearn_nce.modules import Noise

    class ParameterGaussian(Noise):
        def fit(self, X):
            self.loc = torch.nn.Parameter(torch.tensor(X.mean(0), dtype=torch.float32))
            self.register_buffer("scale", torch.tensor(X.std(0), dtype=torch.float32))
            return self

        def sample(self, n_samples, generator=None):
            noise = torch.randn((n_samples, len(self.scale)), generator=generator)
            return self.loc + self.scale * noise

        def log_prob(self, x):
            z = (x - self.loc) / self.scale
            return (-0.5 * z.square() - torch.log(self.scale) - 0.9189385).sum(-1)

    model = CNCEEnergyModel(base=ParameterGaussian(), max_epochs=2, random_state=0)
    model.fit(train[:300]).net_.module_.network_scale.fill_(0.0)
    assert model.sample(10, random_state=0).shape == (10, 2)


def test_grid_search_over_noise_scale_picks_by_score(train):
    search = GridSearchCV(
        CNCEEnergyModel(noise="local", max_epochs=3, random_state=0),
        {"noise_scale": [0.05, 0.5]},
        cv=2,
    ).fit(train[:400])
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    assert search.best_params_["noise_scale"] == [0.05, 0.5][int(np.argmax(scores))]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(noise="local"),
        dict(noise="global"),
        dict(noise="mix"),
        dict(noise="gaussian", objective="nce"),
        dict(noise="kde", objective="nce"),
        dict(noise="gmm", objective="nce"),
        dict(noise=GaussianNoise()),
    ],
    ids=["local", "global", "mix", "nce-gaussian", "nce-kde", "nce-gmm", "noise-object"],
)
def test_every_noise_fits_and_normalises(train, test, kwargs):
    model = CNCEEnergyModel(max_epochs=5, random_state=0, **kwargs).fit(train[:500])
    assert np.isfinite(model.log_partition_)
    # The base mixture carries the density: a few epochs cannot ruin it.
    assert TRUTH.log_density(test).mean() - model.score(test) < 0.3


def test_noise_object_is_not_fitted_in_place(train):
    noise = GaussianNoise()
    CNCEEnergyModel(noise=noise, max_epochs=2, random_state=0).fit(train[:200])
    assert not hasattr(noise, "means")


def test_reproducible_and_picklable(train, test):
    # "mix" on 1200 rows: the KDE keeps a random 1000 of them, drawn from the seed too.
    params = dict(noise="mix", max_epochs=3, random_state=0)
    first = CNCEEnergyModel(**params).fit(train[:1200])
    second = CNCEEnergyModel(**params).fit(train[:1200])
    np.testing.assert_array_equal(first.score_samples(test), second.score_samples(test))
    restored = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(first.score_samples(test), restored.score_samples(test))
    # A base passed unseeded draws from random_state too (its 100 centres of
    # 1200 rows differed on every fit; a review), and stays unseeded itself.
    base = KernelDensityNoise(max_rows=100)
    fits = [
        CNCEEnergyModel(base=base, max_epochs=1, random_state=0).fit(train[:1200])
        for _ in range(2)
    ]
    np.testing.assert_array_equal(*(fit.base_score_samples(test) for fit in fits))
    assert base.random_state is None


def test_in_a_pipeline_with_a_scaler(train, test):
    pipeline = make_pipeline(StandardScaler(), CNCEEnergyModel(max_epochs=3, random_state=0))
    pipeline.fit(train[:300] * 10)
    assert np.isfinite(pipeline.score(test * 10))


def test_bad_input_raises(train):
    model = CNCEEnergyModel(max_epochs=2)
    with pytest.raises(ValueError, match="NaN"):
        model.fit(np.where(np.arange(20)[:, None] == 3, np.nan, np.ones((20, 2))))
    with pytest.raises(ValueError, match="sample"):
        model.fit(train[:1])
    with pytest.raises(ValueError, match="Every feature of X is constant"):
        model.fit(np.ones((100, 2)))
    with pytest.raises(ValueError, match="objective='nce' needs an unconditional noise"):
        CNCEEnergyModel(noise="local", objective="nce", max_epochs=2).fit(train[:100])
    # energy() before fit: sklearn's NotFittedError, not an AttributeError
    # (a review).
    with pytest.raises(NotFittedError):
        CNCEEnergyModel().energy(train[:2])


def test_the_pareto_threshold_follows_the_number_of_draws(monkeypatch):
    # PSIS's min(1 - 1 / log10(n), 0.7): a tail shape of 0.6 is trusted at
    # 10 000 draws, not at 100 (threshold 0.5), where a fixed 0.7 trusted it.
    monkeypatch.setattr(density, "pareto_k", lambda log_weights: 0.6)
    assert density._trusted(np.zeros(10_000), 10_000.0)
    assert not density._trusted(np.zeros(100), 100.0)


class _Exploding(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(2))

    def forward(self, x):
        return torch.exp(torch.exp(x @ self.weight * 10.0))


def test_diverging_energy_names_the_remedy(train):
    model = CNCEEnergyModel(critic=_Exploding(), base=None, noise="local", max_epochs=2)
    with pytest.raises(ValueError, match="diverged.*lr.*weight_decay"):
        model.fit(train[:200])


class _NarrowBump(torch.nn.Module):
    """log phi = -50 |x - (3, 3)|^2: a mode where the data (and the proposal) are not."""

    def __init__(self):
        super().__init__()
        self.centre = torch.nn.Parameter(torch.full((2,), 3.0))

    def forward(self, x):
        return -50.0 * (x - self.centre).square().sum(-1)


def test_low_effective_sample_size_warns(train):
    model = CNCEEnergyModel(
        critic=_NarrowBump(), base=None, noise="local", max_epochs=1, lr=1e-6, random_state=0
    )
    with pytest.warns(UnreliableEstimateWarning, match="effective sample size"):
        model.fit(train[:300])
    assert model.importance_ess_ < 100
