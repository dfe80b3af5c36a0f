"""The bad-input matrix: every public entry point that takes data, times every bad input.

Each cell either works (a finite answer of the right length) or raises a ``ValueError`` or
``TypeError`` whose message names the problem and the fix: nothing is accepted and then
answered with NaN. ``fit`` cells train for one epoch on 40 rows, so the matrix checks the
plumbing, not the accuracy.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import sklearn

from sklearn_nce import (
    CNCEEnergyModel,
    InfoNCEAnchorMI,
    NCEDensityRatio,
    NoisierNCEClassifier,
    make_two_sample,
    mutual_info_nce,
)
from sklearn_nce.exceptions import UnreliableEstimateWarning

RNG = np.random.RandomState(0)
N = 40
X = RNG.standard_normal((N, 2))
Y_MI = X[:, ::-1] + 0.5 * RNG.standard_normal((N, 2))
LABELS = np.arange(N) % 2
FAST = dict(max_epochs=1, random_state=0)

ESTIMATORS = {
    "NCEDensityRatio": lambda: NCEDensityRatio(**FAST),
    # separable, so that transform exists
    "InfoNCEAnchorMI": lambda: InfoNCEAnchorMI(
        cv=2, batch_size=16, architecture="separable", **FAST
    ),
    "CNCEEnergyModel": lambda: CNCEEnergyModel(n_importance_samples=200, **FAST),
    "NoisierNCEClassifier": lambda: NoisierNCEClassifier(n_importance_samples=200, **FAST),
}
TARGETS = {"NCEDensityRatio": LABELS, "InfoNCEAnchorMI": Y_MI}

WORKS = "works"
# A working answer far outside the training data comes with this warning.
WARNS_FAR_OUTSIDE = "warns far outside"
# The density models score an infinite value's row (row 3) -inf, or -1 for
# predict, with a warning, and the other rows as usual.
SCORES_ITS_ROW_LOWEST = "scores its row lowest"


def _with(value):
    bad = X.copy()
    bad[3, 1] = value
    return bad


def _constant_column():
    bad = X.copy()
    bad[:, 1] = 3.0
    return bad


# name -> (input, outcome of fit, outcome of every other method taking X).
# An outcome is WORKS or (exception type, regex the message must match).
CASES = {
    "NaN": (_with(np.nan), (ValueError, "contains NaN"), (ValueError, "contains NaN")),
    "inf": (_with(np.inf), (ValueError, "contains infinity"), (ValueError, "contains infinity")),
    "empty": (X[:0], (ValueError, r"0 sample\(s\).*minimum of 10"), (ValueError, "0 sample")),
    "one row": (X[:1], (ValueError, r"1 sample\(s\).*minimum of 10"), WORKS),
    "fewer rows than fit needs": (X[:5], (ValueError, r"5 sample\(s\).*minimum of 10"), WORKS),
    "1-D": (X[:, 0], (ValueError, "got 1D array.*reshape"), (ValueError, "got 1D array.*reshape")),
    "3-D": (X[:, :, None], (ValueError, "3 dimensions.*reshape"), (ValueError, "3 dimensions")),
    "ragged list": (
        [[1.0, 2.0], [3.0]] * (N // 2),
        (ValueError, "ragged.*same number of features"),
        (ValueError, "ragged.*same number of features"),
    ),
    "text array": (
        np.array([["a", "b"]] * N),
        (ValueError, "contains text.*OneHotEncoder"),
        (ValueError, "contains text.*OneHotEncoder"),
    ),
    # Numbers as text are refused in an array as in a DataFrame (an array
    # of them was converted in silence; a user test).
    "numbers as text": (
        X.astype(str),
        (ValueError, r"contains text.*pandas.to_numeric"),
        (ValueError, r"contains text.*pandas.to_numeric"),
    ),
    # Also as nested lists and an object array (they passed; a review).
    "numbers as text, lists": (
        X.astype(str).tolist(),
        (ValueError, r"contains text.*pandas.to_numeric"),
        (ValueError, r"contains text.*pandas.to_numeric"),
    ),
    "numbers as text, objects": (
        X.astype(str).astype(object),
        (ValueError, r"contains text.*pandas.to_numeric"),
        (ValueError, r"contains text.*pandas.to_numeric"),
    ),
    "text column": (
        pd.DataFrame({"x0": X[:, 0], "city": ["Paris", "Oslo"] * (N // 2)}),
        (ValueError, r"non-numeric columns \['city'\].*OneHotEncoder"),
        (ValueError, r"non-numeric columns \['city'\]"),
    ),
    "complex": (
        X + 1j,
        (ValueError, "Complex data not supported.*real and imaginary"),
        (ValueError, "Complex data not supported"),
    ),
    "sparse": (
        scipy.sparse.csr_matrix(X),
        (TypeError, r"Sparse data.*toarray"),
        (TypeError, r"Sparse data.*toarray"),
    ),
    # Inputs are standardised inside: any units fit (tests/test_density_base.py
    # and test_mi_units.py check the answers do not change).
    "scale 1e8": (X * 1e8, WORKS, WORKS),
    "offset 1e8": (X + 1e8, WORKS, WORKS),
    "scale 1e-8": (X * 1e-8, WORKS, WORKS),
    "a few extreme values": (
        np.r_[X[:-1], [[1e9, 0.0]]],
        (ValueError, r"middle half spans.*QuantileTransformer"),
        WORKS,
    ),
    # In float32 the other rows became one value, whose spread of 0 passed
    # as "mostly one value" while the column collapsed (a user test).
    "one value beyond float32's resolution of the rest": (
        np.r_[X[:-1], [[1e12, 0.0]]],
        (ValueError, r"column\(s\) \[0\] whose middle half spans"),
        WORKS,
    ),
    "more features": (np.hstack([X, X]), WORKS, (ValueError, "4 features.*expecting 2")),
    "fewer features": (X[:, :1], WORKS, (ValueError, "1 features.*expecting 2")),
    "nested lists": (X.tolist(), WORKS, WORKS),
    "object array of numbers": (X.astype(object), WORKS, WORKS),
    "integers": ((X * 10).astype(int), WORKS, WORKS),
    "booleans": (X > 0, WORKS, WORKS),
    "constant feature": (_constant_column(), WORKS, WORKS),
}
# What differs from the table above for one estimator.
FIT_OVERRIDES: dict = {}


def _methods(name, fitted):
    """The entry points after fit that take X, as ``label -> f(X)``."""
    if name == "NCEDensityRatio":
        names = [
            "predict",
            "predict_proba",
            "predict_log_proba",
            "decision_function",
            "predict_log_ratio",
            "predict_ratio",
            "predict_weights",
        ]
    elif name == "InfoNCEAnchorMI":
        names = ["transform"]
    elif name == "CNCEEnergyModel":
        names = ["score_samples"]
    else:
        names = ["decision_function", "predict", "score_samples"]
    methods = {method: getattr(fitted, method) for method in names}
    if name == "InfoNCEAnchorMI":
        # The pair methods, with the bad input as x and as y (the other side good).
        methods["pointwise_mi(bad, y)"] = lambda bad: fitted.pointwise_mi(bad, _rows(Y_MI, bad))
        methods["pointwise_mi(x, bad)"] = lambda bad: fitted.pointwise_mi(_rows(X, bad), bad)
    return methods


def _rows(array, like):
    """``array`` cut to as many rows as ``like`` has (so only ``like`` is bad)."""
    n = like.shape[0] if hasattr(like, "shape") else len(like)
    return array[:n]


def _fit(name, bad):
    target = TARGETS.get(name)
    return ESTIMATORS[name]().fit(bad, None if target is None else _rows(target, bad))


def _check(outcome, call):
    if outcome == WARNS_FAR_OUTSIDE:
        with pytest.warns(UnreliableEstimateWarning, match="training ranges outside") as record:
            with np.errstate(over="ignore"):  # exp of a log ratio past 709 is inf
                call()
        # The warning points at the caller's line (here), not inside the package.
        assert any(r.filename == __file__ for r in record if "training ranges" in str(r.message))
        return
    if outcome == SCORES_ITS_ROW_LOWEST:
        with pytest.warns(UnreliableEstimateWarning, match="is infinite"):
            result = np.asarray(call(), dtype=float)
        assert result[3] in (-np.inf, -1) and np.all(np.isfinite(np.delete(result, 3)))
        return
    if outcome == WORKS:
        with warnings.catch_warnings():
            # A working cell may warn (e.g. one epoch is too short); it must not fail.
            warnings.simplefilter("ignore")
            result = call()
        if not hasattr(result, "fit"):  # an answer, not a fitted estimator
            assert np.all(np.isfinite(np.asarray(result, dtype=float)))
        return
    error, pattern = outcome
    with pytest.raises(error, match=pattern) as info:
        call()
    # Messages say the fix; they never print the data (sklearn's 1-D and
    # complex-data messages did): X[0, 0] is 1.76405...
    assert "1.7640" not in str(info.value)


@pytest.fixture(scope="module")
def fitted():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: _fit(name, X) for name in ESTIMATORS}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", ESTIMATORS)
def test_fit(name, case):
    bad, outcome, _ = CASES[case]
    if name == "InfoNCEAnchorMI" and case == "fewer features":
        pytest.skip("x of one feature is an ordinary MI problem (covered by test_mutual_info)")
    _check(FIT_OVERRIDES.get((name, case), outcome), lambda: _fit(name, bad))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", ESTIMATORS)
def test_methods_after_fit(fitted, name, case):
    bad, _, outcome = CASES[case]
    for label, method in _methods(name, fitted[name]).items():
        expected = outcome
        if label == "pointwise_mi(x, bad)" and case in ("more features", "fewer features"):
            n_columns = np.shape(bad)[1]
            expected = (ValueError, f"y has {n_columns} columns.*fitted with 2")
        if label == "pointwise_mi(x, bad)" and case.startswith("numbers as text"):
            # y's numbers as text read as numbers, as at a fit that reads y
            # as numbers (discrete_target=False); a text y of labels refits.
            expected = WORKS
        if label.startswith("pointwise_mi") and case == "text column":
            expected = (ValueError, r"non-numeric columns|contains text")
        if label == "pointwise_mi(x, bad)" and case == "1-D":
            # A 1-D y is one variable: refused because the fit saw two.
            expected = (ValueError, "y has 1 columns.*fitted with 2")
        if name in ("CNCEEnergyModel", "NoisierNCEClassifier") and case == "inf":
            # A density is 0 there (IsolationForest scores such a row too; a
            # user test had one inf fail a whole batch).
            expected = SCORES_ITS_ROW_LOWEST
        if label == "pointwise_mi(x, bad)" and case == "sparse":
            expected = (TypeError, "sparse y.*toarray")
        if case == "scale 1e8" and not label.startswith("pointwise_mi"):
            expected = WARNS_FAR_OUTSIDE
        try:
            _check(expected, lambda method=method: method(bad))
        except AssertionError as error:  # say which method of the estimator failed
            raise AssertionError(f"{name}.{label}: {error}") from None


# -- the target: y of the wrong length or kind ----------------------------------------
Y_CASES = {
    "NCEDensityRatio": {
        "wrong length": (LABELS[:30], (ValueError, "inconsistent numbers of samples")),
        "one class": (np.zeros(N), (ValueError, r"only one class \(0\.0\).*two distributions")),
        "continuous": (RNG.rand(N), (ValueError, "continuous.*make_two_sample")),
        "three classes": (np.arange(N) % 3, (ValueError, "Only binary.*got 3")),
        "NaN": (np.where(np.arange(N) == 3, np.nan, LABELS), (ValueError, "y contains NaN")),
        "one row of a class": (
            (np.arange(N) == 0).astype(int),
            (ValueError, "at least 2 rows"),
        ),
        "missing": (None, (ValueError, "requires y to be passed")),
        "column vector": (LABELS[:, None], WORKS),
        "string labels": (np.array(["train", "test"])[LABELS], WORKS),
    },
    "InfoNCEAnchorMI": {
        "wrong length": (Y_MI[:30], (ValueError, "inconsistent numbers of samples")),
        "NaN": (_with(np.nan)[:, ::-1], (ValueError, "y contains NaN")),
        "text": (np.array([["a", "b"]] * N), (ValueError, "y contains text")),
        "constant column": (np.c_[Y_MI[:, 0], np.ones(N)], WORKS),
        "every column constant": (np.ones((N, 2)), (ValueError, "constant")),
        "scale 1e8": (Y_MI * 1e8, WORKS),
        "a few extreme values": (
            np.r_[Y_MI[:-1], [[1e9, 0.0]]],
            (ValueError, r"y has column.*middle half spans"),
        ),
        "sparse": (scipy.sparse.csr_matrix(Y_MI), (TypeError, "sparse y.*toarray")),
        "missing": (None, (ValueError, "requires y to be passed")),
        "one column, 1-D": (Y_MI[:, 0], WORKS),
    },
}


@pytest.mark.parametrize(
    "name, case", [(name, case) for name, cases in Y_CASES.items() for case in cases]
)
def test_fit_with_bad_y(name, case):
    y, outcome = Y_CASES[name][case]
    _check(outcome, lambda: ESTIMATORS[name]().fit(X, y))


def test_score_with_bad_y(fitted):
    model = fitted["NCEDensityRatio"]
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        model.score(X, LABELS[:30])
    with pytest.raises(ValueError, match="both samples"):
        model.score(X, np.zeros(N))
    pair_model = fitted["InfoNCEAnchorMI"]
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        pair_model.score(X, Y_MI[:30])


# -- pandas: names seen at fit and later -----------------------------------------------
def test_a_squeezed_column_is_named_as_the_dataframe_names_it():
    frame = pd.DataFrame({"age": X[:, 0], "income": np.r_[X[:-1, 1], 1e12]})
    with pytest.raises(ValueError, match=r"column\(s\) \['income'\] whose middle half"):
        NCEDensityRatio(**FAST).fit(frame, LABELS)


@pytest.mark.parametrize("name", ["NCEDensityRatio", "CNCEEnergyModel"])
def test_feature_names_must_match_those_seen_at_fit(name):
    frame = pd.DataFrame(X, columns=["a", "b"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = _fit(name, frame)
    method = model.predict_log_ratio if name == "NCEDensityRatio" else model.score_samples
    np.testing.assert_array_equal(model.feature_names_in_, ["a", "b"])
    for columns in (["b", "a"], ["c", "d"]):
        with pytest.raises(ValueError, match="feature names should match"):
            method(pd.DataFrame(X, columns=columns))
    # Plain arrays after a DataFrame fit work, with sklearn's warning.
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        np.testing.assert_array_equal(method(X), method(frame))


# -- sample(n_samples) -----------------------------------------------------------------
@pytest.mark.parametrize(
    "n_samples, error",
    [(-1, ValueError), (2.5, TypeError), ("3", TypeError), (None, TypeError)],
)
def test_sample_takes_a_non_negative_integer(fitted, n_samples, error):
    # 0 gives an empty array, as KernelDensity.sample (tests/test_energy.py).
    with pytest.raises(error, match="n_samples"):
        fitted["CNCEEnergyModel"].sample(n_samples)


def test_sample_with_a_numpy_integer(fitted):
    assert fitted["CNCEEnergyModel"].sample(np.int64(3), random_state=0).shape == (3, 2)


# -- the helper functions --------------------------------------------------------------
HELPER_CASES = {
    name: CASES[name][1]
    for name in ("NaN", "inf", "1-D", "3-D", "ragged list", "text array", "complex", "sparse")
}


@pytest.mark.parametrize("case", HELPER_CASES)
def test_make_two_sample_checks_both_samples(case):
    bad, (error, pattern) = CASES[case][0], HELPER_CASES[case]
    for args in ((bad, X), (X, bad)):
        with pytest.raises(error, match=pattern.split(".*")[0]) as info:
            make_two_sample(*args)
        assert "1.7640" not in str(info.value)


def test_make_two_sample_refuses_mismatched_samples():
    with pytest.raises(ValueError, match=r"different numbers of features: 2.*and 1"):
        make_two_sample(X, X[:, :1])
    with pytest.raises(ValueError, match="different columns"):
        make_two_sample(pd.DataFrame(X, columns=["a", "b"]), pd.DataFrame(X, columns=["c", "d"]))
    twice = pd.DataFrame(X, columns=["a", "a"])
    with pytest.raises(ValueError, match=r"numerator sample repeats column\(s\) \['a'\]"):
        make_two_sample(twice, twice)
    # A Series has no reshape: the 1-D message names its fix (a user test).
    with pytest.raises(ValueError, match=r"for a pandas Series, series\.to_frame\(\)"):
        make_two_sample(pd.Series(X[:, 0]), pd.Series(X[:, 1]))


@pytest.mark.parametrize(
    "case", ["NaN", "fewer rows than fit needs", "a few extreme values", "text array"]
)
def test_mutual_info_nce_checks_its_input(case):
    bad, (error, pattern), _ = CASES[case]
    with pytest.raises(error, match=pattern):
        mutual_info_nce(bad, _rows(Y_MI, bad), **FAST)


def test_mutual_info_nce_per_feature_names_x_in_its_nan_error():
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        mutual_info_nce(bad, _rows(Y_MI, bad), per_feature=True, **FAST)


@pytest.mark.parametrize("name", ["NCEDensityRatio", "InfoNCEAnchorMI"])
def test_a_value_beyond_float32_after_fit_is_refused(fitted, name):
    # 1e39 is finite in float64 but inf in the critics' float32: the answer
    # was NaN, with a "inf training ranges outside" warning.
    bad = np.r_[X[:5], [[1e39, 0.0]]]
    for method in _methods(name, fitted[name]).values():
        with pytest.raises(ValueError, match=r"too large for the critics' float32.*row 5"):
            method(bad)


@pytest.mark.parametrize("name", ["CNCEEnergyModel", "NoisierNCEClassifier"])
@pytest.mark.parametrize("far", [1e39, np.inf, -np.inf])
def test_a_value_beyond_float32_after_fit_scores_minus_infinity(fitted, name, far):
    # A density is defined there (and is 0 in float): the row scores -inf, as
    # one beyond float32's squares does, and the other rows are scored. It
    # had raised, failing a service's whole batch (user test; for an inf,
    # e.g. from a ratio feature dividing by zero, IsolationForest scores it).
    bad = np.r_[X[:5], [[far, 0.0]]]
    model = fitted[name]
    with pytest.warns(UnreliableEstimateWarning, match="outside the range"):
        scores = model.score_samples(bad)
    assert scores[5] == -np.inf and np.all(np.isfinite(scores[:5]))
    np.testing.assert_array_equal(scores[:5], model.score_samples(X[:5]))
    if name == "NoisierNCEClassifier":
        with pytest.warns(UnreliableEstimateWarning):
            assert model.predict(bad)[5] == -1
    # A NaN is still refused with sklearn's message, also where sklearn's
    # finiteness check is off (it had scored -inf there; a review).
    bad[4, 0] = np.nan
    with pytest.raises(ValueError, match=f"Input X contains NaN.\n{name} does not accept"):
        model.score_samples(bad)
    with sklearn.config_context(assume_finite=True):
        with pytest.raises(ValueError, match=r"contains NaN \(row 4, column 0\)"):
            model.score_samples(bad)


def test_nan_under_assume_finite_is_named_as_nan():
    # With sklearn's finiteness check off, a NaN reached the float32 range
    # check, which called it "a value too large" (user test).
    X = np.random.RandomState(0).normal(size=(100, 2))
    X[3, 0] = np.nan
    with sklearn.config_context(assume_finite=True):
        with pytest.raises(ValueError, match=r"contains NaN \(row 3, column 0\)"):
            CNCEEnergyModel(max_epochs=1).fit(X)
        X[3, 0] = -np.inf  # it read as a standard deviation float64 cannot hold
        with pytest.raises(ValueError, match=r"contains infinity \(row 3, column 0\)"):
            CNCEEnergyModel(max_epochs=1).fit(X)
    # +inf beside -inf: sklearn's finite check sums X, and numpy warned
    # "invalid value encountered in reduce" above the clear error (user test).
    X[4, 0] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match="Input X contains infinity"):
            CNCEEnergyModel(max_epochs=1).fit(X)
