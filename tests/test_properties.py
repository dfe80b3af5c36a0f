"""Property-based tests (hypothesis) of the losses and of input validation.

Shapes, dtypes and values are drawn at random; each test asserts what holds for every
draw: finite losses with their documented bounds and invariances, and for input either
a float32 array of the same shape or the documented error. ``derandomize=True`` makes
every run draw the same examples, so CI is reproducible.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_nce import NCEDensityRatio
from sklearn_nce._core.losses import (
    LOSSES,
    balanced_log_likelihood,
    cnce_loss,
    dv_loss,
    infonce_anchor_loss,
    infonce_loss,
    log_mean_exp,
    nwj_loss,
)
from sklearn_nce._core.validation import (
    MIN_SAMPLES,
    check_feature_scale,
    middle_spread,
    validate_X,
)

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# Critic outputs as a trained critic can produce them (|h| up to 50 nats).
LOGITS = st.floats(-50, 50, allow_nan=False, width=32)
LOG_RATIOS = st.integers(1, 40).flatmap(
    lambda n: arrays(np.float32, n, elements=LOGITS).map(torch.from_numpy)
)
NOISE_WEIGHTS = st.floats(1e-3, 1e5)


def _scores(min_columns=2):
    return st.tuples(st.integers(1, 12), st.integers(min_columns, 12)).flatmap(
        lambda shape: arrays(np.float32, shape, elements=LOGITS).map(torch.from_numpy)
    )


# -- losses ---------------------------------------------------------------------------------
@SETTINGS
@given(
    pos=LOG_RATIOS,
    neg=LOG_RATIOS,
    noise_weight=NOISE_WEIGHTS,
    name=st.sampled_from(["logistic", "noisier", "brier"]),
)
def test_classification_losses_are_finite_and_non_negative(pos, neg, noise_weight, name):
    loss = LOSSES[name](pos, neg, noise_weight=noise_weight)
    assert loss.shape == ()
    assert torch.isfinite(loss) and loss >= 0


@SETTINGS
@given(pos=LOG_RATIOS, neg=LOG_RATIOS, noise_weight=NOISE_WEIGHTS)
def test_brier_loss_is_at_most_one(pos, neg, noise_weight):
    # A squared error of a probability: each term is at most 1, and the
    # weights (1 and M) are normalised by 1 + M.
    assert LOSSES["brier"](pos, neg, noise_weight=noise_weight) <= 1 + 1e-6


@SETTINGS
@given(pos=LOG_RATIOS, neg=LOG_RATIOS)
def test_balanced_log_likelihood_is_symmetric_in_the_two_samples(pos, neg):
    # Swapping the samples and negating the log ratio describes the same classifier.
    torch.testing.assert_close(
        balanced_log_likelihood(pos, neg), balanced_log_likelihood(-neg, -pos)
    )
    assert balanced_log_likelihood(pos, neg) <= 0


@SETTINGS
@given(scores=_scores(), shift=st.floats(-20, 20))
def test_infonce_is_non_negative_and_shift_invariant_per_row(scores, shift):
    loss = infonce_loss(scores)
    assert torch.isfinite(loss) and loss >= -1e-6
    # A constant added to a row (the c(x) InfoNCE cannot identify) changes nothing.
    torch.testing.assert_close(infonce_loss(scores + shift), loss, rtol=1e-5, atol=1e-4)


@SETTINGS
@given(scores=_scores(), nu=st.floats(1e-2, 1e3), scoring=st.sampled_from(["log", "brier"]))
def test_infonce_anchor_loss_is_finite(scores, nu, scoring):
    loss = infonce_anchor_loss(scores, scores.flip(0), nu=nu, scoring=scoring)
    assert loss.shape == () and torch.isfinite(loss)


@SETTINGS
@given(joint=_scores(1), marginal=_scores(1), shift=st.floats(-20, 20))
def test_dv_is_shift_invariant_and_nwj_is_finite(joint, marginal, shift):
    # DV's optimum is log r + c for any c: a constant shift leaves the bound.
    torch.testing.assert_close(
        dv_loss(joint + shift, marginal + shift), dv_loss(joint, marginal), rtol=1e-4, atol=1e-3
    )
    assert torch.isfinite(nwj_loss(joint, marginal))


@SETTINGS
@given(values=_scores(1))
def test_log_mean_exp_lies_between_the_min_and_the_max(values):
    result = float(log_mean_exp(values.double()))
    assert float(values.min()) - 1e-9 <= result <= float(values.max()) + 1e-9


@SETTINGS
@given(data=_scores(2))
def test_cnce_loss_is_non_negative_and_log_two_for_equal_densities(data):
    log_phi_data, log_phi_noise = data[:, 0], data[:, 1:]
    assert cnce_loss(log_phi_data, log_phi_noise) >= 0
    # Data no more likely than its noise: the classifier is at chance.
    same = log_phi_data.unsqueeze(1).expand_as(log_phi_noise)
    torch.testing.assert_close(
        cnce_loss(log_phi_data, same), torch.tensor(math.log(2.0)), rtol=1e-6, atol=1e-6
    )


# -- input validation ------------------------------------------------------------------------
FINITE = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
DTYPES = st.sampled_from([np.float64, np.float32, np.int64, np.int32, np.float16])


@SETTINGS
@given(
    X=st.tuples(st.integers(MIN_SAMPLES, 60), st.integers(1, 6), DTYPES).flatmap(
        lambda spec: arrays(spec[2], spec[:2], elements=st.integers(-1000, 1000))
    )
)
def test_finite_moderate_input_is_accepted_as_float32_of_the_same_shape(X):
    # Returned in standard units (columns of mean 0 and sd 1; a constant
    # column is 0), which the estimator's standardiser maps back exactly.
    estimator = NCEDensityRatio()
    checked = validate_X(estimator, X, reset=True)
    assert checked.dtype == np.float32
    assert checked.shape == X.shape
    X = X.astype(np.float64)
    spread = X.std(axis=0)
    expected = (X - X.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    expected[:, spread == 0] = 0.0
    np.testing.assert_allclose(checked, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        estimator._standardiser.inverse_transform(checked), X, rtol=1e-5, atol=1e-3
    )


@SETTINGS
@given(
    shape=st.tuples(st.integers(MIN_SAMPLES, 40), st.integers(1, 5)),
    bad=st.sampled_from([np.nan, np.inf, -np.inf]),
    where=st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)),
)
def test_a_non_finite_value_anywhere_is_refused(shape, bad, where):
    X = np.zeros(shape)
    X[where[0] % shape[0], where[1] % shape[1]] = bad
    with pytest.raises(ValueError, match="NaN" if np.isnan(bad) else "infinity"):
        validate_X(NCEDensityRatio(), X, reset=True)


@SETTINGS
@given(n_rows=st.integers(0, MIN_SAMPLES - 1), n_features=st.integers(1, 5))
def test_too_few_rows_to_fit_are_refused(n_rows, n_features):
    with pytest.raises(ValueError, match=f"minimum of {MIN_SAMPLES}"):
        validate_X(NCEDensityRatio(), np.zeros((n_rows, n_features)), reset=True)


@SETTINGS
@given(n=st.integers(1, 50), n_dims=st.sampled_from([1, 3, 4]))
def test_wrong_dimensions_are_refused(n, n_dims):
    X = np.zeros((n,) + (2,) * (n_dims - 1))
    with pytest.raises(ValueError, match="got 1D array|dimensions"):
        validate_X(NCEDensityRatio(), X, reset=True)


@SETTINGS
@given(
    X=arrays(np.float64, (40, 3), elements=st.integers(-300, 300).map(lambda i: i / 100)),
    log_scale=st.floats(-8, 8),
    offset=st.floats(-1e6, 1e6),
)
def test_units_do_not_matter_to_validation(X, log_scale, offset):
    # Any scale and offset give the same standardised array: the critic
    # never sees the units.
    moved_X = X * 10.0**log_scale + offset
    plain = validate_X(NCEDensityRatio(), X, reset=True)
    moved = validate_X(NCEDensityRatio(), moved_X, reset=True)
    # What float64 can resolve: the spacing of numbers near the offset, in
    # standard deviations of the moved column, plus float32's rounding.
    spread = np.maximum(moved_X.std(axis=0), 1e-300)
    resolution = 4 * np.spacing(np.abs(moved_X).max(axis=0)) / spread
    np.testing.assert_allclose(plain, moved, atol=float(resolution.max()) + 1e-5)


@SETTINGS
@given(Z=arrays(np.float64, (40, 3), elements=st.floats(-3, 3)), squeeze=st.floats(-9, 1))
def test_the_scale_check_refuses_exactly_a_squeezed_middle_half(Z, squeeze):
    Z = Z * 10.0**squeeze
    spread = np.subtract(*np.percentile(Z, [75, 25], axis=0))
    if ((spread > 0) & (spread < 1e-4)).any():
        with pytest.raises(ValueError, match="middle half spans"):
            check_feature_scale(middle_spread(Z))
    else:
        check_feature_scale(middle_spread(Z))
