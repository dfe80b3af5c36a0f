"""NoisierNCEClassifier: the outlier-detector contract and accuracy on known densities."""

import pickle

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nce import NoisierNCEClassifier, outlier
from sklearn_nce.datasets import IsotropicMixture
from sklearn_nce.outlier import _tail_share

INLIERS = IsotropicMixture([[-1.5, 0.0], [1.5, 0.0]], 0.5)


@pytest.fixture(scope="module")
def inliers():
    return INLIERS.sample(1000, random_state=0)


@pytest.fixture(scope="module")
def fitted(inliers):
    return NoisierNCEClassifier(max_epochs=20, random_state=0).fit(inliers)


def test_contamination_is_the_share_of_new_inliers_flagged(inliers):
    model = NoisierNCEClassifier(contamination=0.1, max_epochs=5, random_state=0).fit(inliers)
    # offset_ is the 10% quantile of new inliers' scores, read from held-out
    # rows: on 5000 new rows that share is flagged within sampling error
    # (binomial SE 0.4 points) plus the threshold's own error from 100
    # held-out rows (~3 points).
    new = INLIERS.sample(5000, random_state=7)
    assert np.mean(model.predict(new) == -1) == pytest.approx(0.10, abs=0.04)
    np.testing.assert_allclose(
        model.decision_function(inliers), model.score_samples(inliers) - model.offset_
    )


def test_with_held_out_rows_the_threshold_is_the_mean_of_rows_and_model(inliers, monkeypatch):
    # The held-out tail is a few rows, and the model's own mass below the
    # level is exact only where the model is the truth: their mean flagged
    # new inliers closer to the level on 8 of 10 data sets (see _finish_fit).
    model_quantiles = []
    weighted_quantile = outlier._weighted_quantile

    def recorded(*args):
        model_quantiles.append(weighted_quantile(*args))
        return model_quantiles[-1]

    monkeypatch.setattr(outlier, "_weighted_quantile", recorded)
    model = NoisierNCEClassifier(contamination=0.1, max_epochs=5, random_state=0).fit(inliers)
    monkeypatch.setattr(outlier, "_trusted", lambda *args: False)  # the rows' estimate alone
    rows = clone(model).fit(inliers)
    assert len(model_quantiles) == 1
    assert model.offset_ == pytest.approx(0.5 * (rows.offset_ + model_quantiles[0]))


def test_fit_predict_flags_the_share_asked_for_among_the_rows_given(inliers):
    # Contaminated training rows (the IsolationForest use): 450 inliers and
    # 50 uniform outliers on [-6, 6]^2. fit_predict flags 10% of the rows
    # given, as IsolationForest does (ties aside: none on continuous data);
    # fit(X).predict(X) reads offset_, the threshold for new rows, which the
    # model's optimism about its own rows had let flag 2.5% of 393
    # breast-cancer rows at 0.092 (a user test). Most of the 50 are far
    # from the modes: the density ranks >= 40 of them below the other rows
    # (IsolationForest: 43 here; this model 44).
    rng = np.random.RandomState(0)
    X = np.vstack([inliers[:450], rng.uniform(-6, 6, size=(50, 2))])
    model = NoisierNCEClassifier(contamination=0.1, max_epochs=5, random_state=0)
    labels = model.fit_predict(X)
    assert np.sum(labels == -1) == 50
    assert np.sum(labels[450:] == -1) >= 40
    auto = clone(model).set_params(contamination="auto")
    np.testing.assert_array_equal(auto.fit_predict(X), auto.predict(X))


@pytest.mark.parametrize("seed", [0, 3])
def test_contamination_holds_on_a_column_of_whole_numbers(seed):
    # A rounded normal column: its values repeat by nature. Held out as
    # copies, whole values left the held-out rows, and 13% (seed 0) and 62%
    # (seed 3) of new rows were flagged at 0.3 (review). The scores tie within
    # a value, so the share flagged moves in steps of a value's mass (up to
    # 0.1 here): 0.3 +- 0.12.
    rng = np.random.default_rng(seed)
    X, new = np.round(4 * rng.normal(size=(300, 1))), np.round(4 * rng.normal(size=(20000, 1)))
    model = NoisierNCEClassifier(contamination=0.3, random_state=0).fit(X)
    assert np.mean(model.predict(new) == -1) == pytest.approx(0.3, abs=0.12)


def test_copies_of_a_row_count_once_in_the_held_out_tail(fitted):
    # One transaction's 15 copies filled the held-out 5% tail of a table of
    # repeated purchases and set the threshold alone: 0.3-8.5% of new rows
    # were flagged at contamination=0.05 (user test). Copies of one draw
    # count once; the tail's level reaches 5 distinct rows.
    rng = np.random.RandomState(0)
    rows = np.vstack([np.repeat(rng.normal(size=(1, 2)), 15, axis=0), rng.normal(size=(245, 2))])
    rows = rows.astype(np.float32)
    assert len(fitted._held_out_scores(rows, rows[:60])) == 46
    # A value too common to hold out whole (over 26 of 260 rows: an atom) is
    # split row by row, and its held-out rows count each.
    atom = np.vstack([np.repeat(rows[:1], 40, axis=0), rows[15:235]])
    assert len(fitted._held_out_scores(atom, atom[:60])) == 60
    ties = np.array([1.0, 1, 1, 1, 2, 3, 4, 5, 6])
    assert _tail_share(ties, 5) == pytest.approx(8 / 9)
    assert _tail_share(np.arange(20.0), 5) == pytest.approx(5 / 20)


def test_without_held_out_rows_contamination_is_the_training_share(inliers):
    # A noise that does not cross-fit its rows (a fixed family): offset_ is
    # then the 10% quantile of the training scores, 100 of 1000 rows.
    model = NoisierNCEClassifier(
        noise="gaussian", contamination=0.1, early_stopping=False, max_epochs=5, random_state=0
    ).fit(inliers)
    assert np.sum(model.predict(inliers) == -1) == pytest.approx(100, abs=1)


def test_without_held_out_rows_the_auto_noise_still_targets_new_inliers(inliers):
    # noise="auto" cross-fits its own rows: the training quantile is moved by
    # how much more likely they are in sample than held out, at that level.
    model = NoisierNCEClassifier(
        contamination=0.1, early_stopping=False, max_epochs=5, random_state=0
    ).fit(inliers)
    new = INLIERS.sample(5000, random_state=7)
    assert np.mean(model.predict(new) == -1) == pytest.approx(0.10, abs=0.04)


def test_far_cluster_of_anomalies_is_found(fitted):
    rng = np.random.RandomState(1)
    normal = INLIERS.sample(500, random_state=2)
    anomalies = rng.normal(loc=[0.0, 5.0], scale=0.3, size=(50, 2))
    X = np.vstack([normal, anomalies])
    is_anomaly = np.r_[np.zeros(500), np.ones(50)]
    assert roc_auc_score(is_anomaly, -fitted.score_samples(X)) > 0.95
    assert np.mean(fitted.predict(anomalies) == -1) > 0.95


def test_log_density_close_to_truth(fitted):
    test = INLIERS.sample(2000, random_state=3)
    error = fitted.score_samples(test) - INLIERS.log_density(test)
    # The BIC mixture noise is the true family (two spherical components);
    # 0.1 nats per point leaves room for the network and log Z.
    assert np.mean(np.abs(error)) < 0.1


def test_auto_threshold_flags_about_one_percent_of_the_model(fitted):
    test = INLIERS.sample(20_000, random_state=4)
    # "auto" puts 1% of the model's mass below offset_; the model is close to
    # the truth, so ~1% of true draws fall below (binomial SE 0.07%).
    assert 0.005 < np.mean(fitted.predict(test) == -1) < 0.02


def test_annealing_reaches_the_target_noise_weight(inliers):
    model = NoisierNCEClassifier(
        noise="gaussian",
        noise_weight=50.0,
        anneal_noise_weight=True,
        max_epochs=6,
        random_state=0,
    ).fit(inliers)
    assert model.noise_weight_ == 50.0
    assert model.net_.criterion_.noise_weight == pytest.approx(50.0)


def test_auto_noise_weight_is_sqrt_n(inliers):
    model = NoisierNCEClassifier(max_epochs=1, random_state=0).fit(inliers[:400])
    assert model.noise_weight_ == pytest.approx(20.0)


def test_every_noise_detects_the_far_point(inliers):
    for noise in ["gaussian", "kde", "gmm"]:
        model = NoisierNCEClassifier(noise=noise, max_epochs=5, random_state=0).fit(inliers)
        assert model.predict([[0.0, 6.0]])[0] == -1, noise
        assert model.predict([[1.5, 0.0]])[0] == 1, noise


def test_pipeline_and_grid_search_with_a_labelled_scorer(inliers):
    rng = np.random.RandomState(5)
    X = np.vstack([inliers, rng.normal(loc=[0.0, 5.0], scale=0.3, size=(60, 2))]) * 3
    y = np.r_[np.ones(len(inliers)), np.zeros(60)].astype(int)  # 1 = inlier
    pipeline = make_pipeline(StandardScaler(), NoisierNCEClassifier(max_epochs=3, random_state=0))
    search = GridSearchCV(
        pipeline,
        {"noisiernceclassifier__noise_weight": [5.0, 30.0]},
        scoring="average_precision",
        cv=2,
    ).fit(X, y)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_score_ > 0.9


def test_clone_pickle_and_seed(inliers):
    model = NoisierNCEClassifier(max_epochs=3, random_state=0)
    first = clone(model).fit(inliers)
    second = clone(model).fit(inliers)
    np.testing.assert_array_equal(first.score_samples(inliers), second.score_samples(inliers))
    restored = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(
        first.decision_function(inliers), restored.decision_function(inliers)
    )


def test_gaussian_data_keeps_the_gaussian_density():
    rng = np.random.RandomState(6)
    X = rng.normal(size=(2000, 3))
    model = NoisierNCEClassifier(noise="gaussian", max_epochs=10, random_state=0).fit(X)
    truth = multivariate_normal(np.zeros(3), np.eye(3)).logpdf(X[:500])
    fitted_gaussian = multivariate_normal(X.mean(0), np.cov(X, rowvar=False)).logpdf(X[:500])
    gaussian_error = np.mean(np.abs(fitted_gaussian - truth))  # 0.054: sampling error
    model_error = np.mean(np.abs(model.score_samples(X[:500]) - truth))
    # The noise is the true family: the network and log Z must not add more
    # than 0.01 nats to the fitted Gaussian's own error (they add ~0.001).
    assert model_error < gaussian_error + 0.01
    assert abs(model.log_partition_) < 0.01  # NCE self-normalises q exp(h)


@pytest.mark.parametrize("n_atom", [0, 300], ids=["copies", "copies and an atom"])
def test_copies_of_the_training_rows_do_not_spike_the_density(n_atom):
    # 50 rows, each 10 times (a join that repeated rows): held out apart from
    # their copies, the rows rewarded a 40-component mixture spiked on them,
    # which flagged 99.7% of new inliers and read -12.0 nats against the true
    # -4.2. The copies of a row are now held out together, also beside an
    # atom (one value in 300 of 800 rows), whose rows are split one by one:
    # before, it turned the grouping off for every row (-13.0 nats).
    rng = np.random.RandomState(3)
    X, X_new = rng.normal(size=(50, 3)), rng.normal(size=(2000, 3))
    X = np.r_[np.repeat(X, 10, axis=0), np.repeat(rng.normal(size=(1, 3)), n_atom, axis=0)]
    model = NoisierNCEClassifier(max_epochs=20, random_state=0).fit(X)
    truth = multivariate_normal(np.zeros(3), np.eye(3)).logpdf(X_new).mean()
    # 50 distinct rows fit a 3-d density to within ~0.1-0.7 nats (measured
    # -4.27 and, beside the atom, -4.93, against -4.24); the spike is 8 off.
    assert model.score(X_new) == pytest.approx(truth, abs=1.0)
    assert np.mean(model.predict(X_new) == -1) < 0.05  # "auto": ~1% of the model's mass


def test_a_lone_far_training_row_is_the_most_anomalous():
    # A user test: one value 20 standard deviations out (a data-entry error)
    # got a mixture component of its own, and fit_predict called it the most
    # normal of 300 rows; IsolationForest, LOF and OneClassSVM rank it last.
    X = np.random.RandomState(2).normal(size=(300, 4))
    X[0, 2] = 20.0
    scores = NoisierNCEClassifier(max_epochs=5, random_state=0).fit(X).score_samples(X)
    assert scores.argmin() == 0


@pytest.mark.parametrize("n_copies", [990, 200], ids=["one value in 99% of rows", "5 values"])
def test_a_value_repeated_in_most_rows_still_fits(n_copies):
    # A value that fills more rows than a split holds out is an atom: holding
    # its copies out whole left fits of a handful of rows, and they failed
    # (n_components above the rows; an empty validation set). Such data fall
    # back to row splits, as before copies were grouped.
    rng = np.random.RandomState(0)
    values = rng.normal(size=(1000 // n_copies, 3))
    X = np.r_[np.repeat(values, n_copies, axis=0), rng.normal(size=(1000 % n_copies, 3))]
    model = NoisierNCEClassifier(max_epochs=2, random_state=0).fit(X)
    assert np.isfinite(model.score_samples(X)).all()


def test_bad_input_raises(inliers):
    with pytest.raises(ValueError, match="NaN"):
        NoisierNCEClassifier().fit(
            np.where(np.arange(20)[:, None] == 3, np.nan, 1.0) * np.ones((20, 2))
        )
    with pytest.raises(ValueError, match="contamination"):
        NoisierNCEClassifier(contamination=0.7).fit(inliers)
    with pytest.raises(ValueError, match="noise"):
        NoisierNCEClassifier(noise="local").fit(inliers)
    with pytest.raises(ValueError, match="Every feature of X is constant"):
        NoisierNCEClassifier().fit(np.ones((len(inliers), 2)))
