"""Bad input and broken fits get an error or a warning that names the fix, per estimator."""

import pickle
import signal
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import get_scorer, log_loss
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback, EpochScoring

from sklearn_nce import (
    CNCEEnergyModel,
    InfoNCEAnchorMI,
    NCEDensityRatio,
    NoisierNCEClassifier,
)
from sklearn_nce.datasets import make_correlated_gaussian, make_mean_shift
from sklearn_nce.exceptions import SmallSampleWarning, UnreliableEstimateWarning

RNG = np.random.RandomState(0)
X = RNG.standard_normal((60, 2))
TARGETS = {
    "NCEDensityRatio": np.arange(60) % 2,
    "InfoNCEAnchorMI": X[:, ::-1] + RNG.standard_normal((60, 2)),
    "CNCEEnergyModel": None,
    "NoisierNCEClassifier": None,
}


def _estimators():
    fast = dict(max_epochs=2, random_state=0)
    return [
        NCEDensityRatio(**fast),
        InfoNCEAnchorMI(cv=2, batch_size=16, **fast),
        CNCEEnergyModel(n_importance_samples=200, **fast),
        NoisierNCEClassifier(n_importance_samples=200, **fast),
    ]


def _name(estimator):
    return type(estimator).__name__


@pytest.mark.parametrize("estimator", _estimators(), ids=_name)
def test_one_dimensional_X_says_how_to_reshape_without_echoing_it(estimator):
    with pytest.raises(ValueError, match=r"got 1D array instead \(60 values\).*reshape") as info:
        estimator.fit(X[:, 0], TARGETS[_name(estimator)])
    # sklearn's own message prints every value before its advice.
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("estimator", _estimators(), ids=_name)
def test_string_column_is_named_with_the_fix(estimator):
    frame = pd.DataFrame({"x0": X[:, 0], "city": ["Paris", "Oslo"] * 30})
    with pytest.raises(ValueError, match=r"non-numeric columns \['city'\].*OneHotEncoder"):
        estimator.fit(frame, TARGETS[_name(estimator)])


@pytest.mark.parametrize("estimator", _estimators(), ids=_name)
def test_an_object_column_of_numbers_is_numbers(estimator):
    # A user test: floats stored as objects were refused as non-numeric,
    # where IsolationForest (check_array) converts them; text still is not.
    frame = pd.DataFrame({"x0": X[:, 0], "x1": pd.Series(X[:, 1]).astype(object)})
    estimator.fit(frame, TARGETS[_name(estimator)])
    assert estimator.n_features_in_ == 2
    frame["x1"] = ["1.5", 2.0] * 30
    with pytest.raises(ValueError, match=r"non-numeric columns \['x1'\]"):
        estimator.fit(frame, TARGETS[_name(estimator)])


@pytest.mark.parametrize("estimator", _estimators(), ids=_name)
def test_one_dimensional_X_at_predict_time_says_how_to_reshape(estimator):
    estimator.fit(X, TARGETS[_name(estimator)])
    method = getattr(estimator, "score_samples", None) or getattr(
        estimator, "predict_log_ratio", None
    )
    if method is None:  # InfoNCEAnchorMI scores pairs: pointwise_mi(X, y)
        with pytest.raises(ValueError, match="got 1D array instead"):
            estimator.pointwise_mi(X[0], TARGETS["InfoNCEAnchorMI"][:1])
        return
    with pytest.raises(ValueError, match="got 1D array instead"):
        method(X[0])


def test_continuous_y_for_a_density_ratio_points_to_make_two_sample():
    # The message keeps sklearn's start (check_estimator matches it).
    with pytest.raises(ValueError, match=r"^Unknown label type.*make_two_sample"):
        NCEDensityRatio(max_epochs=1).fit(X, RNG.standard_normal(60))


def test_transform_of_a_joint_critic_names_the_separable_architecture():
    model = InfoNCEAnchorMI(cv=2, batch_size=16, max_epochs=1, random_state=0)
    model.fit(X, TARGETS["InfoNCEAnchorMI"])
    assert not hasattr(model, "transform")
    # The fix is in the error itself, not only in a chained cause above it.
    for method in ("transform", "set_output", "get_feature_names_out", "fit_transform"):
        with pytest.raises(AttributeError, match=f"no attribute '{method}': .*'separable'"):
            getattr(model, method)
    with pytest.raises(AttributeError, match="no attribute 'transform': .*'separable'"):
        InfoNCEAnchorMI.transform(model, X)  # through the class, checked all the same
    separable = InfoNCEAnchorMI(architecture="separable", cv=2, batch_size=16, max_epochs=1)
    assert separable.fit(X, TARGETS["InfoNCEAnchorMI"]).transform(X).shape[0] == len(X)


def test_score_below_chance_warns():
    # Mean shift of KL = 2.5: a held-out set with the labels swapped makes
    # the fitted critic confidently wrong, far below chance (-log 2).
    X_fit, y_fit = make_mean_shift(2, 2.5).sample(500, 500, random_state=0)
    X_test, y_test = make_mean_shift(2, 2.5).sample(500, 500, random_state=1)
    model = NCEDensityRatio(max_epochs=30, random_state=0).fit(X_fit, y_fit)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnreliableEstimateWarning)
        assert model.score(X_test, y_test) > -np.log(2)
    with pytest.warns(UnreliableEstimateWarning, match="below chance") as caught:
        assert model.score(X_test, 1 - y_test) < -np.log(2)
    # Both readings, overfitting and rows altered on purpose (permutation
    # importance's permuted columns had been told to lower max_epochs; a
    # user test), and early stopping is advised only where it was off.
    message = str(caught[0].message)
    assert "this is overfitting or an unstable fit: lower max_epochs" in message
    assert "permutation_importance) read below chance by design" in message
    assert ("turn on early_stopping" in message) == (
        model.net_.history[-1].get("valid_loss") is None
    )


def test_scores_a_little_below_chance_on_one_distribution_do_not_warn():
    # Two samples of one 2-d Gaussian, 100 rows each: the critic fits a
    # little noise, and held-out scores a little below chance are ordinary.
    # The former margin (0.005 nats or two standard errors) warned on three
    # of these five folds (0.006-0.044 nats below); a broken fit reads far lower.
    from sklearn.model_selection import cross_val_score

    from sklearn_nce import make_two_sample

    rng = np.random.default_rng(5)
    X, y = make_two_sample(rng.normal(size=(100, 2)), rng.normal(size=(100, 2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnreliableEstimateWarning)
        scores = cross_val_score(NCEDensityRatio(random_state=0), X, y, cv=5)
    assert (scores < -np.log(2) - 0.03).sum() >= 2  # the case in point


def test_predict_weights_without_X_are_the_training_denominator_weights():
    X_fit, y_fit = make_mean_shift(2, 1.0).sample(200, 300, random_state=0)
    model = NCEDensityRatio(max_epochs=5, random_state=0).fit(X_fit, y_fit)
    weights = model.predict_weights()
    np.testing.assert_allclose(weights, model.predict_weights(X_fit[y_fit == 0]), rtol=1e-5)
    assert weights.shape == (300,)
    assert weights.mean() == pytest.approx(1.0)


def test_make_two_sample_keeps_dataframe_columns():
    from sklearn_nce import make_two_sample

    frame = pd.DataFrame(X, columns=["age", "income"])
    X_both, y = make_two_sample(frame[:20], frame[20:])
    assert list(X_both.columns) == ["age", "income"]
    model = NCEDensityRatio(max_epochs=2, random_state=0).fit(X_both, y)
    np.testing.assert_array_equal(model.feature_names_in_, ["age", "income"])
    with pytest.raises(ValueError, match="different columns"):
        make_two_sample(frame[:20], frame[20:].rename(columns={"age": "years"}))
    # The same columns in another order are aligned by name, as pandas.concat does.
    swapped, _ = make_two_sample(frame[:20], frame[20:][["income", "age"]])
    pd.testing.assert_frame_equal(swapped, X_both)
    # Numeric columns of different dtypes in the two samples stack as numbers
    # (pandas.concat of a bool and a float column would give objects).
    flagged = frame.assign(flag=frame["age"] > 0)
    mixed, _ = make_two_sample(flagged[:20], flagged[20:].astype({"flag": float}))
    assert (mixed.dtypes == np.float64).all()


def test_make_two_sample_leaves_text_columns_to_a_pipelines_encoder():
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from sklearn_nce import make_two_sample

    frame = pd.DataFrame({"x": X[:, 0], "city": np.where(X[:, 1] > 0, "Oslo", "Rome")})
    X_both, y = make_two_sample(frame[:20], frame[20:])
    pd.testing.assert_frame_equal(X_both, frame.reset_index(drop=True))
    encode = make_column_transformer(
        (OneHotEncoder(sparse_output=False), ["city"]), remainder="passthrough"
    )
    model = make_pipeline(encode, NCEDensityRatio(max_epochs=2, random_state=0)).fit(X_both, y)
    assert model[-1].predict_log_ratio(model[0].transform(frame)).shape == (len(frame),)


def test_pandas_nullable_numeric_columns_are_numeric():
    frame = pd.DataFrame(
        {"count": pd.array(np.arange(60) % 7, dtype="Int64"), "x": pd.array(X[:, 0], "Float64")}
    )
    model = NCEDensityRatio(max_epochs=2, random_state=0).fit(frame, TARGETS["NCEDensityRatio"])
    np.testing.assert_array_equal(model.feature_names_in_, ["count", "x"])


def test_divergence_probe_compares_at_the_starting_noise_weight():
    # Annealing moves M during the fit; the probe measures both losses at the
    # starting M, so a sound fit with M annealed below n_noise is not refused.
    model = NoisierNCEClassifier(
        noise_weight=1.0, anneal_noise_weight=True, max_epochs=20, n_importance_samples=200
    )
    model.set_params(random_state=0).fit(RNG.standard_normal((300, 2)))
    assert model.noise_weight_ == 1.0


class _InterruptAtEpoch(Callback):
    """Raise KeyboardInterrupt at the start of an epoch: skorch's way to end training."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


class _Interrupted(NCEDensityRatio):
    def _training_callbacks(self):
        return [("interrupt", _InterruptAtEpoch(3))]


def test_a_callbacks_keyboard_interrupt_leaves_a_usable_model_with_a_warning():
    X_fit, y_fit = make_mean_shift(2, 1.0).sample(200, 200, random_state=0)
    with pytest.warns(UserWarning, match="interrupted in epoch 3 of 20"):
        model = _Interrupted(max_epochs=20, random_state=0).fit(X_fit, y_fit)
    assert model.n_iter_ == 3
    assert np.isfinite(model.predict_log_ratio(X_fit)).all()


class _CtrlCAtEpoch(Callback):
    """Send this process a SIGINT at the start of an epoch, as Ctrl-C does."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) == self.epoch:
            signal.raise_signal(signal.SIGINT)


def test_ctrl_c_stops_the_whole_fit_not_only_its_stage():
    # skorch ends a stage's training on the KeyboardInterrupt and returns;
    # the fit went on to the next fold (a user test pressed Ctrl-C in the
    # first classifier of a bridged fit, which then trained 12 more heads).
    X_fit, y_fit, _ = make_correlated_gaussian(200, 1, 1.0, random_state=0)
    stages = []

    class _Count(Callback):
        def on_train_begin(self, net, **kwargs):
            stages.append(net)

    model = InfoNCEAnchorMI(
        cv=3, max_epochs=5, random_state=0, callbacks=[_CtrlCAtEpoch(2), _Count()]
    )
    # Python's own handler, as in a terminal or a notebook: a process started
    # in the background by a non-interactive shell (as CI may be) ignores
    # SIGINT, and Python then installs none.
    outside = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt, match="interrupted"):
            model.fit(X_fit, y_fit)
        # The handler is Python's again, outside the fit.
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, outside)
    assert len(stages) == 1 and not hasattr(model, "mi_")
    # A caller's handler that does not raise (a shutdown flag) keeps its
    # meaning: the fit is not interrupted (review).
    flags = []
    outside = signal.signal(signal.SIGINT, lambda signum, frame: flags.append(signum))
    try:
        model.fit(X_fit, y_fit)
    finally:
        signal.signal(signal.SIGINT, outside)
    assert flags and len(stages) == 1 + 3 and np.isfinite(model.mi_)


def test_early_stopping_is_not_reported_as_an_interruption():
    X_fit, y_fit = make_mean_shift(2, 1.0).sample(300, 300, random_state=0)
    model = NCEDensityRatio(early_stopping=True, n_iter_no_change=2, max_epochs=200)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.set_params(random_state=0).fit(X_fit, y_fit)
    assert model.n_iter_ < 200


def _outputs(estimator):
    """What a fitted estimator answers, as one array (pairs for the MI estimator)."""
    if isinstance(estimator, InfoNCEAnchorMI):
        return estimator.pointwise_mi(X, TARGETS["InfoNCEAnchorMI"])
    if isinstance(estimator, NCEDensityRatio):
        return estimator.predict_log_ratio(X)
    return estimator.score_samples(X)


@pytest.mark.parametrize("estimator", _estimators(), ids=_name)
def test_pickle_and_joblib_round_trips_and_refits_are_bit_identical(estimator, tmp_path):
    import joblib

    fitted = estimator.fit(X, TARGETS[_name(estimator)])
    expected = _outputs(fitted)
    np.testing.assert_array_equal(_outputs(pickle.loads(pickle.dumps(fitted))), expected)
    joblib.dump(fitted, tmp_path / "model.joblib")
    np.testing.assert_array_equal(_outputs(joblib.load(tmp_path / "model.joblib")), expected)
    refit = clone(estimator).fit(X, TARGETS[_name(estimator)])
    np.testing.assert_array_equal(_outputs(refit), expected)


def test_grid_search_in_parallel_matches_serial():
    # Each cell's fit is seeded by random_state alone: worker processes give
    # the same cross-validated scores as one process.
    X_fit, y_fit = make_mean_shift(2, 1.0).sample(150, 150, random_state=0)
    grid = {"lr": [1e-3, 1e-2]}
    model = NCEDensityRatio(max_epochs=5, random_state=0)
    serial = GridSearchCV(model, grid, cv=2, n_jobs=1).fit(X_fit, y_fit)
    parallel = GridSearchCV(model, grid, cv=2, n_jobs=2).fit(X_fit, y_fit)
    np.testing.assert_array_equal(
        serial.cv_results_["mean_test_score"], parallel.cv_results_["mean_test_score"]
    )


# -- warm_start and callbacks -------------------------------------------------------------
class _RecordStart(Callback):
    """Keep a copy of the critic's parameters when training begins."""

    def __init__(self):
        self.starts = []

    def on_train_begin(self, net, **kwargs):
        self.starts.append([p.detach().clone() for p in _network(net.module_).parameters()])


def _network(module):
    # The density models train a correction network on a fixed base density.
    return getattr(module, "network", module)


def _histories(estimator):
    # InfoNCEAnchorMI keeps one History per fold, the others one.
    return estimator.history_ if hasattr(estimator, "nets_") else [estimator.history_]


def _final_parameters(estimator):
    nets = getattr(estimator, "nets_", None) or [estimator.net_]
    return [[p.detach().clone() for p in _network(net.module_).parameters()] for net in nets]


@pytest.mark.parametrize("estimator", _estimators(), ids=_name)
def test_warm_start_continues_from_the_previous_critics(estimator):
    target = TARGETS[_name(estimator)]
    estimator.set_params(warm_start=True).fit(X, target)
    previous = _final_parameters(estimator)
    first_epochs = np.copy(estimator.n_iter_)
    first_losses = [history[:, "train_loss"] for history in _histories(estimator)]
    recorder = _RecordStart()
    # The recorder given to fit is copied per net: read the copies through the nets.
    estimator.set_params(callbacks=[("record", recorder)]).fit(X, target)
    nets = getattr(estimator, "nets_", None) or [estimator.net_]
    # history_ and n_iter_ run on, as MLPClassifier's loss_curve_ and n_iter_ do.
    assert np.all(estimator.n_iter_ > first_epochs)
    for history, losses, net in zip(_histories(estimator), first_losses, nets, strict=True):
        assert history[: len(losses), "train_loss"] == losses
        assert history[:, "epoch"] == list(range(1, len(history) + 1))
        assert history is net.history
    starts = [dict(net.callbacks_)["record"].starts[0] for net in nets]
    assert recorder.starts == []  # the user's instance is never trained in place
    assert len(starts) == len(previous)
    for start, end in zip(starts, previous, strict=True):
        for a, b in zip(start, end, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    # Without warm_start the same seed starts afresh, from other weights.
    estimator.set_params(warm_start=False).fit(X, target)
    fresh = dict(
        estimator.net_.callbacks_ if hasattr(estimator, "net_") else estimator.nets_[0].callbacks_
    )["record"].starts[0]
    assert any(not torch.equal(a, b) for a, b in zip(fresh, previous[0], strict=True))


@pytest.mark.parametrize("estimator", _estimators(), ids=_name)
def test_warm_start_says_which_changed_critic_settings_it_does_not_use(estimator):
    # A critic of another width passed by set_params was silently not used,
    # the fit continuing the old one (user test).
    target = TARGETS[_name(estimator)]
    quiet = dict(action="error", message="warm_start=True continues the fitted")
    estimator.set_params(warm_start=True, hidden_layer_sizes=(16,)).fit(X, target)
    with warnings.catch_warnings():
        warnings.filterwarnings(**quiet)
        estimator.set_params(hidden_layer_sizes=16).fit(X, target)  # the same critic
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.set_params(hidden_layer_sizes=(8,), activation="tanh").fit(X, target)
    ours = [str(w.message) for w in caught if "warm_start=True continues" in str(w.message)]
    assert len(ours) == 1  # once per fit, not once per fold's critic
    assert "so hidden_layer_sizes and activation, changed since it was built, are not" in ours[0]
    # Without warm_start the new widths are built, silently.
    with warnings.catch_warnings():
        warnings.filterwarnings(**quiet)
        estimator.set_params(warm_start=False).fit(X, target)
    nets = getattr(estimator, "nets_", None) or [estimator.net_]
    widths = {m.out_features for m in nets[0].module_.modules() if isinstance(m, torch.nn.Linear)}
    assert 8 in widths and 16 not in widths


def test_warm_start_compares_what_builds_the_critic():
    # "auto" made explicit as what it resolved to, or widths a quadratic
    # critic never reads, change nothing (a review).
    target = TARGETS["NCEDensityRatio"]
    quiet = dict(action="error", message="warm_start=True continues the fitted")
    model = NCEDensityRatio(max_epochs=1, warm_start=True, random_state=0).fit(X, target)
    with warnings.catch_warnings():
        warnings.filterwarnings(**quiet)
        warnings.filterwarnings("ignore", "architecture='quadratic' has", SmallSampleWarning)
        model.set_params(architecture=model.architecture_).fit(X, target)
        model.set_params(warm_start=False, architecture="quadratic").fit(X, target)
        model.set_params(warm_start=True, hidden_layer_sizes=(3,)).fit(X, target)
    with pytest.warns(UserWarning, match="so architecture, changed since"):
        model.set_params(architecture="mlp").fit(X, target)  # widths follow: not named
    with pytest.warns(UserWarning, match="so critic, changed since it was built, is not"):
        model.set_params(critic=torch.nn.Linear(2, 1)).fit(X, target)
    # A separable MI critic's embedding is part of it; a joint one has none.
    mi = InfoNCEAnchorMI(cv=2, batch_size=16, max_epochs=1, warm_start=True, random_state=0)
    mi.fit(X, TARGETS["InfoNCEAnchorMI"])
    with warnings.catch_warnings():
        warnings.filterwarnings(**quiet)
        mi.set_params(embedding_dim=4).fit(X, TARGETS["InfoNCEAnchorMI"])
    mi.set_params(warm_start=False, architecture="separable").fit(X, TARGETS["InfoNCEAnchorMI"])
    with pytest.warns(UserWarning, match="so embedding_dim, changed since"):
        mi.set_params(warm_start=True, embedding_dim=8).fit(X, TARGETS["InfoNCEAnchorMI"])


def test_warm_start_refuses_data_of_another_width():
    model = NCEDensityRatio(max_epochs=1, warm_start=True, random_state=0)
    model.fit(X, TARGETS["NCEDensityRatio"])
    with pytest.raises(ValueError, match="previous fit, whose X had 2 features.*warm_start=False"):
        model.fit(np.hstack([X, X]), TARGETS["NCEDensityRatio"])
    # The refused fit left the model as it was.
    assert model.n_features_in_ == 2 and np.isfinite(model.predict_log_ratio(X)).all()
    with pytest.raises(ValueError, match="critic with 1 output.*needs 4.*telescoping_steps"):
        model.set_params(telescoping_steps=4).fit(X, TARGETS["NCEDensityRatio"])
    mi = InfoNCEAnchorMI(cv=2, batch_size=16, max_epochs=1, warm_start=True, random_state=0)
    mi.fit(X, TARGETS["InfoNCEAnchorMI"])
    # Any other pairs are refused first: its folds would not be the critics' own.
    with pytest.raises(ValueError, match="needs the previous fit's X, y"):
        mi.fit(X, TARGETS["InfoNCEAnchorMI"][:, :1])


def test_warm_start_keeps_the_units_its_critic_learnt_in():
    # A review: each warm fit re-standardised X on its own rows, so the
    # continued critic read new units; with no learning at all (lr 1e-12) the
    # log ratio on the same rows moved by up to 0.16 nats.
    model = NCEDensityRatio(max_epochs=2, early_stopping=False, warm_start=True, random_state=0)
    model.fit(X, TARGETS["NCEDensityRatio"])
    before = model.predict_log_ratio(X)
    model.set_params(lr=1e-12, max_epochs=1).fit(3 * X[:40] + 1, TARGETS["NCEDensityRatio"][:40])
    np.testing.assert_allclose(model.predict_log_ratio(X), before, rtol=0, atol=1e-6)
    # A column that stopped varying stays in the model (this had been
    # refused); one that was constant in the first fit has no units to
    # continue in.
    flagged = np.c_[X, np.arange(60) % 2]
    detector = NoisierNCEClassifier(n_importance_samples=200, max_epochs=2, warm_start=True)
    detector.set_params(random_state=0).fit(flagged)
    detector.fit(np.c_[X, np.ones(60)])
    assert np.isfinite(detector.score_samples(flagged)).all()
    # Nor is one that barely varies refused as squeezed: the chunk is read in
    # the first fit's units (a review).
    detector.fit(np.c_[X, 1 + 1e-9 * X[:, 0]])
    energy = CNCEEnergyModel(n_importance_samples=200, max_epochs=2, warm_start=True)
    energy.fit(np.c_[X, np.zeros(60)])
    with pytest.raises(ValueError, match=r"column\(s\) \[2\] were constant; here they vary"):
        energy.fit(flagged)
    # Nor one that holds another value: every row of that chunk scored -inf
    # after a silent fit (a review). Rounding of the value is no change.
    with pytest.raises(ValueError, match=r"\[2\] were constant; here they vary or hold another"):
        energy.fit(np.c_[X, np.full(60, 5.0)])
    energy.fit(np.c_[X, np.full(60, np.float32(1e-12))])


def test_warm_start_refuses_columns_named_otherwise():
    # The critic reads columns by position: a DataFrame with its columns
    # reordered was continued as the first fit's, feature_names_in_ took the
    # new order, and the held-out score fell to chance in silence (user test;
    # MLPClassifier refuses the same call).
    frame = pd.DataFrame(X, columns=["a", "b"])
    for model, target in [
        (NCEDensityRatio(max_epochs=1, random_state=0), TARGETS["NCEDensityRatio"]),
        (CNCEEnergyModel(n_importance_samples=200, max_epochs=1, random_state=0), None),
    ]:
        model.set_params(warm_start=True).fit(frame, target)
        before = model.score_samples(frame) if target is None else model.decision_function(frame)
        for other in (frame[["b", "a"]], frame.rename(columns={"a": "x"})):
            with pytest.raises(ValueError, match=r"had the columns \['a', 'b'\]; this X has"):
                model.fit(other, target)
        assert list(model.feature_names_in_) == ["a", "b"]
        after = model.score_samples(frame) if target is None else model.decision_function(frame)
        np.testing.assert_array_equal(after, before)
        model.fit(frame.to_numpy(), target)  # positions, as sklearn allows a reset fit


def test_warm_start_warns_of_units_changed_or_a_column_stuck():
    # Read in the first fit's units, a chunk in millimetres for metres read a
    # held-out score of -1.40 (cold -0.59, chance -0.69), and a column stuck
    # at one value gave its rows +17 nats (cold -2.8), both in silence (user
    # test). Ordinary chunks stay silent.
    model = NCEDensityRatio(max_epochs=1, warm_start=True, random_state=0)
    model.fit(X, TARGETS["NCEDensityRatio"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_epochs=1 is the cap
        model.fit(X[::-1] * 1.5 + 0.5, TARGETS["NCEDensityRatio"][::-1])
    with pytest.warns(UserWarning, match=r"column\(s\) \[0, 1\] spans 1e\+03, 1e\+03 times"):
        model.fit(X * 1000.0, TARGETS["NCEDensityRatio"])
    stuck = np.c_[X[:, 0], np.full(len(X), 0.3)]
    detector = CNCEEnergyModel(n_importance_samples=200, max_epochs=1, warm_start=True)
    detector.fit(X)
    with pytest.warns(UserWarning, match=r"column\(s\) \[1\] hold one value in all 60 rows"):
        detector.fit(stuck)


class _FailAtTrainBegin(Callback):
    """Raise when training begins, once armed (after the data and base are fitted)."""

    armed = False

    def on_train_begin(self, net, **kwargs):
        if self.armed:
            raise RuntimeError("stopped")


@pytest.mark.parametrize("warm_start", [False, True])
@pytest.mark.parametrize("estimator", _estimators(), ids=_name)
def test_a_fit_that_raises_leaves_the_fitted_model_as_it_was(estimator, warm_start):
    # A review: a refit that failed in training had already replaced the
    # standardiser (and a density model's base and proposal) beside the
    # previous critic, so the model answered in a mix of the two fits.
    failing = _FailAtTrainBegin()
    estimator.set_params(warm_start=warm_start, callbacks=[("fail", failing)])
    estimator.fit(X, TARGETS[_name(estimator)])
    before = dict(estimator.__dict__)
    failing.armed = True
    target = TARGETS[_name(estimator)]
    # Other rows (InfoNCEAnchorMI's warm start refuses them before fitting).
    continues_folds = warm_start and _name(estimator) == "InfoNCEAnchorMI"
    with pytest.raises(RuntimeError, match="stopped"):
        estimator.fit(X if continues_folds else 3 * X + 1, target)
    assert estimator.__dict__.keys() == before.keys()
    assert all(estimator.__dict__[key] is value for key, value in before.items())


def test_a_held_out_loss_that_is_not_finite_is_not_called_a_divergence():
    # A review: a critic whose eval mode gave NaN was reported as a diverged
    # training loss, with advice to lower lr.
    class NanWhenEvaluated(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(2, 1)

        def forward(self, x):
            out = self.linear(x)
            return out if self.training else out * float("nan")

    model = NCEDensityRatio(critic=NanWhenEvaluated(), early_stopping=True, max_epochs=2)
    with pytest.raises(ValueError, match="held-out .*loss became nan.*weights finite"):
        model.set_params(random_state=0).fit(X, TARGETS["NCEDensityRatio"])


def test_checkpoint_callback_saves_the_critic(tmp_path):
    from skorch.callbacks import Checkpoint

    X_fit, y_fit = make_mean_shift(2, 1.0).sample(200, 200, random_state=0)
    checkpoint = Checkpoint(dirname=str(tmp_path), monitor=None)
    model = NCEDensityRatio(max_epochs=3, random_state=0, callbacks=[checkpoint])
    model.fit(X_fit, y_fit)
    assert {"params.pt", "optimizer.pt", "history.json"} <= {p.name for p in tmp_path.iterdir()}
    # The saved parameters are the fitted critic's.
    saved = torch.load(tmp_path / "params.pt", weights_only=True)
    for name, value in model.net_.module_.state_dict().items():
        torch.testing.assert_close(saved[name], value)


@pytest.mark.parametrize("settings", [{}, {"lr": np.float64(1e-3), "weight_decay": np.float64(0)}])
def test_a_fit_resumes_from_a_checkpoint(tmp_path, settings):
    # skorch's Checkpoint + LoadInitState: weight_decay="auto" (a numpy
    # scalar), or numpy values from a grid, sat in the optimizer's state and
    # torch.load (weights_only) refused to read them back (user test).
    from skorch.callbacks import Checkpoint, LoadInitState

    X_fit, y_fit = make_mean_shift(2, 1.0).sample(200, 200, random_state=0)
    checkpoint = Checkpoint(dirname=str(tmp_path), monitor=None)
    callbacks = [checkpoint, LoadInitState(checkpoint)]
    model = NCEDensityRatio(max_epochs=3, random_state=0, callbacks=callbacks, **settings)
    first = model.fit(X_fit, y_fit).predict_log_ratio(X_fit)
    resumed = model.fit(X_fit, y_fit)
    assert len(resumed.history_) == 6  # the checkpoint's 3 epochs, then 3 more
    assert not np.array_equal(resumed.predict_log_ratio(X_fit), first)


# -- Pipeline and set_output ------------------------------------------------------------
def test_the_log_ratio_and_the_weights_through_a_pipeline():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X_fit, y_fit = make_mean_shift(2, 1.0).sample(200, 200, random_state=0)
    X_fit = 10 * X_fit + 3
    pipe = make_pipeline(StandardScaler(), NCEDensityRatio(max_epochs=5, random_state=0))
    pipe.fit(X_fit, y_fit)
    scaled = pipe[:-1].transform(X_fit)
    np.testing.assert_array_equal(pipe.score_samples(X_fit), pipe[-1].predict_log_ratio(scaled))
    np.testing.assert_array_equal(
        pipe[-1].predict_weights(), pipe[-1].predict_weights(scaled[y_fit == 0])
    )


def test_set_output_gives_a_dataframe_embedding():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = InfoNCEAnchorMI(
        architecture="separable",
        embedding_dim=4,
        cv=2,
        batch_size=16,
        max_epochs=1,
        random_state=0,
    )
    pipe = make_pipeline(StandardScaler(), model).set_output(transform="pandas")
    frame = pd.DataFrame(X, columns=["a", "b"])
    embedding = pipe.fit(frame, TARGETS["InfoNCEAnchorMI"]).transform(frame)
    assert isinstance(embedding, pd.DataFrame)
    assert list(embedding.columns) == [f"infonceanchormi{i}" for i in range(8)]
    np.testing.assert_allclose(
        embedding.to_numpy(),
        model.set_output(transform="default").transform(pipe[0].transform(frame)),
    )
    # The joint critic has no embedding, hence no transform and no set_output,
    # and a pipeline ending in it accepts set_output (it skips the last step).
    joint = InfoNCEAnchorMI()
    assert not hasattr(joint, "set_output") and not hasattr(joint, "get_feature_names_out")
    make_pipeline(StandardScaler(), joint).set_output(transform="pandas")


# -- persistence across devices ---------------------------------------------------------
@pytest.mark.parametrize("estimator", _estimators(), ids=_name)
def test_a_cuda_model_loads_on_a_machine_without_cuda(estimator, monkeypatch):
    # Without a GPU here, a CPU-fitted model is made to pickle like a CUDA one:
    # it says it lives on "cuda" and torch tags every tensor storage "cuda:0"
    # while it is saved, so that loading it without CUDA raises unless each
    # torch object goes through a map_location (skorch's nets, and the noise,
    # base and proposal beside them). Before that, this failed for all four.
    import torch.serialization
    from skorch.exceptions import DeviceWarning

    fitted = estimator.fit(X, TARGETS[_name(estimator)])
    expected = _outputs(fitted)
    fitted.device_ = "cuda"
    for net in getattr(fitted, "nets_", None) or [fitted.net_]:
        net.device = "cuda"
    with monkeypatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        blob = pickle.dumps(fitted)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning, match=r"device = cpu since.*\(cuda\) is not available"):
        loaded = pickle.loads(blob)
    assert loaded.device_ == "cpu"
    assert all(str(net.device) == "cpu" for net in getattr(loaded, "nets_", None) or [loaded.net_])
    np.testing.assert_array_equal(_outputs(loaded), expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fit_on_cuda_predict_and_load_on_cpu():
    X_fit, y_fit = make_mean_shift(2, 1.0).sample(200, 200, random_state=0)
    model = NCEDensityRatio(max_epochs=3, device="cuda", random_state=0).fit(X_fit, y_fit)
    assert model.device_.startswith("cuda:") and next(model.net_.module_.parameters()).is_cuda
    expected = model.predict_log_ratio(X_fit)
    blob = pickle.dumps(model)
    with torch.cuda.device(0):
        loaded = pickle.loads(blob)
    np.testing.assert_allclose(loaded.predict_log_ratio(X_fit), expected, rtol=1e-5)


def test_fit_weights_takes_the_direction_by_name():
    from sklearn_nce import make_two_sample

    X_fit, y_fit = make_mean_shift(2, 1.0).sample(200, 300, random_state=0)
    X_target, X_source = X_fit[y_fit == 1], X_fit[y_fit == 0]
    model = NCEDensityRatio(max_epochs=5, random_state=0)
    weights = model.fit_weights(X_source=X_source, X_target=X_target)
    expected = clone(model).fit(*make_two_sample(X_target, X_source)).predict_weights()
    np.testing.assert_array_equal(weights, expected)
    assert weights.shape == (300,)
    with pytest.raises(TypeError):
        model.fit_weights(X_source, X_target)  # positional: the swap it prevents
    # The fit keeps the source's column order (the weights are its rows'),
    # whatever the target's.
    source = pd.DataFrame(X_source, columns=["a", "b"])
    target = pd.DataFrame(X_target, columns=["a", "b"])[["b", "a"]]
    weights = model.fit_weights(X_source=source, X_target=target)
    np.testing.assert_array_equal(model.feature_names_in_, ["a", "b"])
    np.testing.assert_allclose(model.predict_weights(source), weights, rtol=1e-6)
    with pytest.raises(ValueError, match=r"\['a', 'b'\] \(source\) and \['c', 'a'\] \(target\)"):
        model.fit_weights(X_source=source, X_target=target.rename(columns={"b": "c"}))
    with pytest.raises(ValueError, match="numerator_label=0 would invert"):
        model.set_params(numerator_label=0).fit_weights(X_source=X_source, X_target=X_target)


class _Logger(Callback):
    """A callback that cannot be deep-copied, like loggers holding a lock or a file."""

    def __init__(self):
        import threading

        self.lock = threading.Lock()
        self.epochs = 0

    def on_epoch_end(self, net, **kwargs):
        self.epochs += 1


def test_callbacks_that_cannot_be_copied_are_shared():
    logger = _Logger()
    model = NCEDensityRatio(max_epochs=3, random_state=0, callbacks=[("logger", logger)])
    model.fit(X, TARGETS["NCEDensityRatio"])
    assert logger.epochs == 3


@pytest.mark.parametrize("callbacks", [[1], [("name", "not a callback")], ["EarlyStopping"]])
def test_callbacks_that_are_not_callbacks_are_refused_by_name(callbacks):
    # skorch raised "'int' object has no attribute 'set_params'" (review).
    with pytest.raises(TypeError, match="callbacks must hold skorch callbacks"):
        NCEDensityRatio(max_epochs=1, callbacks=callbacks).fit(X, TARGETS["NCEDensityRatio"])


def test_a_scorer_callback_is_refused_clearly_and_a_callable_one_runs():
    # The inner net predicts critic outputs on internal inputs: a sklearn
    # scorer there failed deep in skorch's predict_proba. A callable is the
    # user's own business and runs.
    y = TARGETS["NCEDensityRatio"]
    for scoring in ("neg_log_loss", get_scorer("neg_log_loss"), log_loss):
        with pytest.raises(ValueError, match="scikit-learn scorer does not apply"):
            NCEDensityRatio(max_epochs=1, callbacks=[EpochScoring(scoring)]).fit(X, y)
    own = EpochScoring(lambda net, X, y: 1.0, name="mine")
    model = NCEDensityRatio(max_epochs=2, random_state=0, callbacks=[own]).fit(X, y)
    assert model.history_[:, "mine"] == [1.0, 1.0]


@pytest.mark.parametrize("estimator", _estimators(), ids=_name)
def test_a_callable_scorer_can_run_the_critic_through_the_net(estimator):
    # net.predict / net.forward must run the critic on the rows given; skorch's
    # cache replayed the steps' outputs, batch losses, and both raised (user
    # test: "zero-dimensional arrays cannot be concatenated").
    def mean_output(net, X, y=None):
        outputs = net.predict(X)
        # Every row, in order: full or stratified batches dropped or regrouped
        # rows, misaligning the outputs with y (31 pairs gave 28; review).
        rows = X["x"] if isinstance(X, dict) else X  # the MI estimator's pairs
        assert len(outputs) == len(rows)
        return float(np.mean(outputs))

    scorer = EpochScoring(mean_output, name="mean_output", on_train=True)
    # Beside a callback that cannot be copied, which once left the scorer cached.
    callbacks = [scorer, ("logger", _Logger())]
    estimator.set_params(max_epochs=2, callbacks=callbacks).fit(X, TARGETS[_name(estimator)])
    histories = getattr(estimator, "history_", None)
    histories = histories if isinstance(histories[0], list) else [histories]
    for history in histories:
        assert np.all(np.isfinite(history[:, "mean_output"]))


def test_a_users_early_stopping_is_no_interruption():
    # skorch's EarlyStopping stops by raising KeyboardInterrupt, like Ctrl-C:
    # a user's own stopper warned "Training was interrupted" (user test).
    from skorch.callbacks import EarlyStopping

    stopper = EarlyStopping(monitor="train_loss", patience=1, threshold=10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = NCEDensityRatio(max_epochs=50, random_state=0, callbacks=[stopper])
        model.fit(X, TARGETS["NCEDensityRatio"])
    assert model.n_iter_ < 50


def test_a_flat_critic_at_chance_does_not_warn():
    # Two samples of one distribution: a linear critic learns log r ~ 0 and
    # scores a hair below -log 2 on fresh rows. That is sampling noise, not a
    # broken fit (the warning once fired at -0.6932 against -0.6931).
    rng = np.random.RandomState(0)
    X_fit, X_new = rng.standard_normal((400, 2)), rng.standard_normal((400, 2))
    labels = np.arange(400) % 2
    model = NCEDensityRatio(hidden_layer_sizes=(), max_epochs=5, random_state=0)
    model.fit(X_fit, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnreliableEstimateWarning)
        score = model.score(X_new, labels)
    assert score == pytest.approx(-np.log(2), abs=0.01)


@pytest.mark.parametrize(
    "random_state", [None, np.random.RandomState(3)], ids=["None", "RandomState"]
)
def test_warm_start_keeps_the_folds_of_the_first_fit(random_state):
    # A continued critic must never be scored on rows it trained on: a warm
    # refit replays the first fit's folds even without an integer seed.
    model = InfoNCEAnchorMI(cv=2, batch_size=16, max_epochs=1, warm_start=True)
    model.set_params(random_state=random_state).fit(X, TARGETS["InfoNCEAnchorMI"])
    first_seed = model._fit_seed
    model.fit(X, TARGETS["InfoNCEAnchorMI"])
    assert model._fit_seed == first_seed
    # Without warm_start each fit draws afresh.
    model.set_params(warm_start=False).fit(X, TARGETS["InfoNCEAnchorMI"])
    other = clone(model).fit(X, TARGETS["InfoNCEAnchorMI"])
    assert other._fit_seed != first_seed or model._fit_seed != first_seed


def test_a_first_fit_with_warm_start_is_a_cold_one_refit_included():
    # Nothing to continue: warm_start=True fits as warm_start=False does. On
    # 300 independent pairs the cold fit's critics overfit and are refitted
    # with early stopping (-0.010 nats); the warm first fit skipped that
    # refit (-0.393, and a warning), and once made to refit, continued the
    # overfitted critics it was replacing (-0.409; review).
    rng = np.random.default_rng(0)
    X_pairs, y_pairs = rng.normal(size=(300, 2)), rng.normal(size=300)
    fits = [
        InfoNCEAnchorMI(cv=3, random_state=0, warm_start=warm).fit(X_pairs, y_pairs)
        for warm in (False, True)
    ]
    assert fits[0].overfitted_ and fits[1].overfitted_
    assert fits[1].mi_ == fits[0].mi_
    np.testing.assert_array_equal(fits[1].n_iter_, fits[0].n_iter_)
    assert not hasattr(fits[1], "_continued_nets")


@pytest.mark.parametrize(
    "estimator", [NCEDensityRatio(), InfoNCEAnchorMI(), CNCEEnergyModel(), NoisierNCEClassifier()]
)
def test_an_int_hidden_layer_sizes_is_one_layer_as_in_mlp_classifier(estimator):
    # MLPClassifier(hidden_layer_sizes=64) is one layer of 64; so here.
    assert clone(estimator).set_params(hidden_layer_sizes=8)._hidden_widths() == (8,)
    assert clone(estimator).set_params(hidden_layer_sizes=[8, 4])._hidden_widths() == (8, 4)


def test_an_int_hidden_layer_sizes_fits_the_same_critic_as_a_one_tuple():
    X2, y2 = make_mean_shift(2, 0.5).sample(100, 100, random_state=0)
    fits = [
        NCEDensityRatio(hidden_layer_sizes=sizes, max_epochs=3, random_state=0).fit(X2, y2)
        for sizes in (8, (8,))
    ]
    np.testing.assert_array_equal(*(fit.predict_log_ratio(X2) for fit in fits))
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        NCEDensityRatio(hidden_layer_sizes=0).fit(X2, y2)
    # Entries too, as MLPClassifier checks them (a layer of 0 built a
    # constant critic; 2.5 a layer of 2).
    for sizes in ((0,), (64, -1), (2.5,), (True, 3)):
        with pytest.raises(ValueError, match="must hold positive integers"):
            NCEDensityRatio(hidden_layer_sizes=sizes).fit(X2, y2)
    assert NCEDensityRatio(hidden_layer_sizes=(np.int64(8),))._hidden_widths() == (8,)


@pytest.mark.parametrize("estimator", _estimators()[:2], ids=_name)
def test_a_column_constant_in_training_is_held_at_its_value_with_a_warning(estimator):
    # The critic never learnt what a constant column does (its first-layer
    # weights for it are their random start): a row that left the value had
    # moved the answer by a seed-dependent amount, in silence (a user test:
    # a column 7.0 in training read 100 moved a log ratio by 17 nats).
    # Held there, the answer ignores it, as a logistic regression's does.
    frame = pd.DataFrame({"x0": X[:, 0], "x1": X[:, 1], "flag": 7.0})
    target = TARGETS[_name(estimator)]
    method = getattr(estimator, "predict_log_ratio", None) or estimator.pointwise_mi
    args = (target,) if _name(estimator) == "InfoNCEAnchorMI" else ()
    estimator.fit(frame, target)
    at_value = method(frame, *args)
    moved = frame.assign(flag=np.r_[100.0, 7.0, -3.0, np.full(57, 7.0)])
    with pytest.warns(UnreliableEstimateWarning, match=r"2 of 60 rows .* \['flag'\] of X"):
        np.testing.assert_array_equal(method(moved, *args), at_value)
    if _name(estimator) == "NCEDensityRatio":
        # Rows of sample_weight 0 were left out of training: said so.
        weight = np.where(moved["flag"] == 7.0, 1.0, 0.0)
        with pytest.warns(UnreliableEstimateWarning, match=r"2 of 2 rows of sample_weight 0"):
            estimator.fit(moved, target, sample_weight=weight)
    if _name(estimator) == "InfoNCEAnchorMI":
        # A constant column of y is held the same way.
        y = np.c_[target[:, 0], np.full(60, 2.0)]
        estimator.fit(frame, y)
        at_value = estimator.pointwise_mi(frame, y)
        with pytest.warns(UnreliableEstimateWarning, match=r"1 of 60 rows .* \[1\] of y"):
            moved = estimator.pointwise_mi(frame, np.c_[y[:, 0], np.r_[5.0, np.full(59, 2.0)]])
        np.testing.assert_array_equal(moved, at_value)
        # One-hot columns are named as X's, and a category column of one
        # value is left to the unseen-category warning (a review: the hold
        # named encoded column 4 of 3, and read 'v' as 'u' where that
        # warning said "none of its categories").
        frame = frame.assign(c=pd.Categorical(["u"] * 60))
        estimator.set_params(discrete_features=["c"]).fit(frame, target)
        moved = frame.assign(
            c=pd.Categorical(["v"] + ["u"] * 59), flag=np.r_[8.0, np.full(59, 7.0)]
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            estimator.pointwise_mi(moved, target)
        messages = [str(w.message) for w in caught]
        assert any("Column 'c' of X" in m and "none of its categories" in m for m in messages)
        assert [m for m in messages if "hold another value" in m] == [
            m for m in messages if "column(s) ['flag'] of X" in m
        ]
        assert any("column(s) ['flag'] of X" in m for m in messages)
