"""A user's own critics, noises and bases: what works, and clear errors where they do not fit.

Each case comes from a user test that extended the package by the customising
page: before, these either failed deep in training with torch's message, or
silently did something else.
"""

import re

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_nce import CNCEEnergyModel, InfoNCEAnchorMI, NCEDensityRatio, NoisierNCEClassifier
from sklearn_nce.datasets import make_correlated_gaussian
from sklearn_nce.modules import GaussianNoise, JointCritic, LocalJumps, Noise, SeparableCritic

FAST = dict(max_epochs=2, n_importance_samples=500, random_state=0)


def _rows(n=300, d=2, seed=0):
    return np.random.RandomState(seed).normal(size=(n, d))


class _BaseWithoutReturn(GaussianNoise):
    def fit(self, X):
        super().fit(X)  # no "return self"


class _LogProbOnly(Noise):
    """A base that can score but not draw: fit and log_prob only."""

    def fit(self, X):
        self.register_buffer("mean", torch.as_tensor(X.mean(axis=0), dtype=torch.float32))
        return self

    def log_prob(self, x):
        return torch.distributions.Normal(self.mean, 1.0).log_prob(x).sum(-1)


class _PlainNoise:
    """Not a torch module: the methods alone."""

    def fit(self, X):
        self.mean = torch.as_tensor(X.mean(axis=0), dtype=torch.float32)
        return self

    def sample(self, n_samples, generator=None):
        shape = (n_samples, len(self.mean))
        return self.mean + torch.randn(shape, generator=generator, dtype=torch.float32)

    def log_prob(self, x):
        return torch.distributions.Normal(self.mean, 1.0).log_prob(x).sum(-1)


class _Float64Noise(_PlainNoise):
    def sample(self, n_samples, generator=None):
        return super().sample(n_samples, generator).double()


class _PerFeatureNoise(_PlainNoise):
    def log_prob(self, x):
        return torch.distributions.Normal(self.mean, 1.0).log_prob(x)  # no .sum(-1)


class _GeneratorIgnoringNoise(Noise):
    """Draws by torch.distributions, which takes no generator: torch's global one then."""

    def fit(self, X):
        self.register_buffer("mean", torch.as_tensor(X.mean(axis=0), dtype=torch.float32))
        return self

    def _normal(self):
        return torch.distributions.Normal(self.mean, 1.5)

    def sample(self, n_samples, generator=None):
        return self._normal().sample((n_samples,))

    def log_prob(self, x):
        return self._normal().log_prob(x).sum(-1)


@pytest.mark.parametrize("role", ["noise", "base"])
def test_a_density_that_ignores_the_generator_still_reproduces(role):
    # Its draws (the probe's, training's, log Z's, sample's) come from torch's
    # global generator: two fits with one random_state differed, and the
    # user's own stream moved (user test, a Student-t noise).
    X = _rows()
    params = {role: _GeneratorIgnoringNoise(), "objective": "nce", **FAST}
    torch.manual_seed(123)
    state = torch.get_rng_state()
    fits = [CNCEEnergyModel(**params).fit(X) for _ in range(2)]
    draws = [fit.sample(5, random_state=0) for fit in fits]
    assert torch.equal(torch.get_rng_state(), state)
    np.testing.assert_array_equal(fits[0].score_samples(X), fits[1].score_samples(X))
    np.testing.assert_array_equal(draws[0], draws[1])


def test_only_a_users_density_draws_under_the_seeded_global_generator():
    # Which densities sample() and log Z seed torch's global generator for:
    # that takes the lock fits take turns with, so the package's own skip it
    # (a review: the default stack's ModuleList had made it a user's).
    from sklearn_nce._core.density import _is_ours
    from sklearn_nce.modules import SelectedDensity, StackedDensity

    X = _rows(300, 2)
    assert _is_ours(StackedDensity([GaussianNoise(), GaussianNoise()], [0.5, 0.5]))
    stack = SelectedDensity(random_state=0).fit(X)
    assert len(stack.weights_) > 1 and _is_ours(stack.density)
    assert not _is_ours(StackedDensity([GaussianNoise(), _GeneratorIgnoringNoise()], [0.5, 0.5]))

    class Mine(GaussianNoise):
        pass

    assert not _is_ours(Mine()) and not _is_ours(_PlainNoise())


def test_a_class_where_an_instance_belongs_is_refused_up_front():
    # critic=nn.Linear passed validation, then failed deep in fit with
    # "missing 1 required positional argument: 'self'" (user test).
    X = _rows()
    y = np.r_[np.zeros(150), np.ones(150)]
    with pytest.raises(InvalidParameterError, match="Got <class 'torch.nn.modules.linear"):
        NCEDensityRatio(critic=torch.nn.Linear).fit(X, y)
    with pytest.raises(InvalidParameterError, match="Got <class .*GaussianNoise'>"):
        CNCEEnergyModel(noise=GaussianNoise, **FAST).fit(X)


def test_a_base_whose_fit_returns_none_is_kept():
    # It was replaced by fit's return value, None: a model without its base.
    model = CNCEEnergyModel(base=_BaseWithoutReturn(), **FAST).fit(_rows())
    assert isinstance(model.base_, _BaseWithoutReturn)
    assert np.isfinite(model.base_score_samples(_rows(5, seed=1))).all()


def test_a_base_that_cannot_draw_is_not_the_proposal():
    # It was taken for the importance proposal and failed after training,
    # calling itself conditional.
    model = CNCEEnergyModel(base=_LogProbOnly(), **FAST).fit(_rows())
    assert model.proposal_ is not model.base_
    assert np.isfinite(model.score_samples(_rows(5, seed=1))).all()
    with pytest.raises(NotImplementedError, match="does not define sample"):
        model.base_.sample(3)
    # A missing fit is named too (it was a bare NotImplementedError; user test).
    with pytest.raises(NotImplementedError, match="Noise does not define fit"):
        Noise().fit(_rows())


def test_a_plain_object_noise_serves_the_outlier_detector():
    # It trained, then failed at the normaliser: "object has no attribute 'to'".
    detector = NoisierNCEClassifier(noise=_PlainNoise(), **FAST).fit(_rows())
    assert np.isfinite(detector.score_samples(_rows(5, seed=1))).all()
    # The energy model's CNCE reads the conditional pair, which only a Noise
    # subclass derives: the error says how to make the object serve (user
    # test: it said only what was missing).
    with pytest.raises(ValueError, match="serves objective='nce', or, as a subclass of"):
        CNCEEnergyModel(noise=_PlainNoise(), **FAST).fit(_rows())
    model = CNCEEnergyModel(noise=_PlainNoise(), objective="nce", **FAST).fit(_rows())
    assert np.isfinite(model.score_samples(_rows(5, seed=1))).all()


def test_a_conditional_noise_is_refused_by_the_detector_before_training():
    with pytest.raises(
        ValueError, match="needs an unconditional noise.*LocalJumps is conditional"
    ):
        NoisierNCEClassifier(noise=LocalJumps(), **FAST).fit(_rows())


@pytest.mark.parametrize(
    "noise, error, message",
    [
        (_Float64Noise(), TypeError, "noise's sample .*returned torch.float64.*float32"),
        (_PerFeatureNoise(), ValueError, r"noise's log_prob .*returned shape \(2, 2\)"),
    ],
    ids=["float64 draws", "log_prob per feature"],
)
def test_a_noise_with_the_wrong_output_is_named(noise, error, message):
    # Both failed in training with torch's dtype or size mismatch.
    with pytest.raises(error, match=message):
        NoisierNCEClassifier(noise=noise, **FAST).fit(_rows())


def test_a_critic_for_the_raw_columns_gets_an_error_that_explains_its_inputs():
    # A critic built for 3 columns, on data whose third column is constant:
    # the density model drops it, and torch said only "mat1 and mat2 shapes".
    X = np.c_[_rows(), np.ones(300)]
    critic = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.SiLU(), torch.nn.Linear(8, 1))
    with pytest.raises(ValueError, match=r"shape \(2, 2\).*standardised.*constant"):
        CNCEEnergyModel(critic=critic, **FAST).fit(X)


def test_a_critic_without_parameters_is_refused():
    class Fixed(torch.nn.Module):
        def forward(self, x):
            return x.sum(-1)

    X, y = _rows(200), np.r_[np.ones(100), np.zeros(100)]
    with pytest.raises(ValueError, match="no trainable parameters"):
        NCEDensityRatio(critic=Fixed(), max_epochs=1).fit(X, y)


def test_an_mi_critic_must_score_pairs_and_batches():
    X, Y, _ = make_correlated_gaussian(200, 2, 1.0, random_state=0)

    class OneInput(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 1)

        def forward(self, x):
            return self.linear(x).squeeze(-1)

    with pytest.raises(InvalidParameterError, match=re.escape("'forward' and 'score_matrix'")):
        InfoNCEAnchorMI(critic=OneInput(), max_epochs=1, cv=2).fit(X, Y)

    class FlatMatrix(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 1)

        def forward(self, x, y):
            return self.linear(torch.cat([x, y], -1)).squeeze(-1)

        def score_matrix(self, x, y):
            return self.forward(x, y)  # (n,), not (n_x, n_y)

    with pytest.raises(ValueError, match=r"score_matrix\(x, y\).*returned shape \(2,\)"):
        InfoNCEAnchorMI(critic=FlatMatrix(), max_epochs=1, cv=2).fit(X, Y)

    class Disagreeing(FlatMatrix):
        def score_matrix(self, x, y):  # pairs x[i] with y[j] in the wrong order
            n_x, n_y = len(x), len(y)
            pairs = torch.cat([x.repeat_interleave(n_y, 0), y.flip(0).repeat(n_x, 1)], -1)
            return self.linear(pairs).reshape(n_x, n_y)

    class Transposed(FlatMatrix):
        def score_matrix(self, x, y):  # [i, j] pairs x[j] with y[i]: the diagonal agrees
            n_x, n_y = len(x), len(y)
            pairs = torch.cat([x.repeat(n_y, 1), y.repeat_interleave(n_x, 0)], -1)
            return self.linear(pairs).reshape(n_y, n_x)

    # It read 5.46 nats where the truth is 0.5, silently (user test).
    for critic in (Disagreeing(), Transposed()):
        with pytest.raises(ValueError, match=r"but critic.score_matrix\(x, y\) read"):
            InfoNCEAnchorMI(critic=critic, max_epochs=1, cv=2).fit(X, Y)

    class Agreeing(FlatMatrix):
        def score_matrix(self, x, y):
            n_x, n_y = len(x), len(y)
            pairs = torch.cat([x.repeat_interleave(n_y, 0), y.repeat(n_x, 1)], -1)
            return self.linear(pairs).reshape(n_x, n_y)

    InfoNCEAnchorMI(critic=Agreeing(), max_epochs=1, cv=2).fit(X, Y)
    # The built-in critics, passed as a user's, agree with themselves.
    for critic in (JointCritic(2, 2), SeparableCritic(2, 2, 8)):
        InfoNCEAnchorMI(critic=critic, max_epochs=1, cv=2).fit(X, Y)


def test_a_custom_critic_is_reported_and_advised_as_one():
    # architecture_ said "mlp" or "residual" for a user's module, and the
    # chasm warning advised settings that do not apply to it.
    # 2000 rows per sample: 200 held out each, enough to measure the chasm's
    # 1% error; a mean shift of 4 per feature (KL 16) misclassifies almost none.
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(4, 1, (2000, 2)), rng.normal(0, 1, (2000, 2))]
    y = np.r_[np.ones(2000), np.zeros(2000)]
    with torch.random.fork_rng():  # the critic's weights: torch seeds 2 and 3 read 3.5-4% error
        torch.manual_seed(0)
        critic = torch.nn.Sequential(
            torch.nn.Linear(2, 16), torch.nn.SiLU(), torch.nn.Linear(16, 1)
        )
    model = NCEDensityRatio(critic=critic, max_epochs=5, random_state=0)
    with pytest.warns(UserWarning, match="Your critic is used as given"):
        model.fit(X, y)
    assert model.architecture_ == "custom"


class _FirstCallInit(torch.nn.Module):
    """Sets its input scale from the first batch it sees, as an ActNorm layer does."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)
        self.register_buffer("scale", torch.zeros(2))

    def forward(self, x):
        if not self.scale.any():
            self.scale.copy_(x.std(0) + 1e-6)
        return self.linear(x / self.scale).squeeze(-1)


def test_the_probe_leaves_no_trace_in_the_critic_that_trains():
    # The probe's two rows of zeros set the scale to 1e-6 (review): log
    # ratios of 1e5 on data whose true log ratio spans a few nats.
    X, y = np.r_[_rows(300) + 0.5, _rows(300, seed=1)], np.r_[np.ones(300), np.zeros(300)]
    model = NCEDensityRatio(critic=_FirstCallInit(), max_epochs=5, random_state=0).fit(X, y)
    assert model.net_.module_.scale.min() > 0.5
    assert np.abs(model.predict_log_ratio(X)).max() < 10


def test_an_mi_critic_may_return_a_column_of_scores():
    # forward returning (n, 1) fitted before the probe and must still.
    X, Y, _ = make_correlated_gaussian(200, 2, 1.0, random_state=0)

    class ColumnScores(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 1)

        def forward(self, x, y):
            return self.linear(torch.cat([x, y], -1))  # (n, 1)

        def score_matrix(self, x, y):
            pairs = torch.cat(
                [x[:, None].expand(-1, len(y), -1), y[None].expand(len(x), -1, -1)], -1
            )
            return self.linear(pairs).squeeze(-1)

    model = InfoNCEAnchorMI(critic=ColumnScores(), max_epochs=1, cv=2, random_state=0)
    assert np.isfinite(model.fit(X, Y).mi_)


class _SymmetricJumps(Noise):
    """Symmetric Gaussian jumps that define only sample_given: CNCE needs no density."""

    conditional = True
    symmetric = True

    def fit(self, X):
        return self

    def sample_given(self, x, n_draws, generator=None):
        shape = (len(x), n_draws, x.shape[1])
        return x[:, None] + 0.3 * torch.randn(shape, generator=generator, dtype=torch.float32)


class _Float64LogProbBase(_LogProbOnly):
    def log_prob(self, x):
        return super().log_prob(x).double()


@pytest.mark.parametrize(
    "params",
    [dict(noise=_SymmetricJumps()), dict(base=_Float64LogProbBase())],
    ids=["symmetric jumps without a density", "float64 log density"],
)
def test_what_trained_before_the_checks_still_does(params):
    # Both fitted before the output checks and were refused by their first
    # version (review): a symmetric noise's density is never read, and a
    # float64 log density is only promoted.
    model = CNCEEnergyModel(**params, **FAST).fit(_rows())
    assert np.isfinite(model.score_samples(_rows(5, seed=1))).all()


def test_a_user_critic_that_embeds_x_offers_transform():
    # An explicit SeparableCritic had no transform ("set critic=None").
    from sklearn_nce.modules import SeparableCritic

    X, Y, _ = make_correlated_gaussian(200, 3, 1.0, random_state=0)
    critic = SeparableCritic(3, 3, embedding_dim=8, hidden_features=(16,))
    model = InfoNCEAnchorMI(critic=critic, max_epochs=1, cv=2, random_state=0).fit(X, Y)
    assert model.transform(X).shape == (200, 2 * 8)  # its own width, not embedding_dim's 32
    assert len(model.get_feature_names_out()) == 16


class _UnregisteredNoise(Noise):
    """A module whose fitted mean is a plain attribute: ``.to(device)`` leaves it behind."""

    def fit(self, X):
        self.mean = torch.as_tensor(X.mean(axis=0), dtype=torch.float32)
        return self

    def sample(self, n_samples, generator=None):
        return self.mean + torch.randn(
            (n_samples, len(self.mean)), generator=generator, dtype=torch.float32
        )

    def log_prob(self, x):
        return -0.5 * ((x - self.mean) ** 2).sum(-1)


class _RegisteredNoise(_UnregisteredNoise):
    """The same with its mean a buffer, drawing on the generator's device: it moves."""

    def fit(self, X):
        self.register_buffer("mean", torch.as_tensor(X.mean(axis=0), dtype=torch.float32))
        return self

    def sample(self, n_samples, generator=None):
        shape = (n_samples, len(self.mean))
        return self.mean + torch.randn(shape, generator=generator).to(self.mean.device)


def test_a_density_that_cannot_follow_the_network_off_the_cpu_is_named():
    # A review: on CUDA these passed the check (run on the CPU) and failed
    # mid-training with a device mismatch. "meta" stands in for a GPU here:
    # the check moves a copy there and calls it.
    from sklearn_nce._core.density import _check_user_density

    X = _rows()
    methods = ("sample", "log_prob")
    with pytest.raises(ValueError, match="not a torch.nn.Module, so it cannot follow"):
        _check_user_density(_PlainNoise().fit(X), 2, "base", methods, device="meta")
    with pytest.raises(ValueError, match="failed on meta.*register_buffer"):
        _check_user_density(_UnregisteredNoise().fit(X), 2, "noise", methods, device="meta")
    _check_user_density(_RegisteredNoise().fit(X), 2, "noise", methods, device="meta")
    # On the CPU both still serve (the plain object as documented).
    _check_user_density(_PlainNoise().fit(X), 2, "base", methods)


class _UniformBox(Noise):
    """A proper density on the training rows' box (widened 10%), 0 outside; no sample."""

    def fit(self, X):
        low, high = X.min(axis=0), X.max(axis=0)
        pad = 0.1 * (high - low)
        self.register_buffer("low", torch.as_tensor(low - pad, dtype=torch.float32))
        self.register_buffer("high", torch.as_tensor(high + pad, dtype=torch.float32))
        return self

    def log_prob(self, x):
        inside = ((x >= self.low) & (x <= self.high)).all(-1)
        return torch.where(inside, -torch.log(self.high - self.low).sum(), -torch.inf)


def test_a_base_that_is_zero_somewhere_gets_a_log_partition():
    # The proposal's draws outside the box have log weight -inf (phi = 0
    # there): the fit raised "diverged" (a review). Its network starts at 0,
    # so log Z is about 0.
    X = np.random.RandomState(0).uniform(size=(300, 2))
    model = CNCEEnergyModel(base=_UniformBox(), **FAST).fit(X)
    assert abs(model.log_partition_) < 0.1


class _ParameterNoise(Noise):
    """A Gaussian noise that keeps its location and log scale as nn.Parameters."""

    def fit(self, X):
        self.loc = torch.nn.Parameter(torch.as_tensor(X.mean(axis=0), dtype=torch.float32))
        log_scale = np.log(X.std(axis=0))
        self.log_scale = torch.nn.Parameter(torch.as_tensor(log_scale, dtype=torch.float32))
        self.fitted = [p.detach().clone() for p in (self.loc, self.log_scale)]
        return self

    def _normal(self):
        return torch.distributions.Normal(self.loc, self.log_scale.exp())

    def sample(self, n_samples, generator=None):
        shape = (n_samples, len(self.loc))
        draws = torch.randn(shape, generator=generator, dtype=torch.float32)
        return (self.loc + self.log_scale.exp() * draws).detach()

    def log_prob(self, x):
        return self._normal().log_prob(x).sum(-1)


@pytest.mark.parametrize("role", ["noise", "base"])
def test_a_density_holding_parameters_is_not_trained(role):
    # A review: skorch's optimiser took the objective's (noise) and the
    # base's parameters along with the critic's; the noise widened from a
    # scale of 0.99 to 1.32 in 50 epochs. NCE's noise and base are fixed.
    X = _rows()
    params = (
        dict(noise=_ParameterNoise(), base=None)
        if role == "noise"
        else {"base": _ParameterNoise()}
    )
    model = CNCEEnergyModel(objective="nce", lr=1e-2, max_epochs=20, random_state=0, **params)
    model.fit(X)
    density = model.noise_ if role == "noise" else model.base_
    # The noise is the objective's: the optimiser never holds it. The base is
    # the critic's, frozen: held, but it gets no gradient.
    optimised = {id(p) for group in model.net_.optimizer_.param_groups for p in group["params"]}
    if role == "noise":
        assert not {id(density.loc), id(density.log_scale)} & optimised
    for now, fitted in zip((density.loc, density.log_scale), density.fitted, strict=True):
        assert not now.requires_grad or role == "noise"
        torch.testing.assert_close(now.detach(), fitted, rtol=0, atol=0)
    network = model.net_.module_.network
    assert all(id(p) in optimised for p in network.parameters())
