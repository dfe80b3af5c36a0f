"""Held-out splits that keep a row's exact copies together (sklearn_nce._core.splits)."""

import numpy as np
import pytest
from sklearn.model_selection import KFold

from sklearn_nce import CNCEEnergyModel
from sklearn_nce._core.noise import SelectedDensity
from sklearn_nce._core.splits import copy_groups, copy_mask, grouped_folds, grouped_hold_out


def _same_group_on_both_sides(groups, fit_rows, held_rows):
    return bool(set(groups[fit_rows]) & set(groups[held_rows]))


def test_copy_groups_name_the_copies_and_split_an_atom_row_by_row():
    X = np.array([[0.0, 1.0], [2.0, 3.0], [-0.0, 1.0], [4.0, 5.0], [2.0, 3.0]])
    groups = copy_groups(X, n_held=2)
    assert groups.tolist() == [0, 1, 0, 2, 1]  # -0.0 is 0.0; ids by first row
    assert copy_groups(X[:2], n_held=2) is None  # no copies: rows one by one
    # A value in more rows than are held out is an atom: its rows each get a
    # group, the other copies keep theirs.
    atom = np.r_[X, np.repeat([[9.0, 9.0]], 4, axis=0)]
    groups = copy_groups(atom, n_held=3)
    assert groups[0] == groups[2] and groups[1] == groups[4]
    assert len(set(groups[5:].tolist())) == 4
    assert copy_groups(np.repeat([[9.0, 9.0]], 4, axis=0), n_held=3) is None
    np.testing.assert_array_equal(copy_mask(X), (groups[:5, None] == groups[None, :5]))
    # Rows that are all one value leave only themselves out.
    np.testing.assert_array_equal(copy_mask(np.ones((3, 2))), np.eye(3, dtype=bool))


def test_grouped_hold_out_reaches_the_share_with_whole_groups():
    groups = np.repeat(np.arange(40), np.arange(40) % 5 + 1)  # groups of 1 to 5 rows
    for seed in range(20):
        held = grouped_hold_out(groups, 30, np.random.RandomState(seed))
        assert 30 <= held.sum() < 35  # at least the share, under one group more
        assert not _same_group_on_both_sides(groups, np.flatnonzero(~held), np.flatnonzero(held))


def test_grouped_folds_balance_rows_and_keep_groups_whole():
    # Two values 300 times each and 400 single rows: a KFold over the groups
    # held out 433, 134 and 433 rows; here 333 or 334 each.
    groups = np.r_[np.zeros(300, int), np.ones(300, int), np.arange(2, 402)]
    folds = grouped_folds(len(groups), groups, 3, np.random.RandomState(0))
    sizes = [len(held) for _, held in folds]
    assert sum(sizes) == len(groups) and max(sizes) - min(sizes) <= 1
    for fit_rows, held in folds:
        assert not _same_group_on_both_sides(groups, fit_rows, held)
    # Without groups, KFold's own shuffled folds.
    plain = grouped_folds(10, None, 3, np.random.RandomState(0))
    expected = KFold(3, shuffle=True, random_state=np.random.RandomState(0)).split(np.arange(10))
    for (_, held_a), (_, held_b) in zip(plain, expected, strict=True):
        np.testing.assert_array_equal(held_a, held_b)


@pytest.mark.parametrize(
    "n_distinct, n_held", [(100, 200), (1200, 480)], ids=["3 folds", "one split of a fifth"]
)
def test_the_base_selection_holds_copies_out_together(n_distinct, n_held):
    X = np.repeat(np.random.RandomState(0).randn(n_distinct, 2), 2, axis=0)
    groups = copy_groups(X, n_held=len(X))
    splits = SelectedDensity(random_state=0)._splits(X)
    for fit_rows, held_rows in splits:
        assert not _same_group_on_both_sides(groups, fit_rows, held_rows)
        assert len(fit_rows) + len(held_rows) == len(X)
    held = sum(len(held_rows) for _, held_rows in splits)
    assert n_held <= held <= n_held + 1  # every row once in 3 folds; a fifth, to a pair


def test_early_stopping_holds_copies_out_together():
    X = np.repeat(np.random.RandomState(0).randn(60, 2), 5, axis=0)
    model = CNCEEnergyModel(early_stopping=True)
    (train, _), (valid, _) = model._split(X, None, np.random.RandomState(0))
    assert len(valid) >= 30  # validation_fraction=0.1 of 300 rows
    train_rows = {row.tobytes() for row in train}
    assert not any(row.tobytes() in train_rows for row in valid)
