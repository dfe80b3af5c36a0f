"""One-hot encoding of the columns a user marks as categories (``discrete_features``).

Integer codes of unordered categories read as ordered numbers make a critic
learn a smooth function of an arbitrary order: 30 product codes that fix a
price read 0.82-1.01 nats of a true 3.39, one-hot 3.12 (a user test). The
categories are fitted once and then held fixed, so that later rows share the
fit's layout; a value unseen at fit reads as none of them (zeros), with a
warning. A DataFrame's category and text columns among them are first coded
as numbers (their values sorted, as ``OrdinalEncoder`` does), which
``HistGradientBoostingClassifier`` accepts the same way.
"""

import warnings

import numpy as np

from ..exceptions import UnreliableEstimateWarning
from .validation import non_numeric_positions, stacklevel_to_user

__all__ = [
    "code_categories",
    "discrete_mask",
    "fit_categories",
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

    "auto" marks a DataFrame ``X``'s category and text columns, and no other:
    sklearn's ``mutual_info_classif`` reads it as "discrete where X is
    sparse", X is dense here, and such columns are categories by their
    dtype (``HistGradientBoostingClassifier``'s ``categorical_features=
    "from_dtype"``). Names are looked up among a DataFrame's columns.
    """
    if isinstance(discrete_features, str) and discrete_features == "auto":
        mask = np.zeros(n_features, dtype=bool)
        mask[non_numeric_positions(X)] = True
        return mask
    if isinstance(discrete_features, (bool, np.bool_)):
        return np.full(n_features, bool(discrete_features))
    given = np.asarray(discrete_features)
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
            "discrete_features must be a bool, column indices (integers) or a boolean mask; "
            f"got {discrete_features!r}."
        )
    if given.min() < -n_features or given.max() >= n_features:
        raise ValueError(
            f"discrete_features has index(es) outside X's {n_features} column(s): "
            f"{given.tolist()}."
        )
    mask = np.zeros(n_features, dtype=bool)
    mask[given] = True
    return mask


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
        raise ValueError(f"discrete_features names columns X does not have: {unknown}.")
    return np.array([columns.index(name) for name in names.ravel()], dtype=int)


def code_categories(X, mask, fitted=None):
    """X with its category and text columns among ``mask`` as float codes, and the values coded.

    ``fitted`` (a dict, column position to the values of the fit) codes
    later rows as the fit did, a value unseen at fit as -1 (read as none of
    the categories), with a warning that names it; None fits the values:
    each column's sorted (by their text where they do not sort), as
    ``OrdinalEncoder`` orders them. Anything but a DataFrame is returned as
    it is, with no values. Missing values are refused: NaN is refused in a
    numeric column too.
    """
    positions = [column for column in non_numeric_positions(X) if mask[column]]
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
        if series.isna().any():
            raise ValueError(
                f"Column {name!r} of X, in discrete_features, has missing values: fill them "
                "first, e.g. with SimpleImputer(strategy='most_frequent') or "
                "SimpleImputer(strategy='constant', fill_value='missing') in a Pipeline."
            )
        values[column] = _sorted_values(series) if fitted is None else fitted[column]
        codes = _index_of(values[column], series)
        if fitted is not None and (codes < 0).any():
            _warn_unseen(name, repr(series[codes < 0].iloc[0]), int((codes < 0).sum()))
        coded[name] = codes.astype(np.float64)
    return coded, values


def _sorted_values(series):
    """The distinct values of an object Series, sorted (by their text where they do not sort)."""
    distinct = list(dict.fromkeys(series))
    try:
        distinct = sorted(distinct)
    except TypeError:  # e.g. numbers beside text
        distinct = sorted(distinct, key=str)
    values = np.empty(len(distinct), dtype=object)
    values[:] = distinct
    return values


def _index_of(values, series):
    """Each entry's position among ``values``, -1 where it is not among them."""
    position = {value: index for index, value in enumerate(values)}
    return np.array([position.get(value, -1) for value in series], dtype=np.int64)


def fit_categories(X, column):
    """The values of a ``discrete_features`` column, as float32; refused where most are distinct.

    Compared as float32, so that float32 rows at fit and float64 ones later
    (or the reverse) find the same categories (review: 0.1 read as float32
    and as float64 differ).
    A column of measurements would become one one-hot column per row
    (review: 400 x 3 normal rows with discrete_features=True became 1200
    columns and read -0.24 for 0.83).
    """
    values = np.unique(X[:, column].astype(np.float32))
    if len(values) > max(_MAX_CATEGORIES_MIN, _MAX_CATEGORIES_SHARE * len(X)):
        raise ValueError(
            f"Column {column} of X, in discrete_features, has {len(values)} distinct values in "
            f"{len(X)} rows: a measurement, not categories (each would become a one-hot "
            "column). Leave it out of discrete_features."
        )
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
            _warn_unseen(column, f"{float(X[unseen, column][0]):g}", int(unseen.sum()))
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
