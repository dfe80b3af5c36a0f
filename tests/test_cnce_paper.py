"""The CNCE paper's mixed local/global jumps (issue 34): the noise term and Figure 1's case."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from sklearn_nce._core.noise import (
    GaussianNoise,
    KernelDensityNoise,
    LocalJumps,
    MixedJumps,
    cv_bandwidth,
    make_noise,
    scott_bandwidth,
)
from sklearn_nce._core.objectives import ConditionalNoiseObjective, NoiseContrastObjective


def _two_clusters(n_features, seed=0):
    rng = np.random.RandomState(seed)
    return np.concatenate(
        [rng.randn(30, n_features) * 0.3 - 2.0, rng.randn(70, n_features) * 0.3 + 2.0]
    )


def _kernels(global_noise):
    """``[(weight, centres, bandwidth)]`` of a KDE, or of a two-KDE mixture."""
    if isinstance(global_noise, KernelDensityNoise):
        parts = [(1.0, global_noise)]
    else:
        weight = global_noise.weight
        parts = [(1.0 - weight, global_noise.density), (weight, global_noise.wide)]
    return [(w, kde.centres.double().numpy(), float(kde.bandwidth_value)) for w, kde in parts]


def _brute_log_pn(y, x, noise, proportion):
    """``log pn(y | x)`` of the mixed jumps, one Gaussian at a time, in float64."""
    d = len(x)
    scale = float(noise.local.scale_value)
    terms = []
    if proportion > 0:
        terms.append(math.log(proportion) + multivariate_normal(x, scale**2 * np.eye(d)).logpdf(y))
    if proportion < 1:
        for weight, centres, bandwidth in _kernels(noise.global_noise):
            # Each kernel's log density written out (no expansion of the square).
            kernels = -0.5 * np.sum((np.asarray(y) - centres) ** 2, axis=1) / bandwidth**2
            kde = (
                logsumexp(kernels)
                - d * (0.5 * math.log(2 * math.pi) + math.log(bandwidth))
                - math.log(len(centres))
            )
            terms.append(math.log1p(-proportion) + math.log(weight) + kde)
    return logsumexp(terms)


@pytest.mark.parametrize("auto", [False, True], ids=["one-kde", "auto-two-kdes"])
@pytest.mark.parametrize("n_features", [1, 2])
@pytest.mark.parametrize("proportion", [0.0, 0.25, 0.5, 0.9, 1.0])
def test_mixed_jump_correction_matches_brute_force(n_features, proportion, auto):
    # log pn(y|x) - log pn(x|y) as the objective forms it (draws (n, k, d)
    # against data (n, 1, d)) equals the mixture density summed term by term.
    # Jumps of 0.2 (local) and 0.5 (KDE): both kinds of draw occur, and the
    # local term matters for the local draws only. The tolerance is float32's:
    # the KDE's expanded distance carries |c|^2 / h^2 ~ 60 at ~1e-7 relative.
    X = _two_clusters(n_features)
    if auto:  # make_noise's "mix": global jumps from KDEs at two bandwidths
        noise = make_noise("mix", local_proportion=proportion, random_state=0).fit(X)
    else:
        noise = MixedJumps(LocalJumps(0.2), KernelDensityNoise(0.5), proportion).fit(X)
    x = torch.as_tensor(X[::10], dtype=torch.float32)
    draws = noise.sample_given(x, 4, torch.Generator().manual_seed(1))
    data = x.unsqueeze(1)
    correction = noise.log_prob_given(draws, data) - noise.log_prob_given(data, draws)
    X64, Y64 = x.double().numpy(), draws.double().numpy()
    expected = np.array(
        [
            [
                _brute_log_pn(Y64[i, j], X64[i], noise, proportion)
                - _brute_log_pn(X64[i], Y64[i, j], noise, proportion)
                for j in range(draws.shape[1])
            ]
            for i in range(len(x))
        ]
    )
    np.testing.assert_allclose(correction.double().numpy(), expected, atol=1e-4, rtol=1e-5)
    if proportion in (0.25, 0.5, 0.9):
        assert np.abs(expected).max() > 1.0  # the check is not of a zero term


def test_auto_mix_jumps_globally_at_the_likelihood_and_scott_bandwidths():
    # Issue 34: Scott's bandwidth alone (0.75 on the paper's 20-d mixture of
    # modes 0.1 wide) sends every global jump between the modes.
    X = _two_clusters(3)
    noise = make_noise("mix", random_state=0).fit(X)
    bandwidths = [bandwidth for _, _, bandwidth in _kernels(noise.global_noise)]
    assert bandwidths == pytest.approx([cv_bandwidth(X, random_state=0), scott_bandwidth(X)])
    assert noise.global_noise.weight == 0.5
    # An explicit scale is still the one KDE bandwidth.
    assert make_noise("mix", scale=0.3).fit(X).global_noise.bandwidth_ == 0.3


def test_cnce_objective_loss_matches_brute_force_with_mixed_jumps():
    # The whole held-out batch loss: draws from the objective's fixed
    # validation generator, a known quadratic log phi, and the paper's
    # G = log phi(x) - log phi(y) + log pn(y|x) - log pn(x|y) in float64.
    X = _two_clusters(1)
    noise = MixedJumps(LocalJumps(0.2), KernelDensityNoise(0.5), 0.5).fit(X)

    class Quadratic(torch.nn.Module):
        def forward(self, z):
            return -0.5 * (z - 1.0).square().sum(-1)

    objective = ConditionalNoiseObjective(noise, n_noise=3).eval()
    x = torch.as_tensor(X, dtype=torch.float32)
    loss = float(objective(Quadratic(), x, None))
    draws = noise.sample_given(x, 3, torch.Generator().manual_seed(0)).double().numpy()[..., 0]
    X64 = x.double().numpy()[:, 0]
    total = []
    for i in range(len(X64)):
        for j in range(3):
            xi, yj = X64[i], draws[i, j]
            G = (
                -0.5 * (xi - 1.0) ** 2
                + 0.5 * (yj - 1.0) ** 2
                + _brute_log_pn([yj], [xi], noise, 0.5)
                - _brute_log_pn([xi], [yj], noise, 0.5)
            )
            total.append(np.logaddexp(0.0, -G))
    assert loss == pytest.approx(np.mean(total), abs=1e-4)


def test_held_out_rows_jump_globally_to_the_validation_noise():
    # Early stopping on local jumps' held-out loss let the modes' levels
    # drift (issue 34): with a validation noise, eval-mode batches jump to it
    # (the very loss an objective over that noise gives), training batches
    # keep the local jumps.
    X = torch.as_tensor(_two_clusters(2), dtype=torch.float32)
    local = LocalJumps(0.2).fit(X.numpy())
    proposal = KernelDensityNoise(0.5).fit(X.numpy())

    class Quadratic(torch.nn.Module):
        def forward(self, z):
            return -0.5 * (z - 1.0).square().sum(-1)

    judged = ConditionalNoiseObjective(local, n_noise=3, validation_noise=proposal)
    alone = ConditionalNoiseObjective(proposal, n_noise=3)
    assert float(judged.eval()(Quadratic(), X, None)) == float(alone.eval()(Quadratic(), X, None))
    # NCE against a far Gaussian is judged the same way.
    wide = GaussianNoise().fit(4.0 * X.numpy())
    nce = NoiseContrastObjective(wide, n_noise=3, validation_noise=proposal)
    assert float(nce.eval()(Quadratic(), X, None)) == float(alone.eval()(Quadratic(), X, None))
    plain = ConditionalNoiseObjective(local, n_noise=3).train()
    torch.manual_seed(0)
    trained = float(judged.train()(Quadratic(), X, None))
    torch.manual_seed(0)
    assert trained == float(plain(Quadratic(), X, None))


@pytest.mark.parametrize(
    "params, judged",
    [
        (dict(base=None, noise="mix"), True),
        (dict(base=None, noise="local"), True),
        (dict(base=None, noise="gaussian", objective="nce"), True),
        (dict(base=None, noise="auto"), False),  # the stack judges its own rows
        (dict(), False),  # the default: jumps to the base, which is the proposal
    ],
)
def test_held_out_rows_are_judged_against_the_proposal(params, judged):
    from sklearn_nce import CNCEEnergyModel

    X = _two_modes(200, 0)
    model = CNCEEnergyModel(**params, max_epochs=2, random_state=0).fit(X)
    # Without a base the proposal also draws from the network's box: the
    # held-out rows jump to its data-fitted part.
    proposal = getattr(model.proposal_, "density", model.proposal_)
    expected = proposal if judged else None
    assert model.net_.criterion_.validation_noise is expected


# -- Figure 1: two far-apart modes with unequal weights ----------------------

# Figure 1's data, model and read-out are the CNCE budget benchmark's, which
# shows the same case at 800 epochs.
_PATH = Path(__file__).parent.parent / "benchmarks" / "cnce_budget.py"
_spec = importlib.util.spec_from_file_location("_cnce_budget_benchmark", _PATH)
_benchmark = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_benchmark)
_two_modes = _benchmark.two_modes
_fit_two_modes = _benchmark.fit_two_modes
_learnt_log_ratio = _benchmark.learnt_log_ratio
_WEIGHT_LEFT = _benchmark.TWO_MODE_WEIGHT_LEFT
_TRUE_LOG_RATIO = math.log((1 - _WEIGHT_LEFT) / _WEIGHT_LEFT)  # right / left mass: log 4


@pytest.mark.parametrize("seed", [0, 1])
def test_mixed_jumps_recover_the_weight_ratio_and_local_jumps_do_not(seed):
    # The paper's Figure 1. Local jumps never compare the two modes, so
    # their relative level is whatever the network does in the empty gap;
    # global jumps (the KDE half of "mix") pair points of both modes.
    #
    # Mixed jumps, error of the learnt log mass ratio against log 4 (seeds
    # 0, 1, 2), measured at 20 / 80 / 200 / 400 epochs: -1.16 -0.95 -0.71 /
    # +0.08 +0.19 -0.49 / -0.01 +0.03 -0.25 / -0.04 +0.11 -0.21: it shrinks
    # with training and never drifts (also at lr 1e-3, batch 256, 2000 rows
    # over 1000 epochs: within +-0.35 from epoch 150 on). The sample's own
    # log ratio is off by ~0.08 (binomial: sqrt(1/200 + 1/800)); 0.7 nats
    # (a factor 2 in the ratio) leaves room for the optimisation at 80
    # epochs (worst 0.49) and none for a flat start (error -1.39).
    #
    # Local jumps, same settings: +29.5 +17.6 +34.0 / +41.5 +16.4 +45.3 /
    # +45.4 +13.1 +42.4 / +47.6 +12.4 +44.9 nats: wrong by 12 or more, and
    # no better with training. 5 nats is far from both.
    mixed = _learnt_log_ratio(_fit_two_modes("mix", seed, max_epochs=80))
    assert abs(mixed - _TRUE_LOG_RATIO) < 0.7
    local = _learnt_log_ratio(_fit_two_modes("local", seed, max_epochs=80))
    assert abs(local - _TRUE_LOG_RATIO) > 5.0
