"""Held-out rows that keep a row's exact copies together.

A density model reads held-out likelihood as the likelihood of new draws. A
row and its exact copy are one draw, not two: with the copies on both sides
of a split, the held-out rows vouch for a density spiked on the training
rows. With 50 rows repeated 10 times (3-d Gaussian), the base selection's
folds rewarded a 40-component mixture spiked on the copies, and the outlier
detector flagged 99.7% of new inliers (-11.96 nats against the true -4.30).

A value repeated in more rows than are held out is an atom, which no density
here represents; held out whole, it left fits of a handful of rows (990
copies of one row and 10 others). Its rows are split one by one, as rows
without copies are, and the other rows keep their groups.

Values that repeat by nature (counts, codes, coarsely rounded readings) are
not copies of one draw either: new rows repeat them too. The density models
read a copy only in columns off a coarse lattice (``measured_copy_groups``),
as the MI estimator reads one only in its measured columns
(``draw_copy_groups``).
"""

import numpy as np
from sklearn.model_selection import KFold

__all__ = [
    "coarse_lattice_columns",
    "copy_groups",
    "copy_mask",
    "draw_copy_groups",
    "grouped_folds",
    "grouped_hold_out",
    "measured_copy_groups",
]


def copy_groups(X, n_held):
    """Each row's group for a split holding ``n_held`` rows out (None: rows one by one).

    Copies of a row share a group, except the copies of a value repeated in
    more than ``n_held`` rows, which are each a group of their own. Ids run
    0, 1, ... in the order of each group's first row. None where no group
    has two rows, so that data without copies split exactly as before.
    """
    groups = _duplicate_groups(X)
    if groups is None:
        return None
    sizes = np.bincount(groups)
    atoms = sizes[groups] > n_held
    if not atoms.any():
        return groups
    # Atom rows take ids of their own (negative until renumbered).
    groups = np.where(atoms, -1 - np.arange(len(groups)), groups)
    if not np.any(np.bincount(groups[~atoms]) > 1):
        return None
    return _ids_by_first_row(groups)[0]


def draw_copy_groups(X, n_held, measured=None):
    """:func:`copy_groups`, keeping only the copies of one draw: a measured value no other row has.

    Equal rows of discrete columns are distinct draws of the same values
    (class labels, categories and counts repeat by nature), and held out
    together they would leave values the fit never saw: one-hot categories
    that each fixed y read an MI of 0.03 nats where it is log 2 (review). A
    row copied as a whole shares its measured values with its copies alone.
    So copies stay together only where the value of some ``measured`` column
    (a boolean mask; None: every column) is held by no row outside them; the
    rest are split one by one.
    """
    X = np.asarray(X, dtype=np.float64)
    measured = np.ones(X.shape[1], dtype=bool) if measured is None else np.asarray(measured)
    if not measured.any():
        return None
    groups = copy_groups(X, n_held)
    return None if groups is None else _one_draw_groups(X, groups, measured)


def _one_draw_groups(X, groups, measured):
    """``groups`` kept where some ``measured`` column's value is held by no row outside them."""
    group_rows = np.bincount(groups)[groups]
    exclusive = np.zeros(len(groups), dtype=bool)
    for column in X[:, measured].T + 0.0:  # -0.0 as 0.0
        _, inverse, counts = np.unique(column, return_inverse=True, return_counts=True)
        exclusive |= counts[inverse.reshape(-1)] == group_rows
    together = exclusive & (group_rows > 1)
    if not together.any():
        return None
    # The others take ids of their own (negative until renumbered).
    return _ids_by_first_row(np.where(together, groups, -1 - np.arange(len(groups))))[0]


def measured_copy_groups(X, n_held, lattice_rows=None):
    """:func:`draw_copy_groups`, measured in the columns whose values do not repeat by nature.

    A density model cannot tell a copied row from a repeated value by the row
    alone: in one column, 50 values copied 10 times and a rounded normal
    variable look alike. The columns can: a value read on a fine scale does
    not repeat by chance, while counts, codes and coarsely rounded readings
    (:func:`coarse_lattice_columns`) repeat by nature, and new rows will
    repeat them too. Held out whole, such values left the held-out rows a few
    values the fit never saw: an outlier detector calibrated on them flagged
    13-62% of new rows at ``contamination=0.3`` on a rounded normal column (a
    review). ``lattice_rows`` (default ``X``) are the rows the lattices are
    read on: a subset of rows has fewer rows for a lattice's points.
    """
    X = np.asarray(X, dtype=np.float64)
    groups = copy_groups(X, n_held)
    if groups is None:  # no copies (the usual case): no column scan
        return None
    lattice = coarse_lattice_columns(X if lattice_rows is None else lattice_rows)
    return _one_draw_groups(X, groups, ~lattice)


def coarse_lattice_columns(X):
    """Mask of the columns of ``X`` whose values repeat by nature.

    Their values sit on a lattice ``a + k * step`` (integers, codes, readings
    rounded to a fixed step, in any units) with no more points across their
    range than there are rows, so that rows must share values; two or fewer
    distinct values count as such. A continuous sample's gaps are integer
    multiples of its smallest only by an accident of measure zero, and a fine
    lattice (prices in cents, readings to 3 decimals as whole numbers) has
    room for every row.
    """
    return np.array([_on_coarse_lattice(column) for column in np.asarray(X, dtype=np.float64).T])


def _on_coarse_lattice(column):
    values = np.unique(column)
    if len(values) <= 2:
        return True
    gaps = np.diff(values)
    step = gaps.min()
    if (values[-1] - values[0]) / step + 1 > len(column):
        return False  # no lattice, or one with room for every row
    # Each gap a whole number of steps, within 1% of a step (a continuous
    # sample's gap does so by chance at 0.02 a gap) plus float32's rounding:
    # the columns arrive standardised in float32, each value off by up to
    # ~6e-8 of its size, so the smallest gap is off by a share `slack` of
    # itself and a gap of k steps reads k times that (with a fixed 1e-6 a
    # count of sd 10 read as continuous; fitting one step to every value by
    # least squares passed 3 values 0, 0.37 and 100: a review).
    ratios = gaps / step
    multiples = np.round(ratios)
    slack = 4 * np.finfo(np.float32).eps * np.abs(values).max() / step
    return bool(np.all(np.abs(ratios - multiples) <= _LATTICE_TOLERANCE + multiples * slack))


# How far (in steps) a gap may sit off a whole number of steps.
_LATTICE_TOLERANCE = 0.01


def grouped_hold_out(groups, n_held, rng):
    """A mask of at least ``n_held`` rows (fewer than one group more), whole ``groups``.

    Groups in a random order (``rng``) until ``n_held`` rows are held out: a
    group's copies are held out as often as single rows are.
    """
    sizes = np.bincount(groups)
    order = rng.permutation(len(sizes))
    n_groups = int(np.searchsorted(np.cumsum(sizes[order]), n_held)) + 1
    held = np.zeros(len(sizes), dtype=bool)
    held[order[:n_groups]] = True
    return held[groups]


def grouped_folds(n_samples, groups, n_folds, rng):
    """``n_folds`` (fit rows, held-out rows) splits, shuffled by ``rng``; each group in one fold.

    Without groups, ``KFold(n_folds, shuffle=True)``. With them, as
    ``GroupKFold`` does, the largest group first goes to the fold with the
    fewest rows, ties in a random order: the folds' rows differ by at most
    the largest group (a ``KFold`` over the groups held out 433, 134 and 433
    of 1000 rows with two values repeated 300 times; cutting the shuffled
    groups at each fold's share, 459, 136 and 405).
    """
    if groups is None:
        folds = KFold(n_folds, shuffle=True, random_state=rng)
        return list(folds.split(np.arange(n_samples)))
    sizes = np.bincount(groups)
    order = rng.permutation(len(sizes))
    order = order[np.argsort(-sizes[order], kind="stable")]
    fold_of = np.empty(len(sizes), dtype=int)
    fold_rows = np.zeros(n_folds)
    for group in order:
        fold_of[group] = lightest = int(np.argmin(fold_rows))
        fold_rows[lightest] += sizes[group]
    rows = fold_of[groups]
    return [
        (np.flatnonzero(rows != fold), np.flatnonzero(rows == fold)) for fold in range(n_folds)
    ]


def copy_mask(X):
    """``(n, n)`` mask of the pairs of rows of ``X`` that are equal (the diagonal included).

    For leave-one-out searches: a row's copies leave with it, except where
    every row is a copy of it (a subset of an atom's rows), which then leaves
    alone, so that no row is left with no other row.
    """
    alone = np.eye(len(X), dtype=bool)
    groups = _duplicate_groups(X)
    if groups is None:
        return alone
    mask = groups[:, None] == groups[None, :]
    only_copies = mask.all(axis=1)
    mask[only_copies] = alone[only_copies]
    return mask


def _duplicate_groups(X):
    """Each row's group, copies sharing one (ids 0, 1, ... by first row); None without copies."""
    # Rows as single byte strings (+ 0.0 turns -0.0 into 0.0, so that equal
    # values have equal bytes): on 10^6 rows x 10, 0.9 s against 2.7 s for
    # np.unique(axis=0), which sorts column by column.
    X = np.ascontiguousarray(X, dtype=np.float64) + 0.0
    rows = X.view(np.dtype((np.void, X.dtype.itemsize * X.shape[1]))).ravel()
    groups, n_groups = _ids_by_first_row(rows)
    return None if n_groups == len(rows) else groups


def _ids_by_first_row(values):
    """Each value's id (0, 1, ... by its first row, not by the sort) and the count of values."""
    _, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inverse.reshape(-1)], len(first)
