"""One-hot encoding of the columns a user marks as categories (``discrete_features``).

Integer codes of unordered categories read as ordered numbers make a critic
learn a smooth function of an arbitrary order: 30 product codes that fix a
price read 0.82-1.01 nats of a true 3.39, one-hot 3.12 (a user test). The
categories are fitted once and then held fixed, so that later rows share the
fit's layout; a value unseen at fit reads as none of them (zeros), with a
warning. A DataFrame's category and text columns among them are first coded
as numbers (their values sorted, as ``OrdinalEncoder`` does), as
``HistGradientBoostingClassifier`` takes category columns by their dtype.
"""

import warnings
from numbers import Integral, Number

import numpy as np

from ..exceptions import UnreliableEstimateWarning
from .validation import non_numeric_positions, stacklevel_to_user

__all__ = [
    "category_positions",
    "check_category_count",
    "code_categories",
    "discrete_mask",
    "fit_categories",
    "fit_codes",
    "is_frame",
    "one_hot_columns",
    "one_hot_layout",
    "warn_if_unseen_categories",
]

# A discrete_features column with more distinct values than both of these (a
# count, and a share of its rows) is refused as a measurement (fit_categories).
_MAX_CATEGORIES_MIN = 50
_MAX_CATEGORIES_SHARE = 0.5


def discrete_mask(discrete_features, n_features, X=None):
    """``discrete_features`` (a bool, "auto", indices, names or a mask) as a mask of the columns.

    "auto" marks a DataFrame ``X``'s category and text columns
    (:func:`category_positions`), and no other: sklearn's
    ``mutual_info_classif`` reads it as "discrete where X is sparse", X is
    dense here, and such columns are categories by their dtype. Names are
    looked up among a DataFrame's columns.
    """
    if isinstance(discrete_features, str) and discrete_features == "auto":
        mask = np.zeros(n_features, dtype=bool)
        mask[category_positions(X)] = True
        return mask
    if isinstance(discrete_features, (bool, np.bool_)):
        return np.full(n_features, bool(discrete_features))
    given = _as_array(discrete_features)
    if given.size == 0:
        return np.zeros(n_features, dtype=bool)
    if given.dtype.kind in "OUS":
        given = _column_positions(given, X)
    if given.dtype == bool:
        if given.shape != (n_features,):
            raise ValueError(
                f"discrete_features as a mask needs one entry per column of X "
                f"({n_features}); got shape {given.shape}."
            )
        return given.copy()
    if given.ndim != 1 or not np.issubdtype(given.dtype, np.integer):
        raise ValueError(
            "discrete_features must be a bool, column indices (integers), a boolean mask or "
            f"a DataFrame's column names; got {discrete_features!r}."
        )
    if given.min() < -n_features or given.max() >= n_features:
        raise ValueError(
            f"discrete_features has index(es) outside X's {n_features} column(s): "
            f"{given.tolist()}."
        )
    mask = np.zeros(n_features, dtype=bool)
    mask[given] = True
    return mask


def _as_array(discrete_features):
    """``discrete_features`` as an array: names as objects, integers as ints (even as objects).

    numpy reads ``["code", 0]`` as two strings, and an object array of
    integers as objects (a review): a mix of names and indices is refused.
    """
    entries = list(np.ravel(np.asarray(discrete_features, dtype=object)))
    names = [isinstance(entry, str) for entry in entries]
    if any(names) and not all(names):
        raise ValueError(
            "discrete_features mixes column names and indices: give one or the other; got "
            f"{entries!r}."
        )
    if entries and not any(names) and all(_is_index(entry) for entry in entries):
        return np.asarray(entries, dtype=np.int64)
    return np.asarray(discrete_features, dtype=object if any(names) else None)


def _is_index(entry):
    return isinstance(entry, Integral) and not isinstance(entry, (bool, np.bool_))


def _column_positions(names, X):
    """The positions of the columns ``names`` (an array of them) among a DataFrame's columns."""
    columns = [str(column) for column in getattr(X, "columns", [])]
    if not columns or any(not isinstance(name, str) for name in names.ravel()):
        raise ValueError(
            "discrete_features names columns only when X is a DataFrame with named columns; "
            f"got {names.tolist()!r}. Pass column indices (integers) or a boolean mask."
        )
    unknown = [str(name) for name in names.ravel() if name not in columns]
    if unknown:
        raise ValueError(
            f"discrete_features names columns X does not have: {unknown}; X's columns are "
            f"{columns}."
        )
    repeated = sorted({name for name in names.ravel() if columns.count(name) > 1})
    if repeated:
        raise ValueError(
            f"discrete_features names columns that X has more than once: {repeated}. Give "
            "their indices, or rename the columns."
        )
    return np.array([columns.index(name) for name in names.ravel()], dtype=int)


def category_positions(X):
    """The positions of a DataFrame's category and text columns ([] for anything else).

    Category, string and object dtypes whose values are not all numbers
    (:func:`~sklearn_nce._core.validation.non_numeric_positions`); a date or
    time column is not a category (a review: "auto" had one-hot encoded one).
    """
    if not is_frame(X):
        return []
    return [column for column in non_numeric_positions(X) if _textual(X.dtypes.iloc[column])]


def _textual(dtype):
    """Whether a (non-numeric) pandas dtype holds categories or text."""
    import pandas as pd  # only reached for a DataFrame's dtypes

    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
    )


def is_frame(X):
    """Whether X is a 2-D DataFrame (a Series has ``iloc`` too, and one dimension)."""
    return hasattr(X, "columns") and hasattr(X, "iloc") and getattr(X, "ndim", 0) == 2


def fit_codes(X, discrete_features):
    """Code a DataFrame's category and text columns among ``discrete_features`` (at fit).

    Returns X with those columns as float codes, the mask of
    ``discrete_features`` and the values coded (:func:`code_categories`);
    anything but a DataFrame comes back as it is, with no mask (it is
    resolved on the validated array) and no values.
    """
    if not is_frame(X):
        return X, None, {}
    mask = discrete_mask(discrete_features, X.shape[1], X)
    X, values = code_categories(X, mask)
    return X, mask, values


def code_categories(X, mask, fitted=None):
    """X with its category and text columns among ``mask`` as float codes, and the values coded.

    ``fitted`` (a dict, column position to the values of the fit) codes
    later rows as the fit did, a value unseen at fit as -1 (read as none of
    the categories), with a warning that names it; None fits the values:
    each column's sorted, as ``OrdinalEncoder`` orders them. At a later call
    X must have the fit's columns (the caller checks). Anything but a
    DataFrame is returned as it is, with no values. Missing values are
    refused (NaN is refused in a numeric column too), and so are text mixed
    with other values (``OrdinalEncoder`` refuses them: 1, 1.0 and True
    would read as one value).
    """
    positions = [column for column in category_positions(X) if mask[column]]
    if fitted is not None:
        numbers = [str(X.columns[column]) for column in fitted if column not in positions]
        if numbers:
            # Numbers would read as the codes of the fit's values.
            raise ValueError(
                f"Columns {numbers} of X held text or categories at fit and hold numbers "
                "now: pass them as at fit."
            )
        positions = [column for column in positions if column in fitted]  # the rest: refused
    if not positions:
        return X, {}
    coded, values = X.copy(), {}
    for column in positions:
        series = X.iloc[:, column].astype(object)
        name = X.columns[column]
        _check_text_values(series, name)
        if fitted is None:
            values[column] = _sorted_values(series)
            check_category_count(len(values[column]), len(series), name)
        else:
            values[column] = fitted[column]
        codes = _index_of(values[column], series)
        if fitted is not None and (codes < 0).any():
            _warn_unseen(name, repr(series[codes < 0].iloc[0]), int((codes < 0).sum()))
        coded.isetitem(column, codes.astype(np.float64))  # by position: names may repeat
    return coded, values


def _check_text_values(series, name):
    """Refuse a category or text column with missing, mixed or unhashable values."""
    if series.isna().any():
        raise ValueError(
            f"Column {name!r} of X, in discrete_features, has missing values: fill them "
            "first, e.g. with SimpleImputer(strategy='most_frequent') or "
            "SimpleImputer(strategy='constant', fill_value='missing') in a Pipeline."
        )
    kinds = {_kind_of(value) for value in series}
    if len(kinds) > 1:
        raise ValueError(
            f"Column {name!r} of X, in discrete_features, mixes text with other values "
            f"({sorted(kinds)}), which cannot be told apart reliably (1, 1.0 and True hash "
            "alike): convert it to one type, e.g. X[column].astype(str)."
        )
    try:
        hash(tuple(series.iloc[:1]))
    except TypeError:
        raise ValueError(
            f"Column {name!r} of X, in discrete_features, holds unhashable values (e.g. "
            "lists), which are not categories."
        ) from None


def _kind_of(value):
    if isinstance(value, str):
        return "text"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    return "number" if isinstance(value, Number) else type(value).__name__


def _sorted_values(series):
    """The distinct values of an object Series of one type, sorted."""
    distinct = sorted(dict.fromkeys(series))
    values = np.empty(len(distinct), dtype=object)
    values[:] = distinct
    return values


def _index_of(values, series):
    """Each entry's position among ``values``, -1 where it is not among them."""
    position = {value: index for index, value in enumerate(values)}
    return np.array([position.get(value, -1) for value in series], dtype=np.int64)


def check_category_count(n_values, n_rows, column):
    """Refuse a ``discrete_features`` column most of whose values are distinct.

    A column of measurements (or identifiers) would become one one-hot
    column per row (review: 400 x 3 normal rows with discrete_features=True
    became 1200 columns and read -0.24 for 0.83).
    """
    if n_values > max(_MAX_CATEGORIES_MIN, _MAX_CATEGORIES_SHARE * n_rows):
        raise ValueError(
            f"Column {column!r} of X, in discrete_features, has {n_values} distinct values in "
            f"{n_rows} rows: a measurement or an identifier, not categories (each would "
            "become a one-hot column). Leave it out of discrete_features (and out of X if it "
            "is text)."
        )


def fit_categories(X, column):
    """The values of a ``discrete_features`` column, as float32; refused where most are distinct.

    Compared as float32, so that float32 rows at fit and float64 ones later
    (or the reverse) find the same categories (review: 0.1 read as float32
    and as float64 differ).
    """
    values = np.unique(X[:, column].astype(np.float32))
    check_category_count(len(values), len(X), int(column))
    return values


def one_hot_columns(X, mask, categories):
    """X with each column of ``mask`` replaced, in place, by its one-hot block over ``categories``.

    A value not among its column's categories reads as none of them (zeros).
    """
    blocks, discrete = [], iter(categories)
    for column in range(X.shape[1]):
        values = X[:, column]
        if mask[column]:
            codes = values.astype(np.float32)[:, None]
            blocks.append((codes == next(discrete)[None, :]).astype(X.dtype))
        else:
            blocks.append(values[:, None])
    return np.hstack(blocks)


def warn_if_unseen_categories(X, mask, categories, coded=()):
    """Warn where a discrete column of X holds a value not seen at fit (read as no category).

    Columns in ``coded`` were checked as text (:func:`code_categories`).
    """
    for column, values in zip(np.flatnonzero(mask), categories, strict=True):
        unseen = ~np.isin(X[:, column].astype(np.float32), values)
        if column not in coded and unseen.any():
            _warn_unseen(int(column), f"{float(X[unseen, column][0]):g}", int(unseen.sum()))
            return


def _warn_unseen(column, example, count):
    warnings.warn(
        f"Column {column!r} of X (in discrete_features) has {count} row(s) with values not "
        f"seen at fit (e.g. {example}): they read as none of its categories, where the "
        "critic only extrapolates (a pointwise MI of -204 nats in a test). Drop those rows, "
        "or refit with them.",
        UnreliableEstimateWarning,
        stacklevel=stacklevel_to_user(),
    )


def one_hot_layout(per_column, mask, categories):
    """A per-column flag of X spread over its one-hot layout: False for each category block."""
    widths = np.ones(len(mask), dtype=int)
    widths[mask] = [len(values) for values in categories]
    return np.repeat(np.where(mask, False, per_column), widths)
