"""Noise distributions for noise-contrastive estimation, written once.

Every noise is a torch ``nn.Module`` whose fitted parameters are *buffers*, so
that skorch moves it to the training device together with the objective that
holds it, and it pickles with the estimator. One small interface:

* ``fit(X)``: numpy in (the training rows only), returns ``self``;
* ``sample(n, generator=None)`` and ``log_prob(x)``: torch, vectorised;
* ``sample_given(x, n_draws, generator=None)`` of shape
  ``(n_rows, n_draws, n_features)`` and ``log_prob_given(y, x)`` for
  conditional noise ``pn(y | x)``. An unconditional noise inherits both:
  ``pn(y | x) = pn(y)``, which is CNCE's "global jumps".

``symmetric = True`` declares ``pn(y | x) = pn(x | y)``, so CNCE may skip the
correction term ``log pn(y | x) - log pn(x | y)`` (it is zero). A user may pass
any object with the same methods and attributes.

A ``generator`` is a CPU ``torch.Generator`` (a fixed one makes validation
noise identical from epoch to epoch); draws are made on its device and then
moved to the noise's, so the same generator serves a CUDA noise.
"""

import copy
import inspect
import math
import warnings

import numpy as np
import torch
from scipy.special import logsumexp
from sklearn.covariance import LedoitWolf
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors
from torch import nn

from .critics import box_log_tail
from .splits import copy_mask, grouped_folds, grouped_hold_out, measured_copy_groups

__all__ = [
    "DENSITY_FAMILIES",
    "AdaptiveKernelDensityNoise",
    "BoxDensity",
    "CauchyNoise",
    "DefensiveMixture",
    "StackedDensity",
    "NOISES",
    "GaussianMixtureNoise",
    "GaussianNoise",
    "KernelDensityNoise",
    "LocalJumps",
    "MixedJumps",
    "Noise",
    "SelectedDensity",
    "auto_jump_scale",
    "bic_mixtures_by_type",
    "bic_neighbourhood",
    "cv_bandwidth",
    "fit_gaussian_mixture",
    "make_noise",
    "scott_bandwidth",
    "stacking_weights",
    "standard_normal",
    "uniform",
]

_LOG_2PI = math.log(2.0 * math.pi)
# Rows used by the data-driven scale rules (nearest-neighbour distances): the
# rule needs a typical spacing, not an exact one, and this bounds its cost.
_SCALE_RULE_ROWS = 2000
# GaussianMixture candidates tried by the BIC rule (doubling, as in sklearn's
# "Gaussian Mixture Model Selection" example, which also varies the type).
_BIC_COMPONENTS = (1, 2, 4, 8, 16, 32, 64)
_BIC_COVARIANCE_TYPES = ("spherical", "diag", "full")
# Rows and grid of the leave-one-out bandwidth rule (cv_bandwidth): 1000 rows
# (2000 took 3.3 s on satimage2's 36 columns, 1000 well under one) pick the
# bandwidth near 5-fold GridSearchCV's on the six ODDS sets; the grid spans
# Scott's rule / 30 to 3x (the rule's choice lay between 0.2 and 1.2 times it).
_CV_BANDWIDTH_ROWS = 1000
_CV_BANDWIDTH_FACTORS = np.geomspace(1 / 30, 3, 24)
# Kernel centres of a KDE used as a base density (SelectedDensity): it is then
# a density estimate, not only a noise, and every row helps; log_prob costs one
# distance per centre, paid at scoring and for log Z, not per training step.
_KDE_BASE_ROWS = 10_000
# SelectedDensity: 3-fold comparison up to this many rows, one split above;
# the mixture's BIC search on at most this many rows (then refitted on all);
# and its covariance floor, in standard units. With sklearn's 1e-6, components
# of width 1e-3 formed on near-discrete columns and one held-out row between
# them scored -1000 nats (shuttle); 1e-4 is the floor of the issue's peer.
_SELECTION_KFOLD_MAX_ROWS = 2000
# Folds of that comparison. 3, not 5: the fold refits were most of a digits
# fit (1294 rows x 61 columns: 7.2 -> 3.9 s for the selection, one thread),
# and the base alone's held-out-digit AUPRC moved by -0.004 and +0.001
# (seeds 0 and 1), its AUPRC and held-out log-likelihood on the four small
# ODDS sets by under 0.002 and 0.07 nats (seeds 0-2).
_SELECTION_FOLDS = 3
_BIC_SEARCH_ROWS = 4000
# A KDE's log kernel is expanded as p x.c - p |x|^2 / 2 - p |c|^2 / 2 (one
# matrix product), whose terms cancel to -p |x - c|^2 / 2 near a centre;
# float32 keeps ~6e-8 of them. Where the largest term p |c - shift|^2 passes
# this, log_prob works in float64, at 2.7-2.9 times the cost. Kernels of
# width 3e-5 (a tight cluster of a fifth of the rows) read 980 nats off in
# float32 (a review); on shuttle's training rows (seed 2) the fixed KDE's
# terms reached 2.1e6 (float32 error up to 0.125 nats), the adaptive one's
# 9.5e4 (0.0036 nats: kept in float32, whose extra cost had slowed the
# outlier fit by a fifth); the other ODDS sets and digits read 75-2100.
_FLOAT32_KERNEL_TERMS = 1e5
# Above _SELECTION_KFOLD_MAX_ROWS, rows held out to weigh the candidates
# (held_out_fraction of them, at most this many: a mean log density over
# 5000 rows is known to ~0.02 nats), and rows whose in-sample log density
# sets tail_optimism (a random subset beyond). Every held-out row is scored by
# every candidate, a KDE's through its 10 000 centres: at 100 000 rows (10-d)
# the 20 000 held out took 8.6 of a 12 s selection, and the in-sample pass
# over all the rows would have built a 100 000 x 10 000 matrix; no benchmark
# set has more than 25 000 rows, so none changes.
_SELECTION_MAX_HELD_OUT = 5000
_IN_SAMPLE_ROWS = 25_000
# The kept mixtures are refitted (EM) on at most this many of the rows (a
# random subset beyond): with at most 112 components that is ~900 rows or
# more per component. On 10^6 rows (10-d) the refit on every row took 32 of
# a 39 s selection.
_REFIT_MAX_ROWS = 100_000
# Rows per block when a density scores many rows (a KDE's log_prob builds a
# rows x centres matrix).
_SCORE_BLOCK_ROWS = 4096
# The stack's Gaussian takes the same floor as its ridge: at GaussianNoise's
# 1e-6 it read about 2.3 nats more than the mixtures per null direction of
# collinear columns and took the whole stack (a user test: make_classification,
# 50 columns of rank 40, seeds 0 / 1: AUPRC 0.799 / 0.857 -> 0.893 / 0.943 with
# the mixtures it now picks; a BIC GaussianMixture 0.906 / 0.945).
_BASE_REG_COVAR = 1e-4
# Share of "mix"'s global jumps drawn at Scott's bandwidth (the rest at the
# leave-one-out one); see make_noise.
_WIDE_GLOBAL_JUMPS = 0.5
# A mixture's draws gather each row's d x d factor while the n d^2 gathered
# entries stay under this many per component (see _times_component_factor).
_GATHER_MAX_ENTRIES_PER_COMPONENT = 8192
# CauchyNoise draws are clipped at this many scales from the location.
_CAUCHY_CLIP = 1e3
# The mass of a unit Gaussian tail on both sides of a BoxDensity's column.
_SQRT_2PI = math.sqrt(2 * math.pi)
# SelectedDensity drops candidates whose stacking weight is below this (and
# refits only the rest): on the ODDS sets the weights below 1% summed to
# under 2%, and each kept candidate costs a refit and a term in log_prob.
_MIN_STACK_WEIGHT = 0.01
# A mixture component needs at least this many rows (beyond the rows its
# covariance needs): two anomalies near each other in a table of 150 normal
# 4-d rows formed a spherical component of their own, and fit_predict flagged
# 2 of 8 over seeds 0-3 (a user test; IsolationForest 8); with 5, 7 of 8 at
# 30-400 rows. The detector's AUPRC on digits (2 seeds), breast cancer, wine
# and the six ODDS sets moved by -0.003 to +0.002 (ODDS mean 0.843 both).
_MIN_COMPONENT_ROWS = 5
# Families SelectedDensity stacks by held-out likelihood.
DENSITY_FAMILIES = ("gmm", "kde", "gaussian")
# Covariance types held as per-feature scales (see GaussianMixtureNoise).
_DIAGONAL_TYPES = ("spherical", "diag")


class Noise(nn.Module):
    """Base class of the noise and base densities: the interface, and its defaults.

    A subclass fits on numpy rows in ``fit`` and keeps what it fitted as
    buffers, so that ``.to(device)`` moves it; ``sample`` and ``log_prob``
    work on torch tensors. An unconditional noise writes ``sample`` and
    ``log_prob`` (``sample_given`` and ``log_prob_given`` then follow); a
    conditional one sets ``conditional = True`` and writes those two instead
    (``symmetric = True`` when ``pn(y | x) = pn(x | y)``). ``sample`` gets a
    ``torch.Generator`` or None: draw on the generator's device, then move
    the draws to the buffers' device.

    See Also
    --------
    GaussianMixtureNoise : A fitted Gaussian mixture, held as tensors.
    SelectedDensity : Density families stacked by held-out log-likelihood.
    LocalJumps : A conditional noise, CNCE's local Gaussian jumps.
    sklearn_nce.CNCEEnergyModel : Takes a noise (``noise=``) and a base (``base=``).
    sklearn_nce.NoisierNCEClassifier : Takes a noise (``noise=``).

    Examples
    --------
    Independent Laplace marginals as the noise of an outlier detector:

    >>> import numpy as np
    >>> import torch
    >>> from sklearn_nce import NoisierNCEClassifier
    >>> from sklearn_nce.modules import Noise
    >>> class LaplaceNoise(Noise):
    ...     def fit(self, X):
    ...         loc = np.median(X, axis=0)
    ...         scale = np.abs(X - loc).mean(axis=0)
    ...         self.register_buffer("loc", torch.tensor(loc, dtype=torch.float32))
    ...         self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))
    ...         return self
    ...
    ...     def sample(self, n_samples, generator=None):
    ...         device = None if generator is None else generator.device
    ...         shape = (n_samples, len(self.loc))
    ...         u = torch.rand(shape, generator=generator, device=device).to(self.loc.device)
    ...         u = u - 0.5
    ...         return self.loc - self.scale * u.sign() * torch.log1p(-2 * u.abs())
    ...
    ...     def log_prob(self, x):
    ...         z = (x - self.loc).abs() / self.scale
    ...         return (-z - torch.log(2 * self.scale)).sum(-1)
    >>> X = np.random.default_rng(0).laplace(size=(300, 2))
    >>> detector = NoisierNCEClassifier(noise=LaplaceNoise(), max_epochs=5, random_state=0)
    >>> detector.fit(X).predict([[0.0, 0.0], [12.0, -12.0]])
    array([ 1, -1])
    """

    conditional = False
    symmetric = False

    def __init__(self):
        # Declared so that the signature reads "Noise()": nn.Module's is
        # (*args, **kwargs), though it refuses any argument.
        super().__init__()

    def get_params(self, deep=True):
        """Constructor parameters by name, as scikit-learn's ``get_params`` returns them.

        So that an estimator's ``get_params(deep=True)`` lists
        ``noise__<name>`` (and ``base__<name>``) beside its own, as it lists
        a nested scikit-learn estimator's: they could be set, not read (an
        API review).

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of parts that are themselves noises,
            as ``<part>__<name>``.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = {name: value for name, (value, _) in _init_params(type(self), self).items()}
        if deep:
            for name, value in list(params.items()):
                if hasattr(value, "get_params") and not isinstance(value, type):
                    params.update({f"{name}__{k}": v for k, v in value.get_params().items()})
        return params

    def __sklearn_clone__(self):
        # clone deep-copies a noise, as it did before get_params existed: a
        # user's subclass need not keep its constructor arguments by name.
        return copy.deepcopy(self)

    def set_params(self, **params):
        """Set constructor parameters by name, as scikit-learn's ``set_params`` does.

        What a grid search over ``noise__<name>`` (or ``base__<name>``) calls
        on the noise an estimator holds; the estimator fits a copy of it at
        ``fit``. A part that is itself a noise takes ``<part>__<name>``.
        Without it such a search failed with an AttributeError (user test).

        Parameters
        ----------
        **params : dict
            Constructor parameters by name (those the noise keeps as
            attributes of the same name, as scikit-learn's estimators do).

        Returns
        -------
        self : Noise
            This noise, with the parameters set.
        """
        names = _init_params(type(self), self)
        for key, value in params.items():
            name, _, part_key = key.partition("__")
            if name not in names:
                raise ValueError(
                    f"Invalid parameter {name!r} for {type(self).__name__}: its settable "
                    f"parameters are {sorted(names)}."
                )
            if part_key:
                getattr(self, name).set_params(**{part_key: value})
            else:
                setattr(self, name, value)
        return self

    def extra_repr(self):
        """The constructor parameters that differ from their defaults, for ``repr``.

        As scikit-learn prints its estimators: ``GaussianNoise(ridge=0.001)``,
        so that a grid search's ``cv_results_["params"]`` tells candidates
        apart (they all read ``GaussianNoise()`` before; user test). Parts
        that are noises show as nested modules.

        Returns
        -------
        text : str
            ``name=value`` pairs, comma-separated.
        """
        names = _init_params(type(self), self)
        return ", ".join(
            f"{name}={value!r}"
            for name, (value, default) in names.items()
            if not isinstance(value, nn.Module) and not _is_default(value, default)
        )

    def fit(self, X):
        """Fit the noise to the training rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The training rows, a numpy array (the estimators pass theirs
            standardised, as float32).

        Returns
        -------
        self : Noise
            The fitted noise, its fitted tensors held as buffers.
        """
        # Named, as a missing sample is (a user test met a bare NotImplementedError).
        raise NotImplementedError(
            f"{type(self).__name__} does not define fit(X); a Noise subclass fits itself to "
            "the (standardised) training rows and returns self."
        )

    def sample(self, n_samples, generator=None):
        """Draw rows from the noise.

        A conditional noise has no ``sample``; it raises a
        NotImplementedError that points to :meth:`sample_given`.

        Parameters
        ----------
        n_samples : int
            Number of rows to draw.
        generator : torch.Generator, default=None
            The source of randomness; draws are made on its device and moved
            to the noise's, so a CPU generator serves a CUDA noise. None draws
            from torch's global generator.

        Returns
        -------
        samples : torch.Tensor of shape (n_samples, n_features)
            The draws, on the device of the noise's buffers.
        """
        raise NotImplementedError(_missing_method(self, "sample", "sample_given"))

    def log_prob(self, x):
        """Compute the log density of rows.

        A conditional noise has no ``log_prob``; it raises a
        NotImplementedError that points to :meth:`log_prob_given`.

        Parameters
        ----------
        x : torch.Tensor of shape (..., n_features)
            The rows, with any leading shape; the last axis holds the
            features. float32, the dtype of the fitted buffers and of every
            row the estimators pass (most built-in densities' matrix products
            refuse float64 rows).

        Returns
        -------
        log_density : torch.Tensor of shape (...)
            The log density of each row, in nats: ``x``'s shape without its
            last axis.
        """
        raise NotImplementedError(_missing_method(self, "log_prob", "log_prob_given"))

    def sample_given(self, x, n_draws, generator=None):
        """Draw ``y ~ pn(y | x)``, ``n_draws`` times for each row of ``x``.

        For an unconditional noise (this default) ``pn(y | x) = pn(y)``: the
        draws are ``sample(len(x) * n_draws, generator)``, whatever ``x``
        holds, reshaped.

        Parameters
        ----------
        x : torch.Tensor of shape (n_rows, n_features)
            The rows the jumps start from.
        n_draws : int
            Number of draws per row.
        generator : torch.Generator, default=None
            The source of randomness, as for :meth:`sample`.

        Returns
        -------
        y : torch.Tensor of shape (n_rows, n_draws, n_features)
            ``y[i, j]`` is the ``j``-th draw given ``x[i]``.
        """
        draws = self.sample(len(x) * n_draws, generator)
        return draws.reshape(len(x), n_draws, -1)

    def log_prob_given(self, y, x):
        """Compute ``log pn(y | x)``, the log density of a jump from ``x`` to ``y``.

        For an unconditional noise (this default) it is ``log_prob(y)``, and
        ``x`` is not read.

        Parameters
        ----------
        y : torch.Tensor of shape (..., n_features)
            The end points of the jumps.
        x : torch.Tensor of shape (..., n_features)
            The start points, broadcast against ``y`` over the leading axes
            (e.g. ``y`` of shape ``(n, k, d)`` against ``x`` of ``(n, 1, d)``).

        Returns
        -------
        log_density : torch.Tensor
            ``log pn(y | x)`` in nats, of the leading shape of ``y`` and ``x``
            broadcast together (of ``y``'s alone where ``x`` is not read).
        """
        del x
        return self.log_prob(y)

    def _device(self):
        return next(iter(self.buffers())).device

    def _host_probabilities(self, log_weights, dtype=torch.float32):
        """``exp(log_weights)`` in ``dtype`` on the CPU, where ``torch.multinomial`` draws.

        Copied once per state of the buffer: on a GPU a copy to the host waits
        for the device, and the noise is sampled on every training step with
        weights that stay fixed once fitted. (Keyed by the tensor and its
        version, which ``.to(device)``, a refit and ``load_state_dict`` change.)
        """
        cached = self.__dict__.get("_host_probabilities_cache")
        if cached is None or cached[0] is not log_weights or cached[1] != log_weights._version:
            cached = (log_weights, log_weights._version, log_weights.to(dtype).exp().cpu())
            self.__dict__["_host_probabilities_cache"] = cached
        return cached[2]

    def __getstate__(self):
        # The host copy is a cache (holding a device tensor): pickles and
        # copies start without it.
        state = self.__dict__.copy()
        state.pop("_host_probabilities_cache", None)
        return state


def _missing_method(noise, method, conditional_method):
    """Why ``noise.method`` raised: conditional noises have jumps, others must define it."""
    name = type(noise).__name__
    if noise.conditional:
        return f"{name} is conditional: use {conditional_method}."
    return f"{name} does not define {method}; a Noise subclass defines the methods it is used for."


class GaussianNoise(Noise):
    """A Gaussian with the training rows' mean and full covariance.

    ``ridge`` (relative to each column's variance) is added to the diagonal
    so that a rank-deficient sample still gives a proper density. With
    ``shrinkage="ledoit-wolf"`` the covariance is scikit-learn's
    :class:`~sklearn.covariance.LedoitWolf` estimate, shrunk towards a
    multiple of the identity by the amount that minimises its expected
    squared error: where there are few rows per feature the sample
    covariance's small eigenvalues are too small, and unseen rows pay for it
    (3000 rows of 500-d low-rank data, standardised: held-out log-likelihood
    -204.7 nats per row, shrunk -194.7, truth -176.2).

    Parameters
    ----------
    ridge : float, default=1e-6
        Added to the covariance's diagonal, times each column's variance (at
        least 1e-12 of the largest): a relative floor that keeps
        the covariance positive definite, so that its Cholesky factor exists,
        in any units (the correlation matrix plus ``ridge`` times the identity,
        scaled back).
    shrinkage : {None, "ledoit-wolf"}, default=None
        None uses the sample covariance (``np.cov``); ``"ledoit-wolf"``
        scikit-learn's shrunk estimate. Any other value raises a ValueError
        in :meth:`fit`.

    Attributes
    ----------
    means : torch.Tensor of shape (1, n_features)
        The training rows' mean.
    scale_trils : torch.Tensor of shape (1, n_features, n_features)
        The lower Cholesky factor ``L`` of the covariance (ridge included).
    precision_trils : torch.Tensor of shape (1, n_features, n_features)
        Its inverse ``L^-1``, which whitens a row in one product.

    See Also
    --------
    GaussianMixtureNoise : A mixture of Gaussians, its size chosen by BIC.
    SelectedDensity : Stacks this (sample and shrunk) with mixtures and KDEs.
    sklearn.covariance.LedoitWolf : The shrunk covariance estimate.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_nce.modules import GaussianNoise
    >>> X = np.random.default_rng(0).normal(size=(500, 3))
    >>> noise = GaussianNoise(shrinkage="ledoit-wolf").fit(X)
    >>> noise.sample(4, torch.Generator().manual_seed(0)).shape
    torch.Size([4, 3])
    >>> noise.log_prob(torch.zeros(2, 3)).shape
    torch.Size([2])
    """

    # Pickles of older versions lack the attribute (a refit reads it).
    shrinkage = None

    def __init__(self, ridge=1e-6, shrinkage=None):
        super().__init__()
        self.ridge = ridge
        self.shrinkage = shrinkage

    def fit(self, X):
        X = np.asarray(X, dtype=np.float64)
        if self.shrinkage == "ledoit-wolf":
            covariance = LedoitWolf(store_precision=False).fit(X).covariance_
        elif self.shrinkage is None:
            covariance = np.atleast_2d(np.cov(X, rowvar=False))
        else:
            raise ValueError(f"shrinkage must be None or 'ledoit-wolf', got {self.shrinkage!r}.")
        # Per column: a ridge of the mean variance turned a column of sd 0.1
        # beside one of sd 1e4 into sd 7.07 (a review).
        # A column of (near) zero variance takes 1e-12 of the largest one's:
        # a variance of 1e-30 from float jitter would otherwise be a spike.
        variances = np.diag(covariance)
        floor = max(variances.max(), 1e-12) * 1e-12
        covariance = covariance + np.diag(self.ridge * np.maximum(variances, floor))
        scale_tril = np.linalg.cholesky(covariance)
        _set_buffers(
            self,
            means=X.mean(axis=0, keepdims=True),
            scale_trils=scale_tril[None],
            precision_trils=np.linalg.inv(scale_tril)[None],
        )
        return self

    def sample(self, n_samples, generator=None):
        eps = standard_normal((n_samples, self.means.shape[1]), generator, self._device())
        return self.means[0] + eps @ self.scale_trils[0].T

    def log_prob(self, x):
        return _gaussian_log_probs(x, self.means, self.precision_trils)[..., 0]


class GaussianMixtureNoise(Noise):
    """A Gaussian mixture fitted by sklearn's ``GaussianMixture``, held as tensors.

    ``fit`` runs scikit-learn's EM on the numpy rows; the fitted weights,
    means and covariance factors are then float32 buffers, so that draws
    and log densities are torch operations on the noise's device. Spherical
    and diagonal mixtures are held as per-feature scales, the others
    (full, tied) as one Cholesky factor per component.

    Parameters
    ----------
    n_components : int or "bic", default="bic"
        Components; ``"bic"`` picks the count *and* the covariance type
        (spherical, diagonal or full) with the lowest BIC, the model
        selection of sklearn's GMM example: per type, counts 1, 2, 4, ..., 64
        (at most one per 10 rows, stopping once the BIC has risen twice in a
        row), then a finer grid between the best count's neighbours. Either
        way, components that EM leaves with fewer rows than their covariance
        needs (``n_features + 1`` for a full one, otherwise 2), or than 5,
        are dropped: each would be a spike on a lone training row, or a mode
        of a few anomalies.
    covariance_type : str, default="full"
        The ``GaussianMixture`` covariance type when ``n_components`` is an
        int; ignored with ``"bic"``.
    random_state : int or None, default=None
        Seeds the EM initialisation.

    Attributes
    ----------
    mixture_ : sklearn.mixture.GaussianMixture
        The fitted mixture the buffers hold.
    log_weights : torch.Tensor of shape (n_components,)
        The log mixture weights.
    means : torch.Tensor of shape (n_components, n_features)
        The component means.

    See Also
    --------
    GaussianNoise : A single full-covariance Gaussian.
    SelectedDensity : Stacks mixtures of several sizes with KDEs and Gaussians.
    sklearn.mixture.GaussianMixture : The mixture fitted, by EM.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_nce.modules import GaussianMixtureNoise
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(-3, 1, (200, 2)), rng.normal(3, 1, (200, 2))]
    >>> noise = GaussianMixtureNoise(n_components=2, random_state=0).fit(X)
    >>> noise.means.shape
    torch.Size([2, 2])
    >>> noise.sample(5, torch.Generator().manual_seed(0)).shape
    torch.Size([5, 2])
    >>> noise.log_prob(torch.zeros(3, 2)).shape
    torch.Size([3])

    A mixture fitted elsewhere, of any covariance type, is held as it is:

    >>> from sklearn.mixture import GaussianMixture
    >>> mixture = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    >>> GaussianMixtureNoise().set_mixture(mixture).scales.shape
    torch.Size([3, 2])
    """

    def __init__(self, n_components="bic", covariance_type="full", random_state=None):
        super().__init__()
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.random_state = random_state

    def fit(self, X):
        mixture = fit_gaussian_mixture(
            X, self.n_components, self.covariance_type, self.random_state
        )
        return self.set_mixture(mixture)

    def set_mixture(self, mixture):
        """Hold a fitted sklearn ``GaussianMixture`` as tensors.

        Diagonal and spherical mixtures keep per-feature scales: their log
        density is then two ``(n, d) @ (d, K)`` products, as in sklearn,
        instead of a ``d x d`` whitening per component (``d`` times the work,
        which dominated a fit in 60 dimensions). Buffers of a previous
        mixture are replaced, whatever its covariance type.

        Parameters
        ----------
        mixture : sklearn.mixture.GaussianMixture
            A fitted mixture, of any covariance type. It is kept as
            ``mixture_`` (not copied).

        Returns
        -------
        self : GaussianMixtureNoise
            This noise, now holding ``mixture``.
        """
        self.mixture_ = mixture
        self._drop_covariance_buffers()
        if mixture.covariance_type in _DIAGONAL_TYPES:
            covariance_buffers = {"scales": np.sqrt(_diagonal_variances(mixture))}
        else:
            scale_trils = np.linalg.cholesky(_full_covariances(mixture))
            covariance_buffers = {
                "scale_trils": scale_trils,
                "precision_trils": np.linalg.inv(scale_trils),
            }
        _set_buffers(
            self,
            log_weights=np.log(mixture.weights_),
            means=mixture.means_,
            **covariance_buffers,
        )
        return self

    @property
    def _diagonal(self):
        return "scales" in self._buffers

    def _drop_covariance_buffers(self):
        # A refit may change the covariance type: no stale buffer may remain.
        for name in ("scales", "scale_trils", "precision_trils"):
            self._buffers.pop(name, None)

    def sample(self, n_samples, generator=None):
        device = self._device()
        component = torch.multinomial(
            self._host_probabilities(self.log_weights),
            n_samples,
            replacement=True,
            generator=generator,
        )
        eps = standard_normal((n_samples, self.means.shape[1]), generator, device)
        means = self.means[component.to(device)]
        if self._diagonal:
            return means + eps * self.scales[component.to(device)]
        return means + _times_component_factor(eps, component, self.scale_trils)

    def log_prob(self, x):
        if self._diagonal:
            per_component = _diagonal_gaussian_log_probs(x, self.means, self.scales)
        else:
            per_component = _gaussian_log_probs(x, self.means, self.precision_trils)
        return torch.logsumexp(per_component + self.log_weights, dim=-1)


class KernelDensityNoise(Noise):
    """A Gaussian KDE over the training rows: CNCE's "global jumps" to the data.

    The density is the mean of isotropic Gaussian kernels, one of standard
    deviation ``bandwidth_`` at each centre kept; a draw is a random centre
    plus a kernel's Gaussian step. The bandwidth rules read the centres kept
    (so ``n`` is at most ``max_rows``).

    Parameters
    ----------
    bandwidth : float, "scott" or "cv", default="scott"
        Kernel standard deviation. ``"scott"`` is Scott's rule
        ``h = n^(-1 / (d + 4)) * mean_j std(X_j)``, the rule of
        ``scipy.stats.gaussian_kde`` with the features' mean spread; ``"cv"``
        maximises the leave-one-out log-likelihood (``cv_bandwidth``), as
        ``GridSearchCV(KernelDensity())`` would.
    max_rows : int, default=1000
        Kernel centres kept (a random subset beyond it): ``log_prob`` costs
        one distance per centre, on every training step. A noise needs to
        cover the data, not to be the best density estimate, so a subset
        serves as well.
    random_state : int or None, default=None
        Chooses the subset.

    Attributes
    ----------
    bandwidth_ : float
        The kernel standard deviation used.
    centres : torch.Tensor of shape (n_centres, n_features)
        The kernel centres: the training rows, or ``max_rows`` of them.

    See Also
    --------
    AdaptiveKernelDensityNoise : Kernels that widen where the rows thin out.
    SelectedDensity : Stacks KDEs with Gaussian mixtures and Gaussians.
    sklearn.neighbors.KernelDensity : Kernel density estimation in scikit-learn.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_nce.modules import KernelDensityNoise
    >>> X = np.random.RandomState(0).standard_normal((500, 2))
    >>> kde = KernelDensityNoise(bandwidth="cv", random_state=0).fit(X)
    >>> kde.log_prob(torch.zeros(3, 2)).shape
    torch.Size([3])
    >>> kde.sample(4, torch.Generator().manual_seed(0)).shape
    torch.Size([4, 2])
    """

    def __init__(self, bandwidth="scott", max_rows=1000, random_state=None):
        super().__init__()
        self.bandwidth = bandwidth
        self.max_rows = max_rows
        self.random_state = random_state

    def fit(self, X):
        X = self._kept_rows(X)
        self.bandwidth_ = bandwidth = self._chosen_bandwidth(X)
        # log_prob works on rows and centres less their mean, as the adaptive
        # kernels do: uncentred, float32 lost |x|^2 / h^2's digits on data far
        # from the origin (0.8 nats off at 1000 sd, 190 at 10 000; a review).
        shift = X.mean(axis=0)
        squared_norms = np.square(X - shift).sum(axis=1)
        _set_buffers(
            self,
            centres=X,
            shift=shift,
            squared_norms=squared_norms,
            bandwidth_value=np.asarray(bandwidth),
        )
        self._float64 = _needs_float64(squared_norms / bandwidth**2)
        return self

    def _with_bandwidth(self, bandwidth):
        """An unfitted copy of this density's settings with another ``bandwidth``."""
        params = {name: getattr(self, name) for name in self._param_names()}
        return type(self)(**{**params, "bandwidth": bandwidth})

    def _param_names(self):
        return ("bandwidth", "max_rows", "random_state")

    def _kept_rows(self, X):
        """The kernel centres: ``X``, or a random ``max_rows`` of its rows."""
        return _random_rows(np.asarray(X, dtype=np.float64), self.max_rows, self.random_state)

    def _chosen_bandwidth(self, X):
        if self.bandwidth == "scott":
            return scott_bandwidth(X)
        if self.bandwidth == "cv":
            return self._cv_bandwidth(X)
        return float(self.bandwidth)

    def _cv_bandwidth(self, X):
        """The bandwidth by leave-one-out likelihood (``cv_bandwidth``)."""
        return cv_bandwidth(X, random_state=self.random_state)

    def sample(self, n_samples, generator=None):
        device = self._device()
        rows = torch.randint(len(self.centres), (n_samples,), generator=generator).to(device)
        eps = standard_normal((n_samples, self.centres.shape[1]), generator, device)
        return self.centres[rows] + self._kernel_widths(rows) * eps

    def _kernel_widths(self, rows):
        """The kernel standard deviation of the centres ``rows`` (broadcast over features)."""
        return self.bandwidth_value

    def log_prob(self, x):
        if _in_float64(self, x):
            widths = self.bandwidth_value.expand(len(self.centres))
            return _float64_kernel_log_density(x, self.centres, widths)
        n_centres, n_features = self.centres.shape
        # Fitted by an older version: no shift, and squared norms uncentred.
        shift = self._buffers.get("shift", self.centres.new_zeros(n_features))
        flat = x.reshape(-1, x.shape[-1]) - shift
        precision = 1.0 / self.bandwidth_value**2
        # log k(x, c) = precision * (x.c - |c|^2 / 2) - precision * |x|^2 / 2 + const:
        # the first part is one fused matrix product, and the per-row term
        # leaves the log-sum-exp (elementwise passes dominate the cost here).
        # alpha as a number: a tensor there is read back to the host on every
        # call, a GPU sync per step (a review). The same float32 value.
        alpha = float(np.float32(1.0) / np.float32(self.bandwidth_) ** 2)
        cross = torch.addmm(
            -0.5 * precision * self.squared_norms, flat, (self.centres - shift).T, alpha=alpha
        )
        row_term = -0.5 * precision * flat.square().sum(-1)
        log_norm = n_features * (0.5 * _LOG_2PI + torch.log(self.bandwidth_value))
        log_density = torch.logsumexp(cross, dim=-1) + row_term - log_norm - math.log(n_centres)
        return log_density.reshape(x.shape[:-1])


class AdaptiveKernelDensityNoise(KernelDensityNoise):
    """A Gaussian KDE whose kernels widen where the rows thin out.

    Centre ``i`` has bandwidth ``h * lambda_i``, with ``lambda_i`` its
    distance to its ``n_neighbors``-th nearest row over the geometric mean of
    those distances: a variable kernel estimate (Breiman, Meisel and Purcell
    1977). Narrow kernels keep dense regions sharp, wide ones cover sparse
    regions and the tails, where one fixed bandwidth has to trade the two.

    Parameters
    ----------
    bandwidth : float, "scott" or "cv", default="cv"
        The global bandwidth ``h``: ``"cv"`` maximises the leave-one-out
        log-likelihood on at most 1000 rows (as ``cv_bandwidth`` does for
        the fixed kernel), then scales it to the sample by the same rate;
        ``"scott"`` is Scott's rule (``scott_bandwidth``).
    n_neighbors : int, default=10
        Which neighbour's distance sets a centre's width (capped at the
        number of centres minus one; below 1, :meth:`fit` raises a
        ValueError). Distances of 0 (repeated rows) are raised to the 10th
        percentile of the positive ones, so that no kernel is a point.
    max_rows : int, default=1000
        Kernel centres kept (a random subset beyond it).
    random_state : int or None, default=None
        Chooses the subsets.

    Attributes
    ----------
    bandwidth_ : float
        The global bandwidth ``h``.
    widths : torch.Tensor of shape (n_centres,)
        Each centre's kernel standard deviation, ``h * lambda_i``.

    See Also
    --------
    KernelDensityNoise : One bandwidth for every kernel.
    SelectedDensity : Stacks both KDEs with Gaussian mixtures and Gaussians.
    sklearn.neighbors.KernelDensity : Fixed-bandwidth kernel density estimation.

    Examples
    --------
    A narrow cluster beside a wide one: the kernels in the narrow one are
    the narrower.

    >>> import numpy as np
    >>> from sklearn_nce.modules import AdaptiveKernelDensityNoise
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[0.1 * rng.standard_normal((200, 1)), 5 + rng.standard_normal((200, 1))]
    >>> kde = AdaptiveKernelDensityNoise(random_state=0).fit(X)
    >>> bool(kde.widths[:200].median() < kde.widths[200:].median())
    True
    """

    def __init__(self, bandwidth="cv", n_neighbors=10, max_rows=1000, random_state=None):
        super().__init__(bandwidth, max_rows, random_state)
        self.n_neighbors = n_neighbors

    def _param_names(self):
        return (*super()._param_names(), "n_neighbors")

    def fit(self, X):
        if self.n_neighbors < 1:
            raise ValueError(f"n_neighbors must be at least 1; got {self.n_neighbors}.")
        X = self._kept_rows(X)
        self.bandwidth_ = bandwidth = self._chosen_bandwidth(X)
        widths = bandwidth * _relative_widths(X, self.n_neighbors)
        precisions = 1.0 / widths**2
        n_features = X.shape[1]
        # log k_i(x) = p_i x.c_i - p_i |x|^2 / 2 - p_i |c_i|^2 / 2 - d log w_i
        # (+ const), p_i = 1 / w_i^2: a product of [x, |x|^2] with the columns
        # [p_i c_i, -p_i / 2], plus a per-centre offset. One matrix product:
        # with the |x|^2 term as a separate outer-product pass, the normaliser's
        # 100 000 draws cost 2.3 s more than the fixed kernel's. The terms
        # cancel to -p_i |x - c_i|^2 / 2, so both sides are centred on the
        # rows' mean first: float32 loses ~1e-7 of p_i |x|^2, which for the
        # narrowest kernels on data 100 units from the origin was 1.3 nats.
        shift = X.mean(axis=0)
        centred = X - shift
        self._float64 = _needs_float64(precisions * np.square(centred).sum(axis=1))
        _set_buffers(
            self,
            centres=X,
            shift=shift,
            widths=widths,
            weights=np.c_[centred * precisions[:, None], -0.5 * precisions].T,
            offsets=(
                -0.5 * precisions * np.square(centred).sum(axis=1) - n_features * np.log(widths)
            ),
        )
        return self

    def _cv_bandwidth(self, X):
        """``h`` by leave-one-out likelihood, read on <= 1000 rows as ``cv_bandwidth``."""
        n_samples, n_features = X.shape
        X = _cv_rows(X, self.random_state)
        scott = scott_bandwidth(X)
        # Each row's own width counts its held-out neighbour among the k: a
        # leak of order k / n into the bandwidth, as in the fixed kernel's
        # Scott-relative grid.
        relative = _relative_widths(X, self.n_neighbors)
        distances = torch.as_tensor(euclidean_distances(X, squared=True) / relative**2)
        distances[torch.as_tensor(copy_mask(X))] = math.inf  # each row and its copies out
        log_relative = torch.as_tensor(n_features * np.log(relative))
        best, best_score = scott, -np.inf
        for bandwidth in scott * _CV_BANDWIDTH_FACTORS:
            # torch's log-sum-exp: scipy's took 0.4 s of this search on 1000 digits rows.
            log_kernels = (-0.5 / bandwidth**2) * distances - log_relative
            score = torch.logsumexp(log_kernels, dim=1).mean().item()
            score -= n_features * math.log(bandwidth)
            if score > best_score:
                best, best_score = bandwidth, score
        return float(rate_scaled(best, len(X), n_samples, X))

    def _kernel_widths(self, rows):
        return self.widths[rows, None]

    def log_prob(self, x):
        if _in_float64(self, x):
            return _float64_kernel_log_density(x, self.centres, self.widths)
        flat = x.reshape(-1, x.shape[-1]) - self.shift
        n_centres, n_features = self.centres.shape
        augmented = torch.cat([flat, flat.square().sum(-1, keepdim=True)], dim=1)
        log_kernels = torch.addmm(self.offsets, augmented, self.weights)
        log_norm = 0.5 * n_features * _LOG_2PI + math.log(n_centres)
        return (torch.logsumexp(log_kernels, dim=-1) - log_norm).reshape(x.shape[:-1])


class SelectedDensity(Noise):
    """Density families stacked by held-out log-likelihood.

    ``fit`` holds rows out (3 folds up to 2000 rows, else
    ``held_out_fraction``; a row's exact copies with it, unless one value
    fills more rows than that or its values repeat by nature, as counts and
    codes do: ``measured_copy_groups``), fits each
    candidate on the rest, and weighs the candidates to maximise the
    held-out log-likelihood of their mixture
    ``sum_k w_k p_k`` (EM on the held-out log densities: stacked density
    estimation, Smyth and Wolpert 1999); candidates under 1% of the weight
    are dropped and the rest refitted on all the rows (mixtures on at most
    100 000 of them, KDEs keep at most 10 000 centres). The candidates are
    the Gaussian mixtures of the BIC search within a factor 2 of each
    covariance type's best count, two Gaussian KDEs with their bandwidths by
    leave-one-out likelihood (one fixed kernel, and kernels that widen with
    each row's 10th-neighbour distance: :class:`AdaptiveKernelDensityNoise`)
    and two full Gaussians, one with the sample covariance and one with its
    Ledoit-Wolf shrinkage: what a user would otherwise compare by hand,
    without having to pick one.

    The shrunk Gaussian, measured on held-out normal rows (seed 0): it lifted
    the stack's log-likelihood on ionosphere (-3.76 -> -3.33 nats per row),
    breast cancer with either class held out (-11.02 -> -10.28, -8.82 ->
    -8.25) and 5000 rows of 500-d low-rank data (+8.4), and took under 1% of
    the weight on breastw, vertebral, newthyroid, digits and one wine split.
    :class:`~sklearn_nce.CNCEEnergyModel` (ODDS, seeds 0-2): ionosphere's
    held-out log-likelihood -6.14 -> -5.39, the other sets and the energy
    benchmark within 0.03. It ranks anomalies worse, though: even at 8% of
    the weight its wide tails decide how far rows rank, and
    :class:`~sklearn_nce.NoisierNCEClassifier` fell on breast cancer with
    the malignant class held out from 0.805 to 0.763 AUPRC (every seed;
    satimage2 0.934 -> 0.939, the rest within 0.002), so the detector's
    noise leaves it out (``shrunk_gaussian=False``).

    The adaptive KDE, measured on the ODDS sets (base alone, seeds 0-2): the
    held-out log-likelihood rose on ionosphere (-5.79 -> -5.19 nats per row),
    newthyroid (-4.03 -> -3.98) and breastw (11.07 -> 11.08), and newthyroid's
    AUPRC 0.903 -> 0.915; satimage2, shuttle, vertebral and digits gave it
    under 1% of the weight (unchanged).

    Stacking, not picking the best candidate: on the six ODDS anomaly sets
    (3 seeds) the stack's held-out log-likelihood of unseen normal rows was
    never below the best single candidate's (ionosphere -15.3 -> -3.8,
    breastw 4.7 -> 11.5, satimage2 -0.43 -> +0.66 nats per row), and ranking
    by it raised AUPRC on four (ionosphere 0.953 -> 0.980, satimage2 0.879 ->
    0.928) and equalled it on vertebral, where one Gaussian then took 99%
    (before it shared the mixtures' covariance floor; mixtures win there now).

    Parameters
    ----------
    families : tuple of {"gmm", "kde", "gaussian"}, default=("gmm", "kde", "gaussian")
        The candidate families ("kde" brings both KDEs, "gaussian" both
        Gaussians). Another name raises a ValueError in :meth:`fit`.
    held_out_fraction : float, default=0.2
        Rows held out to weigh the candidates (above 2000 rows, at most 5000
        of them; below, each row is held out once in 3 folds).
    defensive_weight : float, default=0.001
        Weight of a heavy-tailed density (:class:`CauchyNoise`) mixed into
        every candidate and the stack: a "defensive" mixture that costs at
        most ``-log(1 - weight)`` (0.001 nats) per row and keeps a new row
        far from the data within ``~2 log |x|`` nats per column of the
        Cauchy's density. Without it, one unseen shuttle row scored -751 082
        nats under a mixture component 0.01 wide in one direction, and
        -16 000 under a Gaussian twice the data's width. 0 mixes in none.
    random_state : int or None, default=None
        Seeds the split, the mixtures and the KDE's subsets.
    shrunk_gaussian : bool, default=True
        Whether the "gaussian" family brings the Ledoit-Wolf Gaussian beside
        the sample-covariance one.

    Attributes
    ----------
    family_ : str
        The family with the largest total weight.
    weights_ : dict
        Weight of each candidate kept, e.g.
        ``{"gmm (full, 4)": 0.6, "kde": 0.3, "kde (adaptive)": 0.1}``.
    scores_ : dict
        Held-out mean log density of each candidate and of the ``"stack"``
        (each fold's rows weighed by weights fitted on the other folds' rows,
        so that the weights do not flatter the rows that fitted them). With
        folds, the mixtures' counts and covariance types and the KDEs'
        bandwidths are chosen once on all rows, held-out ones included, and
        each fold refits with them: a slight optimism, traded for the cost
        of a search per fold.
    density : Noise
        The stack refitted on all the rows, with its defensive part; its
        Gaussian mixtures are pooled into one mixture per covariance layout
        (diagonal, full), which is the same density.
    held_out_log_density_ : ndarray of shape (n_held_out,)
        The stack's log density of each held-out row (with folds, of every
        row, each by the candidates fitted without it, weighed as in
        ``scores_``).
    in_sample_log_density_ : ndarray of shape (n_in_sample,)
        The fitted density's log density of the rows (of 25 000 of them,
        drawn at random, beyond that many).

    See Also
    --------
    StackedDensity : The fixed-weight mixture of fitted densities built here.
    GaussianMixtureNoise : The "gmm" family's candidates.
    KernelDensityNoise : The "kde" family's fixed-kernel candidate.
    AdaptiveKernelDensityNoise : The "kde" family's adaptive candidate.
    GaussianNoise : The "gaussian" family's candidates.
    CauchyNoise : The defensive part.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_nce.modules import SelectedDensity
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> density = SelectedDensity(families=("kde", "gaussian"), random_state=0).fit(X)
    >>> density.family_ in ("kde", "gaussian")
    True
    >>> round(sum(density.weights_.values()), 6)
    1.0
    >>> density.log_prob(torch.zeros(3, 2)).shape
    torch.Size([3])
    """

    def __init__(
        self,
        families=DENSITY_FAMILIES,
        held_out_fraction=0.2,
        defensive_weight=0.001,
        random_state=None,
        shrunk_gaussian=True,
    ):
        super().__init__()
        self.families = families
        self.shrunk_gaussian = shrunk_gaussian
        self.held_out_fraction = held_out_fraction
        self.defensive_weight = defensive_weight
        self.random_state = random_state

    def fit(self, X):
        X = np.asarray(X, dtype=np.float64)
        if not 0 <= self.defensive_weight < 1:
            raise ValueError(f"defensive_weight must be in [0, 1); got {self.defensive_weight!r}.")
        if not 0 < self.held_out_fraction < 1:
            raise ValueError(
                f"held_out_fraction must be in (0, 1); got {self.held_out_fraction!r}."
            )
        if len(X) < 2 * _SELECTION_FOLDS:
            raise ValueError(
                f"SelectedDensity needs at least {2 * _SELECTION_FOLDS} rows to hold some out "
                f"in {_SELECTION_FOLDS} folds; got {len(X)}."
            )
        splits = self._splits(X)
        # With folds the mixtures' counts and the KDE's bandwidth come from one
        # search on all rows (each fold refits with them: the bandwidth search
        # per fold took 2.3 of a 7.7 s fit on 1000 digits rows); with one
        # split, from the search on its fit rows.
        searched, bandwidths = None, {}
        if len(splits) > 1:
            searched = self._mixtures(X)
            bandwidths = self._bandwidths(X)
        blocks = []
        for rest, held in splits:
            fitted = self._candidates(
                X[rest],
                searched,
                {name: rate_scaled(h, len(X), len(rest), X) for name, h in bandwidths.items()},
            )
            blocks.append(self._held_out_log_densities(fitted, X[rest], X[held]))
        log_densities = np.vstack(blocks)
        folds = self._weighing_folds(X, splits)
        names = list(fitted)
        weights = stacking_weights(log_densities)
        keep = weights >= _MIN_STACK_WEIGHT
        weights = weights[keep] / weights[keep].sum()
        kept = [name for name, flag in zip(names, keep, strict=True) if flag]
        self.scores_ = dict(zip(names, log_densities.mean(axis=0).tolist(), strict=True))
        # The stack's own held-out score weighs each fold's rows by the other
        # folds' rows: weights fitted on the rows they score flattered them by
        # 0.04-1.1 nats per row at 30 rows, 0.04-0.22 at 100 (wine and breast
        # cancer, 4 seeds each).
        stack = _cross_weighed_stack(log_densities, folds)
        self.scores_["stack"] = float(stack.mean())
        self.weights_ = dict(zip(kept, weights.tolist(), strict=True))
        self.family_ = max(self.families, key=self._family_weight)
        # Mixtures searched on a subsample of the fit rows continue from there
        # on all the rows (see _refit).
        from_subsample = len(splits) == 1 and len(splits[0][0]) > _BIC_SEARCH_ROWS
        parts = [self._refit(fitted[name], X, searched, from_subsample) for name in kept]
        parts, weights = _pooled_mixtures(parts, weights)
        stacked = parts[0] if len(parts) == 1 else StackedDensity(parts, weights)
        self.density = self._defended(stacked, self._wide(X))
        # The rows' log densities held out (cross-fitted) and in sample: how
        # much the fit flatters its own rows, quantile by quantile.
        self.held_out_log_density_ = stack
        self.in_sample_log_density_ = _log_prob_by_blocks(
            self, _random_rows(X, _IN_SAMPLE_ROWS, self.random_state)
        )
        return self

    def tail_optimism(self, level):
        """Return how far the fit rows' ``level`` quantile of log density lies above new rows'.

        The gap between the quantiles of the rows' in-sample and cross-fitted
        (held-out) log densities, in nats. A threshold at the rows' own
        quantile minus this flags about ``level`` of new rows from the same
        distribution. The gap grows into the tail, so no single shift serves
        every level: on breast cancer's benign rows it was 10 nats at the 17%
        quantile and 25 at 5%.

        Parameters
        ----------
        level : float in [0, 1]
            The quantile, as a fraction (0.05 for the 5% quantile).

        Returns
        -------
        optimism : float
            ``in_sample_log_density_``'s ``level`` quantile minus
            ``held_out_log_density_``'s, in nats (positive where the fit
            flatters its own rows).
        """
        return float(
            np.percentile(self.in_sample_log_density_, 100.0 * level)
            - np.percentile(self.held_out_log_density_, 100.0 * level)
        )

    def _weighing_folds(self, X, splits):
        """Each held-out row's fold for weighing the stack out of fold.

        The cross-fitting folds where there are several; one held-out block
        is cut into ``_SELECTION_FOLDS`` parts, a row's copies in one (as
        ``_splits`` holds them out), or is one fold below that many rows.
        """
        if len(splits) > 1:
            return np.repeat(np.arange(len(splits)), [len(held) for _, held in splits])
        held = splits[0][1]
        folds = np.zeros(len(held), dtype=int)
        if len(held) < _SELECTION_FOLDS:
            return folds
        # Copies read as the split read them: the lattices over every row (the
        # held-out rows alone have fewer rows for a lattice's points).
        groups = measured_copy_groups(X[held], len(held) // _SELECTION_FOLDS, lattice_rows=X)
        rng = np.random.RandomState(self.random_state)
        for fold, (_, rows) in enumerate(grouped_folds(len(held), groups, _SELECTION_FOLDS, rng)):
            folds[rows] = fold
        return folds

    def _family_weight(self, family):
        return sum(w for name, w in self.weights_.items() if name.partition(" ")[0] == family)

    def _held_out_log_densities(self, fitted, X_rest, X_held):
        """Held-out log densities ``(n_held, n_candidates)``, each candidate defended."""
        wide = self._wide(X_rest)
        columns = [_log_prob_by_blocks(self._defended(d, wide), X_held) for d in fitted.values()]
        return np.stack(columns, axis=1)

    def _candidates(self, X, searched=None, bandwidths=None):
        """Each candidate fitted on ``X``, by name.

        The mixtures are ``searched``'s (covariance type, count) pairs refitted
        on ``X``, or without it the BIC neighbourhood searched on ``X``; the
        two KDEs (fixed and adaptive kernels) have their ``bandwidths``
        (by name), or without them ones chosen on ``X``.
        Held-out likelihood, not BIC, then weighs the covariance types: on
        breastw BIC chose 24 diagonal components, whose held-out
        log-likelihood was below a full-covariance mixture's.
        """
        candidates = {}
        for family in self.families:
            if family == "gmm":
                mixtures = (
                    self._mixtures(X)
                    if searched is None
                    else {key: self._fit_mixture(X, *key) for key in searched}
                )
                for (kind, count), mixture in mixtures.items():
                    candidates[f"gmm ({kind}, {count})"] = GaussianMixtureNoise().set_mixture(
                        mixture
                    )
            elif family == "kde":
                for name, kind in _KERNEL_DENSITIES.items():
                    candidates[name] = kind(
                        bandwidth=(bandwidths or {}).get(name, "cv"),
                        max_rows=_KDE_BASE_ROWS,
                        random_state=self.random_state,
                    ).fit(X)
            elif family == "gaussian":
                for name, shrinkage in _GAUSSIANS.items():
                    if shrinkage is None or self.shrunk_gaussian:
                        candidates[name] = GaussianNoise(
                            ridge=_BASE_REG_COVAR, shrinkage=shrinkage
                        ).fit(X)
            else:
                raise ValueError(
                    f"Unknown density family {family!r}; choose from {DENSITY_FAMILIES}."
                )
        return candidates

    def _bandwidths(self, X):
        """Each KDE candidate's bandwidth chosen on ``X``, by name."""
        return {
            name: kind(random_state=self.random_state)._cv_bandwidth(X)
            for name, kind in _KERNEL_DENSITIES.items()
        }

    def _mixtures(self, X):
        """The BIC neighbourhood ``{(type, count): mixture}``, searched on <= 4000 of the rows."""
        # On shuttle (10 000 rows, 9-d) the search on every row took 45 s.
        X = _random_rows(X, _BIC_SEARCH_ROWS, self.random_state)
        return bic_neighbourhood(X, self.random_state, _BASE_REG_COVAR)

    def _fit_mixture(self, X, covariance_type, n_components, start=None):
        mixture = _em_mixture(
            np.asarray(X, dtype=np.float64),
            n_components,
            covariance_type,
            _BASE_REG_COVAR,
            self.random_state,
            start=start,
        )
        return _drop_thin_components(mixture, len(X))

    def _wide(self, X):
        # No narrower than the candidates' variance floor: a column constant
        # in a fold's fit rows (a rare flag whose ones were all held out) made
        # the defence a spike, +26.5 nats per such column at weight 1e-3, which
        # outweighed every candidate on those held-out rows (a review).
        return CauchyNoise(min_scale=math.sqrt(_BASE_REG_COVAR)).fit(X)

    def _defended(self, density, wide):
        if not self.defensive_weight:
            return density
        return DefensiveMixture(density, wide, self.defensive_weight)

    def _splits(self, X):
        """(fit rows, held-out rows): 3 folds up to 2000 rows, else one split.

        A row's copies are held out with it, unless its values repeat by nature
        (``measured_copy_groups``).
        """
        n_samples = len(X)
        rng = np.random.RandomState(self.random_state)
        if n_samples <= _SELECTION_KFOLD_MAX_ROWS:
            # A fifth of ~100 rows is too few to weigh the candidates: every
            # row is held out once (each fit is fast at this size).
            groups = measured_copy_groups(X, n_samples // _SELECTION_FOLDS)
            return grouped_folds(n_samples, groups, _SELECTION_FOLDS, rng)
        n_held = min(round(self.held_out_fraction * n_samples), _SELECTION_MAX_HELD_OUT)
        groups = measured_copy_groups(X, n_held)
        if groups is None:
            order = rng.permutation(n_samples)
            return [(order[n_held:], order[:n_held])]
        held = grouped_hold_out(groups, n_held, rng)
        return [(np.flatnonzero(~held), np.flatnonzero(held))]

    def _refit(self, density, X, searched=None, from_subsample=False):
        """A candidate refitted on all rows ``X`` (``searched``'s mixtures were fitted on them).

        Mixtures are refitted on at most ``_REFIT_MAX_ROWS`` of the rows.

        With ``from_subsample`` a mixture's EM starts from the candidate (which
        the BIC search fitted on a subsample of the rows) instead of k-means.
        Measured against k-means on all rows, base alone: shuttle (10 000
        rows, seeds 0-2) held-out log-likelihood 10.67 -> 10.86 and AUPRC
        0.9865 -> 0.9872, base fit 22.3 -> 15.4 s; the energy benchmark's 20-d
        mixture (10 000 rows, seeds 0-2) excess NLL 0.083 / 0.178 / 0.094 ->
        0.083 / 0.079 / 0.094. Not where the candidates saw every fit row
        (satimage2's 2751 of 3439, seeds 0-2: AUPRC 0.938 -> 0.927 warm):
        there k-means on all rows found the better optimum.
        """
        if isinstance(density, GaussianMixtureNoise):
            fitted = density.mixture_
            # The count the search asked for, which names it in ``searched``.
            key = (
                fitted.covariance_type,
                getattr(fitted, "asked_components_", fitted.n_components),
            )
            if searched is not None:
                mixture = searched[key]
            else:
                mixture = self._fit_mixture(
                    _random_rows(X, _REFIT_MAX_ROWS, self.random_state),
                    *key,
                    start=fitted if from_subsample else None,
                )
            return GaussianMixtureNoise().set_mixture(mixture)
        if isinstance(density, KernelDensityNoise):
            # Keep the chosen bandwidth, scaled to the larger sample by the
            # n^(-1 / (d + 4)) rate.
            bandwidth = rate_scaled(
                density.bandwidth_, len(density.centres), min(len(X), _KDE_BASE_ROWS), X
            )
            return density._with_bandwidth(bandwidth).fit(X)
        if isinstance(density, GaussianNoise):
            return GaussianNoise(ridge=density.ridge, shrinkage=density.shrinkage).fit(X)
        raise TypeError(f"No refit for a {type(density).__name__} candidate.")

    def sample(self, n_samples, generator=None):
        return self.density.sample(n_samples, generator)

    def log_prob(self, x):
        return self.density.log_prob(x)


def _log_prob_by_blocks(density, X):
    """``density.log_prob`` of the rows ``X`` (float64 array), in blocks of rows."""
    X = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    with torch.no_grad():
        blocks = [density.log_prob(block) for block in torch.split(X, _SCORE_BLOCK_ROWS)]
    return torch.cat(blocks).double().numpy() if blocks else np.zeros(0)


# SelectedDensity's "kde" family: its two candidates, by name.
_KERNEL_DENSITIES = {"kde": KernelDensityNoise, "kde (adaptive)": AdaptiveKernelDensityNoise}
# Its "gaussian" family: the sample covariance, and the Ledoit-Wolf one (see
# SelectedDensity for where the shrunk one weighs in).
_GAUSSIANS = {"gaussian": None, "gaussian (shrunk)": "ledoit-wolf"}


class StackedDensity(Noise):
    """``sum_k w_k p_k``: fitted densities mixed with fixed weights.

    A draw comes from part ``k`` with probability ``w_k`` (each part draws
    only its own rows); the log density is the log-sum-exp of the parts'
    plus their log weights. :meth:`fit` refits every part on the same rows
    and leaves the weights as they are. :class:`SelectedDensity` builds one
    from the candidates it keeps.

    Parameters
    ----------
    densities : list of Noise
        Unconditional densities (``sample``, ``log_prob``), fitted already
        or by :meth:`fit`.
    weights : array-like of shape (len(densities),)
        Positive weights summing to 1 (used as given, not normalised).

    Attributes
    ----------
    parts : torch.nn.ModuleList
        The densities.
    log_weights : torch.Tensor of shape (len(densities),)
        The log weights.

    See Also
    --------
    SelectedDensity : Chooses the densities and weights by held-out likelihood.
    GaussianMixtureNoise : A mixture of Gaussian components.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_nce.modules import GaussianNoise, KernelDensityNoise, StackedDensity
    >>> X = np.random.default_rng(0).normal(size=(300, 2))
    >>> parts = [GaussianNoise(), KernelDensityNoise(random_state=0)]
    >>> stack = StackedDensity(parts, [0.7, 0.3]).fit(X)
    >>> stack.sample(5, torch.Generator().manual_seed(0)).shape
    torch.Size([5, 2])
    >>> x = torch.zeros(3, 2)
    >>> by_hand = torch.logaddexp(
    ...     stack.parts[0].log_prob(x) + np.log(0.7), stack.parts[1].log_prob(x) + np.log(0.3)
    ... )
    >>> bool(torch.allclose(stack.log_prob(x), by_hand))
    True
    """

    def __init__(self, densities, weights):
        super().__init__()
        self.parts = nn.ModuleList(densities)
        weights = np.asarray(weights, dtype=np.float64)
        # sample() normalises through its multinomial and log_prob would not:
        # the two disagreed on weights that do not sum to 1 (a review).
        if (
            weights.shape != (len(self.parts),)
            or not np.all(weights > 0)
            or not np.isclose(weights.sum(), 1.0)
        ):
            raise ValueError(
                f"weights must be {len(self.parts)} positive numbers summing to 1, one per "
                f"density; got {weights.tolist()}."
            )
        self.register_buffer("log_weights", torch.log(torch.as_tensor(weights)).float())

    def fit(self, X):
        for part in self.parts:
            part.fit(X)
        return self

    def sample(self, n_samples, generator=None):
        # Each part draws only its own rows: NoisierNCEClassifier samples the
        # noise on every step, and drawing all n rows from each of 8 parts
        # tripled a digits fit (10.8 -> 32.6 s).
        probabilities = self._host_probabilities(self.log_weights, torch.float64)
        choice = torch.multinomial(probabilities, n_samples, True, generator=generator)
        draws = None
        groups = _rows_by_group(choice, len(self.parts), self._device())
        for part, rows in zip(self.parts, groups, strict=True):
            if len(rows) == 0:
                continue
            part_draws = part.sample(len(rows), generator)
            if draws is None:
                draws = part_draws.new_empty((n_samples, part_draws.shape[1]))
            draws[rows] = part_draws
        return draws

    def log_prob(self, x):
        log_probs = torch.stack([part.log_prob(x) for part in self.parts])
        log_weights = self.log_weights.reshape(-1, *([1] * (log_probs.dim() - 1)))
        return torch.logsumexp(log_probs + log_weights, dim=0)


def _pooled_mixtures(parts, weights):
    """Stacked Gaussian mixtures pooled into one mixture per covariance layout.

    ``sum_p w_p sum_k pi_pk N_pk`` is one mixture with weights ``w_p pi_pk``:
    the same density, but one draw and one log density per layout instead of
    one per part. The spherical and diagonal parts pool into one diagonal
    mixture, the full ones into one full mixture; other parts stay as they
    are. On digits (1000 rows, 61 columns) the stack held 8 mixtures and its
    draws took a third of each training step.
    """
    pooled, kept, kept_weights = {}, [], []
    for part, weight in zip(parts, weights, strict=True):
        if isinstance(part, GaussianMixtureNoise):
            layout = "diag" if part.mixture_.covariance_type in _DIAGONAL_TYPES else "full"
            pooled.setdefault(layout, []).append((part.mixture_, weight))
        else:
            kept.append(part)
            kept_weights.append(weight)
    for layout, members in pooled.items():
        mixtures, member_weights = zip(*members, strict=True)
        kept.append(
            GaussianMixtureNoise().set_mixture(_merged_mixture(mixtures, member_weights, layout))
        )
        kept_weights.append(float(np.sum(member_weights)))
    return kept, np.asarray(kept_weights)


def _merged_mixture(mixtures, weights, layout):
    """One fitted sklearn ``GaussianMixture`` equal to ``sum_p weights[p] mixtures[p]``.

    ``weights`` need not sum to 1: the merged mixture's are normalised.
    """
    means = np.concatenate([mixture.means_ for mixture in mixtures])
    component_weights = np.concatenate(
        [weight * mixture.weights_ for mixture, weight in zip(mixtures, weights, strict=True)]
    )
    if layout == "diag":
        covariances = np.concatenate([_diagonal_variances(mixture) for mixture in mixtures])
        precisions_cholesky = 1.0 / np.sqrt(covariances)
    else:
        covariances = np.concatenate([_full_covariances(mixture) for mixture in mixtures])
        # sklearn's convention: the transposed inverse of the covariance's factor.
        precisions_cholesky = np.linalg.inv(np.linalg.cholesky(covariances)).transpose(0, 2, 1)
    merged = GaussianMixture(len(means), covariance_type=layout)
    merged.weights_ = component_weights / component_weights.sum()
    merged.means_ = means
    merged.covariances_ = covariances
    merged.precisions_cholesky_ = precisions_cholesky
    merged.precisions_ = (
        precisions_cholesky**2
        if layout == "diag"
        else precisions_cholesky @ precisions_cholesky.transpose(0, 2, 1)
    )
    merged.converged_, merged.n_iter_, merged.lower_bound_ = True, 0, -np.inf
    merged.n_features_in_ = means.shape[1]
    return merged


class CauchyNoise(Noise):
    """Independent Cauchy columns: location the column's median, scale its standard deviation.

    A density with tails heavy enough that no finite row is improbable by
    more than ``~2 log |x|`` per column: the defensive part of a base.

    Independent columns, not an elliptical (multivariate) Cauchy, although
    that one ranks far rows by their distance alone (here, trained on a 3-d
    standard Gaussian, ``[0, 0, 20]`` scores above ``[8, 8, 8]``: -16.3
    against -22.9 nats): real rows that are extreme in one column are
    common. As the base's defensive part the elliptical one lowered the base
    alone's AUPRC on shuttle from 0.984 / 0.989 to 0.966 / 0.978 (seeds 0-1;
    breastw 0.993 -> 0.990 on seed 1) and its held-out log-likelihood on
    four of the six ODDS sets (vertebral -0.94 -> -0.96 nats per row).

    Draws beyond 1000 scales from the location (0.064% of the mass) are
    clipped there: a critic fed rows far larger than that diverged.
    ``log_prob`` is the Cauchy density itself, not that of the clipped draws.

    Parameters
    ----------
    min_scale : float > 0, default=1e-12
        Floor of each column's scale: a column constant in the rows fitted
        on is otherwise a spike, whose density at that value dwarfs every
        other column's.

    Attributes
    ----------
    location : torch.Tensor of shape (n_features,)
        Each column's median.
    scale : torch.Tensor of shape (n_features,)
        Each column's standard deviation (at least ``min_scale``).

    See Also
    --------
    SelectedDensity : Mixes this into its stack as the defensive part.
    GaussianNoise : A full-covariance Gaussian, with light tails.

    Examples
    --------
    A row 100 standard deviations out costs about ``2 log 100`` nats more
    than the centre, not ``100^2 / 2``:

    >>> import numpy as np
    >>> import torch
    >>> from sklearn_nce.modules import CauchyNoise
    >>> X = np.random.default_rng(0).normal(size=(1000, 2))
    >>> noise = CauchyNoise().fit(X)
    >>> rows = noise.location + torch.tensor([[0.0, 0.0], [100.0, 0.0]]) * noise.scale
    >>> log_density = noise.log_prob(rows)
    >>> round(float(log_density[0] - log_density[1]), 2)
    9.21
    """

    def __init__(self, min_scale=1e-12):
        super().__init__()
        self.min_scale = min_scale

    def fit(self, X):
        # Pickles of older versions lack the parameter (a refit reads it).
        min_scale = getattr(self, "min_scale", 1e-12)
        if not min_scale > 0:
            raise ValueError(f"min_scale must be positive; got {min_scale!r}.")
        X = np.asarray(X, dtype=np.float64)
        scale = np.maximum(X.std(axis=0), min_scale)
        _set_buffers(self, location=np.median(X, axis=0), scale=scale)
        return self

    def sample(self, n_samples, generator=None):
        shape = (n_samples, len(self.location))
        # Draws beyond 1000 scales (0.064% of the mass) are clipped there: a
        # ratio of normals reached 1e7 and more, and a critic fed such rows
        # diverged (the outlier detector on digits, epoch 17).
        quantile = uniform(shape, generator, self._device())
        standard = torch.tan(math.pi * (quantile - 0.5)).clamp(-_CAUCHY_CLIP, _CAUCHY_CLIP)
        return self.location + self.scale * standard

    def log_prob(self, x):
        z = (x - self.location) / self.scale
        return -(torch.log1p(z.square()) + torch.log(math.pi * self.scale)).sum(-1)


class DefensiveMixture(Noise):
    """``(1 - weight) p + weight w``: a fitted density with a wide one mixed in.

    Parameters
    ----------
    density, wide : Noise
        Fitted unconditional densities (``sample``, ``log_prob``).
    weight : float
        Weight of ``wide``.
    """

    def __init__(self, density, wide, weight):
        super().__init__()
        self.density = density
        self.wide = wide
        if not 0 < weight < 1:
            # log_prob reads log(weight) and log1p(-weight).
            raise ValueError(f"weight must be in (0, 1); got {weight!r}.")
        self.weight = weight

    def fit(self, X):
        self.density.fit(X)
        self.wide.fit(X)
        return self

    def sample(self, n_samples, generator=None):
        # Only the rows that pick the wide part draw from it (0.1% of them at
        # the base's weight): drawing it for every row took a quarter of each
        # noise draw in a digits fit. The pick is made on the CPU, so a CUDA
        # noise needs no sync to count the rows.
        draws = self.density.sample(n_samples, generator)
        picked = uniform((n_samples,), generator, torch.device("cpu")) < self.weight
        rows = torch.nonzero(picked).flatten()
        if len(rows):
            draws[rows.to(draws.device)] = self.wide.sample(len(rows), generator).to(draws.dtype)
        return draws

    def log_prob(self, x):
        return torch.logaddexp(
            self.density.log_prob(x) + math.log1p(-self.weight),
            self.wide.log_prob(x) + math.log(self.weight),
        )


class BoxDensity(Noise):
    """Flat on a box, with unit Gaussian tails beyond it (``exp(box_log_tail)``, normalised).

    What ``CNCEEnergyModel(base=None)``'s density is before its network does
    anything: the network reads rows clamped to the box and the tails keep
    the density integrable. As the defensive part of that model's proposal
    it reaches every corner of the box, where the data-fitted mixture has
    no draws but an untrained network may still put mass. Each column is
    uniform on ``[low, high]`` with probability ``width / (width + sqrt(2 pi))``,
    else a half-normal beyond one edge.

    Parameters
    ----------
    low, high : array-like of shape (n_features,)
        The box's corners (``low < high``).
    """

    def __init__(self, low, high):
        super().__init__()
        _set_buffers(self, low=low, high=high)

    def fit(self, X):
        del X  # the box is given
        return self

    def sample(self, n_samples, generator=None):
        device = self._device()
        shape = (n_samples, len(self.low))
        width = self.high - self.low
        inside = uniform(shape, generator, device) * (width + _SQRT_2PI) < width
        flat = self.low + uniform(shape, generator, device) * width
        depth = standard_normal(shape, generator, device).abs()
        below = uniform(shape, generator, device) < 0.5
        tail = torch.where(below, self.low - depth, self.high + depth)
        return torch.where(inside, flat, tail)

    def log_prob(self, x):
        log_norm = torch.log(self.high - self.low + _SQRT_2PI).sum()
        return box_log_tail(x, self.low, self.high) - log_norm


class LocalJumps(Noise):
    """CNCE's local Gaussian jumps ``y = x + scale * eps`` (symmetric).

    A conditional noise: each draw is its row moved by an isotropic Gaussian
    step, so ``pn(y | x) = pn(x | y)`` (``symmetric = True``) and CNCE's
    correction term is zero. Its pairs probe the density's shape at the
    scale of the jump.

    Parameters
    ----------
    scale : float or "auto", default="auto"
        Jump standard deviation; ``"auto"`` is ``auto_jump_scale``, the
        median nearest-neighbour distance over ``sqrt(n_features)`` (on at
        most 2000 rows), chosen in :meth:`fit`.

    Attributes
    ----------
    scale_ : float
        The jump standard deviation used.

    See Also
    --------
    MixedJumps : A local jump or a global one, at random.
    KernelDensityNoise : CNCE's global jumps, to a KDE of the data.
    sklearn_nce.CNCEEnergyModel : Uses these with ``noise="local"``.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_nce.modules import LocalJumps
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> jumps = LocalJumps(scale=0.1).fit(X)
    >>> x = torch.zeros(4, 2)
    >>> y = jumps.sample_given(x, 3, torch.Generator().manual_seed(0))
    >>> y.shape
    torch.Size([4, 3, 2])
    >>> forward = jumps.log_prob_given(y, x[:, None])
    >>> bool(torch.allclose(forward, jumps.log_prob_given(x[:, None], y)))
    True
    """

    conditional = True
    symmetric = True

    def __init__(self, scale="auto"):
        super().__init__()
        self.scale = scale

    def fit(self, X):
        scale = auto_jump_scale(X) if self.scale == "auto" else float(self.scale)
        self.scale_ = scale
        _set_buffers(self, scale_value=np.asarray(scale))
        return self

    def sample_given(self, x, n_draws, generator=None):
        eps = standard_normal((len(x), n_draws, x.shape[-1]), generator, x.device)
        return x.unsqueeze(1) + self.scale_value * eps

    def log_prob_given(self, y, x):
        n_features = y.shape[-1]
        squared = (y - x).square().sum(-1)
        return -0.5 * squared / self.scale_value**2 - n_features * (
            0.5 * _LOG_2PI + torch.log(self.scale_value)
        )


class MixedJumps(Noise):
    """CNCE "mix": a local jump with probability ``local_proportion``, else a global one.

    ``pn(y | x) = lambda N(y; x, scale^2 I) + (1 - lambda) q(y)`` with ``q``
    the global noise (with the estimators' ``noise="mix"``, a KDE of the
    data; at ``noise_scale="auto"`` an equal mixture of two, at Scott's and
    the leave-one-out bandwidth). Not symmetric, so CNCE applies the
    correction term.

    Parameters
    ----------
    local : Noise
        The local jumps, a conditional noise (such as :class:`LocalJumps`).
    global_noise : Noise
        The global jumps ``q``, usually an unconditional noise (such as
        :class:`KernelDensityNoise`), which draws ``y`` whatever ``x``.
    local_proportion : float in [0, 1], default=0.5
        Probability ``lambda`` of a local jump. 0 gives global jumps only
        and 1 local ones only.

    See Also
    --------
    LocalJumps : The local jumps alone.
    KernelDensityNoise : The global jumps alone.
    sklearn_nce.CNCEEnergyModel : Uses this with ``noise="mix"``.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_nce.modules import KernelDensityNoise, LocalJumps, MixedJumps
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> noise = MixedJumps(LocalJumps(0.1), KernelDensityNoise(random_state=0), 0.8).fit(X)
    >>> x = torch.zeros(4, 2)
    >>> y = noise.sample_given(x, 3, torch.Generator().manual_seed(0))
    >>> y.shape
    torch.Size([4, 3, 2])
    >>> noise.log_prob_given(y, x[:, None]).shape
    torch.Size([4, 3])
    """

    conditional = True

    def __init__(self, local, global_noise, local_proportion=0.5):
        super().__init__()
        self.local = local
        self.global_noise = global_noise
        self.local_proportion = local_proportion

    def fit(self, X):
        self.local.fit(X)
        self.global_noise.fit(X)
        return self

    def sample_given(self, x, n_draws, generator=None):
        local = self.local.sample_given(x, n_draws, generator)
        global_ = self.global_noise.sample_given(x, n_draws, generator)
        is_local = uniform((len(x), n_draws, 1), generator, x.device) < self.local_proportion
        return torch.where(is_local, local, global_)

    def log_prob_given(self, y, x):
        # The end points are one noise alone (math.log(0) would raise, and
        # local_proportion=0 is a valid estimator setting: global jumps only).
        if self.local_proportion == 0.0:
            return self.global_noise.log_prob_given(y, x)
        local = self.local.log_prob_given(y, x) + math.log(self.local_proportion)
        if self.local_proportion == 1.0:
            return local
        global_ = self.global_noise.log_prob_given(y, x) + math.log1p(-self.local_proportion)
        return torch.logaddexp(local, global_)

    def _device(self):
        return self.local._device()


NOISES = ("local", "global", "mix", "gaussian", "gmm", "kde", "auto")


def make_noise(
    name, *, scale="auto", local_proportion=0.5, random_state=None, shrunk_gaussian=True
):
    """A fresh (unfitted) noise from its name in :data:`NOISES`.

    ``shrunk_gaussian`` is :class:`SelectedDensity`'s, for ``"auto"``.
    ``scale`` is the local jump size for ``"local"``/``"mix"`` and the KDE
    bandwidth for ``"global"``/``"kde"`` and the global half of ``"mix"``;
    ``"auto"`` chooses each by its own rule; for ``"mix"`` the global jumps
    are then an equal mixture of two KDEs, one at the leave-one-out
    bandwidth (``cv_bandwidth``) and one at Scott's.

    The global half of ``"mix"`` must land *in* the data's modes, or its
    pairs say nothing about their relative weights (issue 34). Scott's rule
    is made for one bump: on the paper's 20-d mixture of 40 modes of width
    0.1 (standard units) it gave 0.75, every global draw fell ~3 units from
    any mode, the true ``G`` of every such pair was 280-860 nats (loss 0 to
    float precision), and the relative mode levels drifted as with local
    jumps alone: pair-difference MSE ("Ratio", 20 for a constant model)
    22 at 50 epochs, 540 at 300 (seed 0; seed 1: 22 and 618), on training
    rows as on test rows. The leave-one-out bandwidth is 0.107 there (true
    ``G`` median 10 nats, as informative as the local pairs); alone it
    learns slowly where Scott's does well (2-d, three modes, 100 epochs:
    excess NLL 0.27/0.49/0.26 against Scott's 0.12/0.08/0.07 over seeds
    0-2), so both are kept. With the two, Ratio on the 20-d mixture went
    20 -> 24 -> 17 (seed 0) and 20 -> 25 -> 20 (seed 1) at 1, 100 and 300
    epochs, and the 2-d excess was 0.16/0.18/0.11.
    """
    bandwidth = "scott" if scale == "auto" else scale
    if name == "local":
        return LocalJumps(scale)
    if name in ("global", "kde"):
        return KernelDensityNoise(bandwidth, random_state=random_state)
    if name == "mix":
        return MixedJumps(
            LocalJumps(scale),
            _global_jumps(scale, random_state),
            local_proportion,
        )
    if name == "gaussian":
        return GaussianNoise()
    if name == "gmm":
        return GaussianMixtureNoise(random_state=random_state)
    if name == "auto":
        return SelectedDensity(random_state=random_state, shrunk_gaussian=shrunk_gaussian)
    raise ValueError(f"Unknown noise {name!r}; choose one of {NOISES} or pass a noise object.")


def _global_jumps(scale, random_state):
    """The global half of "mix": a KDE, or with "auto" two (see ``make_noise``)."""
    if scale != "auto":
        return KernelDensityNoise(scale, random_state=random_state)
    return DefensiveMixture(
        KernelDensityNoise("cv", random_state=random_state),
        KernelDensityNoise("scott", random_state=random_state),
        _WIDE_GLOBAL_JUMPS,
    )


def fit_gaussian_mixture(
    X, n_components="bic", covariance_type="full", random_state=None, reg_covar=1e-6
):
    """A fitted sklearn ``GaussianMixture``; ``n_components="bic"`` selects by BIC.

    With "bic", the lowest-BIC mixture of ``bic_mixtures_by_type``'s search.
    """
    X = np.asarray(X, dtype=np.float64)
    if n_components != "bic":
        mixture = _em_mixture(X, n_components, covariance_type, reg_covar, random_state)
        return _drop_thin_components(mixture, len(X))
    return min(_bic_best_by_type(X, random_state, reg_covar).values(), key=_bic)[1]


def bic_mixtures_by_type(X, random_state=None, reg_covar=1e-6):
    """The BIC-best ``GaussianMixture`` of each covariance type, as ``{type: mixture}``."""
    return {kind: item[1] for kind, item in _bic_best_by_type(X, random_state, reg_covar).items()}


def _bic_best_by_type(X, random_state, reg_covar):
    """``{type: (bic, mixture)}``: each covariance type's BIC-best item of ``_bic_search``."""
    searched = _bic_search(X, random_state, reg_covar)
    return {kind: min(scores.values(), key=_bic) for kind, scores in searched.items()}


def _bic(item):
    """The BIC of a ``(bic, mixture)`` item of ``_bic_search``."""
    return item[0]


def bic_neighbourhood(X, random_state=None, reg_covar=1e-6):
    """The mixtures of the BIC search within a factor 2 of each type's best count.

    Returns ``{(covariance_type, n_components): mixture}``: the candidates
    :class:`SelectedDensity` stacks. BIC's single count is a poor pick for
    ranking: on satimage2 full mixtures of 3, 4, 6 and 8 components scored
    AUPRC 0.87, 0.95, 0.89 and 0.81 with held-out log-likelihoods within 0.3
    nats of each other.
    """
    neighbourhood = {}
    for kind, scores in _bic_search(X, random_state, reg_covar).items():
        best = min(scores, key=lambda count: scores[count][0])
        for count, (_, mixture) in scores.items():
            if best / 2 <= count <= 2 * best:
                neighbourhood[kind, count] = mixture
    return neighbourhood


def _bic_search(X, random_state, reg_covar):
    """``{type: {count: (bic, mixture)}}`` of every mixture the BIC search fitted.

    The search doubles the count per covariance type (stopping a type once
    its BIC has risen twice in a row: larger mixtures only cost more), then
    refines the best count on a finer grid between its neighbours, since a
    true count between two powers of two (say 40) is otherwise missed.
    Each mixture is returned without its thin components
    (``_drop_thin_components``), with the BIC of the mixture EM found.
    """
    X = np.asarray(X, dtype=np.float64)
    # Several rows per component, or EM only memorises points.
    max_count = max(1, len(X) // 10)

    def fit(count, kind):
        # BIC reads the mixture EM found, spikes and all: read without them,
        # digits' large diagonal mixtures (32-112 components, each with 2-7
        # single-row spikes) lost to small ones and the held-out-digit AUPRC
        # fell from 0.85 to 0.76; the large ones rank like nearest neighbours.
        mixture = _em_mixture(X, count, kind, reg_covar, random_state)
        return mixture.bic(X), _drop_thin_components(mixture, len(X))

    searched = {}
    # In one dimension the three types are one model: listed three times, the
    # stack held three copies of each mixture and read each three times (a
    # user test; 9 members for 3 mixtures on a 1-d Gaussian mixture).
    for kind in _BIC_COVARIANCE_TYPES if X.shape[1] > 1 else ("full",):
        scores, rises, previous = {}, 0, np.inf
        for count in _BIC_COMPONENTS:
            if count > max_count:
                break
            scores[count] = fit(count, kind)
            rises = rises + 1 if scores[count][0] > previous else 0
            previous = min(previous, scores[count][0])
            if rises == 2:
                break
        best_count = min(scores, key=lambda count: scores[count][0])
        finer = np.round(best_count * np.array([0.625, 0.75, 0.875, 1.25, 1.5, 1.75]))
        for count in np.unique(finer).astype(int):
            if 1 <= count <= max_count and count not in scores:
                scores[count] = fit(count, kind)
        searched[kind] = scores
    return searched


def _em_mixture(X, n_components, covariance_type, reg_covar, random_state, start=None):
    """sklearn's ``GaussianMixture`` fitted by EM, without its ConvergenceWarning.

    EM stopped at ``max_iter`` still leaves a proper density, and every
    mixture fitted here is judged as a density (by BIC, then by held-out
    likelihood against the other families), so the warning would speak of a
    candidate the user never chose: on digits it fired in 1 of 30 default
    ``NoisierNCEClassifier`` fits. ``start``, a fitted mixture of the same
    type, is where EM starts instead of k-means (with its own components).
    """
    warm = {}
    if start is not None:
        n_components = len(start.weights_)
        warm = dict(
            weights_init=start.weights_,
            means_init=start.means_,
            precisions_init=start.precisions_,
        )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        return GaussianMixture(
            n_components,
            covariance_type=covariance_type,
            reg_covar=reg_covar,
            random_state=random_state,
            **warm,
        ).fit(X)


def _drop_thin_components(mixture, n_rows):
    """``mixture`` without its components of too few rows to be a cluster of the data.

    A full covariance needs ``n_features + 1`` rows to have full rank, the
    others 2. With fewer, EM leaves a spike at the covariance floor on those
    rows, and BIC rewards it: one training row 20 standard deviations out in
    one column of 300 x 4 normal rows got a component of its own, and the
    outlier detector ranked that row the most normal of all 300 (a user
    test). Dropped, their rows are scored by the other components, as new
    rows there would be. Leaving such mixtures out of the search instead cost
    digits' held-out-digit AUPRC 0.835 -> 0.760: its best diagonal mixtures
    (32-112 components) each hold 2-7 single-row components, which no new
    row comes near. ``n_components`` becomes the count kept (so that
    ``bic`` counts the parameters there are), ``asked_components_`` is the
    count EM was asked for, by which the search names the mixture. Every
    component also needs ``_MIN_COMPONENT_ROWS`` rows (see there).
    """
    n_features = mixture.means_.shape[1]
    needed = n_features + 1 if mixture.covariance_type == "full" else 2
    kept = mixture.weights_ * n_rows >= max(needed, _MIN_COMPONENT_ROWS)
    if not kept.any():  # too few rows for 5 per component: the covariance's rule alone
        kept = mixture.weights_ * n_rows >= needed
    mixture.asked_components_ = mixture.n_components
    if kept.all() or not kept.any() or mixture.covariance_type == "tied":
        return mixture
    mixture.n_components = int(kept.sum())
    mixture.weights_ = mixture.weights_[kept] / mixture.weights_[kept].sum()
    for name in ("means_", "covariances_", "precisions_", "precisions_cholesky_"):
        setattr(mixture, name, getattr(mixture, name)[kept])
    return mixture


def stacking_weights(log_densities, max_iter=1000, tol=1e-8):
    """Mixture weights maximising ``mean_i log sum_k w_k p_k(x_i)`` (EM), from log densities.

    ``log_densities`` is ``(n_rows, n_candidates)`` (held-out rows). The
    problem is concave in the weights; EM's fixed point is its maximum.
    """
    n_rows, n_candidates = log_densities.shape
    # The densities once, each row scaled by its largest (a common factor of
    # a row cancels in its responsibilities): an EM step is then two
    # matrix-vector products, not a log-sum-exp over every entry. The same
    # iterates (to 1e-16 on a 2000 x 40 test), 13 times faster; on shuttle
    # (2000 held-out rows, 40 candidates) the log-sum-exp form took 1.3 s
    # under a profiler, out of 12.
    densities = np.exp(log_densities - log_densities.max(axis=1, keepdims=True))
    weights = np.full(n_candidates, 1.0 / n_candidates)
    for _ in range(max_iter):
        mixed = np.maximum(densities @ weights, np.finfo(float).tiny)
        updated = weights * (densities.T @ (1.0 / mixed)) / n_rows
        if np.abs(updated - weights).max() < tol:
            return updated
        weights = updated
    return weights


def _cross_weighed_stack(log_densities, folds):
    """Each row's stacked log density, with weights fitted on the other folds' rows.

    ``log_densities`` is ``(n_rows, n_candidates)`` (held-out rows);
    ``folds`` labels each row. An honest held-out score of the stacking
    itself: the weights are fitted, so scoring the rows that fitted them
    overstates it.
    """
    if len(np.unique(folds)) < 2:  # nothing to weigh out of fold: in sample
        return _mixed_log_density(log_densities, stacking_weights(log_densities))
    stack = np.empty(len(log_densities))
    for fold in np.unique(folds):
        rows = folds == fold
        weights = stacking_weights(log_densities[~rows])
        stack[rows] = _mixed_log_density(log_densities[rows], weights)
    return stack


def _mixed_log_density(log_densities, weights):
    """``log sum_k w_k p_k`` of each row, from its candidates' log densities."""
    with np.errstate(divide="ignore"):  # an underflowed weight is a weight of 0
        return logsumexp(log_densities + np.log(weights), axis=1)


def scott_bandwidth(X):
    """Scott's rule ``n^(-1 / (d + 4))`` times the features' mean standard deviation."""
    X = np.asarray(X, dtype=np.float64)
    n_samples, n_features = X.shape
    spread = float(np.mean(X.std(axis=0)))
    return max(spread, 1e-12) * n_samples ** (-1.0 / (n_features + 4))


def cv_bandwidth(X, random_state=None):
    """The Gaussian kernel bandwidth that maximises the leave-one-out log-likelihood.

    Read on at most 1000 rows (a random subset) over a grid of 24 factors of
    Scott's rule, then scaled to the full sample by the rate
    ``n^(-1 / (d + 4))`` that both rules share.
    """
    X = np.asarray(X, dtype=np.float64)
    n_samples, n_features = X.shape
    X = _cv_rows(X, random_state)
    n_used = len(X)
    scott = scott_bandwidth(X)
    distances = euclidean_distances(X, squared=True)
    distances[copy_mask(X)] = np.inf  # leave each row (and its copies) out of its own density
    # Each row's largest kernel is its nearest neighbour's at every bandwidth:
    # subtracting it once makes each log-sum-exp one exp and one sum.
    nearest = distances.min(axis=1, keepdims=True)
    excess = distances - nearest
    best, best_score = scott, -np.inf
    for bandwidth in scott * _CV_BANDWIDTH_FACTORS:
        scale = -0.5 / bandwidth**2
        log_sum = scale * nearest[:, 0] + np.log(np.exp(scale * excess).sum(axis=1))
        score = np.mean(log_sum) - n_features * math.log(bandwidth)
        if score > best_score:
            best, best_score = bandwidth, score
    return float(rate_scaled(best, n_used, n_samples, X))


def _relative_widths(X, n_neighbors):
    """Each row's distance to its ``n_neighbors``-th neighbour over their geometric mean.

    Distances of 0 (repeated rows: breastw's columns are integers) are raised
    to the 10th percentile of the positive ones, so that no kernel is a point.
    """
    k = min(n_neighbors, len(X) - 1)
    if k < 1:
        return np.ones(len(X))
    distances = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)[0][:, -1]
    positive = distances[distances > 0]
    if not len(positive):
        return np.ones(len(X))
    distances = np.maximum(distances, np.percentile(positive, 10))
    return distances / np.exp(np.mean(np.log(distances)))


def _cv_rows(X, random_state):
    """The rows a leave-one-out bandwidth search reads: at most 1000, a random subset."""
    return _random_rows(X, _CV_BANDWIDTH_ROWS, random_state)


def _random_rows(X, max_rows, random_state):
    """``X``, or a random ``max_rows`` of its rows (distinct, drawn by ``random_state``)."""
    if len(X) <= max_rows:
        return X
    return X[np.random.RandomState(random_state).choice(len(X), max_rows, replace=False)]


def rate_scaled(bandwidth, n_from, n_to, X):
    """A kernel bandwidth chosen on ``n_from`` rows, moved to ``n_to`` rows of ``X``'s width.

    By the rate ``n^(-1 / (d + 4))`` that Scott's rule and the leave-one-out
    choice share.
    """
    return bandwidth * (n_to / n_from) ** (-1.0 / (X.shape[1] + 4))


def auto_jump_scale(X):
    """Local jump size: the median nearest-neighbour distance over ``sqrt(n_features)``.

    A jump of this size moves a point about as far as to its nearest
    neighbour, so local noise probes the density's shape at the scale the
    data resolve, whatever the dimension (per-coordinate steps shrink with
    ``sqrt(d)``). Computed on at most 2000 rows.
    """
    X = _random_rows(np.asarray(X, dtype=np.float64), _SCALE_RULE_ROWS, 0)
    distances, _ = NearestNeighbors(n_neighbors=2).fit(X).kneighbors(X)
    nearest = np.median(distances[:, 1])
    if not nearest > 0:
        nearest = scott_bandwidth(X) * math.sqrt(X.shape[1])
    return float(nearest / math.sqrt(X.shape[1]))


def _times_component_factor(eps, component, scale_trils):
    """Row ``i`` of ``eps`` times ``scale_trils[component[i]]``.

    The outlier detector draws its noise on every step, so the way matters.
    One product per component costs a fixed ~7 us each; the ``d x d``
    factors gathered per row (one batched product over ``(n, d, d)``) cost
    about 9x more per entry. So the factors are gathered only while their
    ``n d^2`` entries stay under ``_GATHER_MAX_ENTRIES_PER_COMPONENT`` per
    component (one thread, 1280 draws): at d = 30 with 8 components the
    loop took 0.18 ms against 1.03 ms gathered (a breast-cancer fit once
    spent 4.3 of its 11.9 s drawing noise), at d = 9 with 64 components
    (shuttle) 0.48 ms against 0.08 ms. The same draws either way; the
    products round differently in the last bits.
    """
    n_rows, n_features = eps.shape
    if n_rows * n_features**2 <= _GATHER_MAX_ENTRIES_PER_COMPONENT * len(scale_trils):
        factors = scale_trils[component.to(eps.device)]
        return torch.bmm(factors, eps.unsqueeze(-1)).squeeze(-1)
    scaled = torch.empty_like(eps)
    for index, rows in enumerate(_rows_by_group(component, len(scale_trils), eps.device)):
        if len(rows):
            scaled[rows] = eps[rows] @ scale_trils[index].T
    return scaled


def _rows_by_group(group, n_groups, device):
    """The rows of each group ``0 .. n_groups - 1`` of ``group``, ascending, on ``device``.

    ``group`` is a CPU tensor (``multinomial`` drew it there), so the group
    sizes need no device sync; the row order moves to ``device`` once.
    """
    counts = torch.bincount(group, minlength=n_groups).tolist()
    return torch.split(torch.argsort(group, stable=True).to(device), counts)


def _diagonal_variances(mixture):
    """A spherical or diagonal mixture's variances as an ``(n_components, d)`` array."""
    return np.broadcast_to(
        np.reshape(mixture.covariances_, (len(mixture.means_), -1)), mixture.means_.shape
    )


def _full_covariances(mixture):
    """The mixture's covariances as an ``(n_components, d, d)`` array, whatever its type."""
    n_components, n_features = mixture.means_.shape
    covariances = mixture.covariances_
    if mixture.covariance_type == "full":
        return covariances
    if mixture.covariance_type == "tied":
        return np.broadcast_to(covariances, (n_components, n_features, n_features)).copy()
    if mixture.covariance_type == "diag":
        return np.stack([np.diag(row) for row in covariances])
    return covariances[:, None, None] * np.eye(n_features)


def _gaussian_log_probs(x, means, precision_trils):
    """``log N(x; mu_k, Sigma_k)`` per component ``k``: shape ``(*x.shape[:-1], K)``.

    ``precision_trils[k]`` is ``L_k^{-1}`` for ``Sigma_k = L_k L_k^T``, so the
    whitened residual is one matrix product and no ``(n, K, d, d)`` tensor is
    ever formed (memory ``n K d``).
    """
    n_components, n_features = means.shape
    # All components' whitening as one matrix product: (..., d) @ (d, K d).
    stacked = precision_trils.permute(2, 0, 1).reshape(n_features, n_components * n_features)
    projected = (x.reshape(-1, n_features) @ stacked).reshape(-1, n_components, n_features)
    shift = torch.einsum("kd,ked->ke", means, precision_trils)
    whitened = projected - shift
    log_det = torch.diagonal(precision_trils, dim1=-2, dim2=-1).log().sum(-1)
    log_probs = -0.5 * whitened.square().sum(-1) + log_det - 0.5 * n_features * _LOG_2PI
    return log_probs.reshape(*x.shape[:-1], n_components)


def _diagonal_gaussian_log_probs(x, means, scales):
    """``log N(x; mu_k, diag(scales_k^2))`` per component: shape ``(*x.shape[:-1], K)``.

    The squared distance is expanded as ``x^2 . P - 2 x . (mu P) + mu^2 . P``
    (``P = 1 / scales^2``), sklearn's form for diagonal mixtures: two matrix
    products, no ``(n, K, d)`` tensor. ``scales`` of shape ``(K, 1)`` are
    isotropic components (a KDE's kernels): ``x^2 . P`` is then ``|x|^2 P``,
    one product fewer.
    """
    n_components, n_features = means.shape
    # In float64, on x and means centred on the means' average: the
    # expansion's terms are O((distance / scale)^2) and cancel for a narrow
    # component far from that average. In float32 a 6-row cluster 18 sd out
    # read 0.35 nats off, and the spikes of a 3-valued column (reg_covar
    # 1e-6) made a diagonal mixture integrate to 1.0147 (a review). (MPS has
    # no float64.)
    work = x.dtype if x.device.type == "mps" else torch.float64
    means, scales = means.to(work), scales.to(work)
    centre = means.mean(dim=0)
    flat = x.reshape(-1, n_features).to(work) - centre
    means = means - centre
    precisions = scales.pow(-2)
    if precisions.shape[1] == n_features:
        spread = flat.square() @ precisions.T
    else:
        spread = flat.square().sum(-1, keepdim=True) * precisions.T
    squared_distance = (
        spread - 2.0 * flat @ (means * precisions).T + (means.square() * precisions).sum(-1)
    )
    log_det = -scales.log().expand(n_components, n_features).sum(-1)
    log_probs = -0.5 * squared_distance + log_det - 0.5 * n_features * _LOG_2PI
    return log_probs.to(x.dtype).reshape(*x.shape[:-1], n_components)


def uniform(shape, generator, device):
    """Uniform(0, 1) draws from ``generator`` (on its device), moved to ``device``."""
    return _float32_draws(torch.rand, shape, generator, device)


def standard_normal(shape, generator, device):
    """Standard normal draws from ``generator`` (on its device), moved to ``device``."""
    return _float32_draws(torch.randn, shape, generator, device)


def _float32_draws(draw, shape, generator, device):
    """``draw`` (torch.rand or randn) in float32, whatever torch's default dtype."""
    if generator is None:
        return draw(shape, device=device, dtype=torch.float32)
    return draw(shape, generator=generator, device=generator.device, dtype=torch.float32).to(
        device
    )


def _needs_float64(kernel_terms):
    """Whether a KDE's expanded log kernels, ``p |c - shift|^2`` per centre, need float64."""
    return bool(np.max(kernel_terms) > _FLOAT32_KERNEL_TERMS)


def _in_float64(kde, x):
    """Whether ``kde.log_prob(x)`` works in float64 (narrow kernels; MPS has no float64)."""
    # Fitted by an older version: no flag, float32 as then.
    return getattr(kde, "_float64", False) and x.device.type != "mps"


def _float64_kernel_log_density(x, centres, widths):
    """Log density of isotropic Gaussian kernels of ``widths`` at ``centres``, in float64.

    Each kernel is a diagonal Gaussian of one scale, expanded in float64 by
    :func:`_diagonal_gaussian_log_probs` from the float32 buffers.
    """
    log_kernels = _diagonal_gaussian_log_probs(x, centres, widths[:, None])
    return torch.logsumexp(log_kernels, dim=-1) - math.log(len(centres))


def _set_buffers(module, **arrays):
    """(Re)register fitted numpy arrays as float32 buffers of ``module``."""
    for name, value in arrays.items():
        module.register_buffer(name, torch.as_tensor(np.asarray(value), dtype=torch.float32))


def _init_params(cls, noise):
    """``{name: (value, default)}`` of the constructor parameters ``noise`` keeps by name."""
    signature = inspect.signature(cls.__init__)
    return {
        name: (getattr(noise, name), parameter.default)
        for name, parameter in signature.parameters.items()
        if name != "self"
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        and hasattr(noise, name)
    }


def _is_default(value, default):
    """Whether a parameter's value is its default (arrays and tensors never are)."""
    if value is default:
        return True
    try:
        return type(value) is type(default) and bool(value == default)
    except Exception:  # noqa: BLE001 - no truth value (numpy: ValueError, torch: RuntimeError)
        return False
