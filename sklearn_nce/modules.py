"""The torch modules an estimator is built from, for users to pass or subclass.

**Densities**, for ``noise=`` and ``base=`` of :class:`~sklearn_nce.CNCEEnergyModel`
and ``noise=`` of :class:`~sklearn_nce.NoisierNCEClassifier`. :class:`Noise` is
the interface: ``fit(X)`` on numpy rows, then ``sample(n_samples, generator)``
and ``log_prob(x)`` on tensors for an unconditional density, or
``sample_given(x, n_draws, generator)`` and ``log_prob_given(y, x)`` for a
conditional one (``conditional = True``). Keep fitted tensors as buffers
(``register_buffer``) so that ``device="cuda"`` moves them. The estimators
deep-copy the object they are given and fit the copy; the fitted one is
``noise_`` (and ``base_``).

**Critics**, for ``critic=`` of every estimator: any :class:`torch.nn.Module`
with the contract of :ref:`customising_critic`. The built-in ones are here to
use as parts, for example as the base of a :class:`ResidualCritic`.

Everything else in the package's private ``_core`` may change between
releases; what this module exports is the stable surface.

Examples
--------
A fixed Gaussian as the noise of an outlier detector, in place of the
density it would otherwise fit to the training rows:

>>> import numpy as np
>>> from sklearn_nce import NoisierNCEClassifier
>>> from sklearn_nce.modules import GaussianNoise
>>> X = np.random.default_rng(0).normal(size=(200, 2))
>>> detector = NoisierNCEClassifier(noise=GaussianNoise(), max_epochs=5, random_state=0)
>>> detector.fit(X).noise_.means.shape
torch.Size([1, 2])
"""

from ._core.critics import (
    JointCritic,
    MLPCritic,
    QuadraticCritic,
    ResidualCritic,
    SeparableCritic,
)
from ._core.noise import (
    AdaptiveKernelDensityNoise,
    CauchyNoise,
    GaussianMixtureNoise,
    GaussianNoise,
    KernelDensityNoise,
    LocalJumps,
    MixedJumps,
    Noise,
    SelectedDensity,
    StackedDensity,
)

__all__ = [
    "AdaptiveKernelDensityNoise",
    "CauchyNoise",
    "GaussianMixtureNoise",
    "GaussianNoise",
    "JointCritic",
    "KernelDensityNoise",
    "LocalJumps",
    "MLPCritic",
    "MixedJumps",
    "Noise",
    "QuadraticCritic",
    "ResidualCritic",
    "SelectedDensity",
    "SeparableCritic",
    "StackedDensity",
]
