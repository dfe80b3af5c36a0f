"""``_BaseEnergyNCE``: what every NCE-trained density model shares.

Like sklearn's ``BaseMixture`` for its mixtures, this base holds the fitted
state and the methods of an unnormalised density ``phi`` learnt by a
contrastive objective: the noise and base density fitted on the training rows,
the energy ``-log phi``, the importance-sampled ``log Z`` that normalises it,
``score_samples``/``score`` and ``sample``. A subclass supplies its parameters,
its noise and its objective.
"""

import contextlib
import copy
import math
import warnings
from abc import abstractmethod

import numpy as np
import torch
from sklearn.utils import check_random_state, check_scalar
from torch import nn

from ..exceptions import UnreliableEstimateWarning
from .base import _BaseNCE, apply_critic
from .critics import BaseCorrectedDensity
from .noise import (
    AdaptiveKernelDensityNoise,
    BoxDensity,
    DefensiveMixture,
    GaussianMixtureNoise,
    GaussianNoise,
    KernelDensityNoise,
    Noise,
    SelectedDensity,
    fit_gaussian_mixture,
    make_noise,
)
from .objectives import log_density
from .sampling import importance_draws, langevin, log_partition_statistics, pareto_k, resample
from .splits import measured_copy_groups
from .training import module_device, seeded_rng
from .validation import (
    CHECK_PREPROCESSING,
    FIT_THREADS,
    Integral,
    Interval,
    StrOptions,
    available_if,
    check_is_fitted,
    check_not_constant,
    off_constant_values,
    stacklevel_to_user,
    torch_threads,
    validate_X,
)

__all__ = ["_BaseEnergyNCE"]

# CNCEEnergyModel selects its base again on all the training rows after the
# network trained, up to this many rows (see _refit_base).
_BASE_REFIT_MAX_ROWS = 2000
# Below this effective sample size (as a fraction of the draws) the
# importance-sampled log Z is dominated by a few draws: warn.
_MIN_ESS_FRACTION = 0.01
# Offset from a seed of the package's own generator to the seed of torch's
# global one, which a user's density that ignores the generator draws from.
_GLOBAL_SEED_OFFSET = 1
# torch's containers, which _is_ours looks through to the parts they hold.
_TORCH_CONTAINERS = (nn.ModuleList, nn.ModuleDict, nn.Sequential)
# sample(): candidates per returned draw for the importance resampling, at
# least _RESAMPLE_CANDIDATES and as many as give _RESAMPLE_EFFECTIVE effective
# ones (by the fit's importance ESS share), at most _RESAMPLE_MAX_CANDIDATES.
# With 20 on digits (ESS 10%: two effective candidates per draw) 12% of 1257
# draws started as copies of another, and MALA's small steps left them
# near-twins (a user test); 10 effective ones make about 5% copies.
_RESAMPLE_CANDIDATES = 20
_RESAMPLE_EFFECTIVE = 10
_RESAMPLE_MAX_CANDIDATES = 200
# sample() resamples at most this many candidates at a time: torch.multinomial
# takes at most 2^24 categories, so one resampling of sample(1_000_000) raised,
# after drawing 2e7 candidates at once (a review).
_RESAMPLE_CHUNK_CANDIDATES = 65_536 * 20
_MALA_ADAPT_STEPS = 50
_MALA_STEPS = 50
# Rows farther than this many standard deviations in a column score -inf
# unread: the densities' float32 squares overflow there (a user test: 5e37
# in one column read NaN, 1e25 -inf, 1e19 a finite -98), and no density here
# puts mass of any size that far.
_FARTHEST = 1e15
# Interquartile range of a unit normal: turns an IQR into a standard deviation.
_IQR_PER_SD = 1.349
# The network reads rows clamped to the training range widened by this many
# standard deviations (see BaseCorrectedDensity).
_BOX_MARGIN = 1.0
# Without a base, the share of the importance proposal drawn from the box.
_BOX_PROPOSAL_WEIGHT = 0.1
# Early stopping's patience never covers fewer optimiser steps than this.
_MIN_PATIENCE_STEPS = 400
# max_epochs="auto" buys the shared 2000 optimiser steps but at most this many
# passes over the data: on small sets the rest refit the network to the same
# rows. Seeds 0-2, 300 passes against 2000 steps: NoisierNCEClassifier's mean
# AUPRC on the small ODDS sets, wine and three held-out digits moved by
# -0.0012 to +0.0014 (breast cancer -0.013, within its seed spread of 0.16),
# at 0.7-2.3 s a fit on <= 1000 rows instead of 1.3-5.2 s (one thread, a busy
# second core); CNCEEnergyModel's held-out log-likelihood on the five small
# ODDS sets moved by -0.00 to +0.18 nats; on the energy benchmark's digits
# (1212 training rows: 1200 steps) it read -43.6 against -43.4 with 2000. At
# 100 passes AUPRC held too, but the log-likelihood fell by 0.10 (satimage2)
# and 0.22 nats (vertebral). Sets of more than ~1800 training rows reach the
# step budget first.
_MAX_AUTO_EPOCHS = 300
# ... and at least this many: on 100 000 rows (20-d, make_classification's
# class 0) the 2000 steps were 6 passes, and the held-out loss still fell at
# each (a user test). Held-out log-likelihood of new normal rows and AUROC
# against the other class, NoisierNCEClassifier at 6 / 10 / 20 / 40 passes:
# -19.06 / -18.84 / -18.58 / -18.44 nats and 0.938 / 0.946 / 0.957 / 0.961,
# in 7.0 / 7.4 / 11.0 / 19.2 s (CNCEEnergyModel alike: -19.05 -> -18.49 at
# 20). Early stopping still ends a fit sooner. Sets under ~25 600 training
# rows reach the 2000 steps in 20 passes or fewer, so none changes. The floor
# buys at most _MAX_FLOOR_STEPS steps: a pass over 10^6 rows took 5.7-7.5 s
# (benchmarks/results/scaling.md), so 20 of them would be 2-3 minutes; it
# gets 5 (500 000 rows: 10).
_MIN_AUTO_EPOCHS = 20
_MAX_FLOOR_STEPS = 20_000
# Largest Pareto tail shape k (sampling.pareto_k) of importance weights the
# keep rule trusts: PSIS's threshold for 10 000 draws is
# min(1 - 1 / log10(10 000), 0.7) = 0.7. The ESS alone was not enough: it is
# itself a noisy estimate when k > 0.5. On digits (61 features) the rule
# admitted shares of 0.6-0.7 whose ESS read 1.4% on its draws and 0.06-0.5%
# on the normaliser's (four other draw sets of one fit: 16 to 306 of 10 000,
# k 0.60-0.76), and 10 of 30 default fits warned.
_MAX_PARETO_K = 0.7
# early_stopping="auto" holds rows out from this many rows on (the other
# estimators: 5000). A density model needs them at small n most: they choose
# how much of the network's correction to keep, and stop it before it learns
# the training rows (CNCEEnergyModel on breastw's integer-valued rows read a
# held-out log-likelihood of -339 022 without).
_AUTO_EARLY_STOPPING_MIN_ROWS = 50


class _BaseEnergyNCE(_BaseNCE):
    """Shared base of the density models (mixins first in subclasses, as sklearn does)."""

    _auto_early_stopping_min_rows = _AUTO_EARLY_STOPPING_MIN_ROWS
    _keeps_constant_columns = False  # dropped: the model has no mass off their values
    # Whether the selected base is refitted on every training row once the
    # network has trained, early stopping's held-out rows included (see
    # _refit_base). Not for the outlier detector, whose threshold reads the
    # held-out rows as new ones.
    _refits_base = False
    # max_epochs="auto": the shared 2000 steps, at most 300 passes, at least 20
    # as far as 20 000 steps reach.
    _auto_max_passes = _MAX_AUTO_EPOCHS
    _auto_min_passes = _MIN_AUTO_EPOCHS
    _auto_max_floor_steps = _MAX_FLOOR_STEPS
    # What the low-ESS warning suggests besides more draws (per estimator).
    _low_ess_remedy = "add weight_decay or lower max_epochs (the network has overfitted)"

    _parameter_constraints: dict = {
        **_BaseNCE._parameter_constraints,
        "max_epochs": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "n_noise": [Interval(Integral, 1, None, closed="left")],
        "n_importance_samples": [Interval(Integral, 100, None, closed="left")],
    }

    # -- fitting -----------------------------------------------------------
    def _fit_density(self, X):
        """Validate X, train the energy with the subclass's objective, then normalise it.

        The model lives in standard units (``validate_X`` standardises) on the
        columns that vary in the training rows; ``score_samples`` adds the
        log-Jacobian back, and gives ``-inf`` off the constant columns' values.
        """
        # No warning for few rows per feature: since the base selection and
        # keep rule such fits are sound (30 wine rows in 13 features: -19.8
        # held out, a diagonal Gaussian -22.9; the changelog has the history).
        Z = self._varying_columns(validate_X(self, X, reset=True))
        objective = self._make_objective(self._make_noise(), len(Z))
        valid = self._fit_critic(Z, None, objective)
        self.noise_ = objective.noise
        held_out = None if valid is None else valid[0]
        if held_out is not None and self._refits_base:
            self._refit_base(Z)
        self._finish_fit(Z, held_out, *self._normalise())
        return self

    def _refit_base(self, Z):
        """Select the base again on all the rows ``Z``, those early stopping held out too.

        Only up to ``_BASE_REFIT_MAX_ROWS`` rows, where a tenth of them
        costs the base most and its selection little time. The network stays
        as trained (on the base it was trained against); ``log Z`` is
        estimated after, on the new base. ODDS held-out log-likelihood, the
        benchmark's splits, seeds 0-2: ionosphere (135 rows, 33 columns)
        -5.47 -> -4.41 nats (the base alone on all rows -4.75), breastw
        10.84 -> 11.66, vertebral -2.68 -> -2.71, newthyroid -3.99 -> -3.99;
        satimage2 (3439 rows, past the cap) gained 0.30 -> 0.51 for 67% more
        fit time; the energy benchmark's digits (PCA-15, 1212 rows) -43.6 ->
        -43.4, its fit 7.0-7.9 -> 10.3-10.6 s (one idle thread). Past the
        cap, a selection made again had cost shuttle (10 000 rows) 1.65 nats,
        where it chose another stack than the one the network corrected.
        Refitting the chosen parts and weights on all rows instead (no new
        search) was erratic: ionosphere -4.58 / -6.08 (k-means / EM from the
        parts), breastw 10.61 / 11.31.
        """
        if not isinstance(self.base_, SelectedDensity) or len(Z) > _BASE_REFIT_MAX_ROWS:
            return
        # In place: the critic, the noise and the proposal hold this object.
        self.base_.fit(Z).to(self.net_.device)
        self.base_family_ = _family(self.base_)  # the new selection's

    @abstractmethod
    def _make_objective(self, noise, n_samples):
        """The training objective around ``noise``, a fresh (unfitted) noise.

        ``n_samples`` is the number of rows given to fit. The objective must
        keep the noise as its ``noise`` attribute: training fits it (see
        :meth:`_prepare_training`), and it becomes ``noise_``.
        """

    def _varying_columns(self, Z):
        """The training rows' varying columns, in standard units (sets ``_varying``)."""
        varying = self._standardiser.varying_
        check_not_constant(
            varying,
            "X",
            "there is no density to learn. A density model needs at least one feature "
            "that varies across the training rows.",
        )
        previous = getattr(self, "_varying", None)
        if self.warm_start and previous is not None and self._previous_critics():
            if not np.array_equal(previous, varying):
                raise ValueError(
                    "warm_start=True continues a critic fitted on the columns that varied "
                    f"then ({np.flatnonzero(previous).tolist()}); here "
                    f"{np.flatnonzero(varying).tolist()} vary. Set warm_start=False."
                )
        self._varying = varying
        return Z[:, varying] if not varying.all() else Z

    def _finish_fit(self, Z, Z_held_out, log_density_draws, log_weights):
        """Hook: fitted state that needs the normalised model (none here).

        ``Z`` are the rows given to fit as the model sees them (standard
        units, varying columns; :meth:`_log_density_standard` scores such
        rows), ``Z_held_out`` those of them held out from training (None
        without early stopping).
        ``log_density_draws`` are the normalised log densities (in the user's
        units) of the importance draws behind ``log_partition_``,
        ``log_weights`` their importance log weights: a subclass can read
        quantiles of the model from them without drawing again.
        """

    def _make_noise(self):
        """A fresh noise: the user's object deep-copied (never fitted in place), or by name."""
        if not isinstance(self.noise, str):
            return copy.deepcopy(self.noise)
        return make_noise(self.noise, **self._noise_options())

    def _noise_options(self):
        """Keyword arguments of ``make_noise`` from the estimator's parameters (none here)."""
        return {}

    def _prepare_training(self, X_train, objective, rng):
        # One Gaussian mixture (BIC) serves as the base, the "gmm" noise and
        # the importance-sampling proposal: it is the costliest fit here.
        seed = int(rng.randint(np.iinfo(np.int32).max))
        mixture = None

        def shared_mixture():
            nonlocal mixture
            if mixture is None:
                mixture = fit_gaussian_mixture(X_train, random_state=seed)
            return mixture

        noise = objective.noise
        _seed_unseeded(noise, seed)
        if isinstance(noise, GaussianMixtureNoise) and noise.n_components == "bic":
            noise.set_mixture(shared_mixture())
        else:
            noise.fit(X_train)
        if not isinstance(self.noise, str):
            if not getattr(noise, "conditional", False):
                methods = ("sample", "log_prob")
            elif getattr(noise, "symmetric", False):
                methods = ("sample_given",)  # CNCE never reads a symmetric noise's density
            else:
                methods = ("sample_given", "log_prob_given")
            _check_user_density(noise, X_train.shape[1], "noise", methods, self.device_)
        self.base_ = self._fit_base(X_train, noise, shared_mixture, seed)
        self.base_family_ = _family(self.base_)
        # The base is the natural proposal: the weights are then exp(f), as
        # flat as the network's correction. Without one, the BIC mixture.
        self.proposal_ = (
            self.base_
            if _can_propose(self.base_)
            else GaussianMixtureNoise().set_mixture(shared_mixture())
        )
        self._proposal_seed = int(rng.randint(np.iinfo(np.int32).max))

    def _fit_base(self, X_train, noise, shared_mixture, seed):
        """The fitted base density ``b`` of ``log phi = f + log b`` (None: no base).

        ``noise`` is the training noise, fitted already; ``shared_mixture()``
        returns the BIC mixture fitted once per fit.
        """
        if self.base is None:
            return None
        if self.base == "auto":
            if isinstance(noise, SelectedDensity):
                return noise  # jumps to the base: G = f(x) - f(y)
            return SelectedDensity(random_state=seed).fit(X_train)
        if self.base == "gmm":
            return GaussianMixtureNoise().set_mixture(shared_mixture())
        if self.base == "gaussian":
            return GaussianNoise().fit(X_train)
        # The object itself, not what fit returns: a fit that returns None
        # (no "return self") had silently dropped the base (user test).
        base = copy.deepcopy(self.base)
        # Seeded as the noise is: a KernelDensityNoise(max_rows=100) base drew
        # another subset on every fit with the same random_state (a review).
        _seed_unseeded(base, seed)
        # Not in seeded_rng: bases fit side by side in threads, and what a
        # user's fit draws from torch's stream stands (test_core).
        fitted = base.fit(X_train)
        base = base if fitted is None else fitted
        methods = ("log_prob", "sample") if _offers(base, "sample") else ("log_prob",)
        _check_user_density(base, X_train.shape[1], "base", methods, self.device_)
        return base

    def _split_groups(self, X, labels, n_held):
        # Copies of a row are one draw: held out apart from them, the network
        # learnt them and the held-out rows vouched for it (see splits.py).
        del labels
        return measured_copy_groups(X, n_held)

    def _patience(self, n_train, batch_size):
        """``n_iter_no_change`` epochs, but never fewer than 400 optimiser steps.

        On small data an epoch is a few steps and the held-out loss of ~100
        rows is noisy: with 10 epochs' patience (40 steps) the energy model on
        digits (PCA-15, 1212 training rows) stopped at epoch 20 with a network
        worth 0.0005 nats; with 400 steps it ran 500 epochs and gained 1.1
        nats per held-out row (2000 steps without stopping: 1.4). An LBFGS
        epoch counts its iterations: counted as one step, its patience (400
        epochs) outlasted the 300 the budget allows, and early stopping never
        fired (a review).
        """
        steps_per_epoch = self._steps_per_epoch(n_train, batch_size)
        return max(self.n_iter_no_change, math.ceil(_MIN_PATIENCE_STEPS / steps_per_epoch))

    def _check_training(self, net, valid):
        """Scale the correction to what the held-out rows support (0 keeps the base alone).

        ``log phi = s f + log b`` is a density for every ``s``; the held-out
        mean log-likelihood gain over the base, ``s mean_valid f - log E_b[exp(s f)]``,
        is read for ``s`` in 0, 0.1, ..., 1, with ``log Z`` from the very
        draws of the base that :meth:`_normalise` will use. The best ``s``
        whose importance weights those draws can trust is kept as
        ``network_scale_``, its gain as ``network_gain_`` (nats per row).
        Without a base to sample, or with ``early_stopping=False``, the
        network is kept whole and the gain is None. Where ``"auto"`` held no
        rows out (under 50 rows) nothing can vouch for the network and the
        base is kept alone (scale 0; see :meth:`_keeps_base_alone`).
        """
        module = net.module_
        self.network_scale_, self.network_gain_ = 1.0, None
        if self._keeps_base_alone(valid):
            module.network_scale.fill_(0.0)
            self.network_scale_ = 0.0
            return
        if valid is None or not _can_propose(self.base_):
            return
        module.network_scale.fill_(1.0)
        module.eval()
        # With the base as proposal the importance log weights are f itself.
        _, _, f_draws = self._importance_draws(module, net.device)
        f_valid = apply_critic(
            module, net.device, lambda critic, x: critic.correction(x), valid[0]
        )
        # Tenths as written (linspace's 0.30000000000000004 showed in
        # network_scale_; a user test).
        scales = np.arange(11) / 10
        gains = np.full(len(scales), -np.inf)  # s = 0 always qualifies
        for index, scale in enumerate(scales):
            log_weights = scale * f_draws
            log_z, _, ess = log_partition_statistics(log_weights)
            if _trusted(log_weights, ess):
                gains[index] = scale * f_valid.mean() - log_z
        best = int(np.argmax(gains))
        module.network_scale.fill_(float(scales[best]))
        self.network_scale_, self.network_gain_ = float(scales[best]), float(gains[best])

    def _keeps_base_alone(self, valid):
        """Whether the fit keeps its base alone, its network unvouched.

        So under ``early_stopping="auto"`` where the split held no rows out
        (``valid`` is None: under 50 rows), with a base: kept
        whole, the network lowered the held-out log-likelihood in 46 of 54
        fits on 25-45 rows of iris, wine, breast-cancer and digits (PCA-10)
        classes, by 0.88 nats per row on average (NoisierNCEClassifier: 38
        of 54, 0.40; user test, a Bayes classifier of one model per class).
        """
        return (
            valid is None
            and self.early_stopping == "auto"
            and getattr(self, "base_", None) is not None  # set before training
        )

    def _max_epochs(self, n_train, batch_size, valid=None):
        # A network that will not be kept is not trained: one epoch leaves the
        # fitted state (and a network for a warm start). A default fit on 40
        # iris rows takes 0.10 s, against 0.31 s with 300 epochs (one thread,
        # warm process). Read from the split, not the training rows' count:
        # 50-55 rows hold some out and leave under 50 to train on.
        if self._keeps_base_alone(valid):
            return 1
        return super()._max_epochs(n_train, batch_size)

    def _make_critic(self, X, n_outputs, critic_index=0):
        network = super()._make_critic(X, n_outputs, critic_index)
        # The box the network reads: the training rows' range (standard
        # units) plus one standard deviation on each side. X holds the rows
        # it trains on only: early stopping's held-out rows judge the network
        # as new rows would, clamped where they leave the box (a review).
        low = torch.as_tensor(X.min(axis=0) - _BOX_MARGIN, dtype=torch.float32)
        high = torch.as_tensor(X.max(axis=0) + _BOX_MARGIN, dtype=torch.float32)
        if self.base_ is None:
            # Without a base the density spans the whole box (and its tails):
            # the mixture's draws alone missed its corners, where the network
            # had put mass (see BoxDensity). Set here, where the box is made;
            # _prepare_training chose the mixture just before.
            box = BoxDensity(low, high)
            self.proposal_ = DefensiveMixture(self.proposal_, box, _BOX_PROPOSAL_WEIGHT)
        if isinstance(self.base_, nn.Module):
            # A fixed density (see ContrastiveNet.get_all_learnable_params): a
            # user's base with nn.Parameters had been trained with the network.
            self.base_.requires_grad_(False)
        return BaseCorrectedDensity(network, self.base_, bounds=(low, high))

    def _previous_critics(self):
        # The correction network only: the base is refitted with the noise.
        return [module.network for module in super()._previous_critics()]

    def _default_critic(self, X, n_outputs):
        network = super()._default_critic(X, n_outputs)
        if self.base_ is not None:
            # Start exactly at the base density (f = 0): a random network's
            # O(0.1-1) output would first have to be unlearnt, and early
            # stopping can then only move away from the base if it helps.
            last = network.layers[-1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        return network

    def _normalise(self):
        """Estimate ``log Z`` by importance sampling from ``proposal_`` (sets the ``_`` state).

        Returns the draws' normalised log densities and their importance log
        weights (see :meth:`_finish_fit`).
        """
        module, device = self._inference_module()
        module.eval()
        _, log_phi_values, log_weights = self._importance_draws(module, device)
        log_z, log_z_std, ess = log_partition_statistics(log_weights)
        if not np.isfinite(log_z):
            raise ValueError(
                "The fitted energy is not finite on the importance-sampling draws: the fit "
                "diverged. Lower `lr` or add `weight_decay`."
            )
        self.log_partition_ = log_z
        self.log_partition_std_ = log_z_std
        self.importance_ess_ = ess
        # The share of the fit's draws, which sample() reads: the parameter may
        # change after fit (set_params) without a refit (a review).
        self._importance_ess_share = ess / self.n_importance_samples
        if ess < _MIN_ESS_FRACTION * self.n_importance_samples:
            warnings.warn(
                f"log Z rests on an effective sample size of {ess:.0f} of "
                f"{self.n_importance_samples} importance draws (standard error "
                f"{log_z_std:.2f} nats): the learnt density is far from the proposal. To fix "
                f"it, {self._low_ess_remedy}. More draws (n_importance_samples) shrink log Z's "
                "standard error, but the effective share stays about the same.",
                UnreliableEstimateWarning,
                stacklevel=stacklevel_to_user(),
            )
        return log_phi_values - log_z - self._standardiser.log_scale, log_weights

    def _importance_draws(self, module, device):
        """``importance_draws`` of ``module``'s density from ``proposal_``, always the same draws.

        The keep rule and the normaliser read the same draws (the same seed and
        batches), so that the share of the network the rule trusts is judged on
        the weights ``log_partition_`` rests on.
        """
        generator = torch.Generator().manual_seed(self._proposal_seed)
        with _seeded_for(self.proposal_, self._proposal_seed, device):
            return importance_draws(
                lambda x: log_density(module, x),
                _on_device(self.proposal_, device),
                self.n_importance_samples,
                generator,
                correction=self._proposal_correction(module),
            )

    def _proposal_correction(self, module):
        """``module.correction`` where ``log phi = correction + log proposal``, else None.

        That holds when the proposal is the base, which the critic holds (the
        same object, after pickling too): the test is on the estimator's own
        attributes.
        """
        to_base = (
            isinstance(module, BaseCorrectedDensity)
            and module.base is not None
            and self.proposal_ is self.base_
        )
        return module.correction if to_base else None

    @property
    def _far_rows_advice(self):
        # The network reads far rows at the edge of its box (_BOX_MARGIN) and
        # the base is a density out there: a far row's low score is an answer
        # (an outlier detector's job), not an extrapolation. Without a base
        # (base=None) such a row scores as the box's edge does, less a unit
        # Gaussian tail. A value past float32 scores -inf either way (a user
        # test read "from the tails" as a finite score).
        beyond = "(-inf for a value that is infinite or beyond float32's range)"
        if getattr(self, "base_", None) is None:
            return (
                "The model has no base density (base=None): it reads them at the edge of the "
                f"data and scores them from a Gaussian tail beyond it {beyond}, which says only "
                f"that they are far: {CHECK_PREPROCESSING}"
            )
        return (
            f"The model scores them from its base density's tails, as far outliers {beyond}; "
            f"if they are not, {CHECK_PREPROCESSING}"
        )

    # -- inference ---------------------------------------------------------
    def _log_phi(self, X, function=log_density, energy=False):
        """``log phi`` in the user's units: ``-inf`` where a constant column moved.

        ``function(critic, rows)`` gives ``log phi`` in the model's own units
        (the critic's log density by default); ``energy``: the caller returns
        ``-log phi`` (its warnings say so).
        """
        # A value beyond float32 once standardised reads +-inf and scores
        # -inf, as one beyond float32's squares does: one such row had
        # failed a whole batch with a ValueError (user test).
        Z = validate_X(self, X, reset=False, overflow="inf")
        varying = self._varying
        scored = np.abs(Z).max(axis=1, initial=0.0) <= _FARTHEST
        if not varying.all():
            # The training rows lie on a hyperplane: off it the model has no mass.
            standardiser = self._standardiser
            moved = off_constant_values(
                Z[:, ~varying], standardiser.mean_[~varying], standardiser.typical_scale
            )
            if moved.any():
                self._warn_off_constant_values(moved, energy)
            scored &= ~moved.any(axis=1)
            Z = Z[:, varying]
        if scored.all():
            return self._log_phi_standard(Z, function)
        log_phi = np.full(len(Z), -np.inf)
        log_phi[scored] = self._log_phi_standard(Z[scored], function)
        return log_phi

    def _warn_off_constant_values(self, moved, energy=False):
        """Say which rows score ``-inf`` for leaving a training-constant column's value.

        ``moved`` marks, for each row, the constant columns it moved in. They
        had scored ``-inf`` in silence, and ``roc_auc_score`` refuses infinite
        scores (a user test: 38 of 216 ionosphere rows, whose first column is
        1 in every inlier the fit saw). ``energy``: the caller returns the
        energy, ``+inf`` there (a review: the advice to clip from below did
        nothing to it).
        """
        columns = np.flatnonzero(~self._varying)[moved.any(axis=0)]
        names = getattr(self, "feature_names_in_", None)
        labels = [str(names[c]) if names is not None else int(c) for c in columns]
        scored, clip = (
            ("have energy +inf", "np.minimum(energies, ceiling)")
            if energy
            else ("score -inf", "np.maximum(scores, floor)")
        )
        warnings.warn(
            f"{int(moved.any(axis=1).sum())} of {len(moved)} rows hold another value than in "
            f"training in column(s) {labels}, which held one value in every row "
            f"{type(self).__name__} was fitted on: they {scored}, as the model puts no mass "
            "off that value (the most anomalous score there is). Ranking metrics such as "
            f"roc_auc_score refuse infinite values: clip them first, e.g. {clip}. If these "
            "columns can vary, fit on rows where they do, or leave them out.",
            UnreliableEstimateWarning,
            stacklevel=stacklevel_to_user(),
        )

    def _log_phi_standard(self, Z, function=log_density):
        """``log phi`` of rows in the model's own units, shifted by the log-Jacobian."""
        return self._apply_critic(function, Z) - self._standardiser.log_scale

    def _log_density_standard(self, Z):
        """Normalised log density (user's units) of rows in the model's own units."""
        return self._log_phi_standard(Z) - self.log_partition_

    def energy(self, X):
        """Unnormalised energy ``E(x) = -log phi(x)`` (lower is more probable).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to evaluate.

        Returns
        -------
        energy : ndarray of shape (n_samples,)
            ``score_samples(X) = -energy(X) - log_partition_``.
        """
        check_is_fitted(self, "log_partition_")
        return -self._log_phi(X, energy=True)

    def score_samples(self, X):
        """Normalised log density of each row, ``-E(x) - log Z``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to evaluate.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            Log density in nats; ``log Z`` is the importance-sampled
            ``log_partition_`` (standard error ``log_partition_std_``).
            ``-inf``, with a warning, for a row with an infinite value or
            one beyond float32's range once standardised, or off a
            training-constant feature's value; NaN is refused.
        """
        check_is_fitted(self, "log_partition_")
        return self._log_phi(X) - self.log_partition_

    def _check_base(self):
        # available_if's check: with base=None (the energy model's option)
        # there is no base to score, and hasattr now says so (an API review:
        # the method was there, and raised). Once fitted, the fitted base
        # decides, whatever set_params has changed since.
        fitted = "base_" in self.__dict__
        base = self.base_ if fitted else getattr(self, "base", "auto")
        if base is None:
            raise AttributeError(
                f"base_score_samples needs a base density, and this {type(self).__name__} "
                f"{'was fitted' if fitted else 'is set'} with base=None (the network is the "
                "whole energy)."
            )
        return True

    @available_if(_check_base)
    def base_score_samples(self, X):
        """Log density of each row under the fitted base alone, the network switched off.

        The base (``base_``) is the density the network corrects, fitted on
        the same rows as the network (the training rows less those early
        stopping holds out; :class:`CNCEEnergyModel` then selects a selected
        base again on all of them, up to 2000 rows);
        ``score_samples(X) - base_score_samples(X)``
        is what the network adds at each row, and its mean over held-out rows
        says whether the correction helps out of sample (``network_gain_``
        reads it on the rows early stopping held out, which also chose the
        network, so it is optimistic).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to evaluate.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            Log density in nats, in the user's units (``-inf`` where a
            feature constant in training moved).

        Examples
        --------
        Shown for :class:`~sklearn_nce.CNCEEnergyModel`;
        :class:`~sklearn_nce.NoisierNCEClassifier` works the same way.

        >>> import numpy as np
        >>> from sklearn_nce import CNCEEnergyModel
        >>> rng = np.random.RandomState(0)
        >>> X, X_new = rng.normal(size=(300, 2)), rng.normal(size=(100, 2))
        >>> model = CNCEEnergyModel(max_epochs=5, random_state=0).fit(X)
        >>> added = model.score(X_new) - model.base_score_samples(X_new).mean()
        >>> bool(np.isfinite(added))
        True
        """
        check_is_fitted(self, "log_partition_")
        return self._log_phi(X, _base_log_density)

    def score(self, X, y=None):
        """Mean log-likelihood of ``X`` (higher is better), as ``GaussianMixture.score``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Held-out points.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        score : float
            Mean of :meth:`score_samples` (as ``GaussianMixture.score``;
            ``KernelDensity.score`` is the sum); ``GridSearchCV`` needs no scorer.
        """
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples=1, random_state=None):
        """Draw from the fitted density.

        Draws are importance-resampled from ``proposal_`` (20 to 200
        candidates per draw, as many as make 10 effective ones by the fit's
        ``importance_ess_``; this sets the weight of each mode) and then
        moved by 100 steps of Metropolis-adjusted Langevin dynamics (the
        first 50 tune the step), which corrects each draw's position within
        its mode: about 0.5 ms a draw on 10 features, more where the base
        holds a large KDE or the importance ESS is low (digits, 61 columns
        at an ESS of 10%: 3 ms). Where the
        fit kept none of the network (``network_scale_`` 0), the model is its
        base and is drawn from it directly. A stack base's defensive part
        (0.1% of its mass, heavy-tailed) is left out of the candidates, so
        the draws follow the model without it (closely: the Langevin steps
        read the whole density). The draws are continuous: an integer,
        binary or non-negative column comes back between its values and
        past its range (on digits' 64 raw pixels, 22% of the drawn values
        were negative, as no pixel is; a user test), so round and clip such
        columns yourself (``np.rint``, ``np.clip``; see the User Guide).

        Parameters
        ----------
        n_samples : int, default=1
            Number of draws (0 gives an empty array, as ``KernelDensity``).
        random_state : int, RandomState instance or None, default=None
            Seeds the draws. The estimator's own ``random_state`` does not:
            as with ``KernelDensity.sample`` (not ``GaussianMixture``'s),
            each call without one draws afresh.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The draws, in the units of the rows given to :meth:`fit`.
        """
        check_is_fitted(self, "log_partition_")
        check_scalar(n_samples, "n_samples", Integral, min_val=0)
        if n_samples == 0:
            return np.empty((0, self.n_features_in_))
        seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
        # Langevin steps need gradients, which a caller's inference_mode (as
        # serving code uses) would switch off (user test: it raised). On the
        # fit's thread count: the steps' float reductions round by it, so the
        # same seed drew other samples (up to 1.7e-7 apart) at two threads
        # and in a process that loaded a pickle at another count (user test).
        device = self._inference_module()[1]
        with (
            torch.inference_mode(False),
            torch_threads(FIT_THREADS),
            _seeded_for(self.proposal_, seed, device),
        ):
            return self._to_user_units(self._draws(int(n_samples), seed))

    def _draws(self, n_samples, seed):
        """``n_samples`` draws of the model in standard units, seeded by ``seed``."""
        generator = torch.Generator().manual_seed(seed)
        module, device = self._inference_module()
        proposal = self.proposal_
        if _holds_inference_tensors(module, proposal):
            # A model unpickled inside inference_mode holds inference tensors,
            # which autograd cannot use: draw from copies (deepcopy outside
            # inference_mode makes ordinary tensors, and keeps the proposal
            # the copy's base where it was the module's).
            module, proposal = copy.deepcopy((module, proposal))
        module.eval()
        correction = self._proposal_correction(module)
        # With the base as proposal, draws come from the base less its
        # defensive part (and the weights exp(s f) stay those of the base).
        proposal = _on_device(
            proposal if correction is None else _without_defence(proposal), device
        )
        if correction is not None and float(module.network_scale) == 0:
            # The model is its base: exact draws, without 100 Langevin steps
            # through its log density (a stack's KDEs made that ~1 ms a draw).
            with torch.no_grad():  # a user's base may hold parameters
                return proposal.sample(n_samples, generator).cpu().numpy()

        def log_phi(x):
            return log_density(module, x)

        per_draw = self._resample_candidates()
        start = torch.cat(
            [
                resample(log_phi, proposal, size, per_draw * size, generator, correction)
                for size in _chunk_sizes(n_samples, _RESAMPLE_CHUNK_CANDIDATES // per_draw)
            ]
        )
        draws, _, _ = langevin(
            log_phi,
            start,
            n_steps=_MALA_STEPS,
            n_adapt=_MALA_ADAPT_STEPS,
            step_size=1e-3 * _finest_variance(proposal, generator, device),
            generator=generator,
        )
        return draws.cpu().numpy()

    def _resample_candidates(self):
        """Candidates per draw of :meth:`sample`'s resampling (see ``_RESAMPLE_EFFECTIVE``)."""
        share = getattr(self, "_importance_ess_share", None)
        if share is None:  # a pickle of an older version
            share = self.importance_ess_ / self.n_importance_samples
        wanted = math.ceil(_RESAMPLE_EFFECTIVE / share) if share > 0 else math.inf
        return int(np.clip(wanted, _RESAMPLE_CANDIDATES, _RESAMPLE_MAX_CANDIDATES))

    def _to_user_units(self, Z):
        """Rows of the model (standard units, varying columns) in the user's units."""
        full = np.zeros((len(Z), len(self._varying)))
        full[:, self._varying] = Z
        return self._standardiser.inverse_transform(full)


def _without_defence(density):
    """``density`` to draw from: a stack's densities without its defensive Cauchy part.

    The defence (weight 1e-3) keeps every row's log density finite, at a
    cost of 0.001 nats; drawn from, it put 0.05% of the draws more than 10
    standard deviations from the data and some 1000 out (breast cancer's
    10 first columns, 200 000 draws; a user test), where the stack never
    goes past 7. Resampled from the stack alone, the draws follow the model
    with that 0.1% of mass left out (closely: the Langevin steps read the
    whole density).
    """
    inner = getattr(density, "density", None)
    if isinstance(density, SelectedDensity) and isinstance(inner, DefensiveMixture):
        return inner.density
    return density


def _seeded_for(density, seed, device):
    """``seeded_rng`` around draws from a user's ``density``, which may ignore the generator.

    The package's own densities draw from the generator they are given
    alone, so they skip it: it holds the lock that fits take turns with,
    and ``sample`` calls in serving threads would wait on each other and on
    any training (a review). Offset from ``seed``: the explicit generator
    is seeded with ``seed`` itself, and the two streams must differ.
    """
    if _is_ours(density):
        return contextlib.nullcontext()
    return seeded_rng(seed + _GLOBAL_SEED_OFFSET, device)


def _is_ours(density):
    """Whether ``density`` and every module in it are the package's own classes.

    torch's containers (a stack's ``ModuleList`` of parts) are looked through:
    their children are checked themselves (a review: the default stacked
    base had counted as a user's).
    """
    parts = density.modules() if isinstance(density, nn.Module) else [density]
    return all(
        type(part) in _TORCH_CONTAINERS or type(part).__module__.startswith("sklearn_nce.")
        for part in parts
    )


def _chunk_sizes(n, chunk):
    """Sizes of the consecutive chunks of at most ``chunk`` that make up ``n``."""
    return [min(chunk, n - start) for start in range(0, n, chunk)]


def _finest_variance(proposal, generator, device):
    """The smallest per-column variance of ``proposal``, read from 1000 of its draws.

    MALA's first step is well inside the data's finest scale (adaptation
    tunes it). The interquartile range, not the variance: the base's
    defensive Cauchy draws would inflate a variance a thousandfold. Columns
    whose quartiles coincide (most draws on one value of a lattice column)
    are passed over: their zero would make every step zero, and the draws
    would stay where resampling left them (a review); with none left, 1 (the
    standard units' variance).
    """
    quartiles = torch.quantile(
        proposal.sample(1000, generator),
        torch.tensor([0.25, 0.75], dtype=torch.float32, device=device),
        dim=0,
    )
    variances = ((quartiles[1] - quartiles[0]) / _IQR_PER_SD).square()
    positive = variances[variances > 0]
    return float(positive.min()) if len(positive) else 1.0


def _base_log_density(critic, X):
    """``log b(X)``: the base density of a :class:`BaseCorrectedDensity` critic, alone."""
    return critic.base.log_prob(X)


def _can_propose(density):
    """Whether a fitted density can serve as the importance-sampling proposal."""
    return (
        density is not None
        and not getattr(density, "conditional", False)
        and _offers(density, "sample")
        and _offers(density, "log_prob")
    )


def _offers(density, method):
    """Whether ``density`` implements ``method``, not just inherits Noise's stub of it.

    A base needs only ``fit`` and ``log_prob``; a Noise subclass that defines
    no ``sample`` was taken for a proposal and failed after training, with a
    message calling it conditional (user test).
    """
    if isinstance(density, Noise) and method in ("sample", "log_prob"):
        return getattr(type(density), method) is not getattr(Noise, method)
    return callable(getattr(density, method, None))


def _on_device(density, device):
    """``density`` on ``device``: a torch module is moved, another object taken as it is."""
    return density.to(device) if isinstance(density, nn.Module) else density


def _holds_inference_tensors(*modules):
    """Whether any parameter or buffer of ``modules`` was made inside ``inference_mode``."""
    modules = [m for m in modules if isinstance(m, nn.Module)]
    tensors = (t for m in modules for t in [*m.parameters(), *m.buffers()])
    return any(t.is_inference() for t in tensors)


def _check_user_density(density, n_features, role, methods, device="cpu"):
    """Call a user's fitted density once, so that a wrong output gets a clear error.

    The estimators train in float32 on ``n_features`` standardised columns.
    A float64 draw, a ``(n, 1)`` log density or a wrong width failed deep in
    training with torch's message, which named none of the user's methods
    (user test). Off the CPU the density must follow the network to
    ``device``: it is called on a copy moved there (a review: a plain object,
    or a module whose fitted tensors are not buffers, passed the check on the
    CPU and failed mid-training on CUDA).
    """
    if torch.device(device).type != "cpu":
        density, device = _moved_user_density(density, role, device), torch.device(device)
    else:
        device = module_device(density)
    generator = torch.Generator().manual_seed(0)  # a CPU one, as training passes
    x = torch.zeros(2, n_features, dtype=torch.float32, device=device)
    calls = {
        "sample": (lambda: density.sample(2, generator), (2, n_features)),
        "log_prob": (lambda: density.log_prob(x), (2,)),
        "sample_given": (lambda: density.sample_given(x, 3, generator), (2, 3, n_features)),
        "log_prob_given": (
            lambda: density.log_prob_given(
                x.unsqueeze(1).expand(2, 3, n_features), x.unsqueeze(1)
            ),
            (2, 3),
        ),
    }
    # Seeded, the user's stream untouched: a density may ignore the generator.
    with torch.no_grad(), seeded_rng(_GLOBAL_SEED_OFFSET, device):
        for method in methods:
            call, shape = calls[method]
            what = f"The {role}'s {method} ({type(density).__name__})"
            try:
                out = call()
            except RuntimeError as error:
                if device.type == "cpu":
                    raise
                raise ValueError(
                    f"{what} failed on {device} ({error}). {_ON_DEVICE_ADVICE}"
                ) from error
            if not isinstance(out, torch.Tensor):
                raise TypeError(f"{what} returned {type(out).__name__}; it must return a tensor.")
            # Draws feed the float32 critic; a float64 log density is only
            # promoted where it is added (a scipy-based base returns one).
            draws = method.startswith("sample")
            if (out.dtype != torch.float32) if draws else not out.is_floating_point():
                raise TypeError(
                    f"{what} returned {out.dtype}; the estimators train in float32. Keep the "
                    "fitted tensors float32 and draw in float32 (torch.rand and torch.randn "
                    "follow torch.set_default_dtype unless given dtype=torch.float32)."
                )
            if tuple(out.shape) != shape:
                raise ValueError(
                    f"{what} returned shape {tuple(out.shape)} where {shape} was expected: the "
                    f"model sees {n_features} standardised feature(s) (constant columns "
                    "dropped), and a log density has one value per row, summed over features."
                )


_ON_DEVICE_ADVICE = (
    "Off the CPU the base and noise move with the network: make them torch.nn.Module "
    "subclasses whose fitted tensors are buffers (self.register_buffer) or parameters, "
    "drawing on the generator's device (the training loop passes None or a CPU generator), "
    "or fit with device='cpu'."
)


def _moved_user_density(density, role, device):
    """A copy of a user's density on ``device``; a clear error where it cannot move."""
    if not isinstance(density, torch.nn.Module):
        raise ValueError(
            f"The {role} ({type(density).__name__}) is not a torch.nn.Module, so it cannot "
            f"follow the network to device={str(device)!r}. {_ON_DEVICE_ADVICE}"
        )
    return copy.deepcopy(density).to(device)


def _trusted(log_weights, ess):
    """Whether importance weights (ESS ``ess``) support a log Z: ESS >= 1%, Pareto k small.

    PSIS's threshold for ``n`` draws, ``min(1 - 1 / log10(n), 0.7)``: 0.7 at
    the default 10 000 draws, 0.5 at the fewest allowed (100), where a fixed
    0.7 had trusted weights PSIS rejects (a review).
    """
    n_draws = len(log_weights)
    threshold = min(1.0 - 1.0 / math.log10(n_draws), _MAX_PARETO_K)
    return ess >= _MIN_ESS_FRACTION * n_draws and pareto_k(log_weights) <= threshold


def _family(density):
    """The name of a fitted base's family ("gmm", "kde", "gaussian"), or None."""
    if isinstance(density, SelectedDensity):
        return density.family_
    names = {
        GaussianMixtureNoise: "gmm",
        KernelDensityNoise: "kde",
        AdaptiveKernelDensityNoise: "kde",
        GaussianNoise: "gaussian",
    }
    return names.get(type(density), None if density is None else type(density).__name__)


def _seed_unseeded(noise, seed):
    """Give every part of the noise that draws at fit time (e.g. a KDE's subset) the fit's seed.

    Without it, two fits with the same ``random_state`` would differ.
    """
    for part in noise.modules() if hasattr(noise, "modules") else [noise]:
        if getattr(part, "random_state", 0) is None:
            part.random_state = seed
