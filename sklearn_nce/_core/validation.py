"""Input checks shared by every estimator; the one place importing sklearn's private helpers.

scikit-learn keeps ``Interval``, ``StrOptions`` and ``_fit_context`` in private modules.
Importing them here only means a change in scikit-learn is a one-line fix.
"""

import contextlib
import functools
import os
import re
import signal
import sys
import threading
import types
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse
import torch
from sklearn import get_config
from sklearn.base import _fit_context as _sklearn_fit_context
from sklearn.utils import _safe_indexing as safe_indexing
from sklearn.utils._param_validation import HasMethods as _HasMethods
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _check_sample_weight as check_sample_weight
from sklearn.utils.validation import (
    _num_features,
    _num_samples,
    assert_all_finite,
    check_array,
    check_is_fitted,
    validate_data,
)
from threadpoolctl import ThreadpoolController, threadpool_limits

from ..exceptions import SmallSampleWarning, UnreliableEstimateWarning

__all__ = [
    "CHECK_PREPROCESSING",
    "EXTRAPOLATION_ADVICE",
    "HasMethods",
    "Integral",
    "Interval",
    "MIN_SAMPLES",
    "Real",
    "StrOptions",
    "_fit_context",
    "torch_threads",
    "available_if",
    "check_binary_target",
    "check_features",
    "check_feature_scale",
    "check_is_fitted",
    "check_feature_layout",
    "non_numeric_columns",
    "non_numeric_positions",
    "off_constant_values",
    "check_not_constant",
    "check_sample_weight",
    "check_warm_start_features",
    "FeatureStandardiser",
    "explained_conversion_errors",
    "hold_constant_columns",
    "n_rows_of",
    "safe_indexing",
    "stacklevel_to_user",
    "middle_spread",
    "standard_rows",
    "validate_X",
    "validate_X_y",
    "validate_params",
    "training_bounds",
    "warn_if_far_outside",
    "warn_if_few_rows",
]


class HasMethods(_HasMethods):
    """scikit-learn's ``HasMethods``, which a class does not satisfy: its instances do.

    ``critic=nn.Linear`` (the class) passed the check, then failed deep in
    ``fit`` with torch's "missing 1 required positional argument: 'self'"
    (user test). scikit-learn's message then reads "must be an object
    implementing 'forward' ... Got <class '...Linear'> instead".
    """

    def is_satisfied_by(self, val):
        return not isinstance(val, type) and super().is_satisfied_by(val)


# Torch intra-op threads during a fit (restored after). The default critics
# are small (a (64, 64) MLP on 256-row batches): one thread is as fast as
# several on an idle machine (per-epoch parity with MLPClassifier was
# measured with one), and on a busy one more threads spin. InfoNCEAnchorMI(cv=2)
# on 2000 sine pairs, 2-core machine: idle 5.0 s with torch's default of two
# threads, 5.5-6.1 s with one; beside two busy processes 21 s with two,
# 8.9-11.5 s with one (an earlier measurement of the same fit: 197 s / 14.4 s).
FIT_THREADS = 1


def _fit_context(*, prefer_skip_nested_validation):
    """scikit-learn's ``_fit_context``, with torch, BLAS and OpenMP on ``FIT_THREADS`` threads."""
    validate = _sklearn_fit_context(prefer_skip_nested_validation=prefer_skip_nested_validation)

    def decorator(fit_method):
        validated = validate(fit_method)

        @functools.wraps(fit_method)
        def wrapper(*args, **kwargs):
            # BLAS and OpenMP too (numpy, scipy and sklearn's EM and k-means
            # in the base search): left at one per core they spun as torch's
            # threads did. NoisierNCEClassifier() on breast cancer beside two
            # busy processes (2 cores): 17.7-23.1 s, 12.1-14.5 s with one
            # BLAS thread (7.5 s idle).
            # Gradients even inside a caller's inference_mode (thread-local).
            with (
                fitted_state_kept_on_error(args[0]),
                shared_state_restored(),
                torch_threads(FIT_THREADS),
                threadpool_limits(limits=FIT_THREADS),
                torch.inference_mode(False),
                noting_ctrl_c(),
            ):
                return validated(*args, **kwargs)

        return wrapper

    return decorator


@contextlib.contextmanager
def fitted_state_kept_on_error(estimator):
    """Leave the estimator's attributes as they were before a fit that raises.

    A fit sets its fitted attributes one part at a time: a warm fit that
    failed in training had already replaced the standardiser, the base
    density and the importance proposal, beside the previous critic, and
    ``score_samples`` then mixed the two fits (a review). Attributes are
    restored by reference (fits build new objects; a continued critic is
    trained as a copy).
    """
    before = dict(estimator.__dict__)
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(before)
        raise


# Fits running now in this process, by thread, and what the first one found.
_shared_state_lock = threading.Lock()
_shared_state = {"fits": {}}


def _forget_shared_state():
    # A forked child runs none of its parent's fits, and a lock another thread
    # held at the fork would stay held there (review).
    global _shared_state_lock
    _shared_state_lock = threading.Lock()
    _shared_state.clear()
    _shared_state["fits"] = {}


os.register_at_fork(after_in_child=_forget_shared_state)


@contextlib.contextmanager
def shared_state_restored():
    """Leave the process-wide state that overlapping fits change as the first of them found it.

    Each fit limits the BLAS threads (global to the process, unlike torch's
    and OpenMP's per-thread counts, which each fit restores itself) and
    seeds torch's global random generator inside ``fork_rng``. Fits that
    overlap in threads (joblib's threading backend, a threaded grid search)
    each saved what the other had set and restored it after the other had
    restored the original: a user test left OpenBLAS on one thread for the
    rest of the process in 10 of 10 runs, and the user's torch random
    stream replaced. So the first fit to start saves both, and the last to
    end restores them. The random state only where fits did overlap: alone,
    a fit leaves it as ``fork_rng`` does, and draws a user's own code makes
    during the fit (a base of theirs) stand (review).
    """
    thread = threading.get_ident()
    with _shared_state_lock:
        fits = _shared_state["fits"]
        if not fits:
            # BLAS alone (records, sets nothing; threadpool_limits' own
            # user_api still restores every library): OpenMP's count is per
            # thread, and in a thread whose first torch call is this fit it
            # was read before torch had set it, then put back over the count
            # torch restores (a user test: such a thread ran on 1 thread for good).
            blas = ThreadpoolController().select(user_api="blas")
            _shared_state["limits"] = blas.limit(limits=None)
            _shared_state["rng"] = _random_states()
            _shared_state["overlapped"] = False
        elif thread not in fits:
            # Another thread's fit is running: an overlap. (A fit nested in
            # this thread's, e.g. inside a user's base, is not one; review.)
            _shared_state["overlapped"] = True
        fits[thread] = fits.get(thread, 0) + 1
    try:
        yield
    finally:
        with _shared_state_lock:
            fits[thread] -= 1
            if not fits[thread]:
                del fits[thread]
            if not fits:
                _shared_state.pop("limits").restore_original_limits()
                states = _shared_state.pop("rng")
                if _shared_state.pop("overlapped"):
                    _set_random_states(states)


def _random_states():
    """torch's global CPU random state, and each CUDA device's where CUDA is initialised."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    return torch.get_rng_state(), cuda


def _set_random_states(states):
    cpu, cuda = states
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


# The Ctrl-C (SIGINT) deliveries noted during the running fit of this thread.
_ctrl_c = threading.local()


@contextlib.contextmanager
def noting_ctrl_c():
    """Note each Ctrl-C (SIGINT) that interrupts while the block runs, passed on as before.

    skorch ends a training stage on the ``KeyboardInterrupt`` that Ctrl-C
    raises and returns normally (its early stopping stops that way too), so
    a fit of several stages went on with the next one: a user's Ctrl-C (a
    notebook's interrupt) stopped one fold of five, or the first classifier
    of a bridged chasm, and the fit ran on to the end under a warning that
    the weights were those of the interruption. With the deliveries noted,
    ``raise_if_ctrl_c`` ends the whole fit after the stage. Signals reach
    only the main thread; elsewhere, or under a handler that is not
    Python's (ignored, or the process default), nothing changes.
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield
        return
    received = []

    def note_and_pass_on(signum, frame):
        # Noted only when it interrupts: a caller's handler that does not
        # raise (a graceful-shutdown flag) keeps its meaning (review).
        try:
            previous(signum, frame)
        except KeyboardInterrupt:
            received.append(signum)
            raise

    outer = getattr(_ctrl_c, "received", None)
    _ctrl_c.received = received
    signal.signal(signal.SIGINT, note_and_pass_on)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _ctrl_c.received = outer


def raise_if_ctrl_c():
    """End the fit with ``KeyboardInterrupt`` if Ctrl-C was pressed during it."""
    if getattr(_ctrl_c, "received", None):
        raise KeyboardInterrupt(
            "fit was interrupted (Ctrl-C) and abandoned; fit again before using the estimator."
        )


@contextlib.contextmanager
def torch_threads(n_threads):
    """Run the block with ``n_threads`` torch intra-op threads, then restore the count.

    Only the calling thread's count changes. ``torch.set_num_threads`` also
    sets the count every thread takes at its first torch call, so a server's
    worker threads started during a fit in another thread kept 1 thread for
    good, and a fit in a thread older than the user's ``set_num_threads(n)``
    wrote its own count back over ``n`` for later threads (a user test). With
    OpenMP each thread keeps its own count, and that default is put back as
    it was, from a short-lived thread (the only place torch sets it alone).
    """
    previous = torch.get_num_threads()
    if n_threads == previous:
        yield
        return
    _set_own_threads(n_threads)
    try:
        yield
    finally:
        _set_own_threads(previous)


def _set_own_threads(n_threads):
    """Set the calling thread's torch thread count, leaving the one new threads take.

    The default is read again each time (the user may have set it meanwhile),
    under a lock, so that fits entering or leaving in two threads at once do
    not read each other's passing value.
    """
    if not _per_thread_counts():
        torch.set_num_threads(n_threads)
        return
    with _shared_state_lock:
        default = _threads_of_a_new_thread()
        torch.set_num_threads(n_threads)
        # Set from a new thread, the default that new threads take is put back
        # and the calling thread's count is left (OpenMP backend).
        _in_a_new_thread(torch.set_num_threads, default)


@functools.cache
def _per_thread_counts():
    """Whether torch's intra-op pool is OpenMP's, whose thread counts are per thread."""
    return "parallel backend: OpenMP" in torch.__config__.parallel_info()


def _threads_of_a_new_thread():
    """The intra-op thread count a thread takes at its first torch call."""
    return _in_a_new_thread(torch.get_num_threads)


def _in_a_new_thread(function, *args):
    """``function(*args)`` run in a short-lived thread: torch keeps thread counts per thread."""
    results = []
    thread = threading.Thread(target=lambda: results.append(function(*args)))
    thread.start()
    thread.join()
    return results[0]


# Fewer rows than this cannot train a critic and hold anything out; sklearn's
# check_fit2d_1sample expects a ValueError naming the sample count.
MIN_SAMPLES = 10
# Fewer rows per feature than this and a density-ratio fit is confident
# nonsense: on 30 wine rows (13 features, 2.3 per feature) a ratio of one
# sample split in two spanned 18 nats where the truth is 0. (The density
# models read -462 385 there once; their base selection and keep rule mended
# that, and they no longer warn: see _BaseEnergyNCE._fit_density.)
MIN_ROWS_PER_FEATURE = 3
# Inputs are standardised before a critic sees them (FeatureStandardiser): with
# Adam's step of ~lr per weight a first layer learns on features of order 1,
# not 1e8 (measured before standardisation: X * 1e8 made every estimator
# diverge; X + 1e8 collapsed each column to one float32 value). What
# standardising cannot mend is a column whose middle half spans less than
# 1 / this many standard deviations (a few extreme values set its scale):
# fit refuses it. Heavy tails do not trip it: a Cauchy sample's is 1e-2 to 1e-3.
_MAX_FEATURE_SCALE = 1e4
# float16 and integers are read as float64; float32 input stays float32 (no copy
# before standardising, which makes the one float32 array the critic reads).
_VALIDATION_DTYPES = (np.float64, np.float32)
# Predicting this many training ranges outside the training data warns.
_FAR_OUTSIDE_RANGES = 1e3
# The scale is read from at most this many evenly spaced rows: quantiles of
# 10^6 rows would cost more than an epoch.
_SCALE_CHECK_ROWS = 10_000


def validate_X(estimator, X, *, reset, encode=None, overflow="raise", rows="rows"):
    """Validate X as a finite 2-D array and return it standardised, as float32.

    NaN, inf, 1-D input, complex values and too few rows raise ``ValueError``
    with sklearn's standard messages. At fit (``reset=True``) a
    :class:`FeatureStandardiser` is fitted on X and kept as
    ``estimator._standardiser``; every call returns X in its units, so the
    critic sees features of order 1 whatever the user's units. ``encode``,
    ``encode(X)``, maps the validated X first (e.g. one-hot columns; the
    caller passes the fit's or the later calls' mapping).
    ``overflow="inf"`` (after fit only) accepts +-inf in X and returns a
    finite value beyond float32's range once standardised as +-inf instead
    of raising: a density model scores such a row -inf, as it scores one
    beyond float32's squares (a user test: one inf, e.g. from a ratio
    feature dividing by zero, failed the whole batch, where IsolationForest
    scores it). NaN is refused either way. ``rows`` is what warnings about
    the rows after fit call them.
    """
    check_shape_and_columns(X, categories=encode is not None)
    if reset:
        _check_warm_start_data(estimator, X)
    with explained_conversion_errors("X"):
        X = validate_data(
            estimator,
            X,
            reset=reset,
            dtype=_VALIDATION_DTYPES,
            ensure_min_samples=MIN_SAMPLES if reset else 1,
            ensure_all_finite=overflow != "inf",
        )
    if overflow == "inf" and not get_config()["assume_finite"] and not np.isfinite(X).all():
        # sklearn's own NaN message (it has no "allow-inf").
        assert_all_finite(_inf_as_zero(X), input_name="X", estimator_name=type(estimator).__name__)
    if encode is not None:
        X = encode(X)
    return _standardise(estimator, X, "X", reset, overflow, rows)


def validate_X_y(estimator, X, y, *, reset=True, names="X", encode=None, **check_params):
    """Validate (X, y), returning X standardised as float32 (see :func:`validate_X`).

    ``check_params`` go to ``validate_data``. At fit time (``reset=True``) at
    least ``MIN_SAMPLES`` rows are required. ``names`` is what a conversion
    error calls the input ("X or y" where y holds features too).
    """
    check_shape_and_columns(X, categories=encode is not None)
    if scipy.sparse.issparse(y):
        raise TypeError(
            "A sparse y was passed, but dense data is required. Use y.toarray() to "
            "convert it to a dense numpy array."
        )
    if reset:
        _check_warm_start_data(estimator, X)
    with explained_conversion_errors(names):
        X, y = validate_data(
            estimator,
            X,
            y,
            reset=reset,
            dtype=_VALIDATION_DTYPES,
            ensure_min_samples=MIN_SAMPLES if reset else 1,
            **check_params,
        )
    if encode is not None:
        X = encode(X)
    return _standardise(estimator, X, "X", reset), y


class FeatureStandardiser:
    """Per-column affine map to mean 0 and standard deviation 1, undone exactly.

    Every estimator standardises its inputs with one of these, fitted on the
    training rows: a critic's first layer learns on features of order 1 (with
    raw proline, in the 1000s, ``InfoNCEAnchorMI`` read 0.10 nats where the
    standardised column gave 0.54). A log density ratio and a mutual
    information do not change under an affine map of the features (the
    Jacobians cancel); a log density changes by :attr:`log_scale`, which the
    density models add back. Statistics are computed in float64 (``X + 1e8``
    keeps its digits there, not in float32) and X is converted in row blocks,
    so that no float64 copy of the whole array is made.

    A constant column keeps scale 1 and maps to exactly 0 on its training
    value; ``varying_`` marks the other columns.
    """

    def fit(self, X, name="X"):
        """Fit the map on the rows of ``X`` (``name`` is what errors call it)."""
        X = np.asarray(X)
        if get_config()["assume_finite"]:
            _refuse_non_finite(X, name)
        n_rows = len(X)
        total = np.zeros(X.shape[1])
        squares = np.zeros(X.shape[1])
        # Overflow (values near 1e300) is refused below, by name: numpy's own
        # RuntimeWarning had come first, pointing inside the package (user test).
        with np.errstate(over="ignore", invalid="ignore"):
            for block in _row_blocks(X):
                total += block.sum(axis=0, dtype=np.float64)
            mean = total / n_rows
            for block in _row_blocks(X):
                squares += np.square(block.astype(np.float64) - mean).sum(axis=0)
        self.varying_ = np.ptp(X, axis=0) > 0
        # A constant column maps to exactly 0 on its own value.
        self.mean_ = np.where(self.varying_, mean, X[0].astype(np.float64) if n_rows else 0.0)
        scale = np.sqrt(squares / n_rows)
        self.scale_ = np.where(self.varying_, scale, 1.0)
        if not np.all(np.isfinite(self.scale_)) or np.any(self.scale_ <= 0):
            columns = np.flatnonzero(~np.isfinite(self.scale_) | (self.scale_ <= 0))
            raise ValueError(
                f"{name} has column(s) {columns[:10].tolist()} whose standard deviation float64 "
                "cannot hold (values beyond ~1e154, or differences below ~1e-154): "
                "rescale them first."
            )
        # Each column's middle half, in standard units, from evenly spaced
        # rows: what check_feature_scale reads, and what a warm chunk's is
        # compared with (_warn_if_units_changed).
        self.middle_spread_ = middle_spread(standard_rows(self, X)) if n_rows else None
        return self

    def transform(self, X, name="X", overflow="raise"):
        """X in standard units, as float32 (a new array).

        A finite value beyond float32's range once standardised raises a
        ``ValueError`` naming ``name``, its row and column (it would give a
        NaN answer), or with ``overflow="inf"`` is returned as +-inf.
        """
        X = np.asarray(X)
        out = np.empty(X.shape, dtype=np.float32)
        start = 0
        with np.errstate(over="ignore"):  # reported below, with the value
            for block in _row_blocks(X):
                out[start : start + len(block)] = (block - self.mean_) / self.scale_
                start += len(block)
        if overflow == "raise":
            _check_float32_range(out, X, name)
        elif np.isnan(out).any():
            # Overflow and inf read +-inf; a NaN in X itself is still refused
            # (under assume_finite it had scored -inf; a review).
            _refuse_non_finite(_inf_as_zero(X), name)
        return out

    def inverse_transform(self, Z):
        """Standard units back to the user's, as float64."""
        return np.asarray(Z, dtype=np.float64) * self.scale_ + self.mean_

    @property
    def typical_scale(self):
        """The varying columns' median standard deviation (1 where none varies).

        What sets how near a constant column's training value a new value
        counts as that value (:func:`off_constant_values`).
        """
        varying = self.scale_[self.varying_]
        return float(np.median(varying)) if len(varying) else 1.0

    @property
    def log_scale(self):
        """``sum log scale`` over the varying columns: ``log p_X(x) = log p_Z(z) - log_scale``."""
        return float(np.sum(np.log(self.scale_[self.varying_])))


def check_not_constant(varying, name, consequence):
    """Refuse a variable none of whose columns varies.

    ``varying`` marks the columns that vary (``FeatureStandardiser.varying_``);
    ``consequence`` ends the message: what a constant means to the estimator.
    Some constant columns among varying ones are accepted.
    """
    if not np.any(varying):
        raise ValueError(f"Every feature of {name} is constant: {consequence}")


def _row_blocks(X, rows=65_536):
    for start in range(0, len(X), rows):
        yield X[start : start + rows]


def _standardise(estimator, X, name, reset, overflow="raise", rows="rows"):
    """X in the standard units fitted at ``reset`` (kept as ``estimator._standardiser``).

    A warm start that continues a critic keeps the units it learnt in.
    """
    kept = _warm_standardiser(estimator, X, name) if reset else None
    if reset:
        estimator._standardiser = kept or FeatureStandardiser().fit(X)
    Z = estimator._standardiser.transform(X, name, overflow=overflow)
    if reset:
        if kept is None:
            # (A warm chunk is read in the first fit's units: its own spread,
            # however small, squeezes nothing.)
            names = _feature_names(estimator, Z.shape[1])
            check_feature_scale(estimator._standardiser.middle_spread_, name, names)
        else:
            _warn_if_units_changed(estimator, kept, X, name)
        bounds = training_bounds(Z)
        previous = getattr(estimator, "_training_bounds", None)
        if kept is not None and bounds is not None and previous is not None:
            # The continued critic has read both fits' rows.
            bounds = np.minimum(bounds[0], previous[0]), np.maximum(bounds[1], previous[1])
        estimator._training_bounds = bounds
    else:
        if getattr(estimator, "_keeps_constant_columns", True):
            hold_constant_columns(Z, estimator._standardiser, estimator, name, rows)
        warn_if_far_outside(Z, getattr(estimator, "_training_bounds", None), estimator)
    return Z


def hold_constant_columns(Z, standardiser, estimator, name="X", rows="rows"):
    """Read the columns constant in training at their training value (0), in place.

    A critic that keeps such a column never learnt what it does: its first
    layer's weights for it are their random start. A row that left the
    value moved the answer by a seed-dependent amount, in silence (a user
    test: a flag 0 in every training row read 1 moved log ratios by up to
    0.16 nats and pointwise MI by up to 0.9, and a column 7.0 in training
    read 100 moved a log ratio by 17 nats). Held there, the answer ignores
    the column (as a logistic regression's zero coefficient does), and a
    warning names it (``rows`` says which rows these are). One-hot category
    columns are left to the estimator's own unseen-category handling
    (``estimator._column_origins``: each column's column of X, -1 for those).
    """
    origins = np.arange(Z.shape[1])
    if name == "X" and hasattr(estimator, "_column_origins"):
        origins = estimator._column_origins()
    constant = np.flatnonzero(~standardiser.varying_ & (origins >= 0))
    if not len(constant) or not len(Z):
        return
    moved = off_constant_values(
        Z[:, constant], standardiser.mean_[constant], standardiser.typical_scale
    )
    if not moved.any():
        return
    Z[:, constant] = 0.0
    columns = origins[constant[moved.any(axis=0)]]
    names = _feature_names(estimator, getattr(estimator, "n_features_in_", None))
    labels = [str(names[c]) if names is not None and name == "X" else int(c) for c in columns]
    warnings.warn(
        f"{int(moved.any(axis=1).sum())} of {len(moved)} {rows} hold another value than in "
        f"training in column(s) {labels} of {name}, which held one value in every row "
        f"{type(estimator).__name__} was fitted on: it never learnt what they do, so it "
        "reads them at that value (ignores them) there. If these columns can vary, fit on "
        "rows where they do, or leave them out.",
        UnreliableEstimateWarning,
        stacklevel=stacklevel_to_user(),
    )


def _warm_standardiser(estimator, X, name):
    """The previous fit's standardiser where a warm start continues its critic(s), else None.

    A critic reads standardised rows: refitted on each new chunk, the units
    moved under the continued critic, and its log ratio on the same rows
    moved by up to 0.16 nats without a single step of learning (a review).
    Kept, a column that stopped varying stays in the model (the outlier
    detector had refused such a chunk), but one that was constant then has
    no units to be read in: refused.
    """
    previous = getattr(estimator, "_standardiser", None)
    previous_critics = getattr(estimator, "_previous_critics", list)
    if (
        previous is None
        or not getattr(estimator, "warm_start", False)
        or len(previous.mean_) != X.shape[1]
        or not previous_critics()
    ):
        return None
    constant = np.flatnonzero(~previous.varying_)
    if not len(constant):
        return previous
    # One that holds another value is as new to the critic: every row of such
    # a chunk scored -inf under the density models, after a silent fit (a
    # review). (Only those columns go to float64: a whole chunk's copy
    # doubled a warm start's memory; a review.)
    moved = off_constant_values(
        np.asarray(X[:, constant], dtype=np.float64) - previous.mean_[constant],
        previous.mean_[constant],
        previous.typical_scale,
    ).any(axis=0)
    if moved.any():
        raise ValueError(
            f"warm_start=True continues a critic that read {name} in the units of the first "
            f"fit, where column(s) {constant[moved][:10].tolist()} were constant; here they "
            "vary or hold another value. Set warm_start=False to start afresh."
        )
    return previous


# A constant column's value counts as its training value within this much of
# the value (about 8 float32 steps) plus as much of the varying columns'
# median standard deviation, at most 1 (for values at 0, in the data's own
# units): compared exactly, the training value read back from float32 (0.3 ->
# 0.30000001) or computed another way (0.1 + 0.2) scored every row -inf.
# Uncapped, large units elsewhere widened it: beside money columns of standard
# deviation 1e7, a flag that was always 0 read 1 as unchanged (a user test).
_CONSTANT_RTOL = 1e-6


def off_constant_values(offsets, values, spread):
    """Where the rows' constant columns leave their training ``values``, beyond rounding.

    ``offsets`` are the rows' constant columns in standard units (the value
    minus the training value: those columns keep scale 1); ``spread`` is the
    data's typical standard deviation, which sets the tolerance around 0 (up
    to a spread of 1).
    """
    tolerance = _CONSTANT_RTOL * (np.abs(values) + min(spread, 1.0))
    return np.abs(offsets) > tolerance


# A warm chunk whose columns' middle half spans this many times (or 1 / this)
# the first fit's, in its units, is in other units; one whose column holds a
# single value where the first fit's middle half spread is stuck. A warm
# refit on rows rescaled by 1000 read a held-out score of -1.40 (cold -0.59,
# chance -0.69), and a column stuck at one value gave its rows +17 nats (cold
# -2.8), both in silence (user test). Middle halves, not standard deviations,
# and from _WARM_MIN_ROWS rows: with standard deviations a review saw
# same-distribution chunks of 10-30 rows warn for rare flags (21-58%),
# lognormal (9-31%) and Cauchy (34-57%) columns; now 0 of 500 chunks of 20,
# 30 or 100 rows for each of those, normal, t(2), Pareto and Poisson(0.5)
# columns, and 1 of 500 for a flag of p = 0.3 at 20 rows (all 0 by chance; a
# flag whose middle half is one value is never called stuck). A shift of
# the offset alone (Celsius to Kelvin) is not caught.
_WARM_SPREAD_CHANGE = 10.0
_WARM_MIN_ROWS = 20


def _warn_if_units_changed(estimator, standardiser, X, name):
    """Warn where a warm chunk's columns look rescaled or stuck against the kept units."""
    first = getattr(standardiser, "middle_spread_", None)  # None: pickled before it
    rows = standard_rows(standardiser, X)
    if first is None or len(rows) < _WARM_MIN_ROWS:
        return
    here = middle_spread(rows)
    spread = first > 0
    rescaled = np.flatnonzero(
        spread
        & (here > 0)
        & ((here > _WARM_SPREAD_CHANGE * first) | (here * _WARM_SPREAD_CHANGE < first))
    )
    stuck = np.flatnonzero(spread & (np.ptp(np.asarray(X), axis=0) == 0))
    if not len(rescaled) and not len(stuck):
        return
    names = _feature_names(estimator, len(first))

    def labels(columns):
        return (columns if names is None else np.asarray(names)[columns])[:10].tolist()

    found = []
    if len(rescaled):
        ratios = ", ".join(f"{v:.3g}" for v in (here[rescaled] / first[rescaled])[:10])
        found.append(
            f"the middle half of column(s) {labels(rescaled)} spans {ratios} times the first "
            "fit's (a change of units? convert them back, or set warm_start=False to start "
            "afresh)"
        )
    if len(stuck):
        found.append(
            f"column(s) {labels(stuck)} hold one value in all {len(X)} rows, where the first "
            "fit's varied (a stuck sensor? check the data)"
        )
    warnings.warn(
        f"warm_start=True reads {name} in the units of the first fit, and "
        + "; ".join(found)
        + ".",
        UserWarning,
        stacklevel=stacklevel_to_user(),
    )


def middle_spread(rows):
    """Each column's interquartile range."""
    low, high = np.percentile(rows, [25, 75], axis=0)
    return high - low


def standard_rows(standardiser, X):
    """Evenly spaced rows of X (at most ``_SCALE_CHECK_ROWS``) in standard units, in float64.

    What ``middle_spread_`` is read on. In float32 a squeezed column could
    vanish: 1e12 in one of 400 rows left the others within 3e-11 standard
    deviations of each other, one float32 value, and a middle half of spread
    0 passed as "mostly one value" while the column collapsed (a user test
    met the error at 4000 rows, where float32 kept a spread of 2.6e-6).
    """
    rows = np.asarray(X[:: max(1, -(-len(X) // _SCALE_CHECK_ROWS))], dtype=np.float64)
    return (rows - standardiser.mean_) / standardiser.scale_


def _feature_names(estimator, width):
    """``feature_names_in_`` where they name the ``width`` columns the estimator reads, else None.

    Not after one-hot encoding (InfoNCEAnchorMI's ``discrete_features``),
    where the columns are no longer the user's.
    """
    names = getattr(estimator, "feature_names_in_", None)
    return names if names is not None and len(names) == width else None


def _check_float32_range(Z, X, name):
    """Refuse finite values that overflow float32 once standardised (a NaN answer otherwise)."""
    finite = np.isfinite(Z)
    if finite.all():
        return
    _refuse_non_finite(X, name)
    row, column = np.argwhere(~finite)[0]
    value = float(np.asarray(X)[row, column])
    raise ValueError(
        f"{name} has a value too large for the critics' float32 once standardised "
        f"(row {row}, column {column}: {value:.3g}). Check its "
        "units, or scale it first."
    )


def _inf_as_zero(X):
    """X with its infinite values as 0: what a check that refuses NaN alone reads."""
    return np.where(np.isinf(X), 0.0, X)


def _refuse_non_finite(X, name):
    """Refuse a NaN or infinite value, which only scikit-learn's skipped check let through.

    Reached only under ``set_config(assume_finite=True)``; the checks that
    caught such a value next named it "too large" (user test).
    """
    X = np.asarray(X)
    if np.isfinite(X).all():
        return
    row, column = np.argwhere(~np.isfinite(X))[0]
    kind = "NaN" if np.isnan(X[row, column]) else "infinity"
    raise ValueError(
        f"Input {name} contains {kind} (row {row}, column {column}), and sklearn's "
        "set_config(assume_finite=True) skipped the check that refuses it."
    )


def warn_if_few_rows(
    n_rows, n_features, what, advice="Use more rows or fewer features (e.g. PCA)."
):
    """``SmallSampleWarning`` when ``n_rows < MIN_ROWS_PER_FEATURE * n_features``.

    ``what`` names the rows in the message ("training rows", "rows in the
    smaller sample"); ``advice`` ends it.
    """
    if n_rows < MIN_ROWS_PER_FEATURE * n_features:
        warnings.warn(
            f"{n_rows} {what} for {n_features} features: fewer than "
            f"{MIN_ROWS_PER_FEATURE} per feature, too few for a trustworthy answer (expect "
            f"confident nonsense on new rows). {advice}",
            SmallSampleWarning,
            stacklevel=stacklevel_to_user(),
        )


def check_warm_start_features(estimator, n_features, previous, name="X"):
    """With ``warm_start``, refuse data whose width (``previous`` at the last fit, or
    None) the previous fit's critic cannot take."""
    if getattr(estimator, "warm_start", False) and previous is not None and n_features != previous:
        raise ValueError(
            f"warm_start=True continues the previous fit, whose {name} had {previous} "
            f"features; this {name} has {n_features}. Set warm_start=False to start afresh."
        )


def check_feature_scale(spread, name="X", feature_names=None):
    """Refuse standardised columns whose bulk a few extreme values squeeze to a point.

    ``spread`` holds each column's interquartile range in standard units
    (:class:`FeatureStandardiser`'s ``middle_spread_``, read on the rows
    :func:`standard_rows` picks). When a handful of values far from the rest
    set a column's standard deviation, the other rows end up within
    ``1 / _MAX_FEATURE_SCALE`` of each other and a critic cannot tell them
    apart. A column whose range is 0 (mostly one value) passes. Raises
    ``ValueError`` naming the columns and the fix (by ``feature_names``, one
    per column, where given).
    """
    squeezed = np.flatnonzero((spread > 0) & (spread < 1 / _MAX_FEATURE_SCALE))
    if len(squeezed):
        labels = (
            squeezed if feature_names is None else np.asarray(feature_names)[squeezed]
        ).tolist()
        raise ValueError(
            f"{name} has column(s) {labels[:10]} whose middle half spans "
            f"{spread[squeezed[0]]:.3g} standard deviations (column {labels[0]!r}): a few "
            f"extreme values set its scale and the other rows are indistinguishable to a "
            f"neural critic. Drop the rows holding those values if they are errors, or "
            f"transform {name} first, e.g. with QuantileTransformer or a log (a linear scaler "
            "such as RobustScaler changes nothing here: the check is in standard units). A "
            "density ratio or mutual information does not change under such a map; a "
            "log-density is then that of the transformed columns."
        )


def _check_warm_start_data(estimator, X):
    """Refuse a warm start on data of another width, or on columns named otherwise.

    Before validate_data, whose reset would overwrite n_features_in_ and
    feature_names_in_ and leave a refused warm start describing data its
    critic cannot read. The critic reads columns by position: a DataFrame
    with its columns reordered was continued as if they were the first
    fit's, and NCEDensityRatio's held-out score fell to chance in silence
    (user test; MLPClassifier refuses the same call).
    """
    previous_width = getattr(estimator, "n_features_in_", None)
    if previous_width is None or not getattr(estimator, "warm_start", False):
        return
    try:
        width = _num_features(X)
    except TypeError:  # not 2-D: validate_data says what is wrong
        return
    check_warm_start_features(estimator, width, previous_width)
    previous_names = getattr(estimator, "feature_names_in_", None)
    columns = getattr(X, "columns", None)
    if previous_names is None or columns is None:
        return
    names = [str(column) for column in columns]
    if names != [str(name) for name in previous_names]:
        raise ValueError(
            f"warm_start=True continues the previous fit, whose X had the columns "
            f"{list(previous_names)[:10]}; this X has {names[:10]}. The critic reads columns "
            "by position: pass them in the first fit's order, or set warm_start=False to "
            "start afresh."
        )


def training_bounds(X):
    """Per-feature (low, high) of the training data, for :func:`warn_if_far_outside`."""
    if len(X) == 0:
        return None
    return X.min(axis=0).astype(np.float64), X.max(axis=0).astype(np.float64)


# What the far-outside warning says of a critic's answer there (the density
# models say otherwise: their _far_rows_advice).
CHECK_PREPROCESSING = "check that X is preprocessed as the training data was."
EXTRAPOLATION_ADVICE = (
    f"The critic extrapolates there and its output is meaningless: {CHECK_PREPROCESSING}"
)


def warn_if_far_outside(X, bounds, estimator, name="X", advice=None):
    """Warn when rows of ``name`` lie many training ranges outside the training data.

    A critic is a neural network: far outside the data it extrapolates
    linearly, so a log ratio there means nothing (X * 1e8 at predict time
    gave log ratios past 700, whose exponential overflows). The density
    models read such rows from their base's tails instead, and say so
    (``estimator._far_rows_advice``): both warn, since the likeliest cause is
    X in other units than at fit. ``advice`` ends the message (by default
    the estimator's ``_far_rows_advice``).
    """
    if bounds is None or len(X) == 0 or X.shape[1] != len(bounds[0]):
        return
    low, high = bounds
    span = np.where(high > low, high - low, 1.0)
    with np.errstate(over="ignore", invalid="ignore"):
        distance = np.maximum(low - X.min(axis=0), X.max(axis=0) - high) / span
    worst = int(np.argmax(distance))
    if distance[worst] > _FAR_OUTSIDE_RANGES:
        names = _feature_names(estimator, X.shape[1]) if name == "X" else None
        column = f"column {worst}" if names is None else f"column {names[worst]!r}"
        if advice is None:
            advice = getattr(estimator, "_far_rows_advice", EXTRAPOLATION_ADVICE)
        where = (
            f"lies {distance[worst]:.3g} training ranges"
            if np.isfinite(distance[worst])
            else "is infinite, or beyond float32's range once standardised,"
        )
        warnings.warn(
            f"{name} has a value in {column} that {where} "
            f"outside the range {type(estimator).__name__} was fitted on. {advice}",
            UnreliableEstimateWarning,
            stacklevel=stacklevel_to_user(),
        )


def stacklevel_to_user():
    """The ``stacklevel`` that points a warning raised by our caller at the user's line.

    Counts the frames inside sklearn_nce, and inside scikit-learn's wrappers
    (``set_output``, ``available_if``, ``Pipeline``), above the function that
    warns: the public methods reach validation through different depths.
    """
    import sklearn

    packages = tuple(
        os.path.dirname(os.path.abspath(module.__file__)) + os.sep
        for module in (sys.modules[__name__.partition(".")[0]], sklearn)
    )
    frame, level = sys._getframe(2), 2  # level 1 is the function that warns
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(packages):
        frame, level = frame.f_back, level + 1
    return level


@contextlib.contextmanager
def explained_conversion_errors(name):
    """Re-raise numpy's conversion errors with what is wrong and the fix, never the data.

    sklearn passes on numpy's "could not convert string to float" and
    "inhomogeneous shape" messages, and its own complex-data and 3-D
    messages; the complex one prints the whole array. numpy's floating-point
    warnings are silenced: sklearn's finite check sums X, and +inf beside
    -inf made it warn "invalid value encountered in reduce" above its own
    clear error (a user test).
    """
    try:
        with np.errstate(invalid="ignore", over="ignore"):
            yield
    except ValueError as error:
        message = str(error)
        advice = _conversion_advice(message, name)
        if advice is None:
            raise
        raise ValueError(advice) from None


def _conversion_advice(message, name):
    if message.startswith("could not convert string to float") or "bytes/strings" in message:
        value = message.rpartition(":")[2].strip() if "float:" in message else "strings"
        return (
            f"{name} contains text ({value}): encode text columns first, e.g. with "
            "OneHotEncoder or OrdinalEncoder in a ColumnTransformer before this estimator."
        )
    if "inhomogeneous shape" in message or "setting an array element with a sequence" in message:
        return (
            f"{name} is ragged: its rows have different lengths. Every row needs the same "
            "number of features; pad or impute missing values first."
        )
    if message.startswith("Complex data not supported"):
        return (
            f"Complex data not supported: {name} has complex values. Pass the real and "
            "imaginary parts as separate features, e.g. np.hstack([X.real, X.imag])."
        )
    dims = re.match(r"Found array with dim (\d+)", message)
    if dims:
        return (
            f"{name} has {dims.group(1)} dimensions; a 2-D array (n_samples, n_features) is "
            "required. Flatten each sample first, e.g. X.reshape(len(X), -1)."
        )
    return None


def n_rows_of(X):
    """The rows of an array-like (a list, an array, a DataFrame), as scikit-learn counts them."""
    return _num_samples(X)


def check_binary_target(y, *, min_per_class=2):
    """Encode a binary target as 0/1 (``classes_[1]`` is the positive class).

    Returns ``classes_`` and the encoded labels. One class, more than two
    classes or a continuous target raise ``ValueError``.
    """
    # Continuous or unknown targets get sklearn's "Unknown label type" error,
    # followed by what y means here and how to build it.
    try:
        check_classification_targets(y)
    except ValueError as error:
        raise ValueError(
            f"{error} Here y labels the sample each row comes from (1 = numerator, "
            "0 = denominator): build X and y from the two samples with "
            "make_two_sample(X_numerator, X_denominator), or label them your way and set "
            "numerator_label."
        ) from None
    classes, encoded = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"y has only one class ({classes.tolist()[0]!r}); a density ratio needs samples from "
            "two distributions, labelled 1 (numerator) and 0 (denominator)."
        )
    if type_of_target(y, input_name="y") != "binary":
        raise ValueError(
            "Only binary classification is supported: y must label two samples "
            f"(1 = numerator, 0 = denominator), got {len(classes)} distinct values."
        )
    counts = np.bincount(encoded)
    if counts.min() < min_per_class:
        raise ValueError(
            f"Each sample needs at least {min_per_class} rows; got class counts "
            f"{dict(zip(classes.tolist(), counts.tolist(), strict=True))}."
        )
    return classes, encoded


def check_features(X, name):
    """``check_array`` for a helper function's input, with the estimators' messages.

    Returns a float64 array; ``name`` is the argument's name in messages.
    """
    check_shape_and_columns(X, name)
    with explained_conversion_errors(name):
        return check_array(X, input_name=name)


def non_numeric_columns(X):
    """The names of a DataFrame's non-numeric columns (text, categories), as strings."""
    return [str(X.columns[index]) for index in non_numeric_positions(X)]


def non_numeric_positions(X):
    """The positions of a DataFrame's non-numeric columns (text, categories); [] for the rest."""
    dtypes = getattr(X, "dtypes", None)
    if not hasattr(dtypes, "items"):
        return []
    return [
        index
        for index, (_, dtype) in enumerate(dtypes.items())
        if _kind(dtype) not in "biuf" and not _holds_numbers(X.iloc[:, index], dtype)
    ]


def _holds_numbers(column, dtype):
    """Whether an object column holds numbers only, which ``check_array`` converts.

    A user test: a DataFrame column of floats stored as objects was refused
    as non-numeric, where IsolationForest accepts it.
    """
    if getattr(dtype, "name", None) != "object" or not hasattr(column, "infer_objects"):
        return False
    return _kind(column.infer_objects().dtype) in "biuf"  # strings of digits stay text


def check_feature_layout(estimator, X):
    """sklearn's checks of X's column names and count against the fit's, X left unconverted."""
    validate_data(estimator, X, reset=False, skip_check_array=True)


def check_shape_and_columns(X, name="X", categories=False):
    """Refuse 1-D input and non-numeric DataFrame columns with messages that say the fix.

    sklearn's own 1-D message echoes the whole array before its advice, and a
    string column fails as "could not convert string to float" without
    naming the column. ``categories``: the caller one-hot encodes
    ``discrete_features`` itself (the MI), so listing them there is the advice.
    """
    if isinstance(X, list | tuple):
        # Nested lists are measured once, here, for both checks below.
        try:
            X = np.asarray(X)
        except ValueError:  # ragged nested lists: validate_data reports them
            return
    text = non_numeric_columns(X)
    listed = (
        "list a DataFrame's category and text columns in discrete_features (one-hot encoded "
        "there), or "
        if categories
        else ""
    )
    advice = (
        f"{listed}encode categories first, e.g. with OneHotEncoder(sparse_output=False) or "
        "OrdinalEncoder in a ColumnTransformer placed before this estimator in a Pipeline; "
        "convert numbers stored as text with pandas.to_numeric or .astype(float)."
    )
    if scipy.sparse.issparse(X):
        # sklearn's own message says .toarray(), which a Pipeline has no place
        # for; OneHotEncoder's default output is sparse (a user test).
        raise TypeError(
            f"Sparse data was passed for {name}, but dense data is required. Use "
            "X.toarray() to convert it; in a Pipeline, make the step before dense: "
            "OneHotEncoder(sparse_output=False), or ColumnTransformer(sparse_threshold=0)."
        )
    if text:
        raise ValueError(f"{name} has non-numeric columns {text}: {advice}")
    if _holds_text(X):
        # Refused as a DataFrame's text columns are (a user test: the same
        # numbers as strings passed in an array and failed in a DataFrame).
        raise ValueError(f"{name} contains text: {advice}")
    # Arrays, DataFrames and Series know their ndim (nested lists are arrays
    # by now); anything else (e.g. array-likes that refuse numpy functions)
    # is left to validate_data.
    if getattr(X, "ndim", None) == 1:
        # A pandas Series has no reshape: its fix is to_frame() (a user test).
        series = " (for a pandas Series, series.to_frame())" if hasattr(X, "to_frame") else ""
        raise ValueError(
            f"Expected 2D array, got 1D array instead ({len(X)} values). Reshape your data "
            f"either using array.reshape(-1, 1){series} if your data has a single feature or "
            "array.reshape(1, -1) if it contains a single sample."
        )


def _holds_text(X):
    """Whether an array (an object array included) holds strings; False for anything else.

    Lists and object arrays of numbers as text passed where a text array was
    refused (a review).
    """
    if not isinstance(X, np.ndarray):
        return False
    if X.dtype.kind == "O":
        return any(isinstance(value, str | bytes) for value in X.flat)
    return X.dtype.kind in "SU"


def _kind(dtype):
    """The one-letter kind of a numpy or pandas dtype ("O" when it has none).

    pandas' extension dtypes (nullable Int64, Float64, boolean, Arrow numbers)
    report their kind like numpy's; "category" and "string" report "O".
    """
    return getattr(dtype, "kind", "O")


def available_if(check):
    """Like sklearn's ``available_if``, with the check's reason in the error itself.

    ``check(estimator)`` returns whether the method exists, or raises an
    ``AttributeError`` saying why not. sklearn's descriptor raises "This
    'X' has no attribute 'transform'" and chains that reason as the cause,
    above it in the traceback, where a user reading the last line misses the
    fix it names; here the message carries both.
    """
    return lambda method: _AvailableIf(method, check)


class _AvailableIf:
    """The descriptor of :func:`available_if`: ``method`` where ``check`` allows it."""

    def __init__(self, method, check):
        self.method = method
        self.check = check
        functools.update_wrapper(self, method)

    def __get__(self, obj, owner=None):
        if obj is None:
            # On the class: the function (docs and introspection see it), still
            # checked when called as Class.method(instance, ...).
            @functools.wraps(self.method)
            def checked(instance, *args, **kwargs):
                return self.__get__(instance)(*args, **kwargs)

            return checked
        missing = f"This {type(obj).__name__!r} has no attribute {self.method.__name__!r}"
        try:
            available = self.check(obj)
        except Exception as reason:  # as sklearn's: any failed check hides the method
            raise AttributeError(f"{missing}: {reason}") from None
        if not available:
            raise AttributeError(missing)
        return types.MethodType(self.method, obj)
