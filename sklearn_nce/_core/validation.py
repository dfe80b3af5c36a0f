"""Input checks shared by every estimator; the one place importing sklearn's private helpers.

scikit-learn keeps ``Interval``, ``StrOptions``, ``_fit_context`` and ``available_if`` in
private modules. Importing them here only means a change in scikit-learn is a one-line fix.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = [
    "HasMethods",
    "Integral",
    "Interval",
    "MIN_SAMPLES",
    "Real",
    "StrOptions",
    "_fit_context",
    "available_if",
    "check_binary_target",
    "check_is_fitted",
    "validate_X",
    "validate_X_y",
]

# Fewer rows than this cannot train a critic and hold anything out; sklearn's
# check_fit2d_1sample expects a ValueError naming the sample count.
MIN_SAMPLES = 10


def validate_X(estimator, X, *, reset):
    """Validate X as a finite 2-D float32 array and record/check ``n_features_in_``.

    NaN, inf, 1-D input, complex values and too few rows raise ``ValueError``
    with sklearn's standard messages.
    """
    _check_shape_and_columns(X)
    return validate_data(
        estimator,
        X,
        reset=reset,
        dtype=np.float32,
        ensure_min_samples=MIN_SAMPLES if reset else 1,
    )


def validate_X_y(estimator, X, y, *, reset=True, **check_params):
    """Validate (X, y) with X as finite 2-D float32; ``check_params`` go to ``validate_data``.

    At fit time (``reset=True``) at least ``MIN_SAMPLES`` rows are required.
    """
    _check_shape_and_columns(X)
    return validate_data(
        estimator,
        X,
        y,
        reset=reset,
        dtype=np.float32,
        ensure_min_samples=MIN_SAMPLES if reset else 1,
        **check_params,
    )


def check_binary_target(y, *, min_per_class=2):
    """Encode a binary target as 0/1 (``classes_[1]`` is the positive class).

    Returns ``classes_`` and the encoded labels. One class, more than two
    classes or a continuous target raise ``ValueError``.
    """
    # Continuous or unknown targets get sklearn's "Unknown label type" error,
    # followed by what y means here and how to build it.
    try:
        check_classification_targets(y)
    except ValueError as error:
        raise ValueError(
            f"{error} Here y labels the sample each row comes from (1 = numerator, "
            "0 = denominator): build X and y from the two samples with "
            "make_two_sample(X_numerator, X_denominator), or label them your way and set "
            "numerator_label."
        ) from None
    classes, encoded = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"y has only one class ({classes[0]!r}); a density ratio needs samples from "
            "two distributions, labelled 1 (numerator) and 0 (denominator)."
        )
    if type_of_target(y, input_name="y") != "binary":
        raise ValueError(
            "Only binary classification is supported: y must label two samples "
            f"(1 = numerator, 0 = denominator), got {len(classes)} distinct values."
        )
    counts = np.bincount(encoded)
    if counts.min() < min_per_class:
        raise ValueError(
            f"Each sample needs at least {min_per_class} rows; got class counts "
            f"{dict(zip(classes.tolist(), counts.tolist(), strict=True))}."
        )
    return classes, encoded


def _check_shape_and_columns(X):
    """Refuse 1-D input and non-numeric DataFrame columns with messages that say the fix.

    sklearn's own 1-D message echoes the whole array before its advice, and a
    string column fails as "could not convert string to float" without
    naming the column.
    """
    dtypes = getattr(X, "dtypes", None)
    if hasattr(dtypes, "items"):
        text = [str(column) for column, dtype in dtypes.items() if _kind(dtype) not in "biuf"]
        if text:
            raise ValueError(
                f"X has non-numeric columns {text}: encode them first, e.g. with "
                "OneHotEncoder or OrdinalEncoder in a ColumnTransformer placed before this "
                "estimator in a Pipeline."
            )
    # Arrays, DataFrames and Series know their ndim; nested lists are
    # measured; anything else (e.g. array-likes that refuse numpy functions)
    # is left to validate_data.
    n_dims = getattr(X, "ndim", None)
    if n_dims is None and isinstance(X, list | tuple):
        try:
            n_dims = np.ndim(X)
        except ValueError:  # ragged nested lists: validate_data reports them
            return
    if n_dims == 1:
        raise ValueError(
            f"Expected 2D array, got 1D array instead ({len(X)} values). Reshape your data "
            "either using array.reshape(-1, 1) if your data has a single feature or "
            "array.reshape(1, -1) if it contains a single sample."
        )


def _kind(dtype):
    """The one-letter kind of a numpy or pandas dtype ("O" when it has none).

    pandas' extension dtypes (nullable Int64, Float64, boolean, Arrow numbers)
    report their kind like numpy's; "category" and "string" report "O".
    """
    return getattr(dtype, "kind", "O")
