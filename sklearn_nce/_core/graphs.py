"""Training steps replayed as CUDA graphs: one launch per step instead of one per kernel.

On a GPU the default critics' steps are launch-bound, not arithmetic-bound.
Issue 32 measured on an H200: a ``NCEDensityRatio`` step of a (64, 64)
critic at batch 256 took 1.1-1.6 ms eagerly, and 0.086 ms when a raw torch
loop replayed the same step as a captured CUDA graph. :class:`GraphedSteps`
captures :func:`step_body` -- forward, backward and the fused Adam update,
the step :meth:`ContrastiveNet.train_step` takes eagerly -- once per batch
shape and replays it for every later batch of that shape.

Capture is attempted only where nothing in the step reads a value on the
host or changes between steps outside the graph (:func:`graph_safe`): the
two-sample objective of ``NCEDensityRatio`` without telescoping (logistic or
noisier loss), or the in-batch objective of ``InfoNCEAnchorMI``; fused Adam
or AdamW; no callback that acts between backward and the update. Each
shape's first steps run eagerly on a side stream (the warm-up torch's graph
recipe asks for, and real training steps); the first replay is checked
against the eager step it replaces, from the same state, and any failure --
an error in capture, a mismatch, a setting changed mid-fit (a scheduler's
learning rate) -- restores the state and leaves the rest of the fit eager.
Not verified on a GPU yet (none was lent since this was written):
``benchmarks/gpu_check.py`` compares the GPU's answers with the CPU's. The
orchestration runs on the CPU in the tests, with an eager stand-in for the
capture (:class:`EagerCapture`).
"""

import torch

from .losses import logistic_loss, noisier_nce_loss
from .objectives import InBatchMIObjective, TwoSampleObjective
from .optim import _fused_adam_state, clear_grads, optimizer_step

__all__ = ["CudaGraphCapture", "EagerCapture", "GraphedSteps", "graph_safe", "step_body"]

# Eager steps of each batch shape before it is captured (torch's recipe warms
# up on a side stream so that lazily built state -- cuBLAS workspaces, the
# optimizer's state, autograd's buffers -- exists before capture).
_WARMUP_STEPS = 3
# The first replay of a shape must agree with the eager step from the same
# state: the same kernels, so it should to the bit; this allows for a
# different cuBLAS algorithm choice inside the capture (atol relative to the
# tensor's largest entry).
_CHECK_RTOL = 1e-5
_CHECK_ATOL = 1e-6


def step_body(net, X, y):
    """One training step on a batch: forward, backward, the optimizer's update; the loss.

    The same arithmetic as :meth:`ContrastiveNet.train_step` after it clears
    the gradients, without the callbacks' ``on_grad_computed`` (which
    :func:`graph_safe` requires to be empty): what a CUDA graph captures.
    """
    loss = net._objective_loss((X, y))
    loss.backward()
    optimizer_step(net.optimizer_)
    return loss.detach()


def graph_safe(net):
    """Whether every step of ``net`` could be one captured graph (see the module docstring)."""
    objective = net.criterion_
    if isinstance(objective, TwoSampleObjective):
        # The other losses split the batch by label, a shape only the host knows.
        safe_objective = objective.loss in (logistic_loss, noisier_nce_loss)
    elif isinstance(objective, InBatchMIObjective):
        # MINE's running mean branches on the host; a progress bar reads floats.
        safe_objective = objective.bound != "mine" and not objective.report_estimate
    else:
        # Telescoping splits its batch by label (a shape only the host knows)
        # and draws its pairs there; noise draws pick components there too.
        safe_objective = False
    optimizer = net.optimizer_
    fused = type(optimizer) in (torch.optim.Adam, torch.optim.AdamW) and all(
        group.get("fused") for group in optimizer.param_groups
    )
    return (
        safe_objective
        and fused
        and not net.l2_penalty
        and not _acts_on_gradients(net)
        and _known_layers(net.module_)
    )


def _known_layers(critic):
    """Whether every layer of ``critic`` is this package's or torch's own.

    A capture freezes whatever Python state a layer reads (a float
    attribute, a temperature a callback changes), and the first replay's
    check cannot see a later change: a user's own layer may read such state,
    so it steps eagerly (a review).
    """
    return all(
        type(layer).__module__.split(".")[0] in ("sklearn_nce", "torch")
        for layer in critic.modules()
    )


def _acts_on_gradients(net):
    """Whether a callback overrides ``on_grad_computed`` (e.g. gradient clipping)."""
    from .training import overridden_hook  # training imports this module

    return any(
        overridden_hook(callback, "on_grad_computed") is not None for _, callback in net.callbacks_
    )


class CudaGraphCapture:
    """Capture a step with ``torch.cuda.graph``, each shape in its own memory pool.

    Separate pools: a gradient buffer one graph writes is freed from the
    parameters when another shape steps eagerly, and in a shared pool a
    later capture could place its own tensors there.
    """

    def __init__(self, device):
        self.device = torch.device(device)

    def capture(self, body, reset):
        """Record ``body()``; return ``(replay, output)``: calling ``replay()`` reruns it.

        ``reset`` (clear the gradients) is for the eager stand-in: a replayed
        graph writes its gradients afresh, where an eager backward would add.
        Captured on a fresh stream of the net's device (torch's default
        capture stream belongs to the current device); the current stream is
        put back whatever happens, since a capture that fails in
        ``capture_end`` leaves torch on its capture stream. Thread-local
        error mode: other threads' CUDA calls are not the capture's business.
        """
        del reset
        previous = torch.cuda.current_stream(self.device)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.device(self.device):
                stream = torch.cuda.Stream(self.device)
                with torch.cuda.graph(graph, stream=stream, capture_error_mode="thread_local"):
                    output = body()
        finally:
            torch.cuda.set_stream(previous)
        return graph.replay, output

    @staticmethod
    def side_stream(device):
        """A context running eager warm-up steps on a side stream, joined afterwards."""
        return _SideStream(device)


class EagerCapture:
    """The capture's stand-in on the CPU: "replaying" runs the body again, eagerly.

    ``body`` writes into the same tensors every call, as a graph does, so the
    orchestration around a capture is the same.
    """

    def __init__(self, device="cpu"):
        del device
        self.captured = 0

    def capture(self, body, reset):
        """Run ``body()`` once; ``replay()`` resets and runs it again into the same output."""
        self.captured += 1
        output = body().clone()

        def replay():
            reset()
            output.copy_(body())

        return replay, output

    @staticmethod
    def side_stream(device):
        del device
        return _NoStream()


class GraphedSteps:
    """Run a net's training steps as captured graphs, one per batch shape, where that is safe.

    Parameters
    ----------
    net : ContrastiveNet
        Initialised, with its optimizer; ``graph_safe(net)`` is checked here.
    capture : CudaGraphCapture or EagerCapture, default=None
        How steps are recorded and replayed (None: a :class:`CudaGraphCapture`).

    Attributes
    ----------
    failure : str or None
        Why the net fell back to eager steps for the rest of the fit, if it did.
    replays : int
        Steps taken by replaying a graph.
    """

    def __init__(self, net, capture=None):
        self.net = net
        self.capturer = CudaGraphCapture(net.device) if capture is None else capture
        self.failure = None if graph_safe(net) else "not graph-safe"
        self.graphs = {}  # batch signature -> _Graph
        self.warmups = {}  # batch signature -> eager steps taken
        self.fingerprint = None
        self.replays = 0

    def __call__(self, batch):
        """Take the step on ``batch``; return its loss, or None to have the caller step eagerly."""
        if self.failure is not None:
            return None
        if self.fingerprint is not None and _fingerprint(self.net) != self.fingerprint:
            return self._fail("a setting or a tensor the graphs read changed")
        key = _signature(batch)
        if key in self.graphs:
            self.replays += 1
            return self.graphs[key].run(batch)
        warmed = self.warmups.get(key, 0)
        if warmed < _WARMUP_STEPS:
            self.warmups[key] = warmed + 1
            with self.capturer.side_stream(self.net.device):
                clear_grads(self.net.optimizer_)
                return step_body(self.net, *batch)
        return self._capture(key, batch)

    def _capture(self, key, batch):
        """Capture the step for ``key``'s shape, check its first replay on ``batch``, run it."""
        net = self.net
        state = _TrainingState(net)
        clear_grads(net.optimizer_)
        loss = step_body(net, *batch)
        # Read with the gradients in place: the graph must hold the direct
        # fused update, which needs no host decision.
        direct = _fused_adam_state(net.optimizer_) is not None
        eager = _TrainingState(net, loss=loss.clone())
        if not direct:
            return self._fail("the update is not the fused kernel", eager)
        state.restore()
        try:
            static = _Graph.capture(net, self.capturer, batch, state)
            loss = static.run(batch)
        except Exception as error:  # noqa: BLE001 - any failure: eager from here on
            return self._fail(f"capture failed ({type(error).__name__}: {error})", eager)
        if not (eager.close_to(_TrainingState(net)) and _close(loss, eager.loss)):
            return self._fail("the replay differed from the eager step", eager)
        self.graphs[key] = static
        self.fingerprint = _fingerprint(net)
        self.replays += 1
        return loss

    def report(self):
        """``{"shapes": graphs in use, "replays": steps replayed, "failure": reason or None}``."""
        return {"shapes": len(self.graphs), "replays": self.replays, "failure": self.failure}

    def _fail(self, reason, state=None):
        """Stop capturing for this fit; with ``state``, leave the net in it (the eager step's)."""
        self.failure = reason
        self.graphs.clear()
        clear_grads(self.net.optimizer_)
        if state is not None:
            state.restore()
            return state.loss
        return None


class _Graph:
    """One captured step: its static input tensors, its replay, and its static loss."""

    def __init__(self, inputs, replay, loss):
        self.inputs = inputs
        self.replay = replay
        self.loss = loss

    @classmethod
    def capture(cls, net, capturer, batch, state):
        inputs = tuple(_static_copy(part) for part in batch)
        clear_grads(net.optimizer_)  # the captured backward allocates them in the graph's pool

        def body():
            return step_body(net, *inputs)

        replay, loss = capturer.capture(body, lambda: clear_grads(net.optimizer_))
        state.restore(keep_grads=True)  # the eager stand-in ran the body: undo it
        return cls(inputs, replay, loss)

    def run(self, batch):
        for static, part in zip(self.inputs, batch, strict=True):
            _copy_into(static, part)
        self.replay()
        # A copy: the next replay overwrites the static loss before the epoch's read.
        return self.loss.clone()


class _TrainingState:
    """A snapshot of the parameters and optimizer state, restorable in place."""

    def __init__(self, net, loss=None):
        self.net = net
        self.loss = loss
        # Buffers too: a BatchNorm's running statistics move with each step.
        self.tensors = [*net.module_.parameters(), *net.module_.buffers()]
        for param_state in net.optimizer_.state.values():
            self.tensors += [value for value in param_state.values() if torch.is_tensor(value)]
        self.values = [tensor.detach().clone() for tensor in self.tensors]

    def restore(self, keep_grads=False):
        with torch.no_grad():
            for tensor, value in zip(self.tensors, self.values, strict=True):
                tensor.copy_(value)
        if not keep_grads:
            clear_grads(self.net.optimizer_)

    def close_to(self, other):
        return all(_close(a, b) for a, b in zip(self.values, other.values, strict=True))


def _close(a, b):
    # The absolute tolerance scales with the tensor: Adam's second moments
    # are ~1e-8, where a fixed 1e-6 would check nothing.
    if a.shape != b.shape:
        return False
    a, b = a.double(), b.double()
    scale = float(b.abs().max()) if b.numel() else 0.0
    return torch.allclose(a, b, rtol=_CHECK_RTOL, atol=_CHECK_ATOL * scale, equal_nan=True)


def _signature(batch):
    """Shapes and dtypes of a batch ``(X, y)``, X a tensor or a dict of them, y one or None."""
    return tuple(_part_signature(part) for part in batch)


def _part_signature(part):
    if part is None:
        return None
    if isinstance(part, dict):
        return tuple(sorted((key, _part_signature(value)) for key, value in part.items()))
    return (tuple(part.shape), part.dtype)


def _static_copy(part):
    if part is None:
        return None
    if isinstance(part, dict):
        return {key: value.clone() for key, value in part.items()}
    return part.clone()


def _copy_into(static, part):
    if static is None:
        return
    if isinstance(static, dict):
        for key, value in static.items():
            value.copy_(part[key])
        return
    static.copy_(part)


def _fingerprint(net):
    """What a captured step fixed: the optimizer's settings, the objective's weight, the storage.

    (And which parameters train.) The learning rate, betas, weight decay,
    the noise weight and the anchor weight ``nu`` are Python numbers baked
    into the graph; the parameters and the optimizer's state are read and
    written at fixed addresses. A scheduler, an annealing
    callback, ``load_state_dict`` or ``param.data = ...`` changes one of them.
    A learning rate held as a tensor (:class:`~sklearn_nce._core.training.HoldThenDecay`)
    is read at its address, so its value may move between replays.
    """
    # Read before every replay, so kept cheap (a review: 36 us a step on one
    # CPU thread, against a replay of ~86 us on an H200; 28 us now): tuples in
    # the groups' own key order, not a sorted repr.
    optimizer = net.optimizer_
    settings = tuple(
        tuple((key, _setting(value)) for key, value in group.items() if key != "params")
        for group in optimizer.param_groups
    )
    # The module's, not the optimizer's list (cheaper): a parameter replaced
    # on the module is one the graph no longer updates.
    parameters = list(net.module_.parameters())
    addresses = [param.data_ptr() for param in parameters]
    for param_state in optimizer.state.values():
        addresses += [value.data_ptr() for value in param_state.values() if torch.is_tensor(value)]
    scalars = tuple(getattr(net.criterion_, name, None) for name in ("noise_weight", "nu"))
    # A parameter frozen mid-fit (skorch's Freezer) gets no gradient and no
    # update in an eager step; a replay would still update it.
    trainable = [param.requires_grad for param in parameters]
    return settings, scalars, addresses, trainable


def _setting(value):
    """An optimizer setting as the graph fixed it: a tensor by its address, a number by value."""
    if isinstance(value, torch.Tensor):
        return ("tensor", value.data_ptr(), value.device.type)
    if isinstance(value, tuple):  # betas, which may hold tensors
        return tuple(_setting(item) for item in value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)  # compared by value, whatever its type's == returns


class _SideStream:
    def __init__(self, device):
        self.device = device

    def __enter__(self):
        self.stream = torch.cuda.Stream(self.device)
        self.stream.wait_stream(torch.cuda.current_stream(self.device))
        self.context = torch.cuda.stream(self.stream)
        self.context.__enter__()

    def __exit__(self, *exc):
        self.context.__exit__(*exc)
        torch.cuda.current_stream(self.device).wait_stream(self.stream)
        return False


class _NoStream:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
