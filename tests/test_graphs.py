"""The CUDA-graph training step, exercised on the CPU with an eager stand-in for the capture."""

import pickle

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sklearn_nce._core import training
from sklearn_nce._core.critics import MLPCritic
from sklearn_nce._core.graphs import EagerCapture, GraphedSteps, graph_safe, step_body
from sklearn_nce._core.losses import LOSSES
from sklearn_nce._core.objectives import (
    InBatchMIObjective,
    TelescopingObjective,
    TwoSampleObjective,
    weighted_rows,
)
from sklearn_nce._core.optim import clear_grads


def _net(optimizer="adam", callbacks=(), seed=0):
    torch.manual_seed(seed)
    net = training.build_net(
        MLPCritic(3, 1, hidden_features=(8,)),
        TwoSampleObjective(LOSSES["logistic"], 1.0),
        max_epochs=1,
        batch_size=32,
        lr=1e-2,
        optimizer=optimizer,
        weight_decay=0.0,
        device="cpu",
        verbose=0,
        extra_callbacks=list(callbacks),
    )
    return net.initialize()


def _batches(sizes, seed=0, weighted=False):
    rng = np.random.RandomState(seed)
    batches = []
    for size in sizes:
        X = torch.as_tensor(rng.standard_normal((size, 3)), dtype=torch.float32)
        y = torch.as_tensor(np.arange(size) % 2)
        X[y == 1] += 1.0
        # Sample weights travel in a dict with the rows (NCEDensityRatio's).
        weight = torch.as_tensor(rng.uniform(0.0, 2.0, size), dtype=torch.float32)
        batches.append((weighted_rows(X, weight if weighted else None), y))
    return batches


def _parameters(net):
    return [param.detach().clone() for param in net.module_.parameters()]


def _assert_same(first, second):
    for a, b in zip(first, second, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_step_body_is_the_eager_training_step_bit_for_bit():
    # What a graph captures is today's step without its callbacks' hook.
    eager, body = _net(), _net()
    for batch in _batches([32] * 6):
        eager_loss = eager.train_step(batch)["loss"]
        clear_grads(body.optimizer_)
        assert torch.equal(step_body(body, *batch), eager_loss.detach())
    _assert_same(_parameters(body), _parameters(eager))


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
def test_graphed_steps_warm_up_capture_each_shape_and_replay_it(weighted):
    # Two batch shapes (as stratified batches give): three eager warm-up steps
    # each, then one capture each, checked against the eager step and
    # replayed from there on; every step as the eager loop's, to the bit.
    batches = _batches([32, 31] * 8, weighted=weighted)
    eager, graphed = _net(), _net()
    capture = EagerCapture()
    steps = GraphedSteps(graphed, capture)
    for batch in batches:
        eager_loss = eager.train_step(batch)["loss"]
        assert torch.equal(steps(batch), eager_loss.detach())
    assert steps.failure is None and capture.captured == 2 and len(steps.graphs) == 2
    _assert_same(_parameters(graphed), _parameters(eager))


@pytest.mark.parametrize(
    "change",
    [
        lambda net: net.optimizer_.param_groups[0].update(lr=1e-3),  # a scheduler
        lambda net: setattr(net.criterion_, "noise_weight", 2.0),  # an annealing callback
        lambda net: setattr(
            net.module_.layers[0], "weight", torch.nn.Parameter(torch.zeros(8, 3))
        ),
        lambda net: net.module_.layers[0].weight.requires_grad_(False),  # skorch's Freezer
    ],
    ids=["lr", "noise_weight", "storage", "frozen"],
)
def test_a_changed_setting_or_storage_leaves_the_rest_of_the_fit_eager(change):
    net = _net()
    steps = GraphedSteps(net, EagerCapture())
    batches = _batches([32] * 5)
    for batch in batches[:4]:
        assert steps(batch) is not None
    change(net)
    assert steps(batches[4]) is None
    assert steps.failure == "a setting or a tensor the graphs read changed" and not steps.graphs


def test_a_learning_rate_held_as_a_tensor_may_move_between_replays():
    # HoldThenDecay writes its tensor in place: the graphs read it at its
    # address, so they stay in use, and every step is the eager loop's.
    eager, graphed = _net(), _net()
    for net in (eager, graphed):
        net.optimizer_.param_groups[0]["lr"] = torch.tensor(1e-2)
    steps = GraphedSteps(graphed, EagerCapture())
    for step, batch in enumerate(_batches([32] * 8)):
        for net in (eager, graphed):
            net.optimizer_.param_groups[0]["lr"].fill_(1e-2 / (step + 1))
        eager_loss = eager.train_step(batch)["loss"]
        assert torch.equal(steps(batch), eager_loss.detach())
    assert steps.failure is None and steps.replays == 5
    _assert_same(_parameters(graphed), _parameters(eager))


def test_graphed_steps_train_under_no_grad_and_leave_picklable_nets():
    # As the eager step, gradients even when fit is called under no_grad; a
    # net pickled mid-fit (a checkpoint) leaves its graphs behind.
    net, eager = _net(), _net()
    with torch.no_grad():
        for batch in _batches([32] * 5):
            assert net._graphed_step(batch, capture=EagerCapture()) is not None
            eager.train_step(batch)
    _assert_same(_parameters(net), _parameters(eager))
    assert net._graphed_steps.graphs
    assert pickle.loads(pickle.dumps(net))._graphed_steps is None


class _WrongReplay(EagerCapture):
    """A capture whose replay takes two steps: the check must catch it."""

    def capture(self, body, reset):
        replay, output = super().capture(body, reset)

        def twice():
            replay()
            replay()

        return twice, output


def test_a_replay_that_differs_from_the_eager_step_is_not_trusted():
    eager, graphed = _net(), _net()
    steps = GraphedSteps(graphed, _WrongReplay())
    for batch in _batches([32] * 6):
        eager_loss = eager.train_step(batch)["loss"]
        loss = steps(batch)
        if loss is None:  # eager from the failure on, as train_step does
            loss = graphed.train_step(batch)["loss"]
        torch.testing.assert_close(loss.detach(), eager_loss.detach(), rtol=0, atol=0)
    assert steps.failure == "the replay differed from the eager step"
    _assert_same(_parameters(graphed), _parameters(eager))


class _ClipGradients(Callback):
    def on_grad_computed(self, net, named_parameters, **kwargs):
        torch.nn.utils.clip_grad_norm_([param for _, param in named_parameters], 1.0)


def test_only_steps_without_host_work_are_graph_safe():
    assert graph_safe(_net())
    assert not graph_safe(_net(optimizer="sgd"))  # not the fused update
    assert not graph_safe(_net(callbacks=[("clip", _ClipGradients())]))
    net = _net()
    net.criterion_ = TwoSampleObjective(LOSSES["brier"], 1.0)  # splits the batch by label
    assert not graph_safe(net)
    net.criterion_ = InBatchMIObjective(nu=None, scoring="log")
    assert graph_safe(net)
    net.criterion_.report_estimate = True  # a progress bar reads a float per step
    assert not graph_safe(net)
    net.criterion_ = InBatchMIObjective(nu=None, scoring="log", bound="mine")
    assert not graph_safe(net)
    net.criterion_ = TelescopingObjective(LOSSES["logistic"], 1.0, n_steps=2)
    assert not graph_safe(net)
    # A user's own layer may read Python state a capture would freeze (a
    # temperature a callback changes): it steps eagerly (a review).
    net = _net()
    net.module_.add_module("scaled", _Temperature())
    assert not graph_safe(net)


class _Temperature(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.temperature = 1.0

    def forward(self, x):
        return x / self.temperature


def test_build_net_replays_graphs_on_cuda_only():
    def build(device):
        critic = MLPCritic(3, 1)
        objective = TwoSampleObjective(LOSSES["logistic"], 1.0)
        common = dict(max_epochs=1, batch_size=8, lr=1e-3, optimizer="adam", weight_decay=0.0)
        return training.build_net(critic, objective, device=device, verbose=0, **common)

    assert build("cuda").cuda_graphs and not build("cpu").cuda_graphs
