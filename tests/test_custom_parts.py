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
from sklearn_nce.modules import GaussianNoise, LocalJumps, Noise

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


def test_a_plain_object_noise_serves_the_outlier_detector():
    # It trained, then failed at the normaliser: "object has no attribute 'to'".
    detector = NoisierNCEClassifier(noise=_PlainNoise(), **FAST).fit(_rows())
    assert np.isfinite(detector.score_samples(_rows(5, seed=1))).all()


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


def test_a_custom_critic_is_reported_and_advised_as_one():
    # architecture_ said "mlp" or "residual" for a user's module, and the
    # chasm warning advised settings that do not apply to it.
    # 2000 rows per sample: 200 held out each, enough to measure the chasm's
    # 1% error; a mean shift of 4 per feature (KL 16) misclassifies almost none.
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(4, 1, (2000, 2)), rng.normal(0, 1, (2000, 2))]
    y = np.r_[np.ones(2000), np.zeros(2000)]
    critic = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.SiLU(), torch.nn.Linear(16, 1))
    model = NCEDensityRatio(critic=critic, max_epochs=5, random_state=0)
    with pytest.warns(UserWarning, match="Your critic is used as given"):
        model.fit(X, y)
    assert model.architecture_ == "custom"
