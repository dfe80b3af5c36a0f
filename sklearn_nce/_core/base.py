"""``_BaseNCE``: the training parameters and helpers every estimator shares.

An estimator subclasses it (mixins first, as sklearn does) and supplies only
its objective; building the critic, seeding, the validation split, the skorch
net and batched inference all happen here once.
"""

import copy
import inspect
import io
import math
import numbers
import warnings
from abc import ABCMeta

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from skorch.callbacks import BatchScoring, Callback, EpochScoring

from ..exceptions import SmallSampleWarning
from .critics import ACTIVATIONS, MLPCritic, ResidualCritic
from .splits import grouped_hold_out
from .training import (
    LBFGS_ITERATIONS_PER_EPOCH,
    OPTIMIZERS,
    _as_tensors,
    _to_device,
    as_tensor,
    build_net,
    close_progress_bars,
    continue_history,
    forked_rng,
    loadable_device,
    module_device,
    n_rows,
    resolve_device,
    seeded_rng,
    stopped_early,
    take_rows,
    warn_if_interrupted,
)
from .validation import (
    EXTRAPOLATION_ADVICE,
    HasMethods,
    Integral,
    Interval,
    Real,
    StrOptions,
    check_is_fitted,
    stacklevel_to_user,
)

__all__ = ["_BaseNCE", "apply_critic", "iter_critic"]

# Early stopping is switched on by "auto" from this many rows (the density
# ratio and the density models start at 50: see theirs). For the ratio it
# is what keeps a wide critic from overfitting (2 x 5000 rows, 50-d, KL 8:
# log-ratio MSE 4.9 with it, 876 without).
_AUTO_EARLY_STOPPING_MIN_SAMPLES = 5000
# Rows early stopping must leave to train on: the base's 3 folds and a
# critic need a few (with 2 left, scikit-learn's KFold raised in the base).
_MIN_TRAINING_ROWS = 5
# Optimiser steps that max_epochs="auto" buys (InfoNCEAnchorMI sets its own
# with its smaller batches). Chosen on x ~ U(-1, 1), y = sin(3x) + N(0, 0.3^2)
# (true MI 0.863): InfoNCEAnchorMI with batches of 64 at lr 2e-3 reached
# 0.85-0.87 (3 seeds) after 2000 steps, against 0.81-0.84 after 1000; from
# 500 to 8000 rows alike.
_AUTO_OPTIMIZER_STEPS = 2000
# batch_size="auto": about 100 steps per epoch, between these sizes.
_AUTO_MIN_BATCH = 256
_AUTO_MAX_BATCH = 4096
# The linear first stage of a residual critic (a logistic regression when the
# loss is logistic) is L2-penalised as sklearn's LogisticRegression(C=10)
# would be: 1 / (2 C n) * ||w||^2 added to the mean loss of n training rows,
# the intercept free. Unpenalised it has no optimum on samples a hyperplane
# separates, and LBFGS ran the weights up until its iterations ran out:
# architecture="residual" on a 1-d mean shift of KL 12.5 (slope 5) at 30-50
# rows per sample read log-ratio MSEs of 283-1940 (seeds 0-2), 3.5-24 at
# C = 10; 5-d KL 12.5 and 2-d KL 8 at 40 rows, 49-419 -> 7.5-11.6. C = 1
# (sklearn's default) was as good there but shrank the bridged fits at 60
# rows (1-d KL 12.5: 6.4 / 2.7 / 5.0 against 1.9 / 0.29 / 0.26 unpenalised,
# 2.1 / 0.06 / 0.54 at C = 10). At the benchmarks' 5000 rows per sample
# the penalty is ~1e-5: seed 0 of four ladder rungs moved by -0.01 to +0.18
# in log-ratio MSE (t3 d = 20 with 8 steps 2.84 -> 3.02; three others
# within 0.01).
_BASE_STAGE_C = 10.0
# The base stage fits on at most this many training rows (see _base_stage_rows).
_BASE_STAGE_MAX_ROWS = 20_000
# The pickle key under which the fitted torch objects outside the nets travel.
_TORCH_STATE_KEY = "_torch_attributes"
# The pickle key naming the fitted attributes that are parts of net_'s module
# (saved once, with the net: see __getstate__).
_NET_PARTS_KEY = "_net_module_parts"
# Rows per forward pass at prediction time: bounds memory, not accuracy.
# 4096 rather than 8192: the same speed, and half the heap the allocator
# keeps after the first pass (~10 against ~18 MB on 10^5 rows here).
_PREDICT_BATCH_SIZE = 4096


class _BaseNCE(BaseEstimator, metaclass=ABCMeta):
    """Shared parameters: critic architecture, optimisation, early stopping, device.

    A subclass's ``fit`` validates its input, builds an objective and calls
    :meth:`_fit_critic` (or :meth:`_train_net` per critic). Training calls
    these hooks, in this order, each with its inputs as arguments; the
    defaults here suit an estimator with one MLP critic:

    ``_prepare_training(X_train, objective, rng)``
        Fit data-dependent parts (a noise, a base density) on the training
        rows, after the validation split. No-op here.
    ``_make_critic(X, n_outputs, critic_index)`` / ``_default_critic(X, n_outputs)``
        The module to train: a warm start's previous critic, a copy of the
        user's ``critic``, or ``_default_critic`` (an MLP here).
    ``_learning_rate()``, ``_batch_size(n_train)``, ``_max_epochs(n_train, batch_size, valid)``
        What ``"auto"`` settings resolve to (``valid``: the held-out rows, or
        None); read back after fit as
        ``lr_``, ``batch_size_`` and ``max_epochs_``. ``_patience(n_train,
        batch_size)``: early stopping's patience in epochs.
    ``_training_callbacks()``
        Extra skorch callbacks (none here).
    ``_check_training(net, valid)``
        Judge the trained net on the held-out rows; may set diagnostics and
        warn. No-op here.
    """

    # Fewest validation rows early stopping accepts (in-batch objectives need 3).
    _min_validation_rows = 2
    # early_stopping="auto" switches it on from this many rows.
    _auto_early_stopping_min_rows = _AUTO_EARLY_STOPPING_MIN_SAMPLES
    # Optimiser steps of max_epochs="auto" (an estimator may set its own).
    _auto_optimizer_steps = _AUTO_OPTIMIZER_STEPS
    # Most passes over the data max_epochs="auto" makes (None: no cap). On a
    # small sample the step budget is many passes that refit the same rows.
    _auto_max_passes = None
    # Fewest passes it makes (None: no floor), as far as they take at most
    # _auto_max_floor_steps steps. On a large set the step budget is a
    # fraction of the passes a network needs.
    _auto_min_passes = None
    _auto_max_floor_steps = None
    # What an answer on rows far outside the training data is worth, and what
    # to check (the warning about such rows says it).
    _far_rows_advice = EXTRAPOLATION_ADVICE
    # Whether the critic reads the columns constant in training (the density
    # models drop them, and score a row that leaves their value -inf).
    _keeps_constant_columns = True

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "critic": [HasMethods(["forward"]), None],
        "optimizer": [StrOptions(set(OPTIMIZERS))],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        # "auto" as NCEDensityRatio's (_batch_size); the density models keep
        # 256 as their default (an API review: the same grid failed there).
        "batch_size": [Interval(Integral, 2, None, closed="left"), StrOptions({"auto"})],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "device": [StrOptions({"auto", "cpu"}), str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "callbacks": [list, None],
    }

    def __init__(
        self,
        *,
        hidden_layer_sizes=(64, 64),
        activation="silu",
        critic=None,
        optimizer="adam",
        lr=1e-3,
        weight_decay=0.0,
        max_epochs=100,
        batch_size=256,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        device="cpu",
        random_state=None,
        verbose=0,
        warm_start=False,
        callbacks=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.critic = critic
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.callbacks = callbacks

    def __getstate__(self):
        # The skorch nets map their own tensors to the CPU when a CUDA model is
        # loaded without CUDA. The torch modules fitted beside them (noise,
        # base density, proposal) are saved the same way, with torch.save, so
        # that __setstate__ can load them with a map_location.
        state = super().__getstate__()
        # A density model's base_ (and the noise_ and proposal_ that are it)
        # is also net_.module_.base: pickled on both sides it was saved twice
        # and loaded as two copies (user test: a KDE base's 10 000 centres
        # made 1.2 of a 2.9 MB pickle, twice). Such attributes travel as their
        # path inside the net's module.
        parts = _module_parts(state)
        if parts:
            state = {key: value for key, value in state.items() if key not in parts}
            state[_NET_PARTS_KEY] = parts
        torch_state = {
            key: value
            for key, value in state.items()
            if isinstance(value, torch.Tensor | torch.nn.Module)
        }
        if torch_state:
            buffer = io.BytesIO()
            torch.save(torch_state, buffer)
            state = {key: value for key, value in state.items() if key not in torch_state}
            state[_TORCH_STATE_KEY] = buffer.getvalue()
        return state

    def __setstate__(self, state):
        blob = state.pop(_TORCH_STATE_KEY, None)
        if blob is not None:
            saved = state.get("device_")
            map_location = loadable_device(saved) if torch.cuda.is_available() else "cpu"
            if not isinstance(map_location, str):  # no device recorded: as saved
                map_location = None
            # weights_only=False: these are whole modules (noise, base), and
            # loading them trusts the file exactly as the pickle around them does.
            fitted = torch.load(io.BytesIO(blob), map_location=map_location, weights_only=False)
            state.update(fitted)
        parts = state.pop(_NET_PARTS_KEY, {})
        super().__setstate__(state)
        for key, path in parts.items():
            owner, _, inner = path.partition(".")
            setattr(self, key, getattr(self.net_, owner).get_submodule(inner))
        device = getattr(self, "device_", None)
        if isinstance(device, str) and device.startswith("cuda") and not torch.cuda.is_available():
            # skorch warned and loaded the nets on the CPU: say where the model is now.
            self.device_ = "cpu"
        elif isinstance(device, str):
            self.device_ = loadable_device(device)

    def _fit_critic(self, X, labels, objective, *, n_outputs=1, progress_label=None):
        """Train a fresh critic on (X, labels) with ``objective``; sets the fitted state.

        ``X`` is an array or a dict of aligned arrays (e.g. ``{"x", "y"}``);
        ``labels`` are sample labels used to stratify the batches and the
        validation split (or None). Returns the held-out ``(X, labels)`` the
        net was judged on, or None without early stopping.
        """
        self.device_ = resolve_device(self.device)
        self.net_, valid = self._train_net(
            X,
            labels,
            objective,
            self._fit_rng(),
            n_outputs=n_outputs,
            progress_label=progress_label,
        )
        self.history_ = self.net_.history
        self.n_iter_ = len(self.history_)
        self._set_resolved_settings(self.net_)
        return valid

    def _set_resolved_settings(self, net):
        """``lr_``, ``batch_size_``, ``max_epochs_``: what the settings (``"auto"`` too) became.

        Those of the optimiser's stage: a residual critic's linear part is
        first fitted in full batch by LBFGS.
        """
        self.lr_ = float(net.lr)
        self.batch_size_ = int(net.batch_size)
        self.max_epochs_ = int(net.max_epochs)

    def _shared_params(self, estimator_class, **overrides):
        """This estimator's parameters that ``estimator_class`` also takes, then ``overrides``.

        How an inner estimator is built (as sklearn's ``BaseBagging``
        forwards its parameters): by name, from the two classes' constraints.
        """
        own = self.get_params(deep=False)
        shared = own.keys() & estimator_class._parameter_constraints.keys()
        return {**{name: own[name] for name in sorted(shared)}, **overrides}

    def _fit_rng(self):
        """The ``RandomState`` of one fit, from ``random_state``.

        A warm start replays the first fit's stream: the same validation split
        and folds, so that a continued critic is never scored on rows it
        trained on. (An integer ``random_state`` replays by itself; None or a
        ``RandomState`` would draw new splits, so their first seed is kept.)
        """
        if isinstance(self.random_state, numbers.Integral):
            return check_random_state(self.random_state)
        if not (self.warm_start and self._previous_critics() and hasattr(self, "_fit_seed")):
            seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
            self._fit_seed = int(seed)
        return np.random.RandomState(self._fit_seed)

    def _train_net(
        self, X, labels, objective, rng, *, n_outputs=1, progress_label=None, critic_index=0
    ):
        """Train a critic; return its skorch net and the held-out split (no fitted state is set).

        The critic is fresh, or with ``warm_start`` the previous fit's critic
        number ``critic_index`` (see :meth:`_previous_critics`). A
        :class:`ResidualCritic` whose base is not fitted yet is trained in two
        stages on the same split: its base alone by LBFGS in full batch (L2
        penalty ``1 / (_BASE_STAGE_C n)`` on its weights), then (base frozen)
        the whole critic by ``optimizer``; the net returned is the second
        stage's. With held-out rows, a fitted base whose held-out loss is not
        below that of its starting state (for the linear base of
        ``NCEDensityRatio``, zero: a constant ratio) goes back to that state,
        where :meth:`_judges_base_against_start` says so.

        ``rng`` is the ``RandomState`` that ``fit`` resolved once from
        ``random_state``; every draw here (validation split, torch seed) comes
        from it, so that an estimator fitting several critics stays
        reproducible. ``self.device_`` must be resolved already. The split
        returned is the held-out ``(X, labels)`` (None without early stopping).
        """
        seed = int(rng.randint(np.iinfo(np.int32).max))
        earlier = self._continued_history(critic_index)
        train, valid = self._split(X, labels, rng)
        self._prepare_training(train[0], objective, rng)
        label = progress_label or self._progress_label()
        # Seed torch inside a forked RNG state: reproducible fits without
        # touching the user's global torch seed.
        with seeded_rng(seed, self.device_):
            critic = self._make_critic(train[0], n_outputs, critic_index)
            if isinstance(critic, ResidualCritic) and not critic.base_fitted:
                # Stage one: the base alone, in full batch, on the same split,
                # kept only where the held-out rows say it beats its start.
                start = copy.deepcopy(critic.base.state_dict())
                base_train = _base_stage_rows(train, rng)
                base_net = self._fit_stage(
                    critic.base,
                    objective,
                    base_train,
                    valid,
                    "lbfgs",
                    f"{label} (base)",
                    weight_decay=self._stage_weight_decay("lbfgs")
                    + _base_stage_penalty(n_rows(base_train[0])),
                )
                # The estimator's judgement (which may cross-validate) only
                # where the held-out rows prefer the start.
                loses = valid is not None and not _beats_start(base_net, start, valid)
                if loses and self._judges_base_against_start(train, valid):
                    critic.base.load_state_dict(start)
                critic.freeze_base()
            net = self._fit_stage(
                critic,
                objective,
                train,
                valid,
                self.optimizer,
                label,
                continued=earlier is not None,
            )
        if earlier is not None:
            net.history = continue_history(earlier, net.history)
        self._check_training(net, valid)
        self._critic_outputs = n_outputs  # what a warm start must match
        return net, valid

    def _judges_base_against_start(self, train, valid):
        """Whether a fitted residual base that loses to its start on held-out rows goes back.

        Yes here; an estimator that has other evidence for its base (the
        training rows ``train``, the held-out ``valid``) may say no (see
        ``_beats_start``).
        """
        del train, valid
        return True

    def _stage_weight_decay(self, optimizer):
        """The L2 penalty of a training stage by ``optimizer`` (``weight_decay`` resolved)."""
        del optimizer  # the same for every stage, unless an estimator resolves "auto"
        return self.weight_decay

    def _fit_stage(
        self,
        critic,
        objective,
        train,
        valid,
        optimizer,
        progress_label,
        weight_decay=None,
        continued=False,
    ):
        """Train ``critic`` by ``optimizer`` on the ``train`` rows; return the fitted net.

        ``weight_decay`` defaults to the estimator's; ``continued`` (a warm
        start) keeps the starting weights where no epoch beats them.
        """
        # Unlabelled batches are full-sized (drop_last) for in-batch negatives:
        # cap the batch at the number of rows so that one batch always exists.
        # LBFGS is a full-batch method: its line search needs the exact loss.
        n_train = n_rows(train[0])
        if optimizer == "lbfgs":
            batch_size = n_train
        else:
            batch_size = min(self._batch_size(n_train), n_train)
            _warn_if_clipped(self.batch_size, n_train, _default_of(type(self), "batch_size"))
        valid_batch_size = None if valid is None else min(batch_size, n_rows(valid[0]))
        net = build_net(
            critic,
            objective,
            max_epochs=self._max_epochs(n_train, batch_size, valid),
            batch_size=batch_size,
            valid_batch_size=valid_batch_size,
            lr=self._learning_rate(),
            optimizer=optimizer,
            weight_decay=self._stage_weight_decay(optimizer)
            if weight_decay is None
            else weight_decay,
            device=self.device_,
            verbose=self.verbose,
            valid_data=valid,
            n_iter_no_change=self._patience(n_train, batch_size),
            tol=self.tol,
            progress_label=progress_label,
            extra_callbacks=[*self._training_callbacks(), *_user_callbacks(self.callbacks)],
            continued=continued,
        )
        try:
            net.fit(*train)
        except BaseException:
            # A diverged fit raises past on_train_end: its bar would stay
            # open, and in a notebook push later bars down (review).
            close_progress_bars(net)
            raise
        warn_if_interrupted(net)
        default = _default_of(type(self), "max_epochs")
        _warn_if_capped(net, self.max_epochs, default, self.tol, self.early_stopping)
        return net

    def _patience(self, n_train, batch_size):
        """Epochs without improvement before early stopping: ``n_iter_no_change`` here."""
        del n_train, batch_size
        return self.n_iter_no_change

    def _progress_label(self):
        """What the progress bar (``verbose=1``) calls a training: the class name here."""
        return type(self).__name__

    def _learning_rate(self):
        """``lr`` (estimators with an "auto" learning rate override this)."""
        return self.lr

    def _batch_size(self, n_train):
        """``batch_size``, or with "auto" about 100 steps per epoch, within 256..4096 rows.

        Small data keep 256-row batches; on large data a fixed 256 would make
        an epoch thousands of steps, each paying the per-step overhead of a
        small network. (The density models default to a fixed 256 and take
        "auto" when asked; InfoNCEAnchorMI's "auto" is its own, since its
        batch is part of the statistic: each pair's candidates.)
        """
        if self.batch_size != "auto":
            return self.batch_size
        return int(min(_AUTO_MAX_BATCH, max(_AUTO_MIN_BATCH, n_train // 100)))

    def _max_epochs(self, n_train, batch_size, valid=None):
        """``max_epochs``, or with "auto" the epochs that make ``_auto_optimizer_steps`` steps.

        A budget of steps rather than passes: a small data set then gets as
        many updates as a large one instead of a fraction of them, up to
        ``_auto_max_passes`` passes and at least ``_auto_min_passes`` (within
        ``_auto_max_floor_steps`` steps) where an estimator sets them.
        """
        del valid  # what held-out rows there are: a subclass may read it
        if self.max_epochs != "auto":
            return self.max_epochs
        steps_per_epoch = self._steps_per_epoch(n_train, batch_size)
        epochs = max(1, math.ceil(self._auto_optimizer_steps / steps_per_epoch))
        if self._auto_min_passes is not None:
            floor = self._auto_min_passes
            if self._auto_max_floor_steps is not None:
                floor = min(floor, max(1, self._auto_max_floor_steps // steps_per_epoch))
            epochs = max(epochs, floor)
        return epochs if self._auto_max_passes is None else min(epochs, self._auto_max_passes)

    def _steps_per_epoch(self, n_train, batch_size):
        """Optimiser steps in an epoch: its batches, or LBFGS's iterations on its one batch."""
        if self.optimizer == "lbfgs":
            return LBFGS_ITERATIONS_PER_EPOCH
        return max(1, n_train // batch_size)

    def _uses_early_stopping(self, n_samples):
        """Whether a fit on ``n_samples`` rows holds some out for early stopping."""
        return self.early_stopping is True or (
            self.early_stopping == "auto" and n_samples >= self._auto_early_stopping_min_rows
        )

    def _n_held_out(self, n_total):
        """Rows that early stopping holds out of ``n_total``: rounded up, as ``train_test_split``.

        Rounded to nearest, 7 + 7 rows at 0.1 were refused as too few
        though the split would hold out 2, one per class (a review).
        """
        return math.ceil(self.validation_fraction * n_total)

    def _can_hold_out(self, n_total, n_classes=1):
        """Whether a split of ``n_total`` rows can validate and train.

        The rows held out suffice to validate on (``_min_validation_rows``,
        one per class) and leave ``_MIN_TRAINING_ROWS`` to train on.
        """
        n_held = self._n_held_out(n_total)
        return (
            n_held >= max(n_classes, self._min_validation_rows)
            and n_total - n_held >= _MIN_TRAINING_ROWS
        )

    def _split(self, X, labels, rng):
        """Hold out ``validation_fraction`` (stratified by label) when early stopping is on.

        Rows in one of ``_split_groups``'s groups stay on one side.
        """
        if not self._uses_early_stopping(n_rows(X)):
            return (X, labels), None
        n_total = n_rows(X)
        n_classes = 1 if labels is None else len(np.unique(labels))
        n_held = self._n_held_out(n_total)
        self._check_rows_left(n_total, n_total - n_held)
        if not self._can_hold_out(n_total, n_classes):
            raise ValueError(
                # Named as set: under "auto" the message said True (review).
                f"early_stopping={self.early_stopping!r} holds out "
                f"validation_fraction={self.validation_fraction} "
                f"of {n_total} rows, too few to validate on; use more rows, a larger "
                "validation_fraction, or early_stopping=False."
            )
        groups = self._split_groups(X, labels, n_held)
        if groups is None:
            train_idx, valid_idx = train_test_split(
                np.arange(n_total),
                test_size=self.validation_fraction,
                stratify=labels,
                random_state=rng,
            )
            if labels is not None:
                train_idx, valid_idx = _every_class_held_out(labels, train_idx, valid_idx, rng)
        else:
            held = _grouped_stratified_hold_out(groups, labels, n_held, rng)
            # Shuffled as train_test_split's are: validation batches are full
            # ones, so in stored order the last rows would never be judged.
            train_idx, valid_idx = np.flatnonzero(~held), rng.permutation(np.flatnonzero(held))
        # Whole groups (or a row moved per class) may hold out more than asked.
        self._check_rows_left(n_total, len(train_idx))
        if labels is None:
            return (take_rows(X, train_idx), None), (take_rows(X, valid_idx), None)
        return (
            (take_rows(X, train_idx), labels[train_idx]),
            (take_rows(X, valid_idx), labels[valid_idx]),
        )

    def _check_rows_left(self, n_total, n_left):
        """Refuse a split leaving fewer than ``_MIN_TRAINING_ROWS`` of ``n_total`` to train on."""
        if n_left < _MIN_TRAINING_ROWS:
            raise ValueError(
                f"early_stopping={self.early_stopping!r} holds out "
                f"validation_fraction={self.validation_fraction} of {n_total} rows, leaving "
                f"{n_left} to train on (at least {_MIN_TRAINING_ROWS}); use a smaller "
                "validation_fraction, more rows, or early_stopping=False."
            )

    def _split_groups(self, X, labels, n_held):
        """Hook: groups whose rows ``_split`` holds out together (None: rows one by one).

        ``n_held`` is the number of rows to hold out.
        """
        del X, labels, n_held
        return None

    def _check_training(self, net, valid):
        """Hook: judge a trained net on the held-out rows ``valid`` (None without early stopping).

        Called once per trained critic; may set diagnostics and warn. A no-op here.
        """

    def _training_callbacks(self):
        """Hook: extra ``(name, skorch callback)`` pairs for the net (none here)."""
        return []

    def _prepare_training(self, X_train, objective, rng):
        """Hook: fit data-dependent parts (noise, base density) on the training rows only.

        Called after the validation split and before the critic is built, so
        that nothing fitted here has seen a validation row. A no-op here.
        """

    def _make_critic(self, X, n_outputs, critic_index=0):
        if self.warm_start:
            previous = self._previous_critics()
            if critic_index < len(previous):
                previous_outputs = getattr(self, "_critic_outputs", n_outputs)
                if previous_outputs != n_outputs:
                    raise ValueError(
                        f"warm_start=True continues a critic with {previous_outputs} "
                        f"output(s), but this fit needs {n_outputs} (was telescoping_steps "
                        "changed?). Set warm_start=False to start afresh."
                    )
                if critic_index == 0:
                    self._warn_if_critic_settings_changed()
                # A copy: a fit that fails must leave the fitted model as it was.
                return copy.deepcopy(previous[critic_index])
        # What a warm start compares with (a warm fit that builds further
        # critics beside those it continues records the last of them: alike).
        self._built_with = self._critic_recipe()
        if self.critic is not None:
            # Never train the user's module in place: fit must not change params.
            # float32, as the inputs are, whatever the user's default dtype.
            critic = copy.deepcopy(self.critic).float()
            if not any(p.requires_grad for p in critic.parameters()):
                raise ValueError(
                    f"critic={type(self.critic).__name__}(...) has no trainable parameters, so "
                    "there is nothing to fit (the optimiser refused an empty parameter list)."
                )
            self._probe_critic(critic, X)
            return critic
        return self._default_critic(X, n_outputs)

    def _probe_critic(self, critic, X):
        """Call a user's critic once on two rows of the inputs it will get.

        A critic built for the user's raw columns failed deep in training with
        torch's "mat1 and mat2 shapes cannot be multiplied", which does not
        say that the critic sees standardised columns, constant ones dropped
        in the density models (user test).
        """
        width = X.shape[1]
        _call_critic(
            critic,
            lambda probe, zeros: probe(zeros(width)),
            f"critic(x) with x of shape (2, {width})",
            f"The critic gets X standardised (each column scaled to mean 0 and standard "
            f"deviation 1 on the training rows; the density models drop the columns that are "
            f"constant there), {width} column(s) here, as float32.",
        )

    def _previous_nets(self):
        """The fitted nets a warm start continues, in training order (none before a fit)."""
        net = getattr(self, "net_", None)
        return [] if net is None else [net]

    def _previous_critics(self):
        """The critics of :meth:`_previous_nets`."""
        return [net.module_ for net in self._previous_nets()]

    def _continued_history(self, critic_index):
        """The history a warm start continues for critic ``critic_index`` (None: a fresh one).

        As ``MLPClassifier``'s ``loss_curve_`` and ``n_iter_`` run on over
        warm fits, and a skorch net's ``history`` over repeated ``fit`` calls
        with its own ``warm_start``.
        """
        previous = self._previous_nets() if self.warm_start else []
        return previous[critic_index].history if critic_index < len(previous) else None

    def _validate_params(self):
        # sklearn's parameter check (run by fit), then what its constraints
        # leave open: hidden_layer_sizes' entries, before any work (a density
        # model otherwise fitted its base first).
        super()._validate_params()
        self._hidden_widths()
        _check_callbacks(self.callbacks)

    def _hidden_widths(self):
        """``hidden_layer_sizes`` as a tuple of ints (an int is one layer, as in MLPClassifier)."""
        sizes = self.hidden_layer_sizes
        widths = (sizes,) if isinstance(sizes, Integral) else tuple(sizes)
        # As MLPClassifier checks the entries that its array-like constraint
        # leaves open: (0,) built an empty layer (a constant critic, with only
        # torch's warning) and (2.5,) a layer of 2.
        if not all(isinstance(w, Integral) and not isinstance(w, bool) and w > 0 for w in widths):
            raise ValueError(
                f"hidden_layer_sizes must hold positive integers, got {self.hidden_layer_sizes}."
            )
        return tuple(int(w) for w in widths)

    def _default_critic(self, X, n_outputs):
        """The critic built when ``critic=None``; estimators with other inputs override it."""
        return MLPCritic(
            X.shape[1],
            n_outputs,
            hidden_features=self._hidden_widths(),
            activation=ACTIVATIONS[self.activation],
        )

    def _critic_recipe(self):
        """What a fresh critic is built from: the user's module, or the settings that shape it.

        Normalised, so that equal critics compare equal (widths ``16`` and
        ``[16]``); a subclass adds its own settings.
        """
        if self.critic is not None:
            return {"critic": self.critic}
        return {"hidden_layer_sizes": self._hidden_widths(), "activation": self.activation}

    def _warn_if_critic_settings_changed(self):
        """Warn where a warm start keeps a critic built from settings changed since.

        A critic of another width passed by ``set_params`` was silently not
        used, the fit continuing the old one (user test).
        """
        built_with = getattr(self, "_built_with", None)  # None in pickles of older versions
        if built_with is None:
            return
        now = self._critic_recipe()
        if ("critic" in now) != ("critic" in built_with):
            changed = ["critic"]  # a user's module given or taken away
        else:
            # Settings in one recipe only follow from those both hold (a
            # quadratic critic has no widths, a joint one no embedding).
            changed = [
                name
                for name in built_with
                if name in now and not _same_setting(now[name], built_with[name])
            ]
        if changed:
            names, verbs = (
                (changed[0], "is")
                if len(changed) == 1
                else (", ".join(changed[:-1]) + " and " + changed[-1], "are")
            )
            warnings.warn(
                f"warm_start=True continues the fitted critic, so {names}, changed since it "
                f"was built, {verbs} not used. Set warm_start=False to build a critic from "
                "the new settings.",
                UserWarning,
                stacklevel=stacklevel_to_user(),
            )

    def _inference_module(self):
        """The fitted critic and the device to feed it; estimators with several critics override.

        ``net_.device``, not ``device_``: skorch maps a CUDA net unpickled on a
        machine without CUDA to the CPU.
        """
        check_is_fitted(self, "net_")
        return self.net_.module_, self.net_.device

    def _apply_critic(self, function, *arrays):
        """``function(critic, *batches)`` of the fitted critic over row batches, as float64."""
        return apply_critic(*self._inference_module(), function, *arrays)


def _same_setting(value, built_with):
    """Whether a critic setting is what the fitted critic was built with.

    A module must be the very object (it is deep-copied at fit); other
    settings compare as values (recipes hold widths as tuples).
    """
    if isinstance(value, torch.nn.Module) or isinstance(built_with, torch.nn.Module):
        return value is built_with
    return value == built_with


def _base_stage_rows(train, rng):
    """The rows the base stage fits on: all, or ``_BASE_STAGE_MAX_ROWS`` of them by class.

    A linear base has a few hundred parameters, and each LBFGS evaluation
    reads every row (times the waymarks of a telescoping fit): on 200 000
    rows a bridged chasm spent 40 s on its first LBFGS step and 13.5 s on
    each after (user test, d = 10, 12 steps; 360 s in all).
    """
    X, labels = train
    n_train = n_rows(X)
    if n_train <= _BASE_STAGE_MAX_ROWS:
        return train
    if labels is None:
        keep = rng.choice(n_train, _BASE_STAGE_MAX_ROWS, replace=False)
    else:
        # Each class its share, at least one row: train_test_split's
        # stratify refused 20 001 rows of two classes (one row left over).
        share = _BASE_STAGE_MAX_ROWS / n_train
        keep = np.concatenate(
            [
                rng.permutation(members)[: max(1, round(share * len(members)))]
                for members in (np.flatnonzero(labels == c) for c in np.unique(labels))
            ]
        )
    return take_rows(X, keep), (None if labels is None else labels[keep])


def _grouped_stratified_hold_out(groups, labels, n_held, rng):
    """A mask of about ``n_held`` rows in whole ``groups``, each class its share (at least one).

    Without ``labels``, :func:`grouped_hold_out`. A class that whole groups
    would hold out entirely (a single row repeated) is held out row by row:
    its sample must stay among the training rows.
    """
    if labels is None:
        return grouped_hold_out(groups, n_held, rng)
    held = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        share = max(1, round(n_held * len(rows) / len(labels)))
        held[rows] = grouped_hold_out(groups[rows], share, rng)
        if held[rows].all():  # one draw, or groups that overshot: row by row
            held[rows] = grouped_hold_out(np.arange(len(rows)), share, rng)
    return held


def _every_class_held_out(labels, train_idx, valid_idx, rng):
    """Move one row of each class the held-out rows lack from ``train_idx`` to ``valid_idx``.

    A stratified split rounds a small class's share down to none (4 rows of
    40 at 0.1), and its held-out loss then judged one sample alone; with
    telescoping, drawing the missing sample's pairs raised a torch error.
    """
    missing = np.setdiff1d(np.unique(labels), labels[valid_idx])
    for label in missing:
        # A stratified split refuses a class of one row: two or more are here.
        moved = rng.choice(train_idx[labels[train_idx] == label])
        train_idx, valid_idx = train_idx[train_idx != moved], np.append(valid_idx, moved)
    return train_idx, valid_idx


def _base_stage_penalty(n_train):
    """L2 penalty of a residual critic's first stage on ``n_train`` rows (see _BASE_STAGE_C)."""
    return 1.0 / (_BASE_STAGE_C * n_train)


def _beats_start(net, start, valid):
    """Whether the net's fitted module has a lower held-out loss than in the state ``start``.

    Both losses come from the net's criterion in eval mode on all the held-out
    rows ``valid = (X, labels)`` at once, so that any draws it makes are the
    same for both. The first stage of a residual critic is a lightly
    penalised full-batch fit (``_BASE_STAGE_C``): on a wine sample split at
    random into two (89 rows each, 13 features, true log ratio 0) its linear
    log ratios had a standard deviation of 0.63 nats over 10 splits; reset
    where they lost to zero (every split), 0.04. Of 60 fits on shifted pairs
    (mean shifts, Student-t and a mixture, d = 2 or 5, 100 to 1000 rows per
    sample, 5 seeds) none was reset; at 50 rows per sample 4 of 20 were,
    where 10 held-out rows judge, and read worse (mean shift d = 2: MSE 0.51
    against 0.39 over 5 seeds).
    """
    module, criterion = net.module_, net.criterion_
    X = _to_device(_as_tensors(valid[0]), net.device)  # float32 rows (and weights)
    labels = None if valid[1] is None else torch.as_tensor(valid[1], device=net.device)
    fitted = copy.deepcopy(module.state_dict())
    was_training = criterion.training
    criterion.eval()
    try:
        with torch.no_grad():
            fitted_loss = float(criterion(module, X, labels))
            module.load_state_dict(start)
            start_loss = float(criterion(module, X, labels))
    finally:
        module.load_state_dict(fitted)
        criterion.train(was_training)
    return fitted_loss < start_loss


def _warn_if_clipped(requested, n_train, default):
    """Warn where a ``batch_size`` the user set exceeds a critic's training rows.

    The batch is cut to the rows, as MLPClassifier does (and warns); where it
    is the candidate set (InfoNCEAnchorMI), it also sets ``nu="auto"`` and the
    InfoNCE cap ``log(batch_size)``, so the user should know. The default
    (256 rows for the density models) is cut silently on small data, as
    MLPClassifier's ``min(200, n_samples)``.
    """
    if requested not in ("auto", default) and requested > n_train:
        # One text for every critic of a fit (folds differ by a row), so the
        # warning shows once; batch_size_ says what it was cut to.
        warnings.warn(
            f"batch_size={requested} is larger than the rows a critic trains on; each batch "
            "is clipped to them (batch_size_ holds the size used).",
            SmallSampleWarning,
            stacklevel=stacklevel_to_user(),
        )


def _warn_if_capped(net, requested, default, tol, early_stopping):
    """Warn where a ``max_epochs`` the user set ended a fit whose loss was still falling.

    As ``MLPClassifier`` warns at ``max_iter``: ``NCEDensityRatio(max_epochs=3)``
    on a 3-d mean shift read a log-ratio MSE of 4.38 (0.25 at the default), in
    silence (user test). Only where the user's number was the cap (not the
    default or ``"auto"``, budgets the package chose, nor the one epoch it
    runs on data too small to train a network) and the last epoch's loss
    beat every earlier one by more than ``tol``: without the margin, losses
    that had levelled off (last gains of 7e-6 to 1.8e-4) warned in 6 of 8
    fits (a review). The loss is the held-out one where rows were held out,
    the training one only where the user turned early stopping off (on too
    few rows to hold any out, a falling training loss is overfitting, which
    a SmallSampleWarning already says).
    """
    if requested in ("auto", default) or requested != net.max_epochs or stopped_early(net):
        return
    if len(net.history) < net.max_epochs:
        return
    monitor = "valid_loss" if "valid_loss" in net.history[-1] else "train_loss"
    if monitor == "train_loss" and early_stopping is not False:
        return
    losses = net.history[:, monitor]
    if len(losses) > 1 and not losses[-1] < min(losses[:-1]) - tol:
        return
    loss = "held-out" if monitor == "valid_loss" else "training"
    warnings.warn(
        f"max_epochs={requested} ended the fit while the {loss} loss was still falling (by "
        f"more than tol={tol:g} at the last epoch): the critic may be under-trained. Raise "
        "max_epochs.",
        ConvergenceWarning,
        stacklevel=stacklevel_to_user(),
    )


def _default_of(estimator_class, name):
    """The default of ``__init__`` parameter ``name`` of ``estimator_class``."""
    parameter = inspect.signature(estimator_class.__init__).parameters.get(name)
    return None if parameter is None else parameter.default


def _user_callbacks(callbacks):
    """The user's skorch callbacks for one net: a copy each, or the objects themselves.

    A copy per net keeps a fit with several critics (MI's folds) from sharing
    one callback's state. Callbacks that cannot be copied (loggers holding a
    lock, a file or a run handle) are passed as they are, each on its own.
    """
    callbacks = list(callbacks or [])
    for entry in callbacks:
        _check_scoring_callback(entry[1] if isinstance(entry, tuple) else entry)
    return [_own_copy(entry) for entry in callbacks]


def _own_copy(entry):
    """One callback (or ``(name, callback)``) for one net: a copy, or itself if none can be made.

    A scoring callback's copy runs uncached: a scorer's ``net.predict`` must
    run the critic, and the cache would replay the steps' outputs, which are
    batch losses ("zero-dimensional arrays cannot be concatenated").
    """
    name, callback = entry if isinstance(entry, tuple) else (None, entry)
    scoring = isinstance(callback, (EpochScoring, BatchScoring))
    try:
        callback = copy.deepcopy(callback)
    except Exception:  # noqa: BLE001 (any copy failure: share, or copy shallowly)
        if not scoring:
            return entry
        callback = copy.copy(callback)  # never set the user's own object
    if scoring:
        callback.use_caching = False
    return callback if name is None else (name, callback)


def _check_callbacks(callbacks):
    """Refuse ``callbacks`` entries that are not skorch callbacks (or ``(name, callback)``).

    skorch raised an AttributeError from inside its net for ``callbacks=[1]``.
    """
    for entry in callbacks or []:
        named = isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str)
        callback = entry[1] if named else entry
        is_callback = isinstance(callback, Callback) or (
            isinstance(callback, type) and issubclass(callback, Callback)
        )
        if not is_callback:
            raise TypeError(
                "callbacks must hold skorch callbacks (skorch.callbacks.Callback instances) or "
                f"(name, callback) pairs, got {entry!r}."
            )


def _check_scoring_callback(callback):
    """Refuse a skorch scoring callback that would apply a scikit-learn scorer to the inner net.

    The net's predictions are the critic's raw outputs on the estimator's
    internal inputs (dicts of arrays, data and noise rows), not the
    estimator's: skorch's ``EpochScoring("neg_log_loss")`` failed deep inside
    ``predict_proba`` ("zero-dimensional arrays cannot be concatenated").
    A callable ``scoring(net, X, y)`` is the user's own and passes.
    """
    if not isinstance(callback, (EpochScoring, BatchScoring)):
        return
    scoring = callback.scoring
    # get_scorer / make_scorer objects and metric functions are callable too,
    # and fail the same way: anything scikit-learn defines is refused.
    modules = [getattr(owner, "__module__", None) or "" for owner in (scoring, type(scoring))]
    from_sklearn = any(str(module).startswith("sklearn.") for module in modules)
    if not callable(scoring) or from_sklearn:
        raise ValueError(
            f"{type(callback).__name__}(scoring={scoring!r}) scores the inner skorch "
            "net, whose predictions are the critic's raw outputs on the estimator's internal "
            "inputs, not the estimator's: a scikit-learn scorer does not apply there. The "
            "training and held-out losses are recorded in history_ ('train_loss', "
            "'valid_loss'); to score the estimator, use cross_val_score or GridSearchCV on "
            "it, or give the callback a callable scoring(net, X, y)."
        )


def apply_critic(critic, device, function, *arrays):
    """``function(critic, *batches)`` over float32 row batches, as one float64 array.

    ``function`` returns one output row per input row. Each batch's output is
    copied into an array allocated once, so that nothing small stays alive
    between the large batches: kept in a list, the outputs pinned heap the
    batches had freed (a first pass over 50 000 rows grew the process by 3 to
    14 MB that way, by 3 to 5 MB this way).
    """
    n_total = len(arrays[0])
    result = None
    start = 0
    for output in iter_critic(critic, device, function, *arrays):
        if result is None:
            result = np.empty((n_total, *output.shape[1:]))
        result[start : start + len(output)] = output.numpy()
        start += len(output)
    return np.empty(0) if result is None else result


def iter_critic(critic, device, function, *arrays, batch_size=None, drop_last=False):
    """Yield ``function(critic, *batches)`` (on the CPU) for consecutive float32 row batches.

    ``batch_size`` defaults to a large inference batch that only bounds
    memory; with ``drop_last=True`` a final short batch is skipped (for
    in-batch scores, where the batch size is part of the statistic).
    """
    critic.eval()
    batch_size = batch_size or _PREDICT_BATCH_SIZE
    n_total = len(arrays[0])
    stop = n_total - batch_size + 1 if drop_last else n_total
    # Call the critic directly rather than net_.forward: skorch's DataLoader
    # draws a seed from torch's global RNG, and predicting must not change it.
    # no_grad per batch, not around the yield: the caller's code between
    # batches keeps its own grad mode.
    for start in range(0, max(stop, 0), batch_size):
        batches = [as_tensor(array[start : start + batch_size]).to(device) for array in arrays]
        with torch.no_grad():
            output = function(critic, *batches)
        yield output.cpu()


def _module_parts(state):
    """``{attribute: "module_.path"}`` of the fitted modules in ``state`` that net_ holds.

    Its module and its criterion (an objective holds its noise: with
    ``base=None`` the energy model's ``noise_`` is ``net_.criterion_.noise``).
    """
    net = state.get("net_")
    paths = {}
    for owner in ("criterion_", "module_"):  # the module's paths win
        module = getattr(net, owner, None)
        if isinstance(module, torch.nn.Module):
            for path, part in module.named_modules():
                paths[id(part)] = f"{owner}.{path}"
    return {
        key: paths[id(value)]
        for key, value in state.items()
        if isinstance(value, torch.nn.Module) and id(value) in paths
    }


def _call_critic(critic, call, description, inputs_note):
    """``call(probe, zeros)`` on a copy of a user's critic; its output, or a clear error.

    ``zeros(width)`` makes two rows on the critic's device. The copy runs in
    eval mode under its own RNG state, so that the critic that trains keeps no
    trace of the probe: a first-call initialisation (an ActNorm layer) fitted
    to the probe's zeros read log ratios of 1e5, and a critic that draws in
    forward moved the fit's seeded draws (review). A critic with lazy layers
    is probed itself, as the probe is what gives them their shapes.
    """
    device = module_device(critic)
    lazy = any(
        isinstance(module, torch.nn.modules.lazy.LazyModuleMixin)
        and module.has_uninitialized_params()
        for module in critic.modules()
    )
    probe = critic if lazy else copy.deepcopy(critic)

    def zeros(width):
        return torch.zeros(2, width, dtype=torch.float32, device=device)

    was_training = probe.training
    probe.eval()
    try:
        with forked_rng(device):
            with torch.no_grad():
                out = call(probe, zeros)
    except Exception as error:  # any failure: torch's message names no estimator input
        raise ValueError(
            f"{description} raised {type(error).__name__}: {error}. {inputs_note}"
        ) from error
    finally:
        probe.train(was_training)
    if not isinstance(out, torch.Tensor) or out.shape[:1] != (2,):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"{description} returned {shape}; it must return a tensor with one row per input row."
        )
    return out
