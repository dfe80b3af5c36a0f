"""Energy-based density models trained by conditional noise-contrastive estimation.

An unnormalised density ``phi(x) = exp(-E(x))`` is learnt by telling each data
point from noise drawn around it (CNCE, Ceylan & Gutmann 2018), or from
unconditional noise (NCE). The partition function never enters training; it
is estimated afterwards by importance sampling, so that ``score_samples``
returns normalised log densities, as ``KernelDensity`` and ``GaussianMixture``
do.
"""

from sklearn.base import DensityMixin

from ._core.density import _BaseEnergyNCE
from ._core.noise import NOISES, SelectedDensity
from ._core.objectives import ConditionalNoiseObjective, NoiseContrastObjective
from ._core.validation import HasMethods, Interval, Real, StrOptions, _fit_context

__all__ = ["CNCEEnergyModel"]

# Noises that exist only as jumps from a point (no unconditional density).
_CONDITIONAL_NOISES = {"local", "mix"}


class CNCEEnergyModel(DensityMixin, _BaseEnergyNCE):
    """Energy-based density model by conditional noise-contrastive estimation.

    The model is ``log phi(x) = f(x) + log b(x)``: a neural network ``f`` on
    top of a fitted base density ``b`` (by default a stack of Gaussian
    mixtures, KDEs and Gaussians weighed by held-out likelihood; ``base=None``
    learns the whole energy, as in the CNCE paper).
    ``f`` is trained by CNCE: each data point ``x`` is contrasted with
    ``n_noise`` points ``y ~ pn(y | x)`` through the logistic loss of
    ``G = log phi(x) - log phi(y) + log pn(y | x) - log pn(x | y)``, in which
    the partition function cancels. After training, ``log Z`` is estimated by
    importance sampling from the fitted base, so :meth:`score_samples` is a
    normalised log density and :meth:`score` a mean log-likelihood that
    ``GridSearchCV`` can maximise.

    Read more in the :ref:`User Guide <energy_model>`.

    Parameters
    ----------
    noise : {"auto", "gmm", "mix", "local", "global", "gaussian", "kde"} or Noise, \
            default="auto"
        The noise distribution. "auto" jumps to the base density itself
        with ``base="auto"``: ``G = f(x) - f(y)`` and the network learns
        exactly the correction ``log p / b`` (with another base or
        ``base=None``, "auto" is a density chosen as ``base="auto"`` would
        be, fitted beside it). "gmm" jumps to a BIC Gaussian mixture.
        "local" jumps ``y = x + noise_scale * eps``; "global"
        jumps to a Gaussian KDE of the data; "mix" is a local jump with
        probability ``local_proportion``, else a global one (the paper's best
        variant when learning from scratch). "gaussian" is a full-covariance
        fit and "kde" a Gaussian KDE (unconditional, like "gmm", "global").
        A noise object (see :ref:`sklearn_nce.modules <api_modules>`) with ``fit``,
        ``sample``/``log_prob`` (unconditional) or
        ``sample_given``/``log_prob_given`` (conditional) is used as given
        (a deep copy is fitted); ``objective="cnce"`` reads the conditional
        pair, which a subclass of ``Noise`` derives from the unconditional
        one (a plain object with ``sample``/``log_prob`` alone serves
        ``objective="nce"``).
    noise_scale : float > 0 or "auto", default="auto"
        Standard deviation of the local jumps and bandwidth of the KDE.
        "auto" sets the jumps to the median nearest-neighbour distance over
        ``sqrt(n_features)`` and the KDE bandwidth by Scott's rule
        ``n^(-1/(d+4))`` times the features' mean standard deviation; the
        global half of "mix" is then an equal mixture of that KDE and one at
        the leave-one-out bandwidth, so that its jumps land in narrow modes
        (on the paper's 20-d mixture of 40 modes Scott's bandwidth alone let
        the modes' relative levels drift as training went on).
    local_proportion : float in [0, 1], default=0.5
        Probability of a local jump under "mix" (the paper tunes 0.5-0.9).
    n_noise : int >= 1, default=5
        Noise draws per data point (``kappa``).
    objective : {"cnce", "nce"}, default="cnce"
        "cnce" contrasts each point with its own noise draws (the partition
        function cancels); "nce" classifies data against draws from an
        unconditional noise ("gmm", "gaussian", "kde", "global"), learning
        ``log Z`` as a free constant.
    base : {"auto", "gmm", "gaussian"}, object with fit and log_prob, or None, \
            default="auto"
        Fitted base density ``b``. "auto" fits the BIC search's Gaussian
        mixtures (each covariance type, counts within a factor 2 of its best),
        two Gaussian KDEs (a fixed kernel and kernels that widen where the
        rows thin out) with their bandwidths by leave-one-out likelihood and
        two full-covariance Gaussians (the sample covariance and its
        Ledoit-Wolf shrinkage) with rows held out (each row once in 3 folds
        up to 2000 rows, a fifth above), stacks them with the weights that
        maximise the held-out log-likelihood (``base_.weights_``;
        ``base_family_`` names the family with most weight) and refits them
        on all rows, with a 0.1%
        heavy-tailed (Cauchy) component mixed in so that no new row scores
        thousands of nats below the data. "gmm" is the BIC
        mixture alone (1 to 64 components). The base also serves as the
        importance-sampling proposal. None learns ``log phi`` from scratch
        (the paper's setting; expect a harder fit): the density is then
        ``exp(f)`` on the box the network reads (the training rows' range
        widened by one standard deviation), with unit Gaussian tails
        (in standard deviations) beyond it, so that it integrates to 1, and
        the proposal draws 10% of its rows from that box and its tails.
    n_importance_samples : int >= 100, default=10000
        Proposal draws for ``log Z``; its standard error is
        ``log_partition_std_``.
    hidden_layer_sizes : tuple of int or int, default=(64, 64)
        Widths of the energy network's hidden layers.
    activation : {"silu", "relu", "tanh", "elu"}, default="silu"
        Hidden-layer non-linearity (smooth ones give a smooth energy, which
        Langevin sampling needs).
    critic : torch.nn.Module, default=None
        A network ``f`` to use instead: maps ``(n, n_features)`` float32 to
        ``(n,)`` or ``(n, 1)``. Deep-copied at fit.
    optimizer : {"adam", "adamw", "sgd", "lbfgs"}, default="adam"
        Torch optimizer. "lbfgs" is full-batch quasi-Newton with a line
        search: an epoch is up to 20 of its iterations on all rows, and
        ``lr`` and ``batch_size`` are ignored (``lr_`` reads 1.0,
        ``batch_size_`` the training rows).
    lr : float, default=1e-3
        Learning rate (ignored by "lbfgs").
    weight_decay : float, default=0.0
        L2 penalty on the network's weights.
    max_epochs : int or "auto", default="auto"
        Maximum passes over the data; "auto" buys 2000 optimiser steps
        whatever the number of rows, but at most 300 passes (small data sets)
        and at least 20 (large ones; at most 20 000 steps of them).
    batch_size : int or "auto", default=256
        Data rows per mini-batch (each with ``n_noise`` noise draws). "auto"
        is :class:`~sklearn_nce.NCEDensityRatio`'s rule: 256 up to 25 600
        training rows, then ``n_rows // 100`` (about 100 steps per epoch) up
        to 4096.
    early_stopping : bool or "auto", default="auto"
        Hold out ``validation_fraction`` of the rows, stop when their loss
        (on noise from a fixed generator) has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, restore the best weights, and keep the
        share of the network the held-out rows support (``network_scale_``).
        "auto" enables it from 50 rows; below, a model with a base is its
        base alone (``network_scale_`` 0, the network trained one epoch):
        nothing could vouch for the network, which lowered the held-out
        log-likelihood of most fits of 25-45 rows (a user test). With a
        noise other than the base
        (or the stack of ``noise="auto"``) the held-out rows jump globally
        to the proposal (``proposal_``; with ``base=None``, its mixture
        ``proposal_.density``, not its box): a loss that also judges the
        relative levels of far-apart modes.
    validation_fraction : float in (0, 1), default=0.1
        Fraction held out for early stopping.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs (at least 400 optimiser steps'
        worth: on small data an epoch is a few steps).
    tol : float, default=1e-4
        Minimum decrease of the validation loss that counts as improvement.
    device : {"cpu", "cuda", "auto"} or str, default="cpu"
        Torch device; "auto" picks CUDA when available.
    random_state : int, RandomState instance or None, default=None
        Seeds the split, the mixture, the network, the noise and ``log Z``'s
        draws; an int gives reproducible fits. A ``critic`` you pass keeps the
        weights it was built with (seed torch before building it).
    verbose : int, default=0
        1 shows a progress bar with the per-epoch losses (and, under NCE, the
        running ``log Z``); 2 prints a table row per epoch, under the estimator's name.

    warm_start : bool, default=False
        When True, a new ``fit`` starts from the critic of the previous fit
        (same parameters, same number of features) instead of a fresh
        initialisation, and trains ``max_epochs`` more epochs; the optimiser
        state starts afresh, as in
        :class:`~sklearn.neural_network.MLPClassifier`, and ``history_`` and
        ``n_iter_`` run on from the previous fit's, as its ``loss_curve_`` and
        ``n_iter_`` do. Everything fitted on the data (the noise, the base
        density, ``log_partition_``) is fitted again, but not the
        standardisation of X: the critic reads new rows in the units it learnt
        in (so a feature that was constant then must keep its value, or the
        fit raises; one that stops varying, or whose middle half spans
        tenfold more or less, as in new units, warns, in chunks from 20
        rows), and a DataFrame's columns must keep their names and order.
    callbacks : list of skorch callbacks or None, default=None
        Extra :mod:`skorch.callbacks` (instances, or ``(name, callback)``
        pairs) added to every net the fit trains, e.g.
        ``skorch.callbacks.Checkpoint(monitor="train_loss_best")`` to save the
        critic of long fits (its default monitor, ``"valid_loss_best"``, needs
        early stopping); see the user guide's "Checkpoints for long fits".
        Each net gets its own copy (callbacks that cannot be copied are shared).
        A scoring callback needs a callable ``scoring(net, X, y)``: the net
        predicts the critic's raw outputs, where a scikit-learn scorer does not apply.

    Attributes
    ----------
    log_partition_ : float
        Importance-sampled ``log Z`` of ``phi``.
    log_partition_std_ : float
        Its Monte-Carlo standard error, ``sqrt(1/ESS - 1/n)``, for this
        fitted model: refits with another ``random_state`` train another
        network, whose ``log Z`` differs by more (0.006-0.017 nats against
        errors of 1e-4 to 3e-4 on four 1-d and 2-d densities; a user test).
    importance_ess_ : float
        Effective sample size of the importance weights.
    noise_ : Noise
        The fitted noise.
    base_ : Noise or None
        The fitted base density. A selected one (``base="auto"`` or a
        ``SelectedDensity`` of yours) is, with early stopping and up to 2000
        rows, selected again on all the rows once the network has trained
        (the rows held out had cost it most where rows are few: 1.06 nats per
        row on ionosphere's 135).
    base_family_ : str or None
        Its family: "gmm", "kde", "gaussian" (or the class name of a user's
        base; None without a base); for ``base="auto"`` the family with the
        largest stacking weight.
    network_scale_ : float
        The share ``s`` of the network kept, ``log phi = s f + log b``: the
        value in 0, 0.1, ..., 1 with the highest log-likelihood on the
        held-out rows; 0 (the base alone) where ``early_stopping="auto"``
        held no rows out (under 50 rows); 1 with ``early_stopping=False``,
        without a base, or with a base that cannot draw (no ``sample``: the
        held-out rows cannot weigh the shares then).
    network_gain_ : float or None
        Held-out log-likelihood gain over the base alone at that share, in
        nats per row (None without held-out rows, without a base, or with a
        base that cannot draw, whose share is not searched). Read on the
        rows that chose the share, it flatters the network, most on small
        data (on 100 wine rows it read 0.01 to 0.96 where new rows lost 0.15
        on average; see the User Guide). It is read against the base the
        network trained on: up to 2000 rows ``base_`` is then selected again
        on all the rows, held-out ones included.
    proposal_ : Noise
        The importance-sampling proposal: the base where it can be sampled,
        else the BIC Gaussian mixture (with ``base=None``, mixed with the
        network's box).
    net_ : skorch.NeuralNet
        The trained network (``net_.module_`` maps rows to ``log phi``).
    history_ : skorch.History
        Per-epoch losses.
    n_iter_ : int
        Epochs run, over all the fits that ``warm_start`` continued.
    lr_, batch_size_, max_epochs_ : float, int, int
        What ``lr``, ``batch_size`` and ``max_epochs`` resolved to (``"auto"``
        included).
    device_ : str
        Device the network was trained on.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.neighbors.KernelDensity : Kernel density estimation.
    sklearn.mixture.GaussianMixture : Gaussian mixture by EM.

    References
    ----------
    C. Ceylan and M. U. Gutmann, "Conditional noise-contrastive estimation of
    unnormalised models", ICML 2018.

    Examples
    --------
    >>> from sklearn_nce import CNCEEnergyModel
    >>> from sklearn_nce.datasets import make_grid_mixture
    >>> truth = make_grid_mixture(scale=0.3)
    >>> X = truth.sample(1000, random_state=0)
    >>> model = CNCEEnergyModel(max_epochs=20, random_state=0).fit(X)
    >>> X_test = truth.sample(500, random_state=1)
    >>> gap = truth.log_density(X_test).mean() - model.score(X_test)
    >>> bool(gap < 0.2)
    True
    >>> model.sample(3, random_state=0).shape
    (3, 2)
    """

    _refits_base = True

    _parameter_constraints: dict = {
        **_BaseEnergyNCE._parameter_constraints,
        "noise": [StrOptions(set(NOISES)), HasMethods(["fit"])],
        "noise_scale": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "local_proportion": [Interval(Real, 0, 1, closed="both")],
        "objective": [StrOptions({"cnce", "nce"})],
        "base": [StrOptions({"auto", "gmm", "gaussian"}), HasMethods(["fit", "log_prob"]), None],
    }

    def __init__(
        self,
        *,
        noise="auto",
        noise_scale="auto",
        local_proportion=0.5,
        n_noise=5,
        objective="cnce",
        base="auto",
        n_importance_samples=10_000,
        hidden_layer_sizes=(64, 64),
        activation="silu",
        critic=None,
        optimizer="adam",
        lr=1e-3,
        weight_decay=0.0,
        max_epochs="auto",
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
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            critic=critic,
            optimizer=optimizer,
            lr=lr,
            weight_decay=weight_decay,
            max_epochs=max_epochs,
            batch_size=batch_size,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            device=device,
            random_state=random_state,
            verbose=verbose,
            warm_start=warm_start,
            callbacks=callbacks,
        )
        self.noise = noise
        self.noise_scale = noise_scale
        self.local_proportion = local_proportion
        self.n_noise = n_noise
        self.objective = objective
        self.base = base
        self.n_importance_samples = n_importance_samples

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the energy on the rows of ``X``, then estimate its ``log Z``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, in any units: the model standardises it internally
            and its log densities are in the units of X.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : CNCEEnergyModel
            The fitted estimator.
        """
        return self._fit_density(X)

    @property
    def _low_ess_remedy(self):
        # Without the mixture base the network must learn the whole density;
        # with it, a low ESS means the correction has overfitted.
        if isinstance(self.base, str) and self.base in ("auto", "gmm"):
            return _BaseEnergyNCE._low_ess_remedy
        return "use base='auto' (the default)"

    # DensityMixin (first in the MRO, as sklearn orders mixins) defines a
    # score that returns None: use the shared mean log-likelihood.
    score = _BaseEnergyNCE.score

    def _noise_options(self):
        return {"scale": self.noise_scale, "local_proportion": self.local_proportion}

    def _prepare_training(self, X_train, objective, rng):
        super()._prepare_training(X_train, objective, rng)
        if objective.noise is not self.proposal_ and not isinstance(
            objective.noise, SelectedDensity
        ):
            # Local jumps' held-out loss kept falling while the far-apart
            # modes' levels drifted, and so did NCE's against a noise far
            # from the data (issue 34): the held-out rows jump globally to
            # the proposal, the best density at hand, unless the noise is
            # that density or the held-out-likelihood stack itself.
            objective.validation_noise = self.proposal_

    def _make_objective(self, noise, n_samples):
        objective = self._resolved_objective(noise)
        cnce = objective == "cnce"
        needed = ("sample_given", "log_prob_given") if cnce else ("sample", "log_prob")
        missing = [name for name in needed if not hasattr(noise, name)]
        if missing:
            # A user test's plain unconditional object read only the first
            # sentence, which did not say how to make it serve.
            advice = (
                " An unconditional noise (sample, log_prob) serves objective='nce', or, as a "
                "subclass of sklearn_nce.modules.Noise (which derives sample_given and "
                "log_prob_given from them: jumps to independent draws), objective='cnce' too."
                if cnce and all(hasattr(noise, name) for name in ("sample", "log_prob"))
                else ""
            )
            raise ValueError(
                f"objective={objective!r} needs a noise with {' and '.join(needed)}; the noise "
                f"object lacks {', '.join(missing)}.{advice}"
            )
        if cnce:
            return ConditionalNoiseObjective(noise, self.n_noise)
        return NoiseContrastObjective(noise, self.n_noise)

    def _resolved_objective(self, noise):
        conditional = getattr(noise, "conditional", False)
        if self.objective == "nce" and (conditional or self.noise in _CONDITIONAL_NOISES):
            raise ValueError(
                f"objective='nce' needs an unconditional noise (sample, log_prob); "
                f"noise={self.noise!r} is conditional. Use objective='cnce' or noise="
                "'gmm', 'gaussian', 'kde' or 'global'."
            )
        return self.objective
