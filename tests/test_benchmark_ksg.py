"""The KSG peer used by benchmarks/mutual_info.py, checked against closed-form MI.

The benchmark's comparison is only as fair as its peers: this keeps our own
KSG implementation honest (the issue allows an own one if clearly tested).
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_selection import mutual_info_regression

from sklearn_nce.datasets import make_correlated_gaussian

_PATH = Path(__file__).parent.parent / "benchmarks" / "mutual_info.py"
_spec = importlib.util.spec_from_file_location("_mi_benchmark", _PATH)
_benchmark = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_benchmark)
ksg_mi = _benchmark.ksg_mi


def test_ksg_independent_pair_is_near_zero():
    # KSG's bias at MI 0 is small (its strength); 2000 points, k=3: |I| < 0.05.
    rng = np.random.default_rng(0)
    assert abs(ksg_mi(rng.standard_normal((2000, 2)), rng.standard_normal((2000, 2)))) < 0.05


@pytest.mark.parametrize("n_features, mi", [(1, 0.5), (1, 2.0), (2, 1.0)])
def test_ksg_matches_gaussian_mi_at_low_dimension(n_features, mi):
    # In 1-2 dimensions KSG is accurate at moderate MI (Kraskov et al. 2004):
    # 2000 points, error within 0.1 nats.
    X, Y, truth = make_correlated_gaussian(2000, n_features, mi, random_state=0)
    assert ksg_mi(X, Y) == pytest.approx(truth, abs=0.1)


def test_ksg_agrees_with_sklearn_in_one_dimension():
    # sklearn's mutual_info_regression is KSG too (with a little noise added):
    # both should agree to a few hundredths on a 1-d pair.
    X, Y, _ = make_correlated_gaussian(2000, 1, 1.0, random_state=1)
    ours = ksg_mi(X, Y)
    theirs = mutual_info_regression(X, Y.ravel(), n_neighbors=3, random_state=0)[0]
    assert ours == pytest.approx(theirs, abs=0.05)
