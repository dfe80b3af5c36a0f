"""Tests of the shared core: batch sampler, callbacks, critics, objectives, seeding, devices."""

import copy
import math
import pickle
import threading
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from joblib import parallel_config
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.history import History
from threadpoolctl import threadpool_info, threadpool_limits
from torch import nn

from sklearn_nce import (
    CNCEEnergyModel,
    InfoNCEAnchorMI,
    NCEDensityRatio,
    NoisierNCEClassifier,
    make_two_sample,
)
from sklearn_nce._core import base as base_module
from sklearn_nce._core import graphs, optim, training
from sklearn_nce._core.base import _BaseNCE
from sklearn_nce._core.critics import (
    JointCritic,
    MLPCritic,
    QuadraticCritic,
    ResidualCritic,
    SeparableCritic,
    as_scores,
)
from sklearn_nce._core.losses import LOSSES, infonce_anchor_loss
from sklearn_nce._core.noise import GaussianNoise
from sklearn_nce._core.objectives import (
    InBatchMIObjective,
    NoiseContrastObjective,
    TelescopingObjective,
    TwoSampleObjective,
    in_batch_anchor_log_loss,
    in_batch_tuples,
    telescoping_coefficients,
)
from sklearn_nce._core.optim import clear_grads, optimizer_step
from sklearn_nce._core.training import (
    BestEpochStopping,
    ContrastiveNet,
    FiniteLossGuard,
    StratifiedBatchSampler,
    build_net,
    resolve_device,
)
from sklearn_nce._core.validation import _threads_of_a_new_thread
from sklearn_nce.datasets import make_mean_shift
from sklearn_nce.exceptions import SmallSampleWarning

# ---------------------------------------------------------------------------
# StratifiedBatchSampler
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n_pos, n_neg, batch_size",
    [(37, 63, 16), (3, 97, 16), (50, 50, 256), (10, 10, 2), (5, 200, 7)],
)
@pytest.mark.parametrize("shuffle", [False, True])
def test_stratified_batch_sampler(n_pos, n_neg, batch_size, shuffle):
    torch.manual_seed(0)
    labels = np.r_[np.ones(n_pos, dtype=int), np.zeros(n_neg, dtype=int)]
    np.random.default_rng(0).shuffle(labels)
    sampler = StratifiedBatchSampler(labels, batch_size=batch_size, shuffle=shuffle)
    batches = list(sampler)

    # The number of batches is ceil(n / batch_size), capped by the smaller class.
    expected_n_batches = max(1, min(math.ceil((n_pos + n_neg) / batch_size), n_pos, n_neg))
    assert len(sampler) == len(batches) == expected_n_batches

    for batch in batches:
        batch_labels = labels[batch]
        assert set(batch_labels.tolist()) == {0, 1}
        # Each label in proportion: its share of the batch is its count split
        # as evenly as possible over the batches (within one row).
        for label, count in ((1, n_pos), (0, n_neg)):
            assert abs((batch_labels == label).sum() - count / len(batches)) < 1

    # Together the batches are a permutation of all row indices.
    union = np.concatenate(batches)
    np.testing.assert_array_equal(np.sort(union), np.arange(n_pos + n_neg))


def test_stratified_batch_sampler_shuffles_with_torch_seed():
    labels = np.r_[np.ones(40, dtype=int), np.zeros(60, dtype=int)]
    sampler = StratifiedBatchSampler(labels, batch_size=10, shuffle=True)
    torch.manual_seed(0)
    first = [batch.tolist() for batch in sampler]
    torch.manual_seed(0)
    again = [batch.tolist() for batch in sampler]
    torch.manual_seed(1)
    other = [batch.tolist() for batch in sampler]
    assert first == again
    assert first != other
    # Without shuffling the order is fixed: consecutive rows of each label.
    unshuffled = list(StratifiedBatchSampler(labels, batch_size=10, shuffle=False))
    assert unshuffled[0].tolist() == [40, 41, 42, 43, 44, 45, 0, 1, 2, 3]


# ---------------------------------------------------------------------------
# optimizer_step (torch's fused Adam kernel called directly) and train_step
# ---------------------------------------------------------------------------


def _twin_adams(optimizer_class, **kwargs):
    torch.manual_seed(0)
    models = [nn.Linear(4, 3), nn.Linear(4, 3)]
    models[1].load_state_dict(models[0].state_dict())
    optimizers = [optimizer_class(m.parameters(), fused=True, **kwargs) for m in models]
    return models, optimizers


def _backward(model, X):
    model(X).square().mean().backward()


def _count_direct_calls(monkeypatch):
    """A list that grows by one at each direct fused-Adam call."""
    calls = []
    update = optim._fused_adam_update
    monkeypatch.setattr(
        optim, "_fused_adam_update", lambda *args: calls.append(1) or update(*args)
    )
    return calls


def _step_both(models, optimizers, X):
    """One step of each twin: ours by optimizer_step, torch's by its own step()."""
    clear_grads(optimizers[0])
    optimizers[1].zero_grad()
    for model in models:
        _backward(model, X)
    optimizer_step(optimizers[0])
    optimizers[1].step()


@pytest.mark.parametrize("optimizer_class", [torch.optim.Adam, torch.optim.AdamW])
def test_optimizer_step_is_torchs_step(monkeypatch, optimizer_class):
    # The one-time self-check passes on this torch (else every step would
    # take torch's path and this test would not test the direct call).
    assert optim._direct_call_matches_torch()
    direct_calls = _count_direct_calls(monkeypatch)
    (ours, theirs), (opt_ours, opt_theirs) = _twin_adams(
        optimizer_class, lr=0.05, weight_decay=0.1
    )
    X = torch.randn(16, 4)
    for step in range(6):
        if step == 3:  # skorch's set_params(lr=...) edits the group in place
            for optimizer in (opt_ours, opt_theirs):
                optimizer.param_groups[0]["lr"] = 0.01
        if step == 4:  # a frozen parameter has no gradient: both skip it
            for model in (ours, theirs):
                model.bias.requires_grad_(False)
        _step_both((ours, theirs), (opt_ours, opt_theirs), X)
    # Bit for bit; the first step (which creates the state) is torch's own.
    for mine, torchs in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(mine, torchs)
    assert len(direct_calls) == 5


def test_optimizer_step_takes_a_learning_rate_held_as_a_tensor(monkeypatch):
    # HoldThenDecay holds the rate as a 0-d tensor it writes in place: the
    # direct call reads it there, and steps as torch's own step does.
    assert optim._direct_call_matches_torch(tensor_lr=True)
    direct_calls = _count_direct_calls(monkeypatch)
    (ours, theirs), (opt_ours, opt_theirs) = _twin_adams(torch.optim.Adam, lr=0.05)
    rates = [opt.param_groups[0] for opt in (opt_ours, opt_theirs)]
    rates[0]["lr"] = torch.tensor(0.05)
    X = torch.randn(16, 4)
    for step in range(5):
        rates[0]["lr"].fill_(0.05 / (step + 1))
        rates[1]["lr"] = float(rates[0]["lr"])
        _step_both((ours, theirs), (opt_ours, opt_theirs), X)
    for mine, torchs in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(mine, torchs)
    assert len(direct_calls) == 4
    # A rate that needs a gradient, or lies on another device than the
    # parameters (which a CUDA kernel would read once), takes torch's path.
    cpu = torch.device("cpu")
    assert optim._plain_lr(torch.tensor(0.05), cpu)
    assert not optim._plain_lr(torch.tensor(0.05, requires_grad=True), cpu)
    assert not optim._plain_lr(torch.tensor(0.05, device="meta"), cpu)


@pytest.mark.parametrize("optimizer, held_as", [("adam", torch.Tensor), ("sgd", float)])
def test_hold_then_decay_holds_then_decays_linearly_and_puts_the_float_back(optimizer, held_as):
    # 50 rows in batches of 8: 6 full steps per epoch (_FullBatchSampler), 5
    # epochs, so 30 planned steps; with decay_fraction 0.4, step t (from 0)
    # runs at min(1, (30 - t) / 12): below the held rate from step 19 on.
    # Fused Adam reads a tensor (a CUDA graph needs its address), SGD a float.
    rates = []

    class Record(Callback):
        def on_batch_begin(self, net, training=False, **kwargs):
            if training:
                rate = net.optimizer_.param_groups[0]["lr"]
                assert isinstance(rate, held_as)
                rates.append(float(rate))

    torch.manual_seed(0)
    net = training.build_net(
        JointCritic(2, 2, hidden_features=(8,)),
        InBatchMIObjective(nu=None, scoring="log"),
        max_epochs=5,
        batch_size=8,
        lr=0.01,
        optimizer=optimizer,
        weight_decay=0.0,
        device="cpu",
        verbose=0,
        extra_callbacks=[("decay", training.HoldThenDecay(0.4)), ("record", Record())],
    )
    X = torch.randn(50, 2)
    net.fit({"x": X, "y": X + torch.randn(50, 2)}, None)
    expected = [0.01 * min(1.0, (30 - t) / 12) for t in range(30)]
    np.testing.assert_allclose(rates, expected, rtol=1e-6)
    assert rates[17] == pytest.approx(0.01) and rates[-1] == pytest.approx(0.01 / 12)
    # The fitted net keeps a plain float, as skorch and a warm start expect.
    assert net.optimizer_.param_groups[0]["lr"] == 0.01


def test_optimizer_step_leaves_hooks_and_schedulers_to_torch(monkeypatch):
    assert optim._direct_call_matches_torch()  # cached before the patch below
    monkeypatch.setattr(optim, "_fused_adam_update", None)  # any direct call would fail
    (model, _), (optimizer, _) = _twin_adams(torch.optim.Adam, lr=0.05)
    X = torch.randn(16, 4)
    seen = []
    handle = optimizer.register_step_post_hook(lambda *args: seen.append(1))
    for _ in range(3):
        clear_grads(optimizer)
        _backward(model, X)
        optimizer_step(optimizer)
    assert len(seen) == 3
    handle.remove()
    # An LR scheduler wraps the instance's step to know it ran: no warning
    # that the scheduler stepped before the optimizer.
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _backward(model, X)
        optimizer_step(optimizer)
        scheduler.step()


def test_train_step_fits_as_skorchs_closure_step(monkeypatch):
    X, y = make_mean_shift(2, 0.5).sample(200, 200, random_state=0)
    params = dict(max_epochs=3, batch_size=64, early_stopping=False, random_state=0)
    ours = NCEDensityRatio(**params).fit(X, y)
    monkeypatch.setattr(ContrastiveNet, "train_step", NeuralNet.train_step)
    skorchs = NCEDensityRatio(**params).fit(X, y)
    np.testing.assert_array_equal(ours.predict_log_ratio(X), skorchs.predict_log_ratio(X))


def test_training_data_go_to_the_device_once():
    X, y = make_mean_shift(2, 0.5).sample(200, 200, random_state=0)
    model = NCEDensityRatio(max_epochs=2, batch_size=64, early_stopping=False, random_state=0)
    net = model.fit(X, y).net_
    X32 = X.astype(np.float32)
    batches = net.get_iterator(net.get_dataset(X32, y), training=True)
    # One tensor for the fit, on the net's device (on the CPU, the array's
    # own memory); every epoch's batches are gathered from it.
    assert batches.X.device == torch.device(net.device)
    assert batches.X.data_ptr() == X32.ctypes.data
    epochs = [[(X_batch, y_batch) for X_batch, y_batch in batches] for _ in range(2)]
    assert all(X_batch.device == batches.X.device for X_batch, _ in epochs[0])
    assert not torch.equal(epochs[0][0][0], epochs[1][0][0])  # reshuffled
    rows = torch.cat([X_batch for X_batch, _ in epochs[0]])
    assert sorted(map(tuple, rows.tolist())) == sorted(map(tuple, batches.X.tolist()))


def test_fit_trains_under_no_grad():
    # torch's optimizer step used to enable gradients around skorch's
    # closure; a fit called inside no_grad must still train.
    X, y = make_mean_shift(2, 1.0).sample(200, 200, random_state=0)
    params = dict(max_epochs=3, batch_size=64, early_stopping=False, random_state=0)
    with torch.no_grad():
        inside = NCEDensityRatio(**params).fit(X, y)
    outside = NCEDensityRatio(**params).fit(X, y)
    np.testing.assert_array_equal(inside.predict_log_ratio(X), outside.predict_log_ratio(X))


# ---------------------------------------------------------------------------
# ContrastiveNet.notify (skips only the base class's empty hooks)
# ---------------------------------------------------------------------------


class _CountHooks(Callback):
    def __init__(self):
        self.calls = {"on_batch_begin": 0, "on_grad_computed": 0, "on_batch_end": 0}

    def on_batch_begin(self, net, **kwargs):
        self.calls["on_batch_begin"] += 1

    def on_grad_computed(self, net, named_parameters=None, **kwargs):
        assert len(list(named_parameters)) > 0
        self.calls["on_grad_computed"] += 1

    def on_batch_end(self, net, training=None, **kwargs):
        self.calls["on_batch_end"] += training


def test_user_callbacks_see_every_batch_hook():
    X, y = make_mean_shift(2, 0.5).sample(200, 200, random_state=0)
    counter = _CountHooks()
    # A hook set on the instance (not the class) must run too; it records
    # into this list (the estimator trains a copy of each callback).
    seen = []
    late = Callback()
    late.on_batch_end = lambda net, **kwargs: seen.append(1)
    model = NCEDensityRatio(max_epochs=3, batch_size=100, early_stopping=False, random_state=0)
    model.set_params(callbacks=[("count", counter), ("late", late)]).fit(X, y)
    hooks = dict(model.net_.callbacks_)
    steps = sum(len(row["batches"]) for row in model.net_.history)
    assert steps == 3 * 4  # 400 rows in batches of 100, three epochs
    assert hooks["count"].calls == {
        "on_batch_begin": steps,
        "on_grad_computed": steps,
        "on_batch_end": steps,
    }
    assert len(seen) == steps


# ---------------------------------------------------------------------------
# FiniteLossGuard
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_finite_loss_guard_raises_on_non_finite_loss(bad):
    guard = FiniteLossGuard()
    net = SimpleNamespace(history=[{}, {}], lr=0.5)
    with pytest.raises(ValueError, match=r"`lr` \(currently 0.5\)"):
        guard.on_batch_end(net, loss=torch.tensor(bad))


def test_a_held_out_loss_after_weights_went_non_finite_is_a_divergence():
    # An epoch's last step can send the weights to NaN; the held-out pass
    # is then the first to see it (a review): that is the diverged-fit error.
    guard = FiniteLossGuard()
    module = torch.nn.Linear(2, 1)
    net = SimpleNamespace(history=[{}], lr=0.5, module_=module, losses_deferred_=False)
    with pytest.raises(ValueError, match="eval mode"):
        guard.on_batch_end(net, training=False, loss=torch.tensor(float("nan")))
    with torch.no_grad():
        module.weight.fill_(float("nan"))
    with pytest.raises(ValueError, match=r"held-out loss became nan.*diverged.*`lr`"):
        guard.on_batch_end(net, training=False, loss=torch.tensor(float("nan")))


def test_finite_loss_guard_accepts_finite_loss():
    guard = FiniteLossGuard()
    net = SimpleNamespace(history=[{}], lr=0.5)
    guard.on_batch_end(net, loss=torch.tensor(1.5))
    guard.on_batch_end(net, loss=None)
    # A finite loss leaves the net untouched: the guard is only a check.
    assert net.lr == 0.5


@pytest.mark.parametrize("lr", [10.0, 1e3])
def test_diverging_fit_raises_value_error_naming_lr(lr):
    # LSIF is unbounded below (-mean r_pos); with far-apart samples and a huge
    # step the ratio overflows within a couple of epochs.
    pair = make_mean_shift(n_features=2, kl=50.0)
    X, y = pair.sample(100, 100, random_state=0)
    model = NCEDensityRatio(loss="lsif", lr=lr, max_epochs=20, random_state=0)
    with pytest.raises(ValueError, match="`lr`") as excinfo:
        model.fit(X, y)
    message = str(excinfo.value)
    assert "diverged" in message
    assert str(lr) in message


@pytest.mark.parametrize(
    "estimator",
    # The residual critic's first stage steps LBFGS (skorch's closure step).
    [
        NCEDensityRatio(),
        NCEDensityRatio(architecture="residual"),
        InfoNCEAnchorMI(cv=2),
        NoisierNCEClassifier(),
    ],
    ids=["mlp", "residual", "mi", "density"],
)
@pytest.mark.parametrize("with_graphs", [False, True], ids=["deferred", "deferred+graphs"])
def test_deferred_loss_reads_record_the_same_history_and_fit(estimator, with_graphs, monkeypatch):
    # The GPU path (losses read once per epoch, no host sync per step; with
    # graphs, steps replayed by the capture's eager stand-in) run on the CPU:
    # the same batch rows, epoch losses and weights as skorch's per-batch
    # reads. The noise-drawing density model is not graph-safe: it steps
    # eagerly.
    X, y = _toy_inputs(estimator, 600, 2)
    estimator.set_params(max_epochs=4, early_stopping=True, random_state=0)
    eager = clone(estimator).fit(X, y)
    _defer_everywhere(monkeypatch)
    if with_graphs:
        monkeypatch.setattr(training, "_captures_steps", lambda device: True)
        monkeypatch.setattr(graphs, "CudaGraphCapture", _CountingCapture)
    _CountingCapture.total = 0
    deferred = clone(estimator).fit(X, y)
    graph_safe = not isinstance(estimator, NoisierNCEClassifier)
    assert (_CountingCapture.total > 0) == (with_graphs and graph_safe)
    for eager_net, deferred_net in zip(_nets(eager), _nets(deferred), strict=True):
        assert deferred_net.defer_loss_reads and not eager_net.defer_loss_reads
        assert deferred_net.cuda_graphs == with_graphs
        if with_graphs:
            report = deferred_net.cuda_graph_report_
            replayed = report["replays"] > 0 and report["failure"] is None
            assert replayed if graph_safe else report["failure"] == "not graph-safe"
        assert _timeless(deferred_net.history) == _timeless(eager_net.history)
        for eager_param, deferred_param in zip(
            eager_net.module_.parameters(), deferred_net.module_.parameters(), strict=True
        ):
            torch.testing.assert_close(deferred_param, eager_param, rtol=0, atol=0)


def test_early_stopping_restores_the_epoch_of_the_lowest_loss_whatever_tol():
    # Every epoch after the first improves by less than tol = 0.01, so all
    # count as misses and the fit stops at epoch 5; the weights restored are
    # epoch 3's, the lowest loss (skorch's EarlyStopping restored epoch 1's,
    # the last to beat its threshold).
    module = nn.Linear(1, 1)
    net = SimpleNamespace(history=History(), module_=module, verbose=0)
    stopper = BestEpochStopping(
        monitor="valid_loss", patience=4, threshold=0.01, threshold_mode="abs", load_best=True
    )
    stopper.on_train_begin(net)
    stopped = None
    for epoch, loss in enumerate([1.0, 0.998, 0.996, 0.997, 0.999], start=1):
        module.weight.data.fill_(epoch)
        net.history.new_epoch()
        net.history.record("epoch", epoch)
        net.history.record("valid_loss", loss)
        try:
            stopper.on_epoch_end(net)
        except KeyboardInterrupt:
            stopped = epoch
    stopper.on_train_end(net)
    assert stopped == 5 and stopper.best_epoch_ == 3
    assert module.weight.item() == 3


def test_deferred_loss_reads_still_stop_a_diverged_fit(monkeypatch):
    # As test_diverging_fit_raises_value_error_naming_lr, with the losses read
    # at the end of each epoch: the finite-loss check still names the loss.
    _defer_everywhere(monkeypatch)
    X, y = make_mean_shift(n_features=2, kl=50.0).sample(100, 100, random_state=0)
    model = NCEDensityRatio(loss="lsif", lr=1e3, max_epochs=20, random_state=0)
    with pytest.raises(ValueError, match=r"training loss became (nan|inf|-inf) in epoch"):
        model.fit(X, y)


def test_a_user_batch_hook_reads_its_batch_loss_on_the_gpu_path(monkeypatch):
    # Deferred reads left the batch's loss out of the history until the
    # epoch's end, where a user's on_batch_end (or skorch's LRScheduler with
    # step_every="batch") looks for it: KeyError (a review).
    _defer_everywhere(monkeypatch)
    seen = []

    class ReadBatchLoss(Callback):
        def on_batch_end(self, net, training=False, **kwargs):
            if training:
                seen.append(net.history[-1, "batches", -1, "train_loss"])

    X, y = make_mean_shift(n_features=2, kl=1.0).sample(100, 100, random_state=0)
    model = NCEDensityRatio(
        max_epochs=2, callbacks=[("read", ReadBatchLoss())], random_state=0
    ).fit(X, y)
    assert seen and all(np.isfinite(seen))
    assert model.net_.defer_loss_reads and not model.net_.losses_deferred_
    # Without a user's batch hook the losses stay deferred.
    plain = NCEDensityRatio(max_epochs=2, random_state=0).fit(X, y)
    assert plain.net_.losses_deferred_


class _CountingCapture(graphs.EagerCapture):
    """The capture's eager stand-in, counting the captures of all instances."""

    total = 0

    def capture(self, body, reset):
        type(self).total += 1
        return super().capture(body, reset)


def _defer_everywhere(monkeypatch):
    """Make every net read its batch losses once per epoch, as it does off the CPU."""
    monkeypatch.setattr(training, "_defers_loss_reads", lambda device: True)


def _nets(estimator):
    """An estimator's skorch nets: ``net_`` or the folds' ``nets_``."""
    return getattr(estimator, "nets_", None) or [estimator.net_]


def _toy_inputs(estimator, n_rows, n_features):
    """Standard normal ``X`` and what ``estimator.fit`` takes beside it.

    Alternating 0/1 labels for the density ratio, ``X`` plus noise for the
    MI estimator, None for the density models.
    """
    rng = np.random.RandomState(0)
    X = rng.standard_normal((n_rows, n_features))
    if isinstance(estimator, NCEDensityRatio):
        return X, np.arange(n_rows) % 2
    if isinstance(estimator, InfoNCEAnchorMI):
        return X, X + rng.standard_normal((n_rows, n_features))
    return X, None


def _timeless(history):
    """A skorch history's rows without their wall-clock durations."""
    return [{key: value for key, value in row.items() if key != "dur"} for row in history]


@pytest.mark.parametrize(
    "estimator",
    [NCEDensityRatio(), InfoNCEAnchorMI(cv=2), NoisierNCEClassifier()],
    ids=lambda estimator: type(estimator).__name__,
)
def test_absurd_lr_raises_instead_of_answering_garbage(estimator):
    # lr=1e3 with Adam leaves a finite but huge loss (e.g. 50 against 0.67
    # untrained for the density ratio): before the check, the fits returned
    # a held-out score of -2e8, mi_ = -3.6e7 or a mean log-likelihood of
    # -4.5e5 without an error. (CNCEEnergyModel at lr=1e3 ends at the chance
    # loss with f flat over its base, scoring as a sane fit: nothing to refuse.)
    X, y = _toy_inputs(estimator, 400, 3)
    if isinstance(estimator, NCEDensityRatio):
        X[y == 1] += 1.0
    estimator.set_params(lr=1e3, max_epochs=20, random_state=0)
    with pytest.raises(ValueError, match=r"diverged.*`lr` \(currently 1000.0\)"):
        estimator.fit(X, y)


def test_a_fit_diverged_by_its_weight_decay_is_told_to_lower_it():
    # SGD scales each weight by 1 - lr * weight_decay per step: at 1e6 it
    # overshoots, and the advice was to "add weight_decay" (review).
    X = np.random.default_rng(0).normal(size=(52, 2))
    model = NCEDensityRatio(optimizer="sgd", weight_decay=1e6, max_epochs=2, random_state=0)
    with pytest.raises(ValueError, match=r"lower weight_decay \(currently 1e\+06\)"):
        model.fit(X, np.arange(52) % 2)


def test_a_warm_fit_keeps_its_start_when_no_new_epoch_beats_it():
    # Early stopping restored the best of the *new* epochs only, so a warm
    # fit whose epochs all read worse than its start ended worse (review:
    # held-out loss 0.5331 -> 0.5582). The start is now epoch 0's candidate,
    # as MLPClassifier carries its best validation score into a warm fit.
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0.5, 1, (300, 2)), rng.normal(0, 1, (300, 2))])
    y = np.r_[np.ones(300), np.zeros(300)].astype(int)
    model = NCEDensityRatio(lr=1e-2, n_iter_no_change=5, warm_start=True, random_state=0)
    model.fit(X, y)
    first = len(model.history_)
    best = min(model.history_[:, "valid_loss"])
    before = model.predict_log_ratio(X)
    model.fit(X, y)
    new_losses = model.history_[first:, "valid_loss"]
    assert min(new_losses) > best  # the premise: every new epoch reads worse
    assert len(new_losses) == 5  # patience counts from the start's score
    np.testing.assert_array_equal(model.predict_log_ratio(X), before)
    # A stopper pickled before score_start (a loaded net's partial_fit) reads it as off.
    stopper = BestEpochStopping()
    del stopper.score_start
    stopper.on_train_begin(model.net_)
    assert stopper._start_unscored is False


def test_a_start_whose_held_out_loss_is_not_finite_is_no_candidate(monkeypatch):
    # No epoch could beat a NaN: the fit would have stopped on its start.
    from sklearn_nce._core import training

    monkeypatch.setattr(training, "_held_out_loss", lambda net, dataset: float("nan"))
    stopper = BestEpochStopping(score_start=True)
    stopper.on_train_begin(None)
    stopper.on_epoch_begin(None, dataset_valid=object())
    assert stopper.best_score_ == np.inf and stopper.best_model_weights_ is None


def test_a_diverged_lbfgs_fit_is_not_told_to_lower_lr():
    # lbfgs ignores lr (it runs at 1.0): the advice to lower it changed
    # nothing (review: lr=1e-6 read "Lower `lr` (currently 1.0)").
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0.7, 1, (150, 2)), rng.normal(0, 1.2, (250, 2))])
    y = np.r_[np.ones(150), np.zeros(250)].astype(int)
    model = NCEDensityRatio(
        loss="lsif",
        architecture="quadratic",
        optimizer="lbfgs",
        lr=1e-6,
        max_epochs=30,
        early_stopping=False,
        bridge_chasm=False,
        random_state=0,
    )
    with pytest.raises(ValueError, match="diverged") as raised:
        model.fit(X, y)
    assert "lr" not in str(raised.value).replace("loss=", "")


# ---------------------------------------------------------------------------
# Critics
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("out_features", [1, 3])
@pytest.mark.parametrize("hidden", [(), (8,), (8, 4)])
def test_mlp_critic_output_shape(out_features, hidden):
    critic = MLPCritic(4, out_features, hidden_features=hidden, activation=nn.Tanh)
    out = critic(torch.randn(10, 4))
    assert out.shape == (10, out_features)
    linear = [m for m in critic.modules() if isinstance(m, nn.Linear)]
    assert len(linear) == len(hidden) + 1
    assert sum(isinstance(m, nn.Tanh) for m in critic.modules()) == len(hidden)


@pytest.mark.parametrize(
    "args, name",
    [
        ((2, (16,)), "out_features"),
        ((2, 1, (16, 0)), r"hidden_features\[1\]"),
        ((0,), "in_features"),
    ],
)
def test_mlp_critic_names_a_bad_width(args, name):
    # MLPCritic(2, (16,)) put the hidden widths in out_features and failed in torch.
    with pytest.raises(ValueError, match=f"{name} must be a positive int"):
        MLPCritic(*args)


def test_mlp_critic_reads_any_iterable_of_widths_and_refuses_a_bare_int():
    critic = MLPCritic(2, 1, (width for width in (8, 4)))  # a generator, read once
    assert [m.out_features for m in critic.modules() if isinstance(m, nn.Linear)] == [8, 4, 1]
    with pytest.raises(ValueError, match="hidden_features must be a sequence"):
        MLPCritic(2, 1, 16)


def test_quadratic_critic_is_a_quadratic_form_per_head():
    torch.manual_seed(0)
    critic = QuadraticCritic(3, out_features=2)
    with torch.no_grad():
        critic.quadratic.normal_()
    x = torch.randn(7, 3)
    out = critic(x)
    assert out.shape == (7, 2)
    for head in range(2):
        A, b, c = critic.quadratic[head], critic.linear.weight[head], critic.linear.bias[head]
        expected = torch.stack([row @ A @ row + b @ row + c for row in x])
        torch.testing.assert_close(out[:, head], expected)


def test_residual_critic_starts_at_its_base_and_trains_only_the_network_once_frozen():
    torch.manual_seed(0)
    base, network = nn.Linear(3, 2), MLPCritic(3, 2, hidden_features=(8,))
    critic = ResidualCritic(base, network)
    x = torch.randn(5, 3)
    # The network's last layer starts at zero: the critic is its base.
    torch.testing.assert_close(critic(x), base(x), rtol=0, atol=0)
    assert not critic.base_fitted
    critic.freeze_base()
    assert critic.base_fitted
    critic(x).sum().backward()
    assert all(p.grad is None for p in critic.base.parameters())
    assert all(p.grad is not None for p in critic.network.parameters())


def test_as_scores_reshapes_valid_outputs():
    assert as_scores(torch.zeros(5), 5).shape == (5, 1)
    assert as_scores(torch.zeros(5, 1), 5).shape == (5, 1)
    assert as_scores(torch.zeros(5, 3), 5).shape == (5, 3)


@pytest.mark.parametrize(
    "shape", [(), (4,), (6,), (5, 1, 1), (4, 1), (1, 5)], ids=lambda s: str(s)
)
def test_as_scores_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match=r"shape \(n_samples,\)"):
        as_scores(torch.zeros(shape), 5)


# ---------------------------------------------------------------------------
# Objectives
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("spacing", ["numerator", "denominator"])
@pytest.mark.parametrize("n_steps", [1, 2, 3, 8])
def test_telescoping_coefficients(n_steps, spacing):
    pos_coef, neg_coef = telescoping_coefficients(n_steps, spacing)
    assert pos_coef.shape == neg_coef.shape == (n_steps + 1,)
    # The path starts at the positive sample and ends at the negative one...
    assert float(pos_coef[0]) == 1.0 and float(neg_coef[0]) == 0.0
    assert float(pos_coef[-1]) == 0.0 and float(neg_coef[-1]) == 1.0
    # ... every waymark keeps unit variance for whitened inputs ...
    torch.testing.assert_close(
        pos_coef**2 + neg_coef**2, torch.ones(n_steps + 1, dtype=pos_coef.dtype)
    )
    # ... and c_k falls linearly ("numerator") or s_k rises linearly ("denominator").
    fractions = torch.tensor([k / n_steps for k in range(n_steps + 1)], dtype=pos_coef.dtype)
    if spacing == "numerator":
        torch.testing.assert_close(pos_coef, 1 - fractions)
    else:
        torch.testing.assert_close(neg_coef, fractions)


def test_telescoping_spacing_is_validated():
    with pytest.raises(ValueError, match="spacing must be"):
        telescoping_coefficients(4, "geometric")


def _random_batch(n_features=3, n_rows=32):
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(n_rows, n_features, generator=gen)
    y = torch.tensor([1, 0] * (n_rows // 2))
    return X, y


def _assert_all_parameters_get_gradients(critic):
    for name, param in critic.named_parameters():
        assert param.grad is not None, name
        assert torch.all(torch.isfinite(param.grad)), name
        assert torch.all(param.grad != 0), f"{name} has zero gradient entries"


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_two_sample_objective_gradients_reach_every_parameter(name):
    torch.manual_seed(0)
    critic = MLPCritic(3, 1, hidden_features=(8, 8))
    X, y = _random_batch()
    loss = TwoSampleObjective(LOSSES[name], noise_weight=2.0)(critic, X, y)
    assert loss.shape == ()
    loss.backward()
    _assert_all_parameters_get_gradients(critic)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_telescoping_objective_gradients_reach_every_parameter(name):
    torch.manual_seed(0)
    n_steps = 3
    critic = MLPCritic(3, n_steps, hidden_features=(8, 8))
    X, y = _random_batch()
    loss = TelescopingObjective(LOSSES[name], noise_weight=1.0, n_steps=n_steps)(critic, X, y)
    assert loss.shape == ()
    loss.backward()
    # Every head (row of the last layer) is trained by its own step.
    _assert_all_parameters_get_gradients(critic)


@pytest.mark.parametrize("resample_pairs", [True, False])
def test_telescoping_pairs_fixed_only_when_asked(resample_pairs):
    # LBFGS's line search re-evaluates the loss of one batch: with
    # resample_pairs=False every evaluation must see the same waymarks.
    torch.manual_seed(0)
    critic = MLPCritic(3, 2, hidden_features=(8,))
    objective = TelescopingObjective(
        LOSSES["logistic"], noise_weight=1.0, n_steps=2, resample_pairs=resample_pairs
    )
    X, y = _random_batch()
    with torch.no_grad():
        first, second = objective(critic, X, y), objective(critic, X, y)
    assert (float(first) == float(second)) is (not resample_pairs)


def test_lbfgs_trains_on_fixed_waymarks_and_leaves_the_objective_resampling():
    objective = TelescopingObjective(LOSSES["logistic"], noise_weight=1.0, n_steps=2)
    common = dict(max_epochs=1, batch_size=8, lr=1e-3, weight_decay=0.0, device="cpu", verbose=0)
    lbfgs = build_net(MLPCritic(3, 2), objective, optimizer="lbfgs", **common)
    adam = build_net(MLPCritic(3, 2), objective, optimizer="adam", **common)
    # A line search needs one fixed loss; the caller's objective (which a
    # later Adam stage may share) keeps drawing fresh pairs.
    assert lbfgs.criterion.resample_pairs is False
    assert adam.criterion is objective and objective.resample_pairs is True


@pytest.mark.parametrize("Estimator", [CNCEEnergyModel, NoisierNCEClassifier])
def test_lbfgs_line_search_sees_one_noise_draw_per_step(Estimator):
    # Each evaluation of a step's closure drew fresh noise, so the line
    # search compared different problems and gave up: 68 of 400 iterations.
    X = np.random.RandomState(0).normal(size=(200, 2))
    model = Estimator(
        optimizer="lbfgs",
        max_epochs=3,
        early_stopping=False,
        n_importance_samples=200,
        random_state=0,
    ).fit(X)
    optimizer = model.net_.optimizer_
    iterations = optimizer.state[optimizer.param_groups[0]["params"][0]]["n_iter"]
    # 59 of the 60 (torch's count lags by one); 7-10 before.
    assert iterations >= 3 * training.LBFGS_ITERATIONS_PER_EPOCH - 3


@pytest.mark.parametrize("Estimator", [CNCEEnergyModel, NoisierNCEClassifier])
def test_lbfgs_patience_and_budget_count_its_iterations(Estimator):
    # An LBFGS epoch is 20 iterations: counted as one step, the 400-step
    # patience (400 epochs) outlasted the 300-epoch budget.
    model = Estimator(optimizer="lbfgs")
    assert model._patience(900, 900) == 20 and model._max_epochs(900, 900) == 100


def test_rng_states_put_back_the_cpu_and_the_fit_devices_generators(monkeypatch):
    # The CUDA half runs on the CPU here with the CUDA calls stubbed.
    cuda_states = {}
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda d: torch.tensor([d.index]))
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda s, d: cuda_states.update({d: s}))
    states = training.rng_states("cuda:1")
    first = torch.rand(3)
    training.set_rng_states(states, "cuda:1")
    assert torch.equal(torch.rand(3), first)
    assert list(cuda_states) == [torch.device("cuda:1")]
    assert cuda_states[torch.device("cuda:1")].item() == 1


def test_lbfgs_penalty_spares_the_biases():
    # l2_penalty / 2 * ||W||^2 over weight matrices only: a log ratio's
    # intercept can be many nats, and shrinking it would bias every ratio
    # (sklearn's LogisticRegression and MLPClassifier leave intercepts free).
    torch.manual_seed(0)
    critic = nn.Linear(3, 1)
    with torch.no_grad():
        critic.bias.fill_(5.0)
    objective = TwoSampleObjective(LOSSES["logistic"], noise_weight=1.0)
    common = dict(max_epochs=1, batch_size=8, lr=1.0, device="cpu", verbose=0)
    net = build_net(critic, objective, optimizer="lbfgs", weight_decay=0.5, **common).initialize()
    X, y = _random_batch()
    with torch.no_grad():
        plain = float(objective(critic, X, y))
    penalised = float(net.train_step_single((X, y))["loss"])
    expected = plain + 0.5 * 0.5 * float(critic.weight.pow(2).sum())
    assert penalised == pytest.approx(expected, rel=1e-6)


def test_lbfgs_fit_is_full_batch_and_penalised():
    pair = make_mean_shift(n_features=2, kl=1.0)
    X, y = pair.sample(100, 100, random_state=0)
    model = NCEDensityRatio(
        optimizer="lbfgs", max_epochs=3, early_stopping=False, random_state=0
    ).fit(X, y)
    # One batch per epoch holding every row, and the line search's step size.
    assert model.net_.batch_size == len(X)
    assert isinstance(model.net_.optimizer_, torch.optim.LBFGS)
    assert model.net_.optimizer_.defaults["lr"] == 1.0
    # weight_decay becomes an explicit L2 penalty in the training loss.
    penalised = NCEDensityRatio(optimizer="lbfgs", weight_decay=10.0, max_epochs=3, random_state=0)
    penalised.fit(X, y)
    assert penalised.net_.l2_penalty == 10.0

    def weight_norm(est):
        return sum(float(p.pow(2).sum()) for p in est.net_.module_.parameters())

    assert weight_norm(penalised) < weight_norm(model)


def test_two_sample_objective_splits_by_label():
    # With a constant critic h = c the logistic loss has a closed form,
    # so a wrong positive/negative split changes the value.
    class Constant(nn.Module):
        def forward(self, x):
            return torch.full((len(x),), 0.3)

    X = torch.zeros(4, 2)
    y = torch.tensor([1, 0, 0, 0])
    loss = TwoSampleObjective(LOSSES["lsif"], noise_weight=1.0)(Constant(), X, y)
    assert float(loss) == pytest.approx(0.5 * math.exp(0.6) - math.exp(0.3), rel=1e-6)


# ---------------------------------------------------------------------------
# Seeding and devices
# ---------------------------------------------------------------------------


def test_fit_does_not_change_global_torch_rng():
    pair = make_mean_shift(n_features=2, kl=1.0)
    X, y = pair.sample(40, 40, random_state=0)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    NCEDensityRatio(max_epochs=2, random_state=0).fit(X, y)
    assert torch.equal(before, torch.get_rng_state())


def test_fit_does_not_change_global_numpy_rng():
    pair = make_mean_shift(n_features=2, kl=1.0)
    X, y = pair.sample(600, 600, random_state=0)  # enough rows for the validation split
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    NCEDensityRatio(max_epochs=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(before, np.random.get_state()[1])


def test_fit_seeds_no_cuda_generator_it_does_not_use(monkeypatch):
    # torch.manual_seed also seeds every GPU, which fork_rng restores only for
    # the devices it is given: a CPU fit left the user's CUDA streams seeded
    # by the fit's seed (a review). Recorded here, as no GPU need be present.
    seeded = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: seeded.append(seed))
    monkeypatch.setattr(torch.cuda, "manual_seed", lambda seed: seeded.append(seed))
    X, y = make_mean_shift(n_features=2, kl=1.0).sample(40, 40, random_state=0)
    NCEDensityRatio(max_epochs=2, random_state=0).fit(X, y)
    assert seeded == []


def test_cuda_resolves_to_the_current_device_by_index(monkeypatch):
    # Unindexed, the parameters went to the GPU current at fit and the inputs
    # to the one current at predict (a review).
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    assert resolve_device("cuda") == resolve_device("auto") == "cuda:1"
    assert resolve_device("cuda:0") == "cuda:0"


def test_a_model_saved_on_a_gpu_this_machine_lacks_loads_on_gpu_0(monkeypatch):
    # torch.load failed for "cuda:1" on a machine with one GPU (a review).
    from sklearn_nce._core.training import loadable_device

    assert loadable_device("cuda:1") == "cuda:1"  # no CUDA here: skorch warns, loads on the CPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert loadable_device("cuda:1") == "cuda:0"
    assert [loadable_device(d) for d in ("cuda:0", "cuda", "cpu")] == ["cuda:0", "cuda", "cpu"]


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    expected_auto = "cuda:0" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").startswith(expected_auto[:4])
    if torch.cuda.is_available():
        assert resolve_device("cuda").startswith("cuda:")
    else:
        for device in ("cuda", "cuda:0"):
            with pytest.raises(ValueError, match="no CUDA device"):
                resolve_device(device)
    # Not a torch device at all: our message, not torch's list of 20 backends.
    with pytest.raises(ValueError, match="device='gpu' is not a torch device; use 'cpu'"):
        resolve_device("gpu")
    # A device type this torch build cannot place tensors on (it raised deep
    # inside skorch's module.to(); user test).
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_available():
        with pytest.raises(ValueError, match="device='mps' was requested but this torch build"):
            resolve_device("mps")
    with pytest.raises(ValueError, match="device='meta' holds no values"):
        resolve_device("meta")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_fit_on_missing_cuda_raises_value_error():
    X, y = make_mean_shift(n_features=2, kl=1.0).sample(10, 10, random_state=0)
    with pytest.raises(ValueError, match="device='cuda'"):
        NCEDensityRatio(device="cuda", max_epochs=1).fit(X, y)


# ---------------------------------------------------------------------------
# User-supplied critics
# ---------------------------------------------------------------------------


class _FlatLinear(nn.Module):
    """A linear critic returning shape (n,), as a user might write one."""

    def __init__(self, n_features):
        super().__init__()
        self.linear = nn.Linear(n_features, 1)

    def forward(self, x):
        return self.linear(x).squeeze(-1)


def test_user_critic_is_used_and_not_modified():
    pair = make_mean_shift(n_features=3, kl=1.0)
    X, y = pair.sample(100, 100, random_state=0)
    torch.manual_seed(0)
    critic = _FlatLinear(3)
    original = copy.deepcopy(critic.state_dict())

    # 200 rows fit in one batch: 100 epochs are 100 Adam steps.
    model = NCEDensityRatio(critic=critic, max_epochs=100, lr=3e-2, random_state=0).fit(X, y)

    # The passed module is untouched...
    assert model.critic is critic
    for key, value in critic.state_dict().items():
        assert torch.equal(value, original[key]), key
    # ... a trained copy of it is what the estimator uses ...
    fitted = model.net_.module_
    assert type(fitted) is _FlatLinear and fitted is not critic
    assert not torch.equal(fitted.linear.weight, original["linear.weight"])
    weight = fitted.linear.weight.detach().numpy().astype(np.float64).ravel()
    bias = float(fitted.linear.bias.detach())
    # The critic reads X in standard units (the estimator standardises inside).
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    np.testing.assert_allclose(model.predict_log_ratio(X), Z @ weight + bias, rtol=1e-5, atol=1e-5)
    weight = weight / X.std(axis=0)  # the same direction in the units of X
    # ... and it learned the right direction: the true log ratio is mu.x + const.
    cosine = (
        weight @ pair.numerator.mean / np.linalg.norm(weight) / np.linalg.norm(pair.numerator.mean)
    )
    assert cosine > 0.9


# --- two-variable critics and the in-batch InfoNCE-anchor objective ---------


@pytest.mark.parametrize("critic_class", [SeparableCritic, JointCritic])
def test_score_matrix_agrees_with_paired_forward(critic_class):
    torch.manual_seed(0)
    critic = critic_class(3, 2)
    x, y = torch.randn(5, 3), torch.randn(4, 2)
    matrix = critic.score_matrix(x, y)
    assert matrix.shape == (5, 4)
    for i in range(5):
        paired = critic(x[i : i + 1].expand(4, -1), y)
        torch.testing.assert_close(matrix[i], paired, rtol=1e-5, atol=1e-5)


def test_in_batch_tuples_layout():
    scores = torch.arange(16.0).reshape(4, 4)
    positives, negatives = in_batch_tuples(scores)
    # Row 1: diagonal 5, off-diagonal 4, 6, 7.
    assert negatives[1].tolist() == [4.0, 6.0, 7.0]
    assert positives[1].tolist() == [5.0, 6.0, 7.0]
    assert positives.shape == negatives.shape == (4, 3)
    with pytest.raises(ValueError, match="at least 3"):
        in_batch_tuples(torch.zeros(2, 2))


def test_in_batch_tuples_of_a_stack_concatenate_each_matrixs_tuples():
    scores = torch.randn(3, 5, 5)
    positives, negatives = in_batch_tuples(scores)
    per_group = [in_batch_tuples(matrix) for matrix in scores]
    torch.testing.assert_close(positives, torch.cat([p for p, _ in per_group]))
    torch.testing.assert_close(negatives, torch.cat([n for _, n in per_group]))
    assert negatives.shape == (15, 4)


@pytest.mark.parametrize("shape", [(3, 3), (6, 6), (4, 5, 5)])
@pytest.mark.parametrize("nu", [0.0, 1.0, "K"])
def test_in_batch_anchor_log_loss_equals_the_loss_of_the_tuples(shape, nu):
    # The masked log-sum-exp form must give the value and the gradient of the
    # anchor loss on the tuples in_batch_tuples builds (row 0's left-out
    # candidate is column 1, every other row's column 0), for one matrix or a
    # stack, with and without an anchor.
    nu = shape[-1] - 1.0 if nu == "K" else nu
    scores = (3 * torch.randn(shape, generator=torch.Generator().manual_seed(0))).double()
    fused, split = scores.clone().requires_grad_(), scores.clone().requires_grad_()
    got = in_batch_anchor_log_loss(fused, nu)
    expected = infonce_anchor_loss(*in_batch_tuples(split), nu, "log")
    torch.testing.assert_close(got, expected)
    got.backward()
    expected.backward()
    torch.testing.assert_close(fused.grad, split.grad)


def test_in_batch_anchor_log_loss_after_an_inference_mode_call():
    # Its masks are cached per size: a first call under inference mode (as in
    # a score()) must not leave inference tensors that a later fit cannot use.
    with torch.inference_mode():
        in_batch_anchor_log_loss(torch.randn(7, 7), 6.0)
    scores = torch.randn(7, 7, requires_grad=True)
    in_batch_anchor_log_loss(scores, 6.0).backward()
    assert torch.isfinite(scores.grad).all()


@pytest.mark.parametrize("bound", ["anchor", "nwj"])
def test_objective_on_a_stack_is_the_mean_over_its_matrices(bound):
    # Every matrix has the same number of tuples, so the loss of the stack is
    # the mean of the matrices' losses, as fit_offset's stacking assumes (it
    # stacks for the anchor only: DV's log of a pooled mean is not a mean of
    # per-matrix logs).
    torch.manual_seed(0)
    objective = InBatchMIObjective(nu=None, scoring="log", bound=bound)
    scores = torch.randn(3, 4, 4)
    whole = objective.loss_from_scores(scores)
    each = torch.stack([objective.loss_from_scores(matrix) for matrix in scores])
    torch.testing.assert_close(whole, each.mean())


def _gaussian_pairs(n, rho, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=gen)
    y = rho * x + (1 - rho**2) ** 0.5 * torch.randn(n, 2, generator=gen)
    return x, y


def test_anchor_plug_in_mi_passes_log_batch_size_where_infonce_cannot():
    # 2-d correlated Gaussians with MI = 4 nats (rho^2 = 1 - exp(-4) per
    # dimension), batches of 16 pairs: InfoNCE's bound log K - loss can never
    # exceed log 15 = 2.7 nats, while the anchor's plug-in mean of s(x, y) on
    # held-out pairs is consistent. 1500 Adam steps keep this ~5 s; the
    # tolerance (0.8 nats, 20%) covers the finite-batch training error seen
    # across seeds.
    true_mi = 4.0
    rho = (1 - np.exp(-true_mi)) ** 0.5  # MI = -(2/2) log(1 - rho^2) in 2-d
    x, y = _gaussian_pairs(24000, rho, seed=0)
    x_test, y_test = _gaussian_pairs(4000, rho, seed=1)
    torch.manual_seed(0)
    critic = JointCritic(2, 2)
    objective = InBatchMIObjective(nu=1.0, scoring="log")
    infonce = InBatchMIObjective(nu=0.0, scoring="log")
    optimizer = torch.optim.Adam(critic.parameters(), lr=2e-3)
    for _step in range(1500):
        idx = torch.randint(len(x), (16,))
        loss = objective(critic, {"x": x[idx], "y": y[idx]})
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        plug_in = float(critic(x_test, y_test).mean())
        batches = zip(x_test.split(16), y_test.split(16), strict=True)
        infonce_bound = np.log(15) - np.mean(
            [float(infonce(critic, {"x": bx, "y": by})) for bx, by in batches]
        )
    assert abs(plug_in - true_mi) < 0.8
    assert infonce_bound < np.log(15) < true_mi - 0.8


def test_fit_accepts_reversed_and_read_only_arrays():
    # Batches are sliced from tensors that share the input's memory; torch
    # cannot share negative strides or read-only buffers, so those are copied.
    X, y = make_mean_shift(n_features=2, kl=1.0).sample(40, 40, random_state=0)
    X = X.astype(np.float32)  # validation then hands the array itself to the loop
    reversed_view = X[::-1]
    read_only = X.copy()
    read_only.flags.writeable = False
    for data in (reversed_view, read_only):
        model = NCEDensityRatio(max_epochs=2, random_state=0).fit(data, y[::-1])
        assert np.isfinite(model.predict_log_ratio(data)).all()


def test_auto_batch_size_grows_with_the_data_within_bounds():
    # About 100 steps per epoch, between 256 and 4096 rows.
    model = NCEDensityRatio(batch_size="auto")
    assert [model._batch_size(n) for n in (1000, 25_600, 100_000, 10**7)] == [256, 256, 1000, 4096]
    assert NCEDensityRatio(batch_size=64)._batch_size(100_000) == 64


def test_a_fit_runs_blas_and_openmp_on_one_thread_and_restores_them(monkeypatch):
    # numpy's BLAS and sklearn's OpenMP (EM, k-means in the base search) spun
    # like torch's threads on a busy machine.
    seen = []
    train_net = _BaseNCE._train_net

    def spy(self, *args, **kwargs):
        seen.append({info["num_threads"] for info in threadpool_info()})
        return train_net(self, *args, **kwargs)

    monkeypatch.setattr(_BaseNCE, "_train_net", spy)
    X, y = make_mean_shift(n_features=2, kl=1.0).sample(100, 100, random_state=0)
    with threadpool_limits(limits=2):  # a user's setting (one per core here)
        NCEDensityRatio(max_epochs=1, random_state=0).fit(X, y)
        after = {info["num_threads"] for info in threadpool_info()}
    assert seen == [{1}]
    assert after == {2}


def test_fits_overlapping_in_threads_leave_the_process_as_the_first_found_it():
    # A starts, B starts, A ends, B ends (forced in their bases' fits, before
    # training, which threads take in turn): each fit saved what the other
    # had set, and B restored A's one BLAS thread and A's seeded torch stream
    # after A had restored the user's (user test: OpenBLAS on one thread for
    # the rest of the process in 10 of 10 runs).
    import threading

    from sklearn_nce.modules import GaussianNoise

    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    meetings = {"a": (a_in, b_in), "b": (b_in, a_out)}  # by name: the base is deep-copied

    class Meet(GaussianNoise):
        def __init__(self, who="a"):
            super().__init__()
            self.who = who

        def fit(self, X, y=None):
            arrived, wait_for = meetings[self.who]
            if not arrived.is_set():
                arrived.set()
                assert wait_for.wait(30)
            return super().fit(X)

    X = make_mean_shift(n_features=2, kl=1.0).sample(100, 100, random_state=0)[0]

    def fit_a():
        CNCEEnergyModel(base=Meet("a"), max_epochs=2, random_state=0).fit(X)
        a_out.set()

    def fit_b():
        a_in.wait(30)
        CNCEEnergyModel(base=Meet("b"), max_epochs=2, random_state=1).fit(X)

    with threadpool_limits(limits=2):  # a user's setting (one per core here)
        torch.manual_seed(123)
        state = torch.get_rng_state()
        threads = [threading.Thread(target=target) for target in (fit_a, fit_b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert a_out.is_set() and b_in.is_set()
        blas = {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}
        assert blas == {2}
        assert torch.equal(torch.get_rng_state(), state)


def test_fits_in_threads_reproduce_fits_made_one_at_a_time():
    # Threads shared torch's process-wide generator and drew from each
    # other's stream: mutual_info_nce(n_jobs=2) nested in cross_validate
    # (n_jobs=2), where joblib runs the inner jobs in threads, read scores up
    # to 0.025 nats apart between identical runs (user test). Each fit's
    # training now holds the generator alone.
    from concurrent.futures import ThreadPoolExecutor

    X, y = make_mean_shift(n_features=2, kl=1.0).sample(150, 150, random_state=0)

    def fit(seed):
        return NCEDensityRatio(max_epochs=5, random_state=seed).fit(X, y).predict_log_ratio(X)

    alone = [fit(seed) for seed in range(4)]
    torch.manual_seed(7)
    state = torch.get_rng_state()
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(fit, range(4)))
    for one, other in zip(alone, together, strict=True):
        assert np.array_equal(one, other)
    assert torch.equal(torch.get_rng_state(), state)


def test_a_users_own_draws_during_a_fit_stand():
    # Alone, a fit leaves torch's random stream as it leaves it: a base of
    # the user's that draws from it in its fit draws afresh each time
    # (review: restored at every fit's end, every fit drew the same).
    from sklearn_nce._core.noise import GaussianNoise

    draws = []

    class RandomInitBase(GaussianNoise):
        def fit(self, X, y=None):
            draws.append(torch.rand(3))
            return super().fit(X)

    X = np.random.default_rng(0).normal(size=(120, 2))
    torch.manual_seed(0)
    for _ in range(2):
        CNCEEnergyModel(base=RandomInitBase(), max_epochs=2, random_state=0).fit(X)
    assert not torch.equal(draws[0], draws[1])
    assert not torch.equal(torch.rand(3), draws[0])

    # A fit nested in the same thread (a base that fits a model of the
    # package) is no overlap either (review: it counted as one).
    class NestingBase(RandomInitBase):
        def fit(self, X, y=None):
            NCEDensityRatio(max_epochs=1, random_state=0).fit(*make_two_sample(X, X + 1.0))
            return super().fit(X)

    draws.clear()
    for _ in range(2):
        CNCEEnergyModel(base=NestingBase(), max_epochs=2, random_state=0).fit(X)
    assert not torch.equal(draws[0], draws[1])


def test_a_fit_runs_on_one_torch_thread_and_restores_the_count(monkeypatch):
    # Torch's default of one thread per core spins on a busy machine (14x
    # slower beside two busy processes); the user's own setting comes back.
    seen = []
    train_net = _BaseNCE._train_net

    def spy(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return train_net(self, *args, **kwargs)

    monkeypatch.setattr(_BaseNCE, "_train_net", spy)
    previous = torch.get_num_threads()
    X, y = make_mean_shift(n_features=2, kl=1.0).sample(100, 100, random_state=0)
    try:
        torch.set_num_threads(2)
        NCEDensityRatio(max_epochs=1, random_state=0).fit(X, y)
        assert seen == [1]
        assert torch.get_num_threads() == 2
        with pytest.raises(ValueError):
            NCEDensityRatio(max_epochs=1).fit(np.full_like(X, np.nan), y)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


@pytest.mark.skipif(
    "parallel backend: OpenMP" not in torch.__config__.parallel_info(),
    reason="per-thread counts are OpenMP's",
)
def test_a_fit_sets_only_its_own_threads_count():
    # torch.set_num_threads also sets the count a thread takes at its first
    # torch call (a user test): threads started during a fit kept 1 thread
    # for good, and a fit in a thread older than the user's set_num_threads(n)
    # wrote its own count back over n for later threads.
    seen = []

    class NewThreads(Callback):
        def on_epoch_end(self, net, **kwargs):
            seen.append((torch.get_num_threads(), _threads_of_a_new_thread()))

    X, y = make_mean_shift(n_features=2, kl=1.0).sample(100, 100, random_state=0)
    previous = torch.get_num_threads()
    ready, go = threading.Event(), threading.Event()

    def older_thread():
        torch.get_num_threads()  # its count is set now: the process default, 2
        ready.set()
        go.wait()
        NCEDensityRatio(max_epochs=1, random_state=0).fit(X, y)

    try:
        torch.set_num_threads(2)
        NCEDensityRatio(max_epochs=2, callbacks=[NewThreads()], random_state=0).fit(X, y)
        assert seen == [(1, 2), (1, 2)]  # the fit on one thread, new threads on 2
        assert torch.get_num_threads() == 2 and _threads_of_a_new_thread() == 2
        older = threading.Thread(target=older_thread)
        older.start()
        ready.wait()
        torch.set_num_threads(3)  # the user's setting, after that thread started
        go.set()
        older.join()
        assert _threads_of_a_new_thread() == 3
    finally:
        torch.set_num_threads(previous)


@pytest.mark.skipif(
    "parallel backend: OpenMP" not in torch.__config__.parallel_info(),
    reason="per-thread counts are OpenMP's",
)
def test_a_fit_that_is_a_new_threads_first_torch_call_leaves_it_the_default_count():
    # The process-wide limits were recorded before torch had given that
    # thread its count, so the thread went back to OpenMP's starting value
    # (OMP_NUM_THREADS, or one per core) instead of the user's
    # set_num_threads(n): a service's retraining thread ran on 1 thread, or
    # on every core, for good (user test).
    X, y = make_mean_shift(n_features=2, kl=1.0).sample(100, 100, random_state=0)
    previous = torch.get_num_threads()
    counts = []

    def first_call_is_a_fit():
        NCEDensityRatio(max_epochs=1, random_state=0).fit(X, y)
        counts.append(torch.get_num_threads())

    try:
        torch.set_num_threads(3)
        thread = threading.Thread(target=first_call_is_a_fit)
        thread.start()
        thread.join()
        assert counts == [3]
    finally:
        torch.set_num_threads(previous)


def test_a_float64_default_dtype_neither_breaks_a_fit_nor_is_lost():
    # torch builds layers and draws in its default dtype, the package computes
    # in float32: after set_default_dtype(float64) every fit raised "mat1 and
    # mat2 must have the same dtype" (user test). Layers and draws now name
    # float32, so the answers are float32's and the global default is never
    # touched (fits in threads would race on it).
    X, y = make_mean_shift(n_features=2, kl=1.0).sample(150, 150, random_state=0)
    fits = {
        "ratio": lambda: NCEDensityRatio(max_epochs=2, random_state=0).fit(X, y),
        "mi": lambda: InfoNCEAnchorMI(cv=2, max_epochs=1, random_state=0).fit(X[:, :1], X[:, 1]),
        "energy": lambda: CNCEEnergyModel(max_epochs=2, random_state=0).fit(X),
        "scratch": lambda: CNCEEnergyModel(
            base=None, noise="mix", max_epochs=2, random_state=0
        ).fit(X),
        "outlier": lambda: NoisierNCEClassifier(max_epochs=2, random_state=0).fit(X),
    }
    expected = {name: fit() for name, fit in fits.items()}
    previous = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        for name, fit in fits.items():
            model = fit()
            if name == "ratio":
                assert_allclose(model.predict_log_ratio(X), expected[name].predict_log_ratio(X))
            elif name == "mi":
                assert model.mi_ == expected[name].mi_
            else:
                assert_allclose(model.score_samples(X), expected[name].score_samples(X))
                assert_allclose(
                    model.sample(3, random_state=0), expected[name].sample(3, random_state=0)
                )
            assert torch.get_default_dtype() == torch.float64
        # A user's critic built under that default is trained in float32.
        critic = nn.Sequential(nn.Linear(2, 8), nn.SiLU(), nn.Linear(8, 1))
        NCEDensityRatio(critic=critic, max_epochs=1, random_state=0).fit(X, y)
        assert next(critic.parameters()).dtype == torch.float64  # the user's, untouched
        # Fits side by side in threads (a threading search) under that default.
        with parallel_config(backend="threading"):
            search = GridSearchCV(
                CNCEEnergyModel(max_epochs=1, random_state=0), {"lr": [1e-3, 2e-3]}, cv=2, n_jobs=2
            ).fit(X)
        assert np.isfinite(search.best_score_)
        assert torch.get_default_dtype() == torch.float64
    finally:
        torch.set_default_dtype(previous)


def test_fit_and_sample_work_under_inference_mode():
    # Serving code wraps handlers in inference_mode; training and the Langevin
    # steps need gradients (user test: "element 0 of tensors does not require
    # grad"), and a model unpickled there holds inference tensors.
    X = np.random.RandomState(0).normal(size=(200, 2))
    model = CNCEEnergyModel(max_epochs=2, random_state=0).fit(X)
    assert model.network_scale_ > 0  # the Langevin path, not the base's draws
    expected = model.sample(4, random_state=0)
    blob = pickle.dumps(model)
    with torch.inference_mode():
        assert_allclose(model.sample(4, random_state=0), expected)
        refitted = CNCEEnergyModel(max_epochs=2, random_state=0).fit(X)
        loaded = pickle.loads(blob)
        assert_allclose(loaded.sample(4, random_state=0), expected)
    assert_allclose(refitted.score_samples(X), model.score_samples(X))
    assert_allclose(loaded.sample(4, random_state=0), expected)


def test_what_auto_resolved_to_is_a_fitted_attribute():
    X, y = make_mean_shift(n_features=2, kl=1.0).sample(600, 600, random_state=0)
    ratio = NCEDensityRatio(max_epochs=2, random_state=0).fit(X, y)
    # batch_size="auto" on 1080 training rows: the 256-row floor.
    assert (ratio.lr_, ratio.batch_size_, ratio.max_epochs_) == (1e-3, 256, 2)
    mi = InfoNCEAnchorMI(cv=2, max_epochs=1, random_state=0).fit(X[:, :1], X[:, 1])
    # The in-batch critic's own "auto" batch and learning rate (its held rate).
    assert (mi.lr_, mi.batch_size_, mi.max_epochs_) == (4e-3, 32, 1)


@pytest.mark.filterwarnings("ignore:InfoNCEAnchorMI's estimate")  # two epochs: not the point
def test_a_batch_size_above_the_training_rows_is_clipped_with_a_warning():
    # As MLPClassifier: cut to the rows, and said. For the MI the batch is the
    # candidate set, so it also sets nu="auto" and the InfoNCE cap.
    X, y = make_mean_shift(n_features=2, kl=1.0).sample(100, 100, random_state=0)
    with pytest.warns(SmallSampleWarning, match="batch_size=500 is larger than the rows"):
        mi = InfoNCEAnchorMI(cv=2, batch_size=500, max_epochs=2, random_state=0)
        mi.fit(X[:, :1], X[:, 1])
    assert mi.batch_size_ == 100 and mi.nu_ == 99
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # "auto" is never clipped aloud
        warnings.simplefilter("ignore", ConvergenceWarning)  # one epoch: not the point
        NCEDensityRatio(max_epochs=1, random_state=0).fit(X, y)


def test_a_user_epoch_cap_that_stops_a_falling_loss_warns_as_mlpclassifier_does():
    # A user test: max_epochs=3 read a log-ratio MSE of 4.38 (0.25 at the
    # default) in silence; MLPClassifier warns at max_iter.
    X, y = make_mean_shift(n_features=3, kl=1.0).sample(500, 500, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_epochs=3 ended the fit while the held-out"):
        NCEDensityRatio(max_epochs=3, random_state=0).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="while the training loss"):
        NCEDensityRatio(max_epochs=3, early_stopping=False, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        # The default cap is the package's budget, not the user's, and a
        # generous cap that early stopping ends first is no cap at all.
        NCEDensityRatio(random_state=0).fit(X, y)
        ratio = NCEDensityRatio(max_epochs=1000, random_state=0).fit(X, y)
        # Under 50 rows the package runs one epoch and keeps the base alone:
        # the user's 50 was not the cap (a review).
        CNCEEnergyModel(max_epochs=50, random_state=0).fit(X[:40])
    assert len(ratio.net_.history) < 1000


@pytest.mark.parametrize(
    "losses, monitor, early_stopping, warns",
    [
        ([0.9, 0.8, 0.7], "valid_loss", "auto", True),
        ([0.9, 0.7, 0.69995], "valid_loss", "auto", False),  # levelled off: a gain under tol
        ([0.9, 0.7, 0.8], "valid_loss", "auto", False),  # not its lowest
        ([0.9, 0.8, 0.7], "train_loss", False, True),  # early stopping turned off by the user
        ([0.9, 0.8, 0.7], "train_loss", "auto", False),  # too few rows to hold out: overfitting
    ],
)
def test_the_epoch_cap_warning_reads_the_last_gain_against_tol(
    losses, monitor, early_stopping, warns
):
    history = History()
    for loss in losses:
        history.new_epoch()
        history.record(monitor, loss)
    net = SimpleNamespace(history=history, max_epochs=len(losses), callbacks_=[])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        base_module._warn_if_capped(net, 3, 100, 1e-4, early_stopping)
        # The default and the epochs the package chose itself never warn.
        base_module._warn_if_capped(net, 100, 100, 1e-4, early_stopping)
        base_module._warn_if_capped(net, 50, 100, 1e-4, early_stopping)
    assert [w.category for w in caught] == [ConvergenceWarning] * warns


@pytest.mark.filterwarnings("ignore:InfoNCEAnchorMI's estimate")  # one epoch: not the point
def test_a_telescoping_fold_gets_the_estimators_shared_parameters():
    X, y = make_mean_shift(n_features=2, kl=1.0).sample(200, 200, random_state=0)
    mi = InfoNCEAnchorMI(
        cv=2, telescoping_steps=2, hidden_layer_sizes=(8,), max_epochs=1, lr=0.01, random_state=0
    ).fit(X[:, :1], X[:, 1])
    net = mi.nets_[0]
    # The fold's classifier: a residual critic (a linear ratio, then an MLP of the MI's widths).
    residual = net.module_.module
    assert residual.network.layers[0].out_features == 8
    assert (net.lr, net.max_epochs) == (0.01, 1)
    assert list(mi.telescoping_steps_) == [2, 2]


def test_a_pickled_net_carries_no_held_out_rows():
    # skorch's predefined_split held early stopping's rows, and every pickle
    # carried them (10.4 of 12.6 MB at 500 000 x 50 rows; with the
    # standardiser beside them, the user's rows): a user test. The live net
    # keeps them, so that skorch's partial_fit still validates (a review).
    X, y = make_mean_shift(n_features=2, kl=1.0).sample(200, 200, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # two epochs: not the point
        ratio = NCEDensityRatio(max_epochs=2, random_state=0).fit(X, y)
        mi = InfoNCEAnchorMI(cv=2, max_epochs=2, early_stopping=True, random_state=0)
        mi.fit(X[:, :1], X[:, 1])
        energy = CNCEEnergyModel(max_epochs=2, random_state=0).fit(X)
    nets = [ratio.net_, *mi.nets_, energy.net_]
    held_out = [len(net.train_split(None)[1]) for net in nets]
    assert all(n_rows >= 10 for n_rows in held_out)  # rows were held out
    for net in nets:
        assert pickle.loads(pickle.dumps(net)).train_split is None
    energy.net_.partial_fit(energy._standardiser.transform(X).astype(np.float32)[:, :2])
    assert "valid_loss" in energy.net_.history[-1]


def test_validation_noise_is_drawn_once_per_batch_size_and_not_pickled():
    # The fixed generator gives a validation batch the same draws every
    # epoch, so they are drawn once; training batches draw afresh.
    X = torch.as_tensor(np.random.RandomState(0).randn(20, 2), dtype=torch.float32)
    noise = GaussianNoise().fit(X.numpy())
    drawn = []
    sample = noise.sample
    noise.sample = lambda n, generator=None: drawn.append(n) or sample(n, generator)

    def critic(z):
        return -0.5 * z.square().sum(-1)

    objective = NoiseContrastObjective(noise, n_noise=3).eval()
    first, second = float(objective(critic, X, None)), float(objective(critic, X, None))
    assert first == second and drawn == [60]
    objective(critic, X[:10], None)
    assert drawn == [60, 30]
    objective.train()(critic, X, None)
    objective.train()(critic, X, None)
    assert drawn == [60, 30, 60, 60]
    assert copy.deepcopy(objective)._kept_draws == {}
    assert len(objective._kept_draws) == 2


def test_divergence_probe_keeps_a_few_rows_of_every_label():
    # A full-batch (LBFGS) stage would keep a copy of every training row for
    # the divergence check: the probe keeps about 4096, each label in
    # proportion and at least one of a rare label.
    y = torch.zeros(100_000, dtype=torch.int64)
    y[:3] = 1
    X = torch.arange(100_000, dtype=torch.float32)[:, None]
    X_probe, y_probe = training._probe_batch(X, y)
    assert len(X_probe) <= training._PROBE_MAX_ROWS + 1
    assert int((y_probe == 1).sum()) == 1 and torch.equal(y[X_probe[:, 0].long()], y_probe)
    assert training._probe_batch({"x": X}, None)[0]["x"].shape == (training._PROBE_MAX_ROWS, 1)
    small = X[:100], y[:100]
    assert training._probe_batch(*small) == small


def _fit_in_child(X, y):
    NCEDensityRatio(max_epochs=2, random_state=0).fit(X, y)


def test_a_child_forked_while_another_thread_trains_can_fit():
    # The child inherited the generator's lock held by the training thread,
    # and its first fit waited forever (review; multiprocessing's "fork").
    import multiprocessing
    import threading

    from sklearn_nce._core import training

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    X, y = make_mean_shift(n_features=2, kl=1.0).sample(100, 100, random_state=0)
    held, release = threading.Event(), threading.Event()

    def hold():  # as a thread's training holds it
        with training._PROCESS_STATE_LOCK:
            held.set()
            release.wait(60)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(30)
        child = multiprocessing.get_context("fork").Process(target=_fit_in_child, args=(X, y))
        child.start()
        child.join(60)
        alive = child.is_alive()
        if alive:
            child.kill()
        assert not alive and child.exitcode == 0
    finally:
        release.set()
        thread.join(60)
