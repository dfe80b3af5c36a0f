"""Synthetic problems whose ground truth is known in closed form.

:class:`GaussianPair` holds two multivariate normals (numerator and
denominator) and gives their exact log density ratio and KL divergence; the
``make_*`` constructors set one up at a requested KL. These are what the
tests and benchmarks measure the estimators against.

For mutual information, :func:`make_correlated_gaussian`,
:func:`make_mi_staircase` and :func:`make_student_t_pair` draw ``(X, Y)`` pairs
at a requested MI (nats), optionally with an invertible non-linear map applied
to ``Y`` (which leaves the MI unchanged); :func:`gaussian_mi`,
:func:`rho_for_mi` and :func:`student_t_mi` give the closed forms.
:func:`make_noisy_relation` draws one-dimensional non-Gaussian relations
(periodic, non-monotone, heteroscedastic, two-branch, discrete-continuous)
whose MI is computed by quadrature.

For density models, :class:`IsotropicMixture` is a Gaussian mixture with
exact ``log_density`` and ``sample``; :func:`make_random_mixture` builds the
CNCE paper's 20-d, 40-component test density and :func:`make_grid_mixture`
its 2-D 25-mode grid.
"""

import functools
import numbers
import warnings

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.integrate import trapezoid
from scipy.optimize import brentq
from scipy.spatial.distance import cdist
from scipy.special import digamma, gammaln, logsumexp
from scipy.stats import Covariance, multivariate_normal, multivariate_t, norm
from sklearn.utils import check_random_state, check_scalar

__all__ = [
    "GaussianPair",
    "make_mean_shift",
    "make_scale_change",
    "DensityPair",
    "make_student_t_shift",
    "make_mixture_shift",
    "make_warped_shift",
    "gaussian_mi",
    "rho_for_mi",
    "make_correlated_gaussian",
    "make_mi_staircase",
    "student_t_mi",
    "make_student_t_pair",
    "RELATIONS",
    "make_noisy_relation",
    "IsotropicMixture",
    "make_random_mixture",
    "make_grid_mixture",
]


class GaussianPair:
    """Two multivariate normals with their exact log density ratio and KL divergence.

    The numerator is ``p_nu = N(mean_numerator, cov_numerator)`` and the
    denominator ``p_de = N(mean_denominator, cov_denominator)``.
    :meth:`log_ratio` gives ``log p_nu(x) - log p_de(x)`` and :attr:`kl` gives
    ``KL(p_nu || p_de)``, both in closed form; :meth:`sample` draws a labelled
    two-sample data set for a density-ratio estimator. :func:`make_mean_shift`
    and :func:`make_scale_change` build a pair at a requested KL.

    Parameters
    ----------
    mean_numerator : array-like of shape (n_features,)
        Mean of the numerator distribution ``p_nu``.
    cov_numerator : array-like of shape (n_features, n_features)
        Covariance matrix of ``p_nu``, symmetric positive definite; an
        asymmetric matrix raises ``ValueError``. It is passed to
        :func:`scipy.stats.multivariate_normal`, which also accepts a scalar,
        a 1-D diagonal or a :class:`scipy.stats.Covariance`.
    mean_denominator : array-like of shape (n_features,)
        Mean of the denominator distribution ``p_de``.
    cov_denominator : array-like of shape (n_features, n_features)
        Covariance matrix of ``p_de``, under the same rules as
        ``cov_numerator``.

    Attributes
    ----------
    numerator : scipy.stats frozen multivariate_normal
        The numerator distribution ``p_nu``.
    denominator : scipy.stats frozen multivariate_normal
        The denominator distribution ``p_de``.
    n_features : int
        Dimension of both distributions.
    kl : float
        ``KL(p_nu || p_de)`` in nats, in closed form.

    See Also
    --------
    make_mean_shift : A pair of unit-covariance normals that differ in mean.
    make_scale_change : A pair of centred normals that differ in scale.
    DensityPair : The same interface for pairs that are not Gaussian.
    sklearn_nce.NCEDensityRatio : Estimates ``log p_nu / p_de`` from samples.

    Examples
    --------
    >>> from sklearn_nce.datasets import make_mean_shift
    >>> pair = make_mean_shift(n_features=3, kl=2.0)
    >>> round(pair.kl, 6)
    2.0
    >>> X, y = pair.sample(100, 200, random_state=0)
    >>> X.shape, int(y.sum())
    ((300, 3), 100)
    >>> pair.log_ratio(X).shape
    (300,)
    """

    def __init__(self, mean_numerator, cov_numerator, mean_denominator, cov_denominator):
        # scipy reads one triangle of a covariance when it checks it, and the
        # whole matrix when it samples: an asymmetric one gave kl 0 silently.
        for name, cov in (("cov_numerator", cov_numerator), ("cov_denominator", cov_denominator)):
            if isinstance(cov, Covariance):  # scipy's own: symmetric by construction
                continue
            cov = np.asarray(cov, dtype=float)
            if cov.ndim == 2 and not np.allclose(cov, cov.T):
                raise ValueError(f"{name} must be symmetric (a covariance matrix).")
        self.numerator = multivariate_normal(mean_numerator, cov_numerator)
        self.denominator = multivariate_normal(mean_denominator, cov_denominator)
        _check_same_dimension(self.numerator.dim, self.denominator.dim)

    @property
    def n_features(self):
        return self.numerator.dim

    @property
    def kl(self):
        """KL(p_nu || p_de) in nats, in closed form."""
        mean_diff = self.denominator.mean - self.numerator.mean
        cov_nu, cov_de = self.numerator.cov, self.denominator.cov
        cov_de_inv = np.linalg.inv(cov_de)
        _, logdet_nu = np.linalg.slogdet(cov_nu)
        _, logdet_de = np.linalg.slogdet(cov_de)
        return 0.5 * float(
            np.trace(cov_de_inv @ cov_nu)
            + mean_diff @ cov_de_inv @ mean_diff
            - self.n_features
            + logdet_de
            - logdet_nu
        )

    def log_ratio(self, X):
        """Compute the exact log density ratio ``log p_nu(x) - log p_de(x)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points at which to evaluate the ratio.

        Returns
        -------
        log_ratio : ndarray of shape (n_samples,)
            ``log p_nu(x) - log p_de(x)`` for each row of ``X``, in nats.
        """
        X = _points(X, self.n_features)
        # scipy squeezes a single row to a scalar; keep shape (n_samples,).
        return np.atleast_1d(self.numerator.logpdf(X) - self.denominator.logpdf(X))

    def sample(self, n_numerator, n_denominator, random_state=None):
        """Draw a labelled two-sample data set from ``p_nu`` and ``p_de``.

        Parameters
        ----------
        n_numerator : int
            Number of rows drawn from the numerator ``p_nu``.
        n_denominator : int
            Number of rows drawn from the denominator ``p_de``.
        random_state : int, RandomState instance or None, default=None
            Seed or generator for reproducible draws; the numerator rows are
            drawn first, then the denominator rows, from the same generator.

        Returns
        -------
        X : ndarray of shape (n_numerator + n_denominator, n_features)
            The numerator rows, then the denominator rows.
        y : ndarray of shape (n_numerator + n_denominator,)
            Integer labels: 1 for numerator rows, 0 for denominator rows, as
            :class:`~sklearn_nce.NCEDensityRatio` reads them by default.
        """
        rng = check_random_state(random_state)
        shape = (-1, self.n_features)
        X_nu = np.reshape(self.numerator.rvs(n_numerator, random_state=rng), shape)
        X_de = np.reshape(self.denominator.rvs(n_denominator, random_state=rng), shape)
        X = np.vstack([X_nu, X_de])
        y = np.r_[np.ones(n_numerator, dtype=int), np.zeros(n_denominator, dtype=int)]
        return X, y


def make_mean_shift(n_features=5, kl=2.5):
    """Make two unit-covariance normals that differ in mean, at a requested KL divergence.

    The numerator is ``N(mu, I)`` and the denominator ``N(0, I)``, with
    ``mu = c (1, ..., 1)`` along the diagonal and ``c`` chosen so that
    ``KL(p_nu || p_de) = |mu|^2 / 2 = kl``. The true log ratio is linear,
    ``mu.x - |mu|^2 / 2``; its variance on the denominator sample is ``2 kl``.

    Parameters
    ----------
    n_features : int, default=5
        Dimension of the two normals (at least 1).
    kl : float, default=2.5
        ``KL(p_nu || p_de)`` in nats (finite, above 0); the larger it is, the
        farther apart the two means.

    Returns
    -------
    pair : GaussianPair
        The two normals, with the exact log ratio and KL.

    See Also
    --------
    make_scale_change : Two centred normals that differ in scale.
    make_student_t_shift : The heavy-tailed analogue.
    make_warped_shift : The same pair seen through ``sinh``.
    sklearn_nce.NCEDensityRatio : Estimates the log ratio from samples.

    Examples
    --------
    >>> from sklearn_nce.datasets import make_mean_shift
    >>> pair = make_mean_shift(n_features=2, kl=2.0)
    >>> pair.numerator.mean, pair.denominator.mean
    (array([1.41..., 1.41...]), array([0., 0.]))
    >>> round(pair.kl, 6)
    2.0
    """
    n_features = check_scalar(n_features, "n_features", numbers.Integral, min_val=1)
    kl = _finite(kl, "kl")
    identity = np.eye(n_features)
    mean = np.full(n_features, np.sqrt(2.0 * kl / n_features))
    return GaussianPair(mean, identity, np.zeros(n_features), identity)


def make_scale_change(n_features=5, kl=2.5):
    """Make two centred normals that differ in scale, at a requested KL divergence.

    The numerator is ``N(0, s^2 I)`` and the denominator ``N(0, I)``, with
    ``s > 1`` solved for so that ``KL(p_nu || p_de)`` equals ``kl``. The
    numerator is the wider one, as a test set that spreads beyond the training
    domain; the true log ratio is quadratic.

    Parameters
    ----------
    n_features : int, default=5
        Dimension of the two normals (at least 1).
    kl : float, default=2.5
        ``KL(p_nu || p_de)`` in nats (finite, above 0); the larger it is, the
        wider the numerator.

    Returns
    -------
    pair : GaussianPair
        The two normals, with the exact log ratio and KL.

    See Also
    --------
    make_mean_shift : Two unit-covariance normals that differ in mean.
    GaussianPair : The pair returned, for other means and covariances.
    sklearn_nce.NCEDensityRatio : Estimates the log ratio from samples.

    Examples
    --------
    >>> from sklearn_nce.datasets import make_scale_change
    >>> pair = make_scale_change(n_features=2, kl=1.0)
    >>> round(float(pair.numerator.cov[0, 0]), 3)  # s**2
    3.146
    >>> round(pair.kl, 6)
    1.0
    """
    n_features = check_scalar(n_features, "n_features", numbers.Integral, min_val=1)
    per_dim = _finite(kl, "kl") / n_features

    def kl_gap(log_var):
        return 0.5 * (np.exp(log_var) - 1.0 - log_var) - per_dim

    log_var = brentq(kl_gap, 0.0, 2.0 * per_dim + 10.0)
    identity = np.eye(n_features)
    zeros = np.zeros(n_features)
    return GaussianPair(zeros, np.exp(log_var) * identity, zeros, identity)


class DensityPair:
    """Two distributions with exact log densities, optionally seen through an invertible warp.

    The interface of :class:`GaussianPair` (``sample``, ``log_ratio``,
    ``kl``, ``n_features``) for pairs that are not Gaussian. A warp ``g``
    applied to both samples leaves the log ratio unchanged in value
    (``log r_x(g(z)) = log r_z(z)``: the Jacobians cancel), so
    ``log_ratio(x)`` is the unwarped pair's log ratio at ``g^-1(x)``. The KL
    divergence is not computed in closed form: :attr:`kl` is a Monte-Carlo
    estimate.

    Parameters
    ----------
    numerator : object
        The numerator distribution ``p_nu``, with a method
        ``log_density(X)`` returning shape ``(n,)``, a method
        ``sample(n, random_state)`` returning shape ``(n, n_features)`` and an
        attribute ``n_features``, as :class:`IsotropicMixture` has.
    denominator : object
        The denominator distribution ``p_de``, with the same interface as
        ``numerator``.
    warp : {"sinh"} or None, default=None
        Componentwise invertible map applied to both samples: ``"sinh"`` is
        ``np.sinh``, and ``log_ratio`` undoes it with ``np.arcsinh``. None
        applies no map. Any other value raises ``ValueError``.

    Attributes
    ----------
    numerator : object
        The ``numerator`` passed.
    denominator : object
        The ``denominator`` passed.
    warp : {"sinh"} or None
        The ``warp`` passed.
    n_features : int
        Dimension of both distributions (``numerator.n_features``).
    kl : float
        Monte-Carlo estimate of ``KL(p_nu || p_de)`` in nats.

    See Also
    --------
    GaussianPair : Two normals, with the KL in closed form.
    make_student_t_shift : A pair of Student-t distributions that differ in location.
    make_mixture_shift : A two-component mixture over a standard normal.
    make_warped_shift : A Gaussian mean shift seen through ``sinh``.
    sklearn_nce.NCEDensityRatio : Estimates ``log p_nu / p_de`` from samples.

    Examples
    --------
    >>> from sklearn_nce.datasets import make_student_t_shift
    >>> pair = make_student_t_shift(n_features=3, kl=2.0, dof=3.0)
    >>> round(pair.kl, 1)  # solved on 20 000 draws, reported on 200 000
    2.0
    >>> X, y = pair.sample(100, 200, random_state=0)
    >>> X.shape, pair.log_ratio(X).shape
    ((300, 3), (300,))
    """

    def __init__(self, numerator, denominator, warp=None):
        if warp is not None and warp not in _WARPS:
            raise ValueError(f"warp must be one of {sorted(_WARPS)} or None, got {warp!r}.")
        _check_same_dimension(numerator.n_features, denominator.n_features)
        self.numerator = numerator
        self.denominator = denominator
        self.warp = warp

    @property
    def n_features(self):
        return self.numerator.n_features

    @property
    def kl(self):
        """KL(p_nu || p_de) in nats: a Monte-Carlo mean over 200 000 numerator draws (seed 0).

        The mean of the exact ``log p_nu(z) - log p_de(z)`` over the draws,
        computed once and cached; the warp, if any, leaves it unchanged.

        Its standard error is reported by :meth:`kl_standard_error`; it is
        below 0.01 nats for every constructor's default settings.
        """
        return float(self._kl_terms.mean())

    def kl_standard_error(self):
        """Compute the Monte-Carlo standard error of :attr:`kl`.

        Returns
        -------
        standard_error : float
            The sample standard deviation of the 200 000 terms that :attr:`kl`
            averages, divided by the square root of their number, in nats.
        """
        return float(self._kl_terms.std(ddof=1) / np.sqrt(len(self._kl_terms)))

    @functools.cached_property
    def _kl_terms(self):
        # The exact log ratio at the draws, drawn once per pair.
        draws = self.numerator.sample(_KL_DRAWS, random_state=0)
        return self.numerator.log_density(draws) - self.denominator.log_density(draws)

    def log_ratio(self, X):
        """Compute the exact log density ratio ``log p_nu(x) - log p_de(x)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points at which to evaluate the ratio, in the warped space (as
            :meth:`sample` returns them).

        Returns
        -------
        log_ratio : ndarray of shape (n_samples,)
            The log ratio for each row of ``X``, in nats: that of the unwarped
            pair at ``g^-1(x)``.
        """
        Z = _points(X, self.n_features)
        if self.warp is not None:
            Z = _WARPS[self.warp][1](Z)
        return self.numerator.log_density(Z) - self.denominator.log_density(Z)

    def sample(self, n_numerator, n_denominator, random_state=None):
        """Draw a labelled two-sample data set from ``p_nu`` and ``p_de``.

        Parameters
        ----------
        n_numerator : int
            Number of rows drawn from the numerator ``p_nu``.
        n_denominator : int
            Number of rows drawn from the denominator ``p_de``.
        random_state : int, RandomState instance or None, default=None
            Seed or generator for reproducible draws; the numerator rows are
            drawn first, then the denominator rows, from the same generator.

        Returns
        -------
        X : ndarray of shape (n_numerator + n_denominator, n_features)
            The numerator rows, then the denominator rows, with the warp
            applied.
        y : ndarray of shape (n_numerator + n_denominator,)
            Integer labels: 1 for numerator rows, 0 for denominator rows, as
            :class:`~sklearn_nce.NCEDensityRatio` reads them by default.
        """
        rng = check_random_state(random_state)
        X = np.vstack(
            [self.numerator.sample(n_numerator, rng), self.denominator.sample(n_denominator, rng)]
        )
        if self.warp is not None:
            X = _WARPS[self.warp][0](X)
        y = np.r_[np.ones(n_numerator, dtype=int), np.zeros(n_denominator, dtype=int)]
        return X, y


# warp name -> (forward, inverse)
_WARPS = {"sinh": (np.sinh, np.arcsinh)}
_KL_DRAWS = 200_000


class _StudentT:
    """``t_dof(loc, I)`` with the ``log_density`` / ``sample`` interface."""

    def __init__(self, loc, dof):
        self.loc = np.asarray(loc, dtype=float)
        self.dof = float(dof)
        self._dist = multivariate_t(self.loc, np.eye(len(self.loc)), df=self.dof)

    @property
    def n_features(self):
        return len(self.loc)

    def log_density(self, X):
        return np.atleast_1d(self._dist.logpdf(X))

    def sample(self, n_samples, random_state=None):
        rng = check_random_state(random_state)
        return np.reshape(self._dist.rvs(n_samples, random_state=rng), (-1, self.n_features))


def make_student_t_shift(n_features=5, kl=2.5, dof=3.0):
    """Make two Student-t distributions that differ in location, at a requested KL divergence.

    The numerator is ``t_dof(mu, I)`` and the denominator ``t_dof(0, I)``
    (multivariate t with scale matrix ``I``), with ``mu = c (1, ..., 1)``
    along the diagonal. The heavy-tailed analogue of :func:`make_mean_shift`.
    Its log ratio is bounded (it tends to 0 far out in every direction), not
    linear, so no fixed quadratic critic is exact. ``|mu|`` is solved for on
    20 000 fixed Monte-Carlo draws (seed 0) in antithetic pairs, which meet
    the requested KL to about 1% however small it is;
    :attr:`DensityPair.kl` reports the KL reached, estimated on other draws.

    Parameters
    ----------
    n_features : int, default=5
        Dimension of the two distributions (at least 1).
    kl : float, default=2.5
        Requested ``KL(p_nu || p_de)`` in nats (finite, above 0); the larger it
        is, the farther apart the two locations.
    dof : float, default=3.0
        Degrees of freedom of both distributions (finite, above 0); smaller
        is heavier-tailed.

    Returns
    -------
    pair : DensityPair
        The two distributions, with no warp.

    See Also
    --------
    make_mean_shift : The Gaussian analogue, with the KL in closed form.
    make_mixture_shift : A two-component mixture over a standard normal.
    sklearn_nce.NCEDensityRatio : Estimates the log ratio from samples.

    Examples
    --------
    >>> from sklearn_nce.datasets import make_student_t_shift
    >>> pair = make_student_t_shift(n_features=2, kl=1.0, dof=3.0)
    >>> round(pair.kl, 1)
    1.0
    >>> X, y = pair.sample(50, 50, random_state=0)
    >>> X.shape, pair.log_ratio(X).shape
    ((100, 2), (100,))
    """
    n_features = check_scalar(n_features, "n_features", numbers.Integral, min_val=1)
    dof = _finite(dof, "dof")
    direction = np.ones(n_features) / np.sqrt(n_features)
    zero = _StudentT(np.zeros(n_features), dof)
    draws = _antithetic(zero.sample(_SOLVER_DRAWS // 2, random_state=0))

    def kl_gap(length):
        # E_{e ~ t}[log t(e) - log t(e + mu)] on common draws: smooth in |mu|.
        return float(
            np.mean(zero.log_density(draws) - zero.log_density(draws + length * direction))
        )

    length = _solve_increasing(kl_gap, kl)
    return DensityPair(_StudentT(length * direction, dof), zero)


def make_mixture_shift(n_features=5, kl=2.5):
    """Make a two-component normal mixture over a standard normal, at a requested KL divergence.

    The numerator is the equal mixture ``N(a e_1, I) / 2 + N(a e_2, I) / 2``
    and the denominator ``N(0, I)``. The log ratio
    ``log(exp(a x_1) + exp(a x_2)) - log 2 - a^2 / 2`` is a soft maximum of
    two linear functions: neither linear nor quadratic. (With one feature the
    components sit at ``+a`` and ``-a``.) ``a`` is solved for with the KL by
    Gauss-Hermite quadrature, so the requested KL is met to about 1e-4
    relative, however small; :attr:`DensityPair.kl` reports a Monte-Carlo
    estimate of it.

    Parameters
    ----------
    n_features : int, default=5
        Dimension of the two distributions (at least 1).
    kl : float, default=2.5
        Requested ``KL(p_nu || p_de)`` in nats (finite, above 0); the larger it
        is, the larger ``a``.

    Returns
    -------
    pair : DensityPair
        The two distributions, each an :class:`IsotropicMixture`, with no warp.

    See Also
    --------
    make_mean_shift : A single shifted normal, with the KL in closed form.
    make_student_t_shift : A pair of Student-t distributions that differ in location.
    sklearn_nce.NCEDensityRatio : Estimates the log ratio from samples.

    Examples
    --------
    >>> from sklearn_nce.datasets import make_mixture_shift
    >>> pair = make_mixture_shift(n_features=2, kl=1.0)
    >>> pair.numerator.means.round(2)
    array([[1.68, 0.  ],
           [0.  , 1.68]])
    >>> round(pair.kl, 1)
    1.0
    """
    n_features = check_scalar(n_features, "n_features", numbers.Integral, min_val=1)
    zero = IsotropicMixture(np.zeros((1, n_features)), 1.0)
    directions = np.eye(n_features)[:2] if n_features > 1 else np.array([[1.0], [-1.0]])

    def mixture(length):
        return IsotropicMixture(length * directions, 1.0)

    # The KL is an integral over the components' plane alone (the other
    # coordinates' terms cancel in the log ratio), and by symmetry each
    # component contributes the same: Gauss-Hermite quadrature about the first.
    noise, weights = _normal_quadrature(min(n_features, 2))
    noise = np.pad(noise, ((0, 0), (0, n_features - noise.shape[1])))

    def kl_gap(length):
        draws = length * directions[0] + noise
        return float(weights @ (mixture(length).log_density(draws) - zero.log_density(draws)))

    return DensityPair(mixture(_solve_increasing(kl_gap, kl)), zero)


def make_warped_shift(n_features=5, kl=2.5, warp="sinh"):
    """Make :func:`make_mean_shift`'s pair seen through ``sinh``: same KL, non-Gaussian samples.

    ``x = sinh(z)`` componentwise for ``z`` from ``N(mu, I)`` or ``N(0, I)``,
    with ``mu`` as in :func:`make_mean_shift`. The KL and the log ratio's
    values are the Gaussian pair's (an invertible map changes neither), but as
    a function of ``x`` the log ratio is ``mu . asinh(x) - |mu|^2 / 2``:
    logarithmic in the tails, not linear. :attr:`DensityPair.kl` reports a
    Monte-Carlo estimate of ``kl``.

    Parameters
    ----------
    n_features : int, default=5
        Dimension of the two distributions (at least 1).
    kl : float, default=2.5
        ``KL(p_nu || p_de)`` in nats (finite, above 0), as in
        :func:`make_mean_shift`.
    warp : {"sinh"} or None, default="sinh"
        Componentwise map applied to both samples; None gives the Gaussian
        mean shift itself, as a :class:`DensityPair`.

    Returns
    -------
    pair : DensityPair
        The two distributions, each an :class:`IsotropicMixture` with one
        component, seen through ``warp``.

    See Also
    --------
    make_mean_shift : The unwarped pair, with the KL in closed form.
    DensityPair : The pair returned, for other distributions.
    sklearn_nce.NCEDensityRatio : Estimates the log ratio from samples.

    Examples
    --------
    The log ratio is the Gaussian pair's at ``asinh(x)``:

    >>> import numpy as np
    >>> from sklearn_nce.datasets import make_mean_shift, make_warped_shift
    >>> warped = make_warped_shift(n_features=2, kl=1.0)
    >>> X, y = warped.sample(100, 100, random_state=0)
    >>> gaussian = make_mean_shift(n_features=2, kl=1.0)
    >>> bool(np.allclose(warped.log_ratio(X), gaussian.log_ratio(np.arcsinh(X))))
    True
    >>> round(warped.kl, 1)
    1.0
    """
    gaussian = make_mean_shift(n_features, kl)
    mean = gaussian.numerator.mean
    return DensityPair(
        IsotropicMixture(mean[None, :], 1.0),
        IsotropicMixture(np.zeros_like(mean)[None, :], 1.0),
        warp=warp,
    )


# Draws on which make_student_t_shift solves for the KL, in antithetic pairs
# (e, -e). On plain draws the estimated KL carried a noise term linear in the
# shift, while the KL itself is quadratic in it, so small requests were
# missed by far (review: the 5-d t reached 0.79x a requested 0.01 and 0.018x
# a requested 1e-5; now 1.007x at both). The pairs cancel the linear term.
# make_mixture_shift integrates by quadrature instead: in 1-d its noise term
# is even in e (the 1-d mixture reached 57x a requested 1e-5 with pairs).
_SOLVER_DRAWS = 20_000
# Gauss-Hermite nodes per axis for make_mixture_shift's KL (150 agreed with
# adaptive quadrature to 1e-4 relative at kl=1e-5 to 2.5, in a review).
_QUADRATURE_NODES = 150


def _antithetic(draws):
    """``draws`` followed by their negations: a symmetric sample about 0."""
    return np.vstack([draws, -draws])


def _normal_quadrature(n_features):
    """Nodes (n, n_features) and weights (summing to 1) integrating against N(0, I)."""
    nodes, weights = hermegauss(_QUADRATURE_NODES)
    grids = np.meshgrid(*[nodes] * n_features, indexing="ij")
    products = np.prod(np.meshgrid(*[weights] * n_features, indexing="ij"), axis=0)
    return np.column_stack([grid.ravel() for grid in grids]), products.ravel() / products.sum()


def _points(X, n_features):
    """X as rows of ``n_features`` columns, read as scipy's densities read it.

    A 1-D X is one row, or with one feature a column of points (as
    ``GaussianPair``'s scipy densities read it; review: the other classes
    had read it as one row and failed in a matrix product).
    """
    X = np.asarray(X, dtype=np.float64)
    X = X[:, None] if X.ndim == 1 and n_features == 1 else np.atleast_2d(X)
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(
            f"X must have {n_features} column(s), one per feature; got shape {X.shape}."
        )
    return X


def _check_same_dimension(n_numerator, n_denominator):
    if n_numerator != n_denominator:
        raise ValueError(
            f"The numerator has {n_numerator} feature(s) and the denominator {n_denominator}: "
            "a density ratio needs both on the same space."
        )


def _solve_increasing(function, target):
    """The ``x > 0`` with ``function(x) = target`` for a function increasing from 0 at 0."""
    target = _finite(target, "kl")
    upper = 1.0
    while function(upper) < target:
        upper *= 2.0
    return brentq(lambda x: function(x) - target, 0.0, upper, xtol=1e-10)


# ---------------------------------------------------------------------------
# Mutual information: (X, Y) pairs whose MI is known in closed form.

# Invertible componentwise maps for ``Y``. MI is invariant under an invertible
# map of either variable (the Jacobians cancel in p(x, y) / (p(x) p(y))), so
# these change the shape of the marginal, and with it the difficulty for an
# estimator, but never the ground truth.
_TRANSFORMS = {
    # Heavier tails and a zero derivative at 0 (flat where the data are dense).
    "cube": lambda y: y**3,
    # Log-like compression of the tails.
    "asinh": np.arcsinh,
    # Maps onto (0, 1); on a standard normal Y the marginal becomes uniform.
    "normal_cdf": norm.cdf,
}


def _apply_transform(Y, transform):
    """Apply the named invertible map to ``Y``, or return ``Y`` for ``None``."""
    if transform is None:
        return Y
    if not isinstance(transform, str) or transform not in _TRANSFORMS:
        raise ValueError(
            f"transform must be None or one of {sorted(_TRANSFORMS)}, got {transform!r}."
        )
    Y_transformed = _TRANSFORMS[transform](Y)
    # In floating point an invertible map can still merge values (norm.cdf
    # rounds to exactly 1 above y ~ 8.3, and coarsens well before that), and
    # merged values are information lost: the returned MI would then overstate
    # what the data hold. Rare for Gaussian Y, common for heavy tails. The loss
    # is small (a user test, exact densities, d = 1, 3 degrees of freedom,
    # 1 nat: norm.cdf's merged tail beyond 8.3 held 0.0008 nats), but the
    # squashed tail is harder to learn from; "cube" makes tails heavier (at 1
    # degree of freedom InfoNCEAnchorMI refused its Y as near-constant).
    n_lost = sum(
        np.unique(before).size - np.unique(after).size
        for before, after in zip(Y.T, Y_transformed.T, strict=True)
    )
    if n_lost:
        warnings.warn(
            f"transform={transform!r} merged {n_lost} distinct values of Y in floating "
            "point, so the sample carries a little less information than the returned mi "
            "(merged tail values; about 0.1% of it for a Student-t Y with 3 degrees of "
            "freedom). For heavy-tailed Y use transform='asinh', which keeps them apart "
            "('cube' makes the tails heavier).",
            UserWarning,
            stacklevel=3,
        )
    return Y_transformed


def _finite(value, name, *, zero_allowed=False):
    """``value`` as a float, refused unless finite and above 0 (at least 0 if ``zero_allowed``).

    One check for every size a constructor takes: a KL, an MI, a scale, the
    degrees of freedom (an infinite one is the Gaussian case, which has its
    own functions).
    """
    boundaries = "left" if zero_allowed else "neither"
    check_scalar(value, name, numbers.Real, min_val=0, include_boundaries=boundaries)
    # check_scalar lets NaN through (every comparison with NaN is False).
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}.")
    return float(value)


def gaussian_mi(rho, n_features):
    """Mutual information, in nats, of ``n_features`` independent correlated normal pairs.

    Each pair ``(X_j, Y_j)`` is bivariate normal with unit variances and
    correlation ``rho``; pairs are independent across ``j``, so the MI adds up::

        MI(X; Y) = -n_features / 2 * log(1 - rho**2)

    Parameters
    ----------
    rho : float
        Componentwise correlation, strictly between -1 and 1.
    n_features : int
        Dimension ``d`` of each of ``X`` and ``Y`` (at least 1).

    Returns
    -------
    mi : float
        Mutual information in nats.

    See Also
    --------
    rho_for_mi : The inverse, ``rho`` for a requested MI.

    Examples
    --------
    >>> from sklearn_nce.datasets import gaussian_mi, rho_for_mi
    >>> round(gaussian_mi(0.5, n_features=2), 6)
    0.287682
    >>> round(gaussian_mi(rho_for_mi(3.0, n_features=5), n_features=5), 6)
    3.0
    """
    check_scalar(n_features, "n_features", numbers.Integral, min_val=1)
    check_scalar(rho, "rho", numbers.Real)
    # Written as a negated range test so that NaN is rejected too.
    if not -1.0 < rho < 1.0:
        raise ValueError(f"rho must be strictly between -1 and 1, got {rho}.")
    # log1p keeps full precision for small rho, where 1 - rho**2 rounds.
    return float(-0.5 * n_features * np.log1p(-(rho**2)))


def rho_for_mi(mi, n_features):
    """Componentwise correlation that gives ``n_features`` normal pairs a total MI of ``mi``.

    The inverse of :func:`gaussian_mi` on ``rho >= 0``:
    ``rho = sqrt(1 - exp(-2 mi / n_features))``.

    Parameters
    ----------
    mi : float
        Requested mutual information in nats (finite, at least 0).
    n_features : int
        Dimension ``d`` of each of ``X`` and ``Y`` (at least 1).

    Returns
    -------
    rho : float
        Correlation in ``[0, 1)``. Above about 18 nats per dimension it rounds
        to 1.0 in double precision (and :func:`gaussian_mi` refuses it);
        :func:`make_correlated_gaussian` does not rely on it there, as it uses
        ``sqrt(1 - rho**2) = exp(-mi / d)`` directly.

    See Also
    --------
    gaussian_mi : The inverse, the MI for a given ``rho``.
    make_correlated_gaussian : Draws pairs with this correlation.

    Examples
    --------
    >>> from sklearn_nce.datasets import rho_for_mi
    >>> round(rho_for_mi(1.0, n_features=5), 4)
    0.5742
    >>> rho_for_mi(0.0, n_features=3)
    0.0
    """
    mi = _finite(mi, "mi", zero_allowed=True)
    check_scalar(n_features, "n_features", numbers.Integral, min_val=1)
    # expm1 keeps precision for small mi, where exp(-2 mi / d) rounds to 1.
    return float(np.sqrt(-np.expm1(-2.0 * mi / n_features)))


# Largest MI per dimension that a float64 sample can carry: Y_j = rho X_j +
# exp(-mi/d) E_j, and beyond ~30 nats the noise exp(-30) ~ 1e-13 is within a
# few hundred ulps of Y, so rounding would erase part of the dependence (by
# ~37 nats Y is a bit-for-bit copy of X) and the stated MI would be false.
_MAX_MI_PER_FEATURE = 30.0


def _correlated_normal_pair(rng, n_samples, n_features, gaussian_part):
    """Standard-normal ``X`` and ``Y`` with componentwise MI summing to ``gaussian_part``."""
    if gaussian_part / n_features > _MAX_MI_PER_FEATURE:
        raise ValueError(
            f"{gaussian_part / n_features!r} nats of Gaussian MI per feature is more than "
            f"a double-precision sample can carry (at most {_MAX_MI_PER_FEATURE:g}); "
            "spread the MI over more features."
        )
    rho = rho_for_mi(gaussian_part, n_features)
    # sqrt(1 - rho**2) = exp(-mi / d) exactly; computing it from rho would
    # round to 0 at high MI per dimension and make Y an exact copy of X.
    noise_scale = np.exp(-gaussian_part / n_features)
    X = rng.standard_normal((n_samples, n_features))
    Y = rho * X + noise_scale * rng.standard_normal((n_samples, n_features))
    return X, Y


def make_correlated_gaussian(
    n_samples=1000, n_features=5, mi=1.0, random_state=None, *, transform=None
):
    """Correlated standard normals ``X`` and ``Y`` with mutual information ``mi`` nats.

    Each pair ``(X_j, Y_j)`` is bivariate normal with unit variances and
    correlation ``rho = rho_for_mi(mi, n_features)``, independent across
    ``j``, so that ``MI(X; Y) = -d/2 log(1 - rho**2) = mi`` exactly. Spreading
    the MI evenly over the dimensions keeps ``rho`` moderate at high MI, so a
    large MI comes from many weak dependencies rather than from ``Y`` nearly
    copying ``X``.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of ``(x, y)`` rows.
    n_features : int, default=5
        Dimension ``d`` of each of ``X`` and ``Y``.
    mi : float, default=1.0
        Mutual information in nats (finite, at least 0; 0 gives independent
        ``X`` and ``Y``). At most 30 nats per feature: beyond that, rounding
        in double precision would erase part of the dependence.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible draws.
    transform : {None, "cube", "asinh", "normal_cdf"}, default=None
        Invertible componentwise map applied to ``Y`` after sampling:
        ``"cube"`` is ``y**3``, ``"asinh"`` is ``np.arcsinh`` and
        ``"normal_cdf"`` is :data:`scipy.stats.norm` ``.cdf`` (uniform
        marginals on ``(0, 1)``). MI is invariant under any invertible map of
        either variable, so ``mi`` is unchanged; the dependence is simply no
        longer linear-Gaussian. ``X`` is the same as without the transform.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The first variable, standard normal in each column.
    Y : ndarray of shape (n_samples, n_features)
        The second variable: standard normal in each column, correlated with
        the same column of ``X``, then mapped by ``transform``.
    mi : float
        The exact mutual information ``MI(X; Y)`` in nats (``mi`` as a
        float).

    See Also
    --------
    make_mi_staircase : The same at a ladder of MI levels.
    make_student_t_pair : A heavy-tailed pair with closed-form MI.
    gaussian_mi : The MI for a given correlation.
    sklearn_nce.InfoNCEAnchorMI : Estimates the MI from samples.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nce.datasets import make_correlated_gaussian
    >>> X, Y, mi = make_correlated_gaussian(n_samples=500, n_features=5, mi=2.0, random_state=0)
    >>> X.shape, Y.shape, mi
    ((500, 5), (500, 5), 2.0)
    >>> _, Y_cube, _ = make_correlated_gaussian(500, 5, 2.0, random_state=0, transform="cube")
    >>> bool(np.allclose(Y_cube, Y**3))
    True
    """
    check_scalar(n_samples, "n_samples", numbers.Integral, min_val=1)
    check_scalar(n_features, "n_features", numbers.Integral, min_val=1)
    mi = _finite(mi, "mi", zero_allowed=True)
    rng = check_random_state(random_state)
    X, Y = _correlated_normal_pair(rng, n_samples, n_features, mi)
    return X, _apply_transform(Y, transform), mi


def make_mi_staircase(
    n_samples=1000,
    n_features=20,
    levels=(2, 4, 6, 8, 10),
    random_state=None,
    *,
    transform=None,
):
    """The mutual-information "staircase" of Poole et al. (2019): one data set per MI level.

    Poole, Ozair, van den Oord, Alemi and Tucker, "On Variational Bounds of
    Mutual Information" (ICML 2019), compare MI bounds on correlated Gaussians
    of dimension 20 whose true MI steps through 2, 4, 6, 8 and 10 nats; those
    are the defaults here. With ``d = 20`` the correlation stays moderate
    (``rho`` from 0.43 at 2 nats to 0.80 at 10 nats), and the top levels lie
    well above ``log(batch size)`` for usual batches (``log 64 = 4.16``), past
    which InfoNCE saturates. Poole et al. draw a fresh batch at every training
    step; here each level is a fixed sample of ``n_samples`` rows from
    :func:`make_correlated_gaussian`.

    Parameters
    ----------
    n_samples : int, default=1000
        Rows per level.
    n_features : int, default=20
        Dimension of each of ``X`` and ``Y``.
    levels : sequence of float, default=(2, 4, 6, 8, 10)
        The MI of each step, in nats (non-empty; each finite and at least 0).
    random_state : int, RandomState instance or None, default=None
        Seed or generator. The levels are drawn one after another from the
        same generator, so they are independent samples and one seed
        reproduces the whole staircase.
    transform : {None, "cube", "asinh", "normal_cdf"}, default=None
        Invertible map applied to every ``Y``, as in
        :func:`make_correlated_gaussian`; the MI levels are unchanged.

    Returns
    -------
    staircase : list of (X, Y, mi) tuples
        One ``make_correlated_gaussian`` output per level, in order.

    See Also
    --------
    make_correlated_gaussian : One step of the staircase.
    sklearn_nce.InfoNCEAnchorMI : Estimates the MI from samples.

    Examples
    --------
    >>> from sklearn_nce.datasets import make_mi_staircase
    >>> steps = make_mi_staircase(n_samples=64, random_state=0)
    >>> [mi for _, _, mi in steps]
    [2.0, 4.0, 6.0, 8.0, 10.0]
    >>> steps[0][0].shape
    (64, 20)
    """
    if np.ndim(levels) != 1:  # a bare number read "'int' object is not iterable"
        raise ValueError(f"levels must be a sequence of MI values in nats, got {levels!r}.")
    levels = list(levels)
    if not levels:
        raise ValueError("levels must contain at least one MI value.")
    rng = check_random_state(random_state)
    return [
        make_correlated_gaussian(n_samples, n_features, level, rng, transform=transform)
        for level in levels
    ]


def _t_entropy_term(dof, dim):
    """The part of the entropy of a ``dim``-variate t that depends on ``dof`` but not on the scale.

    The entropy of ``t_dof(0, S)`` in ``k`` dimensions is
    ``1/2 log det S + k/2 log(dof pi) + log G(dof/2) - log G((dof+k)/2)
    + (dof+k)/2 [psi((dof+k)/2) - psi(dof/2)]`` (G the gamma function, psi
    the digamma); this returns the last three terms.
    """
    half = 0.5 * (dof + dim)
    return gammaln(0.5 * dof) - gammaln(half) + half * (digamma(half) - digamma(0.5 * dof))


def student_t_mi(rho, n_features, dof):
    """Mutual information, in nats, of the Student-t pair of :func:`make_student_t_pair`.

    ``(X, Y)`` is ``2d``-variate t with ``dof`` degrees of freedom, location 0
    and scale matrix ``R = [[I, rho I], [rho I, I]]``; each of ``X`` and ``Y``
    is then ``d``-variate t with the same ``dof`` and scale ``I``. From the
    entropy of the multivariate t (see Arellano-Valle, Contreras-Reyes and
    Genton, Scand. J. Statist. 40, 2013), ``MI = H(X) + H(Y) - H(X, Y)``; the
    ``log(dof pi)`` terms cancel and the log-determinants give the Gaussian
    part, leaving::

        MI = -d/2 log(1 - rho**2) + c(dof, d),
        c = 2 f(d) - f(2d),
        f(k) = log G(dof/2) - log G((dof+k)/2) + (dof+k)/2 [psi((dof+k)/2) - psi(dof/2)]

    The term ``c > 0`` is dependence through the shared random scale: even at
    ``rho = 0``, a large ``|x|`` makes a large ``|y|`` likely. It vanishes as
    ``dof -> inf`` (the Gaussian limit). The tests check this formula against a
    Monte-Carlo average of ``log p(x, y) - log p(x) - log p(y)`` with
    :class:`scipy.stats.multivariate_t` densities.

    Parameters
    ----------
    rho : float
        Componentwise correlation parameter, strictly between -1 and 1.
    n_features : int
        Dimension ``d`` of each of ``X`` and ``Y`` (at least 1).
    dof : float
        Degrees of freedom (positive, finite).

    Returns
    -------
    mi : float
        Mutual information in nats.

    See Also
    --------
    make_student_t_pair : Draws pairs with this MI.
    gaussian_mi : The Gaussian limit, ``dof -> inf``.

    Examples
    --------
    With ``d = 1`` and ``dof = 1`` (bivariate Cauchy) at ``rho = 0`` the MI
    is ``log(8 pi) - 3``:

    >>> import numpy as np
    >>> from sklearn_nce.datasets import student_t_mi
    >>> round(student_t_mi(0.0, n_features=1, dof=1.0), 6), round(float(np.log(8 * np.pi) - 3), 6)
    (0.224171, 0.224171)
    """
    gaussian_part = gaussian_mi(rho, n_features)
    dof = _finite(dof, "dof")
    shared_scale = 2.0 * _t_entropy_term(dof, n_features) - _t_entropy_term(dof, 2 * n_features)
    return float(gaussian_part + shared_scale)


def make_student_t_pair(
    n_samples=1000, n_features=5, dof=3.0, random_state=None, *, mi=1.0, transform=None
):
    """A heavy-tailed pair: ``(X, Y)`` jointly multivariate Student-t, with MI ``mi`` nats.

    Draw correlated standard normals ``(Z_x, Z_y)`` as in
    :func:`make_correlated_gaussian` and one ``W ~ chi2(dof)`` per row, and set
    ``(X, Y) = (Z_x, Z_y) / sqrt(W / dof)``. Then ``(X, Y)`` is ``2d``-variate
    t with scale matrix ``[[I, rho I], [rho I, I]]``, and ``X`` and ``Y`` are
    each ``d``-variate t with the same ``dof`` (variance ``dof / (dof - 2)``
    for ``dof > 2``, infinite otherwise). Its MI is given by
    :func:`student_t_mi`; ``rho`` is chosen so that it equals ``mi``.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of ``(x, y)`` rows.
    n_features : int, default=5
        Dimension ``d`` of each of ``X`` and ``Y``.
    dof : float, default=3.0
        Degrees of freedom; smaller is heavier-tailed (1 is Cauchy).
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible draws.
    mi : float, default=1.0
        Mutual information in nats. It cannot be below
        ``student_t_mi(0, n_features, dof)``, the MI from the shared scale
        alone (0.30 nats at the defaults, 1.45 for ``dof=1, n_features=20``);
        a smaller value raises ``ValueError``.
    transform : {None, "cube", "asinh", "normal_cdf"}, default=None
        Invertible map applied to ``Y``, as in :func:`make_correlated_gaussian`.
        With heavy tails ``"normal_cdf"`` merges large values in floating
        point (a ``UserWarning`` says so); prefer ``"asinh"``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The first variable, ``d``-variate t with ``dof`` degrees of freedom.
    Y : ndarray of shape (n_samples, n_features)
        The second variable, ``d``-variate t with ``dof`` degrees of freedom,
        then mapped by ``transform``.
    mi : float
        The exact mutual information ``MI(X; Y)`` in nats (``mi`` as a
        float).

    See Also
    --------
    student_t_mi : The MI of this pair for a given ``rho``.
    make_correlated_gaussian : The Gaussian analogue.
    sklearn_nce.InfoNCEAnchorMI : Estimates the MI from samples.

    Examples
    --------
    >>> from sklearn_nce.datasets import make_student_t_pair
    >>> X, Y, mi = make_student_t_pair(n_samples=300, n_features=2, dof=4.0, mi=1.5,
    ...                                random_state=0)
    >>> X.shape, Y.shape, mi
    ((300, 2), (300, 2), 1.5)
    """
    check_scalar(n_samples, "n_samples", numbers.Integral, min_val=1)
    check_scalar(n_features, "n_features", numbers.Integral, min_val=1)
    dof = _finite(dof, "dof")
    mi = _finite(mi, "mi", zero_allowed=True)
    shared_scale = student_t_mi(0.0, n_features, dof)
    if mi < shared_scale:
        raise ValueError(
            f"mi={mi} is below {shared_scale:.4f} nats, the mutual information that the "
            f"shared scale alone gives a Student-t pair with dof={dof} and "
            f"n_features={n_features}; raise mi or dof, or lower n_features."
        )
    rng = check_random_state(random_state)
    X, Y = _correlated_normal_pair(rng, n_samples, n_features, mi - shared_scale)
    # One scale per row, shared by X and Y: this is what makes the pair jointly
    # t (rather than two independent t's) and adds the dof-dependent MI term.
    scale = np.sqrt(dof / rng.chisquare(dof, size=n_samples))[:, np.newaxis]
    return X * scale, _apply_transform(Y * scale, transform), mi


# ---------------------------------------------------------------------------
# Mutual information of one-dimensional non-Gaussian relations, by quadrature.


class _Relation:
    """``y | x`` an equal-weight mixture of ``N(mean_c(x), scale(x)^2)`` components.

    ``x_nodes()`` returns quadrature nodes and probability weights (summing
    to 1) for the distribution of x; ``sample_x(rng, n)`` draws from it.
    """

    def __init__(self, sample_x, x_nodes, means, scale, description):
        self.sample_x = sample_x
        self.x_nodes = x_nodes
        self.means = means  # x (n,) -> (n, n_components)
        self.scale = scale  # x (n,) -> (n,)
        self.description = description

    def sample(self, rng, n_samples):
        x = self.sample_x(rng, n_samples)
        means = self.means(x)
        component = rng.randint(means.shape[1], size=n_samples)
        y = means[np.arange(n_samples), component] + self.scale(x) * rng.standard_normal(n_samples)
        return x, y

    def log_conditional(self, y, x):
        """``log p(y | x)`` for aligned or broadcastable ``y`` and ``x``."""
        x = np.asarray(x, dtype=float)
        means = self.means(x.reshape(-1)).reshape(*x.shape, -1)
        scale = self.scale(x.reshape(-1)).reshape(x.shape)
        log_components = norm.logpdf(np.asarray(y)[..., None], means, scale[..., None])
        return np.logaddexp.reduce(log_components, axis=-1) - np.log(means.shape[-1])

    def mutual_info(self, n_y=4001):
        """``I(X; Y) = E_x[int p(y|x) log p(y|x) dy] - int p(y) log p(y) dy`` on grids."""
        x, weight = self.x_nodes()
        means, scale = self.means(x), self.scale(x)
        low = (means.min(axis=1) - 9 * scale).min()
        high = (means.max(axis=1) + 9 * scale).max()
        y = np.linspace(low, high, n_y)
        log_cond = self.log_conditional(y[None, :], x[:, None])  # (n_x, n_y)
        cond = np.exp(log_cond)
        neg_cond_entropy = trapezoid(cond * log_cond, y, axis=1) @ weight
        marginal = weight @ cond
        entropy = -trapezoid(marginal * np.log(np.maximum(marginal, 1e-300)), y)
        return float(entropy + neg_cond_entropy)


def _uniform_nodes(n_nodes=4001):
    # Trapezoid nodes of U(-1, 1): probability weights that sum to 1.
    x = np.linspace(-1.0, 1.0, n_nodes)
    weight = np.full(n_nodes, 2.0 / (n_nodes - 1)) / 2.0
    weight[[0, -1]] /= 2.0
    return x, weight


def _uniform_x(rng, n):
    return rng.uniform(-1.0, 1.0, n)


_DISCRETE_LEVELS = np.arange(4.0)

#: Relations of :func:`make_noisy_relation` (name -> definition).
RELATIONS = {
    "sine": _Relation(
        _uniform_x,
        _uniform_nodes,
        lambda x: np.sin(3.0 * x)[:, None],
        lambda x: np.full_like(x, 0.3),
        "periodic: x ~ U(-1, 1), y = sin(3x) + 0.3 e",
    ),
    "quadratic": _Relation(
        _uniform_x,
        _uniform_nodes,
        lambda x: (x**2)[:, None],
        lambda x: np.full_like(x, 0.1),
        "non-monotone: x ~ U(-1, 1), y = x^2 + 0.1 e",
    ),
    "heteroscedastic": _Relation(
        _uniform_x,
        _uniform_nodes,
        lambda x: x[:, None],
        lambda x: 0.05 + 0.5 * np.abs(x),
        "heteroscedastic: x ~ U(-1, 1), y = x + (0.05 + 0.5|x|) e",
    ),
    "bimodal": _Relation(
        _uniform_x,
        _uniform_nodes,
        lambda x: np.stack([x, -x], axis=1),
        lambda x: np.full_like(x, 0.1),
        "two branches: x ~ U(-1, 1), y = +-x + 0.1 e (random sign)",
    ),
    "discrete": _Relation(
        lambda rng, n: rng.randint(len(_DISCRETE_LEVELS), size=n).astype(float),
        lambda: (_DISCRETE_LEVELS, np.full(len(_DISCRETE_LEVELS), 1 / len(_DISCRETE_LEVELS))),
        lambda x: x[:, None],
        lambda x: np.full_like(x, 0.5),
        "discrete-continuous: x uniform on {0, 1, 2, 3}, y = x + 0.5 e",
    ),
}


def make_noisy_relation(n_samples=1000, relation="sine", random_state=None):
    """One-dimensional ``(x, y)`` with a non-linear, non-Gaussian dependence and its MI.

    The relations (``e`` is standard normal noise, independent of x):

    * ``"sine"`` (periodic): ``x ~ U(-1, 1)``, ``y = sin(3x) + 0.3 e``;
    * ``"quadratic"`` (non-monotone): ``x ~ U(-1, 1)``, ``y = x^2 + 0.1 e``;
    * ``"heteroscedastic"``: ``x ~ U(-1, 1)``, ``y = x + (0.05 + 0.5|x|) e``;
    * ``"bimodal"`` (two branches): ``x ~ U(-1, 1)``, ``y = +-x + 0.1 e``
      with a random sign;
    * ``"discrete"`` (discrete-continuous): x uniform on {0, 1, 2, 3},
      ``y = x + 0.5 e``.

    The MI has no closed form; it is computed as
    ``h(Y) - h(Y | X)`` by trapezoid quadrature on fine grids (4001 nodes
    in y, and in x for the continuous relations; ``"discrete"`` sums over its
    four levels), accurate to ~1e-4 nats (the tests check it against Monte
    Carlo).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of ``(x, y)`` rows.
    relation : {"sine", "quadratic", "heteroscedastic", "bimodal", "discrete"}, \
            default="sine"
        The relation, as listed above (the keys of ``RELATIONS``); any other
        value raises ``ValueError``.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible draws.

    Returns
    -------
    X : ndarray of shape (n_samples, 1)
        The input ``x``, as one column.
    y : ndarray of shape (n_samples,)
        The output ``y``.
    mi : float
        The mutual information ``I(X; Y)`` in nats, from the quadrature
        (computed once per relation and cached).

    See Also
    --------
    make_correlated_gaussian : Gaussian pairs with MI in closed form.
    sklearn_nce.mutual_info_nce : Estimates the MI from samples.

    Examples
    --------
    >>> from sklearn_nce.datasets import make_noisy_relation
    >>> X, y, mi = make_noisy_relation(500, "discrete", random_state=0)
    >>> X.shape, y.shape, round(mi, 3)
    ((500, 1), (500,), 0.845)
    """
    check_scalar(n_samples, "n_samples", numbers.Integral, min_val=1)
    if not isinstance(relation, str) or relation not in RELATIONS:
        raise ValueError(f"relation must be one of {sorted(RELATIONS)}, got {relation!r}.")
    spec = RELATIONS[relation]
    x, y = spec.sample(check_random_state(random_state), n_samples)
    return x[:, None], y, _relation_mi(relation)


@functools.cache
def _relation_mi(relation):
    # The quadrature takes ~1 s; the truth of a relation never changes.
    return RELATIONS[relation].mutual_info()


class IsotropicMixture:
    """A mixture of isotropic Gaussians ``sum_k w_k N(mean_k, scale^2 I)``.

    A density with an exact :meth:`log_density` (normalised) and exact
    :meth:`sample`, to measure density models against.
    :func:`make_random_mixture` and :func:`make_grid_mixture` build the CNCE
    paper's two test densities; :class:`DensityPair` accepts one as either
    distribution.

    Parameters
    ----------
    means : array-like of shape (n_components, n_features)
        Component means, one row per component (a 1-D array raises
        ``ValueError``).
    scale : float
        Common standard deviation of every component, in every direction
        (finite, above 0).
    weights : array-like of shape (n_components,), default=None
        Component weights, non-negative and not all 0; normalised to sum to 1.
        None gives every component the same weight.

    Attributes
    ----------
    means : ndarray of shape (n_components, n_features)
        The component means, as floats.
    scale : float
        The common standard deviation.
    weights : ndarray of shape (n_components,)
        The component weights, summing to 1.
    n_features : int
        Dimension of the distribution.

    See Also
    --------
    make_random_mixture : Means drawn at random, in 20 dimensions by default.
    make_grid_mixture : Twenty-five modes on a 2-D grid.
    sklearn.mixture.GaussianMixture : Fits a Gaussian mixture to data.
    sklearn_nce.CNCEEnergyModel : Learns a density from samples.

    Examples
    --------
    >>> from sklearn_nce.datasets import make_grid_mixture
    >>> mixture = make_grid_mixture()
    >>> X = mixture.sample(1000, random_state=0)
    >>> X.shape, mixture.log_density(X).shape
    ((1000, 2), (1000,))
    """

    def __init__(self, means, scale, weights=None):
        means = np.asarray(means, dtype=float)
        if means.ndim != 2 or means.size == 0:
            raise ValueError(
                f"means must be 2-D, (n_components, n_features), got shape {means.shape}: "
                "one 2-d component is [[0, 1]], two 1-d ones [[0], [1]]."
            )
        if not np.all(np.isfinite(means)):
            raise ValueError("means must be finite (no NaN or infinity).")
        self.means = means
        self.scale = _finite(scale, "scale")
        n_components = len(self.means)
        weights = np.ones(n_components) if weights is None else np.asarray(weights, float)
        if weights.shape != (n_components,) or not np.all(np.isfinite(weights)):
            raise ValueError(
                f"weights must be {n_components} finite numbers, one per row of means; "
                f"got shape {weights.shape}."
            )
        if np.any(weights < 0) or weights.sum() <= 0:
            raise ValueError("weights must be non-negative, and not all 0.")
        self.weights = weights / weights.sum()

    @property
    def n_features(self):
        return self.means.shape[1]

    def sample(self, n_samples, random_state=None):
        """Draw rows from the mixture.

        Parameters
        ----------
        n_samples : int
            Number of rows to draw.
        random_state : int, RandomState instance or None, default=None
            Seed or generator for reproducible draws.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The draws: each row picks a component with probability given by
            ``weights``, then adds ``scale`` times standard normal noise to its
            mean.
        """
        rng = check_random_state(random_state)
        component = rng.choice(len(self.means), size=n_samples, p=self.weights)
        return self.means[component] + self.scale * rng.standard_normal(
            (n_samples, self.n_features)
        )

    def log_density(self, X):
        """Compute the exact log density of the mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points at which to evaluate the density.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            The normalised log density at each row of ``X``.
        """
        X = _points(X, self.n_features)
        # Squared distances from the differences, not |x|^2 - 2 x.m + |m|^2,
        # which cancels far from the origin (review: 0.01 nats off at means
        # near 1e4 with scale 1e-3).
        squared = cdist(X, self.means, "sqeuclidean")
        log_norm = -0.5 * self.n_features * np.log(2.0 * np.pi * self.scale**2)
        with np.errstate(divide="ignore"):  # a component of weight 0 adds nothing
            log_weights = np.log(self.weights)
        return logsumexp(log_weights + log_norm - 0.5 * squared / self.scale**2, axis=1)


def make_random_mixture(n_features=20, n_components=40, scale=0.1, random_state=None):
    """Make the CNCE paper's test density: an equal mixture of Gaussians with random means.

    The ``n_components`` means are drawn from ``N(0, I)`` and every component
    has covariance ``scale^2 I``; the components have equal weights.

    Parameters
    ----------
    n_features : int, default=20
        Dimension of the distribution (at least 1).
    n_components : int, default=40
        Number of components (at least 1).
    scale : float, default=0.1
        Standard deviation of every component (finite, above 0); the smaller
        it is, the more separated the modes.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for the means.

    Returns
    -------
    mixture : IsotropicMixture
        The mixture, with exact ``log_density`` and ``sample``.

    See Also
    --------
    make_grid_mixture : The paper's 2-D 25-mode grid.
    IsotropicMixture : The mixture returned, for other means and weights.
    sklearn_nce.CNCEEnergyModel : Learns a density from samples.

    References
    ----------
    C. Ceylan and M. U. Gutmann, "Conditional noise-contrastive estimation of
    unnormalised models", ICML 2018.

    Examples
    --------
    >>> from sklearn_nce.datasets import make_random_mixture
    >>> mixture = make_random_mixture(random_state=0)
    >>> mixture.means.shape, mixture.scale
    ((40, 20), 0.1)
    >>> X = mixture.sample(5, random_state=0)
    >>> X.shape, mixture.log_density(X).shape
    ((5, 20), (5,))
    """
    check_scalar(n_features, "n_features", numbers.Integral, min_val=1)
    check_scalar(n_components, "n_components", numbers.Integral, min_val=1)
    rng = check_random_state(random_state)
    return IsotropicMixture(rng.standard_normal((n_components, n_features)), scale)


def make_grid_mixture(scale=0.1):
    """Make the CNCE paper's 2-D test density: 25 equal Gaussians on the grid ``{-2, ..., 2}^2``.

    The components have equal weights and covariance ``scale^2 I``.

    Parameters
    ----------
    scale : float, default=0.1
        Standard deviation of every component (finite, above 0); the smaller
        it is, the more separated the modes, which sit 1 apart.

    Returns
    -------
    mixture : IsotropicMixture
        The mixture, with exact ``log_density`` and ``sample``.

    See Also
    --------
    make_random_mixture : The paper's 20-d, 40-component density.
    IsotropicMixture : The mixture returned, for other means and weights.
    sklearn_nce.CNCEEnergyModel : Learns a density from samples.

    References
    ----------
    C. Ceylan and M. U. Gutmann, "Conditional noise-contrastive estimation of
    unnormalised models", ICML 2018.

    Examples
    --------
    >>> from sklearn_nce.datasets import make_grid_mixture
    >>> mixture = make_grid_mixture()
    >>> mixture.means.shape, float(mixture.means.min()), float(mixture.means.max())
    ((25, 2), -2.0, 2.0)
    >>> X = mixture.sample(1000, random_state=0)
    >>> X.shape
    (1000, 2)
    """
    grid = np.arange(-2.0, 3.0)
    means = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
    return IsotropicMixture(means, scale)
