"""The one training loop: a skorch net whose criterion is a contrastive objective.

Estimators never subclass skorch's ``NeuralNet``; they hold a
:class:`ContrastiveNet` as ``self.net_``. An *objective* is an ``nn.Module``
called as ``objective(critic, X_batch, y_batch) -> loss``: it decides which
samples are positives and negatives (or draws noise) and applies a loss from
``losses``. The net overrides only the steps skorch documents as safe
(``train_step_single``, ``validation_step``, ``get_iterator``).
"""

import contextlib
import copy
import math
import os
import re
import sys
import threading
import warnings

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, PrintLog
from skorch.dataset import Dataset
from skorch.helper import predefined_split
from skorch.history import History
from skorch.utils import TeeGenerator, to_device

from .graphs import GraphedSteps
from .optim import clear_grads, optimizer_step
from .validation import raise_if_ctrl_c, stacklevel_to_user

__all__ = [
    "OPTIMIZERS",
    "BestEpochStopping",
    "ContrastiveNet",
    "EpochProgressBar",
    "FiniteLossGuard",
    "HoldThenDecay",
    "as_tensor",
    "close_progress_bars",
    "module_device",
    "n_rows",
    "progress_bar",
    "resolve_device",
    "take_rows",
]

# A fit whose best epoch loss is this far (or half its own size) above the
# untrained critic's is treated as diverged.
_WORSE_THAN_START = 1.0
# Rows of the batch the divergence check keeps, about (see _probe_batch).
_PROBE_MAX_ROWS = 4096
# Optimizers with a fused implementation on CPU and CUDA.
_FUSED_OPTIMIZERS = ("adam", "adamw")
OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    # Full-batch quasi-Newton (see build_net): converges tightly on small,
    # smooth problems such as a quadratic critic, where Adam's noise leaves
    # the far-from-data extrapolation poorly pinned down.
    "lbfgs": torch.optim.LBFGS,
}
# LBFGS iterations per epoch (torch's default ``max_iter``).
LBFGS_ITERATIONS_PER_EPOCH = 20


class ContrastiveNet(NeuralNet):
    """skorch ``NeuralNet`` whose criterion is an objective ``(critic, X, y) -> loss``.

    When ``y`` is given it holds sample labels (e.g. 1 = numerator, 0 =
    denominator) and every mini-batch keeps each label in proportion, so a
    per-class mean inside a loss is never taken over an empty set.

    ``l2_penalty`` adds ``l2_penalty / 2 * ||W||^2`` to the training loss,
    for optimizers that take no ``weight_decay`` (LBFGS), ``W`` being every
    parameter but those named ``bias``: biases go unpenalised, as sklearn's
    ``LogisticRegression`` and ``MLPClassifier`` leave intercepts free (a log
    ratio's offset can be many nats, and shrinking it toward 0 would bias
    every ratio).

    ``defer_loss_reads=True`` reads the batch losses once per epoch instead of
    once per batch (see :meth:`run_single_epoch`); :func:`build_net` sets it
    off the CPU. ``cuda_graphs=True`` replays each training step as a captured
    CUDA graph where that is safe (see :mod:`~sklearn_nce._core.graphs`);
    :func:`build_net` sets it on CUDA.
    """

    # skorch maps these attributes to the CPU when a CUDA pickle is loaded
    # without CUDA. "module" and "criterion" too: we pass instances, so the
    # parameters are the very objects module_ and criterion_ hold, and skorch's
    # default list (module_, criterion_, optimizer_) would leave their CUDA
    # tensors in the plain pickle.
    cuda_dependent_attributes_ = [*NeuralNet.cuda_dependent_attributes_, "module", "criterion"]

    def __init__(self, *args, l2_penalty=0.0, defer_loss_reads=False, cuda_graphs=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.l2_penalty = l2_penalty
        self.defer_loss_reads = defer_loss_reads
        self.cuda_graphs = cuda_graphs
        self._graphed_steps = None
        self._step_rng_states = None

    @property
    def _default_callbacks(self):
        return [
            (name, _PrintLog() if name == "print_log" else callback)
            for name, callback in super()._default_callbacks
        ]

    def get_all_learnable_params(self):
        """The critic's parameters only, never the objective's (the noise's).

        skorch's default also yields the criterion's parameters, and the
        objective holds the noise: a user's noise that kept its location and
        scale as ``nn.Parameter`` s was trained along with the critic, to be
        told apart more easily (its scale 0.99 -> 1.32 in 50 epochs; a
        review), where NCE's noise is fixed. A density model's base, which
        the critic holds, is frozen when the critic is built
        (``requires_grad_(False)``) for the same reason.
        """
        # All of the critic's, frozen ones too (a frozen parameter gets no
        # gradient, and the optimisers skip it; one unfrozen later trains).
        yield from self.module_.named_parameters()

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        # Built at the first step, once every callback's on_train_begin has
        # run (a progress bar switches on host reads the graphs must avoid).
        self._graphed_steps = None

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X=X, y=y, **kwargs)
        if self._graphed_steps is not None:
            self.cuda_graph_report_ = self._graphed_steps.report()
            # Graphs hold device memory and do not pickle; the gradients a
            # replay left would keep their memory pools alive in the model.
            self._graphed_steps = None
            clear_grads(self.optimizer_)

    def __getstate__(self):
        # A fit that raised never reached on_train_end: its graphs stay out.
        state = super().__getstate__()
        state.pop("_graphed_steps", None)
        # The split holds the rows early stopping held out (predefined_split):
        # every pickle carried them, 10.4 of 12.6 MB on 500 000 x 50 rows, and
        # with the standardiser beside them the user's rows (a user test). A
        # loaded net validates no more (the estimator's warm start builds a
        # new net); the live one keeps them for skorch's partial_fit (a review).
        state["train_split"] = None
        return state

    def __setstate__(self, state):
        if "device" in state:  # skorch loads the tensors there
            state["device"] = loadable_device(state["device"])
        super().__setstate__(state)
        self._graphed_steps = None
        # Absent from pickles of older versions (a warm start trains them).
        self.__dict__.setdefault("defer_loss_reads", False)
        self.__dict__.setdefault("cuda_graphs", False)
        self._step_rng_states = None

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's epoch; with ``defer_loss_reads``, the batch losses are read at its end.

        skorch records each batch's ``loss.item()`` as it goes, and on a GPU
        every such read makes the host wait for the device, so no step is
        queued while the last one runs (issue 32: a (64, 64) critic's step took
        1.1-1.6 ms eagerly on an H200, the arithmetic under 0.1 ms). Deferred,
        the losses stay on the device until one read per epoch, then fill the
        same history entries and get :class:`FiniteLossGuard`'s check there, so
        a diverged fit raises at the end of its epoch instead of at the batch.
        A user callback with a batch hook may read the batch's loss there
        (skorch's ``LRScheduler(step_every="batch")`` does): the losses are
        then read per batch, as skorch does (a review: deferred, it raised
        "'train_loss' was not found in history").
        """
        self.losses_deferred_ = (
            self.defer_loss_reads and iterator is not None and not self._hooks_read_batch_losses()
        )
        if not self.losses_deferred_:
            return super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
        losses, sizes = [], []
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            losses.append(step["loss"].detach())
            sizes.append(n_rows(batch[0]))
            self.notify("on_batch_end", batch=batch, training=training, **step)
        values = torch.stack(losses).tolist() if losses else []
        # on_batch_begin opened one history row per batch, in this order.
        batches = self.history[-1]["batches"]
        rows = batches[len(batches) - len(values) :]
        for row, value, size in zip(rows, values, sizes, strict=True):
            row[prefix + "_loss"] = value
            row[prefix + "_batch_size"] = size
        self.history.record(prefix + "_batch_count", len(values))
        for value in values:
            _check_finite_loss(self, value, training)

    def _hooks_read_batch_losses(self):
        """Whether a callback from outside this package hooks the batches (and may read losses)."""
        return any(
            not isinstance(callback, _LOSS_BLIND_CALLBACKS)
            and (
                overridden_hook(callback, "on_batch_end") is not None
                or overridden_hook(callback, "on_batch_begin") is not None
            )
            for _, callback in self.callbacks_
        )

    def train_step(self, batch, **fit_params):
        # skorch's train_step hands the optimizer a closure, which only a line
        # search (LBFGS) needs to re-evaluate the loss; skorch points to this
        # method for finer control. Here: clear, backward, notify, step, with
        # the step and the clearing done without torch's per-call overhead
        # (see optim), ~0.1 ms of a ~0.6 ms step of the default critic.
        if isinstance(self.optimizer_, torch.optim.LBFGS):
            # A line search compares losses of one problem: every evaluation
            # of this step's closure draws the noise the first one drew, and
            # the next step draws anew. With fresh draws per evaluation LBFGS
            # ran 50 of 400 iterations on a density model and its loss did
            # not move (a review); drawn once per fit, it overfitted them.
            self._step_rng_states = rng_states(self.device)
            try:
                return super().train_step(batch, **fit_params)
            finally:
                self._step_rng_states = None
        if self.cuda_graphs:
            loss = self._graphed_step(batch)
            if loss is not None:
                return {"loss": loss, "y_pred": loss}
        clear_grads(self.optimizer_)
        # Gradients even when fit is called under no_grad (torch's step
        # enabled them around skorch's closure).
        with torch.enable_grad():
            step = self.train_step_single(batch, **fit_params)
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        optimizer_step(self.optimizer_)
        return step

    def _graphed_step(self, batch, capture=None):
        """The step as a replayed graph (its loss), or None where it must run eagerly."""
        if self._graphed_steps is None:
            self._graphed_steps = GraphedSteps(self, capture)
        self._ensure_mode(training=True)
        # As train_step: gradients even when fit is called under no_grad.
        with torch.enable_grad():
            return self._graphed_steps(batch)

    def train_step_single(self, batch, **fit_params):
        self._ensure_mode(training=True)
        if self._step_rng_states is not None:
            # Within an LBFGS step (see train_step), each evaluation starts
            # from the step's random state.
            set_rng_states(self._step_rng_states, self.device)
        loss = self._objective_loss(batch)
        if self.l2_penalty:
            squared_norm = sum(
                param.pow(2).sum()
                for name, param in self.module_.named_parameters()
                if not name.endswith("bias")
            )
            loss = loss + 0.5 * self.l2_penalty * squared_norm
        loss.backward()
        return {"loss": loss, "y_pred": loss.detach()}

    def validation_step(self, batch, **fit_params):
        self._ensure_mode(training=False)
        with torch.no_grad():
            loss = self._objective_loss(batch)
        return {"loss": loss, "y_pred": loss}

    def notify(self, method_name, **cb_kwargs):
        # skorch calls every callback's hook three times per step (batch
        # begin, gradient computed, batch end), and nearly all of them are the
        # base class's empty methods: calling only the overridden ones runs
        # the same code and saves ~0.07 ms of a ~0.85 ms step. (The net's own
        # hooks keep the history, so they always run.)
        getattr(self, method_name)(self, **cb_kwargs)
        for _, callback in self.callbacks_:
            hook = overridden_hook(callback, method_name)
            if hook is not None:
                hook(self, **cb_kwargs)

    def _ensure_mode(self, training):
        # skorch sets train/eval mode on every batch, walking every submodule
        # (~0.07 of a ~1.1 ms step on a small critic): switch only on change.
        if self.module_.training != training or self.criterion_.training != training:
            self._set_training(training)

    def get_iterator(self, dataset, training=False):
        # In-memory data are batched by slicing tensors (no per-row
        # __getitem__ and collate as in a DataLoader: that cost ~3 ms per
        # 64-pair batch, as much as the critic itself). skorch builds the
        # iterators once per fit, so the data go to the net's device once,
        # and a batch is an index_select there (on the CPU the tensors are
        # views of the arrays).
        return self._batches(dataset, training, self.device)

    def _batches(self, dataset, training, device):
        """The iterator of :meth:`get_iterator`, with its data on ``device``."""
        labels = getattr(dataset, "y", None)
        sampler = self._sampler(dataset.X, labels, training)
        if labels is not None:
            labels = as_tensor(np.asarray(labels)).to(device)
        return _SlicedBatches(_to_device(_as_tensors(dataset.X), device), labels, sampler, device)

    def batches_per_epoch(self, X, y=None):
        """Training steps in one epoch over ``(X, y)``: the length of its training iterator."""
        return len(self._sampler(X, y, training=True))

    def _sampler(self, X, labels, training):
        """Index batches of ``X``: full-sized without labels, stratified with them.

        Held-out rows without labels are read whole, in order, unless the
        objective needs full batches (``full_batches``: in-batch negatives).
        The density objectives score each row against its own noise draws: a
        dropped last batch left up to half their held-out rows unread (256 of
        500 at 5000 rows), the same rows every epoch (a review).
        """
        prefix = "iterator_train" if training else "iterator_valid"
        batch_size = self.get_params_for(prefix).get("batch_size", self.batch_size)
        if labels is None:
            if not training and not getattr(self.criterion_, "full_batches", True):
                return _InOrderSampler(n_rows(X), batch_size)
            return _FullBatchSampler(n_rows(X), batch_size, shuffle=training)
        return StratifiedBatchSampler(labels, batch_size=batch_size, shuffle=training)

    def forward_iter(self, X, training=False, device="cpu"):
        """skorch's, over every row in the order given (a scorer's ``net.predict``).

        Training and validation batches are full or stratified (in-batch
        negatives, per-class means); inference needs neither, and a dropped
        or regrouped row misaligned the outputs with ``y`` (31 pairs gave 28).
        """
        dataset = self.get_dataset(X)
        sampler = _InOrderSampler(n_rows(dataset.X), self.batch_size)
        batches = _SlicedBatches(
            _to_device(_as_tensors(dataset.X), self.device), None, sampler, self.device
        )
        for batch in batches:
            yield to_device(self.evaluation_step(batch, training=training), device=device)

    def _objective_loss(self, batch):
        # Batches come from get_iterator, as tensors on the net's device.
        Xi, yi = batch
        return self.criterion_(self.module_, Xi, yi)


def overridden_hook(callback, method_name):
    """The callback's hook ``method_name`` where it overrides skorch's empty one, else None."""
    hook = getattr(callback, method_name)
    return None if getattr(hook, "__func__", None) is getattr(Callback, method_name) else hook


class StratifiedBatchSampler:
    """Yield index batches that contain every label in proportion to its count.

    The number of batches is capped by the smallest class, so each batch holds
    at least one sample of each label: batch ``b`` is the ``b``-th of
    ``n_batches`` near-equal chunks (``np.array_split``'s sizes) of every
    label's rows. Shuffling uses torch's global generator, which the
    estimators seed (in a forked RNG state) from ``random_state``. Batches are
    int64 tensors, views of one index tensor per epoch.
    """

    def __init__(self, labels, batch_size, shuffle):
        labels = np.asarray(labels)
        groups = [np.flatnonzero(labels == label) for label in np.unique(labels)]
        smallest = min(len(group) for group in groups)
        self.n_batches = max(1, min(math.ceil(len(labels) / batch_size), smallest))
        self.shuffle = shuffle
        self.groups = [torch.from_numpy(group) for group in groups]
        # Which batch each position of the concatenated groups falls in does
        # not change between epochs (only which row sits there does), so the
        # gather that puts the positions in batch order is built once: an
        # epoch is then a few whole-array ops instead of per-batch Python
        # work (~40 against ~10 us per batch at 256 rows).
        batch_of_position = np.concatenate(
            [
                np.repeat(np.arange(self.n_batches), _chunk_sizes(len(group), self.n_batches))
                for group in groups
            ]
        )
        self._batch_order = torch.from_numpy(np.argsort(batch_of_position, kind="stable"))
        self._bounds = np.cumsum(np.bincount(batch_of_position)).tolist()

    def epoch_order(self):
        """One epoch's ``(order, bounds)``: batch ``b`` is ``order[bounds[b - 1]:bounds[b]]``."""
        # A single batch is the whole set: keep its order fixed, so that the
        # objective is the same function every epoch (LBFGS needs that).
        shuffle = self.shuffle and self.n_batches > 1
        groups = [group[torch.randperm(len(group))] if shuffle else group for group in self.groups]
        return torch.cat(groups)[self._batch_order], self._bounds

    def __iter__(self):
        return _slices(*self.epoch_order())

    def __len__(self):
        return self.n_batches


def _chunk_sizes(n_items, n_chunks):
    """Sizes of ``np.array_split(range(n_items), n_chunks)``: the first ones one larger."""
    size, n_larger = divmod(n_items, n_chunks)
    return [size + 1] * n_larger + [size] * (n_chunks - n_larger)


class _FullBatchSampler:
    """Index batches of exactly ``batch_size`` rows (in-batch negatives need full batches).

    Shuffled with torch's global generator (seeded by the estimator); the
    last partial batch is dropped, and at least one batch always exists.
    """

    def __init__(self, n_rows, batch_size, shuffle):
        self.n_rows = n_rows
        self.batch_size = min(batch_size, n_rows)
        self.shuffle = shuffle

    def epoch_order(self):
        """One epoch's ``(order, bounds)`` (see :meth:`StratifiedBatchSampler.epoch_order`)."""
        order = torch.randperm(self.n_rows) if self.shuffle else torch.arange(self.n_rows)
        return order, range(self.batch_size, len(self) * self.batch_size + 1, self.batch_size)

    def __iter__(self):
        return _slices(*self.epoch_order())

    def __len__(self):
        return self.n_rows // self.batch_size


class _InOrderSampler:
    """Index batches of every row in order, the last one partial (inference)."""

    def __init__(self, n_rows, batch_size):
        self.n_rows = n_rows
        self.batch_size = max(1, batch_size)

    def epoch_order(self):
        """``(order, bounds)`` (see :meth:`StratifiedBatchSampler.epoch_order`)."""
        bounds = [*range(self.batch_size, self.n_rows, self.batch_size), self.n_rows]
        return torch.arange(self.n_rows), bounds

    def __len__(self):
        return math.ceil(self.n_rows / self.batch_size)


def _slices(order, bounds):
    """``order`` cut at ``bounds`` (each a batch's end): views, no copies."""
    start = 0
    for stop in bounds:
        yield order[start:stop]
        start = stop


class _SlicedBatches:
    """Iterate ``(X[idx], y[idx])`` over a sampler's index batches (X a tensor or a dict of them).

    The tensors are on ``device``; the epoch's index order is moved there
    once, so that a batch is an ``index_select`` on that device.
    """

    def __init__(self, X, y, sampler, device):
        self.X = X
        self.y = y
        self.sampler = sampler
        self.device = device

    def __iter__(self):
        order, bounds = self.sampler.epoch_order()
        for idx in _slices(order.to(self.device), bounds):
            yield take_rows(self.X, idx), (None if self.y is None else _rows(self.y, idx))

    def __len__(self):
        return len(self.sampler)


def _to_device(X, device):
    """A tensor, or a dict of them, on ``device`` (no copy where it is there already)."""
    if isinstance(X, dict):
        return {key: value.to(device) for key, value in X.items()}
    return X.to(device)


def _as_tensors(X):
    """torch tensors of numpy arrays, in a dict when X is one.

    A view where possible; a copy only when torch cannot share the memory
    (negative strides, e.g. ``X[::-1]``, or read-only arrays).
    """
    if isinstance(X, dict):
        return {key: as_tensor(value) for key, value in X.items()}
    return as_tensor(X)


def as_tensor(array):
    """A torch view of a numpy array, or a copy where torch cannot share it (see above)."""
    return torch.from_numpy(np.require(array, requirements=["C", "W"]))


def n_rows(X):
    """Rows of an array or of the (aligned) arrays in a dict."""
    return len(next(iter(X.values()))) if isinstance(X, dict) else len(X)


def take_rows(X, idx):
    """Rows ``idx`` of an array or tensor, or of every one in a dict."""
    if isinstance(X, dict):
        return {key: _rows(value, idx) for key, value in X.items()}
    return _rows(X, idx)


def _rows(array, idx):
    # A tensor's rows by index_select rather than array[idx]: the same copy
    # at half the cost (~5 against ~10 us per 256-row batch), which advanced
    # indexing spends on parsing the index.
    if isinstance(array, torch.Tensor):
        return array.index_select(0, torch.as_tensor(idx, device=array.device))
    return array[idx]


class FiniteLossGuard(Callback):
    """Stop training with a clear ``ValueError`` as soon as a batch loss is NaN or inf."""

    def on_batch_end(self, net, batch=None, training=None, loss=None, **kwargs):
        if loss is None or getattr(net, "losses_deferred_", False):
            return  # deferred: the net checks the epoch's losses once it reads them
        # The scalar loss as a float: skorch reads it anyway, and it is ~30x
        # cheaper than a torch.isfinite reduction.
        _check_finite_loss(net, loss.item(), training)


def _check_finite_loss(net, value, training=True):
    """Raise a clear error when a batch loss ``value`` is NaN or infinite.

    A held-out loss that is not finite while the training loss was is no
    divergence: advising a lower ``lr`` there sent users the wrong way (a
    review: a critic whose eval mode gave NaN).
    """
    if math.isfinite(value):
        return
    epoch = len(net.history)
    held_out = training is False  # None: a caller that did not say
    # An epoch's last step can send the weights to NaN: the held-out pass
    # is then the first to see it, and that is a divergence too.
    if not held_out or not _finite_parameters(net.module_):
        loss = "held-out" if held_out else "training"
        _raise_diverged(net, f"The {loss} loss became {value} in epoch {epoch}: the fit diverged.")
    raise ValueError(
        f"The held-out (early-stopping) loss became {value} in epoch {epoch}, with the critic's "
        "weights finite and the training loss finite: the critic's output on the held-out rows "
        "in eval mode, or the loss of it, is not finite. Check a custom critic's eval-mode "
        "behaviour (e.g. dropout or batch normalisation statistics), or set "
        "early_stopping=False."
    )


def _finite_parameters(module):
    """Whether every parameter of ``module`` is finite."""
    return all(bool(torch.isfinite(param).all()) for param in module.parameters())


class DivergenceCheck(Callback):
    """Refuse a fit that ends with a finite loss far worse than it started with.

    The training loss of one fixed batch, with the same noise draws, is
    measured before the first step and again on the final weights (after
    early stopping restored its best ones, so this callback runs last). When
    the final loss is well above the initial one, the optimiser made the
    critic worse than untrained -- an absurd ``lr`` does that, and every
    estimate read from it would be garbage -- so the fit raises instead.
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.probe_ = None if X is None else _LossProbe(net, X, y)

    def on_train_end(self, net, **kwargs):
        probe = getattr(self, "probe_", None)
        if probe is None:
            return
        final = probe.loss(net)
        del self.probe_  # holds a batch: keep the fitted net small
        if not final <= probe.initial + max(_WORSE_THAN_START, 0.5 * abs(probe.initial)):
            _raise_diverged(
                net,
                f"The fit diverged: its final training loss ({final:.4g}) is far above the "
                f"untrained critic's ({probe.initial:.4g}) on the same batch.",
            )


class _LossProbe:
    """The objective's training loss on one fixed batch, fixed random draws and fixed M.

    Measuring must not change the fit: the RNG is rewound and restored, the
    noise weight an annealing schedule has moved is set back to its starting
    value for the measurement, and the critic's and objective's state
    (e.g. BatchNorm statistics, MINE's running mean) is restored afterwards.
    """

    def __init__(self, net, X, y):
        self.device = net.device
        self.cuda = rng_devices(net.device)
        # The first training batch, drawn on the CPU and then moved: the
        # training iterator moves all of X to the net's device, which here
        # would be a second copy for the sake of one batch.
        with forked_rng(net.device):
            batch = next(iter(net._batches(net.get_dataset(X, y), True, "cpu")))
        self.batch = tuple(
            None if part is None else _to_device(part, net.device) for part in _probe_batch(*batch)
        )
        self.cpu_state = torch.get_rng_state()
        self.cuda_states = [torch.cuda.get_rng_state(device) for device in self.cuda]
        self.noise_weight = getattr(net.criterion_, "noise_weight", None)
        self.initial = self.loss(net)

    def loss(self, net):
        modules = (net.module_, net.criterion_)
        saved_states = [copy.deepcopy(module.state_dict()) for module in modules]
        saved_weight = getattr(net.criterion_, "noise_weight", None)
        if self.noise_weight is not None:
            net.criterion_.noise_weight = self.noise_weight
        net._ensure_mode(training=True)
        try:
            with forked_rng(self.device), torch.no_grad():
                torch.set_rng_state(self.cpu_state)
                for device, state in zip(self.cuda, self.cuda_states, strict=True):
                    torch.cuda.set_rng_state(state, device)
                return float(net._objective_loss(self.batch))
        finally:
            for module, state in zip(modules, saved_states, strict=True):
                module.load_state_dict(state)
            if self.noise_weight is not None:
                net.criterion_.noise_weight = saved_weight


def _probe_batch(X, y):
    """At most about ``_PROBE_MAX_ROWS`` rows of a batch: evenly spaced, per label when labelled.

    A full-batch stage (LBFGS) would otherwise keep a copy of every training
    row for the whole fit: 93 MB of a 286 MB peak for the residual critic on
    10^6 rows of 20 features. Each label keeps its share of the rows, and at
    least one, so that a loss with a per-label mean stays defined.
    """
    rows = n_rows(X)
    if rows <= _PROBE_MAX_ROWS:
        return X, y
    if y is None:
        groups = [torch.arange(rows)]
    else:
        groups = [torch.nonzero(y == label).flatten() for label in torch.unique(y)]
    keep = torch.cat(
        [
            group[
                torch.linspace(0, len(group) - 1, max(1, len(group) * _PROBE_MAX_ROWS // rows))
                .round()
                .long()
            ]
            for group in groups
        ]
    )
    return take_rows(X, keep), (None if y is None else y[keep])


def continue_history(earlier, history):
    """``earlier``'s epochs, then ``history``'s numbered on from them (a new History).

    A warm fit trains a new net; its epochs go on the previous fit's record.
    ``earlier`` is left as it is (its rows are shared, never changed).
    """
    offset = len(earlier)
    rows = [{**row, "epoch": row.get("epoch", k + 1) + offset} for k, row in enumerate(history)]
    return History([*earlier, *rows])


def warn_if_interrupted(net):
    """Warn when a callback ended training early; end the fit on a Ctrl-C.

    skorch ends training on ``KeyboardInterrupt`` -- its own early stopping
    raises one too -- and returns normally, so an interrupted fit would
    otherwise look finished. The model keeps the weights at the interruption
    (or early stopping's best ones), and stays usable. A Ctrl-C, though,
    ends the whole fit here (see ``noting_ctrl_c``): only a callback's
    interruption is warned of.
    """
    raise_if_ctrl_c()
    epochs = len(net.history)
    if epochs >= net.max_epochs or stopped_early(net):
        return
    warnings.warn(
        f"Training was interrupted in epoch {epochs} of {net.max_epochs} by a "
        "KeyboardInterrupt from a callback, not by early stopping; the model keeps the "
        "weights it had then (the best validated ones with early stopping), and the fit "
        "went on to its remaining stages, if any. To train fully, remove what raised it "
        "and fit again (or, with warm_start=True, call fit to continue).",
        UserWarning,
        stacklevel=stacklevel_to_user(),
    )


def close_progress_bars(net):
    """Close the bars of a fit that raised: skorch then skips on_train_end."""
    for _, callback in getattr(net, "callbacks_", []):
        if isinstance(callback, EpochProgressBar):
            callback.close(net)


class BestEpochStopping(EarlyStopping):
    """skorch's ``EarlyStopping`` that restores the epoch of the lowest monitored loss.

    skorch keeps an epoch's weights only when it beats the last kept epoch by
    ``threshold``, so an epoch that improved by less was never restored: with
    ``tol=0.01`` a fit whose last epoch was its best rolled back 5 epochs to a
    held-out loss 0.010 nats worse (a review). Here ``threshold`` only counts
    the epochs without improvement that end the fit (skorch's count, against
    the last epoch that improved by it), and the weights kept are those of
    the fit's epoch with the lowest loss, as ``MLPClassifier`` keeps its best
    coefficients.

    With ``score_start=True`` (a warm start) the weights the fit starts from
    are a candidate too, scored on the held-out rows before the first epoch,
    as ``MLPClassifier`` carries its best validation score into a warm fit: a
    continued critic whose new epochs all read worse kept the last of them
    (a review: held-out loss 0.5535 -> 0.5610).
    """

    def __init__(
        self,
        monitor="valid_loss",
        patience=5,
        threshold=1e-4,
        threshold_mode="rel",
        lower_is_better=True,
        sink=print,
        load_best=False,
        score_start=False,
    ):
        super().__init__(
            monitor=monitor,
            patience=patience,
            threshold=threshold,
            threshold_mode=threshold_mode,
            lower_is_better=lower_is_better,
            sink=sink,
            load_best=load_best,
        )
        self.score_start = score_start

    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        self.best_score_ = np.inf if self.lower_is_better else -np.inf
        # Absent from callbacks pickled before it (a loaded net's partial_fit).
        self._start_unscored = getattr(self, "score_start", False)

    def on_epoch_begin(self, net, dataset_valid=None, **kwargs):
        if not self._start_unscored or dataset_valid is None:
            return
        self._start_unscored = False
        # Epoch 0: the start, scored as skorch scores an epoch's held-out rows.
        score = _held_out_loss(net, dataset_valid)
        if not np.isfinite(score):
            return  # no candidate: no epoch could beat a NaN (a review)
        self.best_score_ = score
        self.dynamic_threshold_ = self._calc_new_threshold(score)
        self.best_epoch_ = 0
        if self.load_best:
            self.best_model_weights_ = copy.deepcopy(net.module_.state_dict())

    def on_epoch_end(self, net, **kwargs):
        score = net.history[-1, self.monitor]
        if score < self.best_score_ if self.lower_is_better else score > self.best_score_:
            self.best_score_ = score
            self.best_epoch_ = net.history[-1, "epoch"]
            if self.load_best:
                self.best_model_weights_ = copy.deepcopy(net.module_.state_dict())
        if self._is_score_improved(score):
            self.misses_ = 0
            self.dynamic_threshold_ = self._calc_new_threshold(score)
        else:
            self.misses_ += 1
        if self.misses_ == self.patience:
            self._sink(
                f"Stopping since {self.monitor} has not improved in the last "
                f"{self.patience} epochs.",
                verbose=net.verbose,
            )
            raise KeyboardInterrupt


def _held_out_loss(net, dataset):
    """The net's loss on ``dataset``, as skorch's ``valid_loss``: batch losses averaged by size."""
    losses, sizes = [], []
    for batch in net.get_iterator(dataset, training=False):
        losses.append(net.validation_step(batch)["loss"].detach())
        sizes.append(n_rows(batch[0]))
    return float(np.average(torch.stack(losses).cpu().numpy(), weights=sizes))


def stopped_early(net):
    """Whether the package's early stopping or a user's EarlyStopping ended the fit."""
    stoppers = [cb for _, cb in getattr(net, "callbacks_", []) if isinstance(cb, EarlyStopping)]
    return any(stopper.misses_ >= stopper.patience for stopper in stoppers)


def restored_epoch(net):
    """The epoch whose weights early stopping restores at the end of training (None: the last).

    As skorch's ``EarlyStopping.on_train_end`` decides (``load_best``).
    """
    for _, callback in getattr(net, "callbacks_", []):
        if (
            isinstance(callback, EarlyStopping)
            and callback.load_best
            and getattr(callback, "best_model_weights_", None) is not None
            and callback.best_epoch_ != net.history[-1, "epoch"]
        ):
            return callback.best_epoch_
    return None


def _raise_diverged(net, what):
    # The objective may name its own remedy (e.g. a bounded loss).
    objective = getattr(net, "criterion_", None)
    hint = getattr(objective, "divergence_hint", "add weight_decay")
    if isinstance(getattr(net, "optimizer_", None), torch.optim.LBFGS):
        # lbfgs ignores lr: advising a lower one changed nothing (a review).
        raise ValueError(f"{what} {hint[0].upper()}{hint[1:]}.")
    decay = _weight_decay(net)
    if net.lr * decay >= _OVERSHOOTING_DECAY_STEP:
        # The penalty itself overshoots: advising more of it was wrong
        # (review: weight_decay=1e6 with SGD).
        lower = f"lower weight_decay (currently {decay:g})"
        hint = lower if hint == "add weight_decay" else f"{hint}, or {lower}"
    # No "standardise X": every estimator standardises its inputs itself.
    raise ValueError(f"{what} Lower `lr` (currently {net.lr}) or {hint}.")


# lr * weight_decay from which the diverged-fit advice names the decay: an
# SGD or AdamW step multiplies a weight by 1 - lr * weight_decay, which
# overshoots from 2.
_OVERSHOOTING_DECAY_STEP = 2.0


def _weight_decay(net):
    """The net's L2 penalty: its optimizer's ``weight_decay``, or LBFGS's explicit penalty."""
    groups = getattr(getattr(net, "optimizer_", None), "param_groups", None) or [{}]
    penalty = getattr(net, "l2_penalty", 0.0)
    return max(float(groups[0].get("weight_decay", 0.0) or 0.0), float(penalty or 0.0))


class NoiseWeightAnnealing(Callback):
    """Raise the objective's noise weight ``M`` geometrically from ``start`` to ``end``.

    At the start of epoch ``t`` of ``T`` (``net.max_epochs``) the weight is
    ``start^(1 - t/(T-1)) * end^(t/(T-1))``: vanilla NCE's well-conditioned
    loss first, the near-maximum-likelihood gradient of a large ``M`` last.
    Early stopping may end the schedule before ``end``.
    """

    def __init__(self, start, end):
        self.start = float(start)
        self.end = float(end)

    def on_epoch_begin(self, net, **kwargs):
        progress = (len(net.history) - 1) / max(net.max_epochs - 1, 1)
        progress = min(max(progress, 0.0), 1.0)
        net.criterion_.noise_weight = self.start ** (1 - progress) * self.end**progress


class HoldThenDecay(Callback):
    """Hold the learning rate, then decay it linearly to 0 over the last steps of the fit.

    Of the ``T`` steps a fit plans (``net.max_epochs`` epochs of
    :meth:`ContrastiveNet.batches_per_epoch`), the first ``1 - decay_fraction``
    run at the net's ``lr`` and step ``t`` after them at
    ``lr * (T - t) / (decay_fraction * T)`` (a "warmup-stable-decay"
    schedule without the warm-up): the held rate learns fast, and the decay
    lets the last iterates settle instead of jittering at the held rate's
    noise level. Early stopping may end the fit before the decay; every fit
    (a warm start's too) starts again from ``lr``, which ``set_params(lr=...)``
    moves. For step-based optimizers (not LBFGS, whose ``lr`` is a first
    trial step).

    Where the fused Adam or AdamW kernel reads the rate, it is a 0-d tensor on
    the parameters' device, written in place when it changes, so that a
    captured CUDA graph (which reads it at a fixed address) stays valid as it
    moves; other optimizers get a float (torch's SGD would read a tensor back
    to the host at every step). ``on_train_end`` puts the plain float back.

    Parameters
    ----------
    decay_fraction : float in (0, 1], default=0.4
        Share of the planned steps over which the rate decays.
    """

    def __init__(self, decay_fraction=0.4):
        self.decay_fraction = decay_fraction

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if not 0 < self.decay_fraction <= 1:
            raise ValueError(f"decay_fraction must be in (0, 1]; got {self.decay_fraction!r}.")
        self.total_steps_ = net.max_epochs * net.batches_per_epoch(X, y)
        self.steps_ = 0
        # Unknown: a fit that raised, or a checkpoint, may have left a decayed tensor.
        self._rate = None
        self._set_rate(net, float(net.lr))

    def on_batch_end(self, net, training=False, **kwargs):
        if not training:
            return
        self.steps_ += 1
        self._set_rate(net, float(net.lr) * self.factor(self.steps_, self.total_steps_))

    def on_train_end(self, net, **kwargs):
        for group in net.optimizer_.param_groups:
            group["lr"] = float(net.lr)

    def factor(self, step, total_steps):
        """The share of ``lr`` that step ``step + 1`` of ``total_steps`` runs at."""
        decay_steps = self.decay_fraction * total_steps
        return min(1.0, max(0.0, (total_steps - step) / decay_steps))

    def _set_rate(self, net, rate):
        for group in net.optimizer_.param_groups:
            if not group.get("fused"):
                group["lr"] = rate
            elif not isinstance(group["lr"], torch.Tensor):
                # First step, or set_params(lr=...) put a float there mid-fit.
                device = group["params"][0].device
                group["lr"] = torch.tensor(rate, dtype=torch.float32, device=device)
            elif rate != self._rate:
                group["lr"].fill_(rate)
        self._rate = rate


class EpochProgressBar(Callback):
    """A tqdm bar over epochs showing the latest train and validation loss.

    ``label`` names the bar (the estimator, and e.g. the fold). An objective
    with a ``report_estimate`` switch also gets the epoch mean of its
    ``batch_estimate`` (a float per training batch, such as the plug-in MI of
    the batch) shown, under its ``estimate_name``: the bar turns the switch
    on for the fit, since objectives skip that per-batch sync otherwise.
    """

    def __init__(self, label="fit"):
        self.label = label

    def on_train_begin(self, net, **kwargs):
        self.bar_ = progress_bar(total=net.max_epochs, unit="epoch", desc=self.label)
        self.estimates_ = []
        self.postfix_ = {}
        self._set_reporting(net, True)

    def on_batch_end(self, net, training=False, **kwargs):
        estimate = getattr(net.criterion_, "batch_estimate", None)
        if training and estimate is not None:
            self.estimates_.append(estimate)

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        postfix = {key: f"{row[key]:.4f}" for key in ("train_loss", "valid_loss") if key in row}
        if self.estimates_:
            name = getattr(net.criterion_, "estimate_name", "estimate")
            postfix[name] = f"{np.mean(self.estimates_):.3f}"
            self.estimates_ = []
        self.bar_.set_postfix(postfix, refresh=False)
        self.postfix_ = postfix
        self.bar_.update(1)

    def on_train_end(self, net, **kwargs):
        # Early stopping ends the fit before max_epochs, and skorch's stopper
        # raises before this bar counts the last epoch: the bar then ends
        # complete at the epochs run, which a notebook's bar otherwise styled
        # as a failure (red, one epoch short: user test). An interrupted fit
        # (Ctrl-C) keeps its short bar.
        epochs = len(net.history)
        if stopped_early(net):
            self.bar_.total = epochs
            container = getattr(self.bar_, "container", None)  # tqdm.notebook's widget
            if container is not None:
                container.children[1].max = epochs
            self.bar_.update(epochs - self.bar_.n)
        # The bar's last losses are the last epoch's; the weights kept may be
        # an earlier epoch's, which verbose=1 did not say (a user test read
        # an overfitted fit's losses and took them for the model's).
        restored = restored_epoch(net)
        if restored is not None:
            self.bar_.set_postfix({**self.postfix_, "restored": f"epoch {restored}"})
        self.close(net)

    def close(self, net):
        """Close the bar (at the end of training, or after a fit that raised)."""
        # tqdm objects hold locks and file handles: drop it so the net pickles.
        bar = self.__dict__.pop("bar_", None)
        if bar is not None:
            bar.close()
        self._set_reporting(net, False)

    @staticmethod
    def _set_reporting(net, on):
        if hasattr(net.criterion_, "report_estimate"):
            net.criterion_.report_estimate = on


def progress_bar(iterable=None, **kwargs):
    """A tqdm bar (the notebook one in Jupyter), imported when a bar is asked for.

    ``tqdm.auto`` warns at import in a Jupyter kernel without ipywidgets, so
    importing it with the package warned every notebook user, ``verbose=0`` or
    not (user test).
    """
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)


class TableTitle(Callback):
    """Print what a training is (``label``) above skorch's per-epoch table (``verbose >= 2``).

    One fit may train several nets (a residual critic's two stages, the MI
    estimator's folds): untitled, their tables ran together (user test).
    """

    def __init__(self, label="fit"):
        self.label = label

    def on_train_begin(self, net, **kwargs):
        print(f"\n{self.label}")


def resolve_device(device):
    """Map ``"auto"``/``"cpu"``/``"cuda[:k]"`` to a torch device string, failing clearly.

    CUDA is resolved with its index (``"cuda"`` is the current device when
    fitting), so that a later ``torch.cuda.set_device`` elsewhere (another
    library, a worker pool) cannot send the model's inputs to another GPU
    than its parameters (a review).
    """
    if device == "auto":
        return _indexed_cuda("cuda") if torch.cuda.is_available() else "cpu"
    try:
        torch.device(device)
    except RuntimeError:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'cpu', 'cuda' (or 'cuda:0', ...) "
            "or 'auto'."
        ) from None
    parsed = torch.device(device)
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but torch sees no CUDA device; "
            "use device='cpu' or device='auto'."
        )
    if parsed.type == "cuda" and (parsed.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r} was requested but torch sees {torch.cuda.device_count()} CUDA "
            "device(s), numbered from 0."
        )
    if parsed.type == "meta":  # shapes only: a fit reads values
        raise ValueError("device='meta' holds no values to train on; use 'cpu' or 'auto'.")
    if parsed.type not in ("cpu", "cuda"):
        # "mps", "xla", ...: torch names them whatever it was built with, and
        # an unusable one failed deep inside skorch's module.to().
        try:
            torch.empty(1, device=device)
        except Exception:  # noqa: BLE001 (RuntimeError, or an ImportError for "hpu")
            raise ValueError(
                f"device={device!r} was requested but this torch build cannot place tensors "
                "there; use device='cpu' or device='auto' (which picks CUDA only)."
            ) from None
    return _indexed_cuda(device) if parsed.type == "cuda" else device


def loadable_device(device):
    """Where a model saved on ``device`` loads on this machine.

    A CUDA device this machine lacks (``"cuda:1"`` where there is one GPU)
    maps to GPU 0: ``torch.load`` failed there (a review). Without CUDA the
    device is kept, for skorch to warn and load on the CPU.
    """
    if not isinstance(device, str | torch.device):
        return device
    parsed = torch.device(device)
    if parsed.type == "cuda" and torch.cuda.is_available():
        if (parsed.index or 0) >= torch.cuda.device_count():
            return "cuda:0"
    return device


def _indexed_cuda(device):
    """``"cuda"`` as ``"cuda:k"`` for the current device ``k``; an indexed one unchanged."""
    parsed = torch.device(device)
    return f"cuda:{torch.cuda.current_device() if parsed.index is None else parsed.index}"


def module_device(module):
    """The device of ``module``'s parameters or buffers; the CPU for none, or a non-module."""
    if isinstance(module, torch.nn.Module):
        for tensor in (*module.parameters(), *module.buffers()):
            return tensor.device
    return torch.device("cpu")


def rng_devices(device):
    """The CUDA devices whose RNG ``torch.random.fork_rng`` must also save for ``device``."""
    return [torch.device(device)] if str(device).startswith("cuda") else []


# Fits in threads of one process (joblib's "threading" backend, which joblib
# also picks for an n_jobs nested inside one of its worker processes) share
# process-wide state: torch's generator, which each fit seeded and drew from,
# so that their draws interleaved and random_state did not reproduce (user
# test: mutual_info_nce(per_feature=True, n_jobs=2) inside
# cross_validate(n_jobs=2) read scores up to 0.025 nats apart between
# identical runs), and the warnings filters a recording fit swaps. So one
# thread at a time holds them; a fit's own nested uses re-enter. Threaded
# fits still prepare their data and bases side by side, and train in turn
# (mutual_info_nce's columns record warnings, so run whole, in turn); a
# user's noise or base is probed, and drawn from for log Z and sample(),
# under it too (it may draw from the global generator: see seeded_rng).
_PROCESS_STATE_LOCK = threading.RLock()


def _new_process_state_lock():
    # A child forked while another thread trained (multiprocessing's "fork")
    # inherited the lock held, and its first fit waited forever (review).
    global _PROCESS_STATE_LOCK
    _PROCESS_STATE_LOCK = threading.RLock()


os.register_at_fork(after_in_child=_new_process_state_lock)


@contextlib.contextmanager
def process_state_held():
    """Hold the process-wide state that fits in threads take turns with (see above)."""
    with _PROCESS_STATE_LOCK:
        yield


@contextlib.contextmanager
def forked_rng(device):
    """``torch.random.fork_rng`` for ``device``, held by one thread at a time."""
    with process_state_held(), torch.random.fork_rng(devices=rng_devices(device)):
        yield


@contextlib.contextmanager
def seeded_rng(seed, device):
    """``forked_rng`` with torch's generators seeded by ``seed`` inside it.

    For training, and for a user's noise or base, whose draws may ignore the
    ``generator`` they are given (``torch.distributions`` takes none): the
    fit then reproduces from ``random_state`` and leaves the user's stream
    as it was (a user test: a Student-t noise drawing that way made two fits
    with one ``random_state`` differ, and moved the user's generator).
    """
    with forked_rng(device):
        _seed_torch(seed, device)
        yield


def rng_states(device):
    """The CPU generator's state and, for a CUDA ``device``, that device's."""
    return torch.get_rng_state(), [torch.cuda.get_rng_state(d) for d in rng_devices(device)]


def set_rng_states(states, device):
    """Put back the generators' ``states`` (from :func:`rng_states` for ``device``)."""
    cpu, cuda = states
    torch.set_rng_state(cpu)
    for cuda_device, state in zip(rng_devices(device), cuda, strict=True):
        torch.cuda.set_rng_state(state, cuda_device)


def _seed_torch(seed, device):
    """Seed the CPU generator and, for a CUDA ``device``, that device's alone.

    Call inside ``forked_rng(device)`` (``seeded_rng`` does). ``torch.manual_seed``
    also seeds every GPU, which ``fork_rng`` does not restore beyond the
    devices it was given: every fit, even on the CPU, left the user's CUDA
    streams seeded by the fit's seed (a review).
    """
    torch.default_generator.manual_seed(seed)
    if str(device).startswith("cuda"):
        with torch.cuda.device(torch.device(device)):
            torch.cuda.manual_seed(seed)


def build_net(
    critic,
    objective,
    *,
    max_epochs,
    batch_size,
    lr,
    optimizer,
    weight_decay,
    device,
    verbose,
    valid_data=None,
    valid_batch_size=None,
    n_iter_no_change=10,
    tol=1e-4,
    progress_label="fit",
    extra_callbacks=(),
    continued=False,
):
    """Assemble a :class:`ContrastiveNet` with the package's callbacks.

    With ``optimizer="lbfgs"`` an epoch is one LBFGS step of up to 20
    iterations on the batch (pass ``batch_size`` = all rows for full batch).

    ``valid_data`` is an ``(X_val, y_val)`` pair (``y_val`` may be None); when
    given, early stopping watches its loss and restores the best weights.
    ``progress_label`` names the progress bar shown when ``verbose == 1``;
    ``extra_callbacks`` are ``(name, callback)`` pairs an estimator adds.
    ``continued=True`` (a warm start) lets early stopping keep the weights
    the fit starts from when no epoch beats them.
    """
    callbacks = [("finite_loss", FiniteLossGuard()), *extra_callbacks]
    train_split = None
    if valid_data is not None:
        train_split = predefined_split(Dataset(*valid_data))
        callbacks.append(
            (
                "early_stopping",
                BestEpochStopping(
                    monitor="valid_loss",
                    patience=n_iter_no_change,
                    threshold=tol,
                    threshold_mode="abs",
                    load_best=True,
                    sink=print if verbose >= 2 else _silent,
                    score_start=continued,
                ),
            )
        )
    if verbose == 1:
        # One live line per fit; verbose >= 2 prints skorch's table instead
        # (a bar redrawn between table rows garbles both).
        callbacks.append(("progress", EpochProgressBar(progress_label)))
    elif verbose >= 2:
        callbacks.append(("table_title", TableTitle(progress_label)))
    # Last: it must judge the weights early stopping restored.
    callbacks.append(("divergence_check", DivergenceCheck()))
    if optimizer == "lbfgs":
        objective = _with_fixed_draws(objective)
        # LBFGS has no weight_decay and sets its own step by line search
        # (lr is only the first trial step), as sklearn's MLP ignores
        # learning_rate_init with solver="lbfgs".
        optimizer_params = dict(
            lr=1.0,
            optimizer__max_iter=LBFGS_ITERATIONS_PER_EPOCH,
            optimizer__line_search_fn="strong_wolfe",
            l2_penalty=weight_decay,
        )
    else:
        # Python floats: the optimizer's state_dict keeps them, and skorch's
        # Checkpoint + LoadInitState could not read back a numpy scalar there
        # (torch.load's weights_only refuses it): weight_decay="auto" and a
        # grid of np.logspace values broke resuming a fit (user test).
        optimizer_params = dict(lr=float(lr), optimizer__weight_decay=float(weight_decay))
        if optimizer in _FUSED_OPTIMIZERS:
            # One fused kernel for all parameters instead of ~10 small ops per
            # tensor: the update went from ~0.4 to ~0.1 ms of a ~1.8 ms step
            # on a (64, 64) critic (CPU; fused Adam also runs on CUDA).
            optimizer_params["optimizer__fused"] = True
    return ContrastiveNet(
        module=critic,
        criterion=objective,
        optimizer=OPTIMIZERS[optimizer],
        **optimizer_params,
        max_epochs=max_epochs,
        batch_size=batch_size,
        train_split=train_split,
        callbacks=callbacks,
        device=device,
        # Read by get_iterator (training batches are shuffled, unlabelled
        # batches always full, for in-batch negatives).
        iterator_valid__batch_size=valid_batch_size or batch_size,
        # verbose >= 2 prints skorch's per-epoch table (train/valid loss, time).
        verbose=int(verbose >= 2),
        # Below that, no table: skorch's PrintLog tabulates every epoch even
        # when it prints nothing (0.19 s of a 5 s digits fit of 300 short
        # epochs).
        **({} if verbose >= 2 else {"callbacks__print_log": None}),
        # A per-batch loss read costs a host-device sync off the CPU only.
        defer_loss_reads=_defers_loss_reads(device),
        cuda_graphs=_captures_steps(device),
    )


class _PrintLog(PrintLog):
    """skorch's per-epoch table (``verbose=2``), its best values coloured only where that shows.

    skorch wraps them in ANSI codes wherever the table goes: in a log file, a
    pipe or a CI job's output they read as ``^[[36m3.6837^[[0m``. Colours
    stay on a terminal and in a Jupyter kernel (whose output renders them
    though its stream is no terminal), and go wherever ``NO_COLOR`` is set
    (no-color.org).
    """

    def format_row(self, row, key, color):
        text = super().format_row(row, key, color)
        if isinstance(text, str) and not _shows_colours():
            return _ANSI_CODE.sub("", text)
        return text


_ANSI_CODE = re.compile(r"\x1b\[[0-9;]*m")


def _shows_colours():
    if os.environ.get("NO_COLOR"):  # set and not empty (no-color.org)
        return False
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty()) or "ipykernel" in sys.modules


# This package's callbacks with batch hooks: none reads a batch's loss there.
_LOSS_BLIND_CALLBACKS = (FiniteLossGuard, HoldThenDecay, EpochProgressBar)


def _defers_loss_reads(device):
    """Whether a net on ``device`` reads its batch losses once per epoch (off the CPU)."""
    return torch.device(device).type != "cpu"


def _captures_steps(device):
    """Whether a net on ``device`` replays its steps as CUDA graphs where safe (CUDA only)."""
    return torch.device(device).type == "cuda"


def _with_fixed_draws(objective):
    """The objective as a line search needs it: the same random draws at every evaluation.

    A line search compares losses of one problem; an objective that draws
    afresh per batch (telescoping's waymark pairs, ``resample_pairs``) would
    change the problem between two trial steps. A copy, so that the caller's
    objective keeps resampling for the stochastic optimisers it also serves.
    """
    if getattr(objective, "resample_pairs", False):
        objective = copy.deepcopy(objective)
        objective.resample_pairs = False
    return objective


def _silent(*args, **kwargs):
    pass
