"""Held-out splits that keep a row's exact copies together (sklearn_nce._core.splits)."""

import numpy as np
import pytest
from sklearn.model_selection import KFold

from sklearn_nce import CNCEEnergyModel, InfoNCEAnchorMI
from sklearn_nce._core.noise import SelectedDensity
from sklearn_nce._core.splits import (
    coarse_lattice_columns,
    copy_groups,
    copy_mask,
    draw_copy_groups,
    grouped_folds,
    grouped_hold_out,
    measured_copy_groups,
)


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


def test_draw_copy_groups_keep_copied_draws_and_split_discrete_repeats():
    rng = np.random.RandomState(0)
    # Continuous rows copied whole: each value is held by its copies alone.
    copied = np.repeat(rng.randn(20, 2), 3, axis=0)
    np.testing.assert_array_equal(
        draw_copy_groups(copied, n_held=12), copy_groups(copied, n_held=12)
    )
    # Discrete pairs (5 x 3 values) repeat by chance, each value in many
    # other rows: split one by one, as rows without copies are.
    discrete = np.column_stack([rng.randint(0, 5, 300), rng.randint(0, 3, 300)]).astype(float)
    assert copy_groups(discrete, n_held=60) is not None
    assert draw_copy_groups(discrete, n_held=60) is None
    # Both: only the copied draws are grouped.
    X = np.vstack([discrete[:100], np.column_stack([copied[:, 0], np.zeros(60)])])
    groups = draw_copy_groups(X, n_held=30)
    sizes = np.bincount(groups)[groups]
    assert np.all(sizes[:100] == 1) and np.all(sizes[100:] == 3)


def test_coarse_lattice_columns_are_the_ones_whose_values_repeat_by_nature():
    rng = np.random.RandomState(0)
    normal = rng.normal(size=400)
    counts = np.round(4 * normal)  # about 25 values for 400 rows
    X = np.column_stack(
        [
            counts,
            (counts - counts.mean()) / counts.std(),  # in any units
            np.round(normal, 1),  # rounded to 0.1: about 60 points
            rng.randint(0, 3, 400),  # three codes
            normal,  # continuous
            np.round(1000 * normal),  # 3 decimals as whole numbers: ~6000 points
        ]
    )
    assert coarse_lattice_columns(X).tolist() == [True, True, True, True, False, False]
    # As the density models read them: standardised, in float32, whose
    # rounding piled up over a wide count's steps (review: a count of sd 10
    # read as measured), and a float32 reading of 12.3 in steps of 0.1.
    wide = np.column_stack([np.round(20 * normal), np.round(8 * normal) / 10 + 12.3])
    standard = ((wide - wide.mean(axis=0)) / wide.std(axis=0)).astype(np.float32)
    assert coarse_lattice_columns(standard).all()
    assert coarse_lattice_columns(wide.astype(np.float32)).all()
    # 10 000 whole numbers among 100 000 rows, standardised in float32: the
    # float32 rounding of the step piled up over its multiples (review).
    dollars = rng.randint(0, 10_000, 100_000).astype(float)
    standard = ((dollars - dollars.mean()) / dollars.std()).astype(np.float32)
    assert coarse_lattice_columns(standard[:, None]).all()
    # Three values, one gap 270 times the other: no lattice (a step fitted
    # to every value by least squares passed it).
    assert not coarse_lattice_columns(np.repeat([0.0, 0.37, 100.0], 100)[:, None]).any()


def test_measured_copy_groups_split_repeated_values_and_keep_copied_draws():
    rng = np.random.RandomState(0)
    # A rounded normal column: its values repeat by nature, rows one by one.
    counts = np.round(4 * rng.normal(size=(300, 1)))
    assert copy_groups(counts, n_held=30) is not None
    assert measured_copy_groups(counts, n_held=30) is None
    # Continuous draws copied 4 times, read to 3 decimals as whole numbers
    # or not: each draw's copies in one group.
    draws = np.repeat(rng.normal(size=(100, 2)), 4, axis=0)
    for X in (draws, np.round(1000 * draws)):
        groups = measured_copy_groups(X, n_held=40)
        assert len(np.unique(groups)) == 100
    assert measured_copy_groups(rng.normal(size=(50, 2)), n_held=5) is None


def test_mutual_information_keeps_a_pairs_copies_in_one_fold():
    # Independent X and y, 100 draws each repeated 4 times (true MI 0):
    # with copies on both sides of the folds the critics read 0.77 nats
    # (review); kept together, 0.001 (400 distinct pairs: -0.006). 0.15 is
    # well below the copies' inflation and above the fits' spread.
    rng = np.random.default_rng(0)
    X = np.repeat(rng.normal(size=(100, 2)), 4, axis=0)
    y = np.repeat(rng.normal(size=100), 4)
    model = InfoNCEAnchorMI(cv=5, random_state=0).fit(X, y)
    assert abs(model.mi_) < 0.15
    # In any units: offset by 1e4 (prices), or read to 3 decimals as whole
    # numbers (x 1000): measured columns, copies grouped (review: 0.774 and
    # 0.778, read in float32 standard units).
    for transform in (lambda v: v + 1e4, lambda v: np.round(v * 1000)):
        moved = InfoNCEAnchorMI(cv=5, random_state=0).fit(transform(X), transform(y))
        assert abs(moved.mi_) < 0.15
    # Early stopping's held-out pairs too.
    pairs = {"x": X.astype(np.float32), "y": y[:, None].astype(np.float32)}
    split = InfoNCEAnchorMI(early_stopping=True)._split(pairs, None, np.random.RandomState(0))
    (train, _), (valid, _) = split
    train_rows = {row.tobytes() for row in np.column_stack([train["x"], train["y"]])}
    valid_rows = np.column_stack([valid["x"], valid["y"]])
    assert not any(row.tobytes() in train_rows for row in valid_rows)


def test_draw_copy_groups_read_copies_in_measured_columns_only():
    # A one-hot category that fixes y repeats by nature: each category's
    # value is held by its rows alone, which read as copies of one draw when
    # every column counted (review: its MI read 0.03 nats for a true log 2).
    rng = np.random.RandomState(0)
    one_hot = np.eye(20)[rng.randint(0, 20, 400)]
    assert draw_copy_groups(one_hot, n_held=80) is not None
    assert draw_copy_groups(one_hot, n_held=80, measured=np.zeros(20, bool)) is None
    copied = np.column_stack([np.repeat(rng.randn(100), 4), np.repeat(np.arange(100) % 3, 4)])
    groups = draw_copy_groups(copied, n_held=80, measured=np.array([True, False]))
    assert len(np.unique(groups)) == 100


def test_mutual_information_of_categories_that_repeat_by_nature():
    # One-hot categories, each fixing y (true MI: log 2). Read as copies and
    # held out whole, no critic saw a held-out category: 0.028 (review).
    rng = np.random.default_rng(0)
    category = rng.integers(0, 20, size=400)
    X = np.eye(20)[category]
    y = rng.permutation(np.arange(20) % 2)[category]
    model = InfoNCEAnchorMI(cv=5, random_state=0, max_epochs=60).fit(X, y)
    # 0.693 measured, as before copies were grouped; 0.1 is far above the
    # seed spread and far below the 0.67 the grouping lost.
    assert model.mi_ == pytest.approx(np.log(2), abs=0.1)


def test_mutual_information_of_a_decimal_value_that_repeats_by_nature():
    # 30 products' prices with cents: each product's rows are equal and own
    # their price, which read as copies of one draw, held out whole (user
    # test: 0.211 nats for a true 3.39; whole-dollar prices read 3.29).
    rng = np.random.default_rng(1)
    product = rng.integers(0, 30, size=1500)
    price = np.round(rng.uniform(5, 100, 30), 2)
    model = InfoNCEAnchorMI(cv=3, random_state=0).fit(np.eye(30)[product], price[product])
    # 3.289 measured; 0.3 is ~10x its folds' spread and far from 0.21.
    assert model.mi_ == pytest.approx(3.29, abs=0.3)
