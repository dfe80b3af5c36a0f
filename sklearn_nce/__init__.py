"""sklearn_nce: noise-contrastive estimation for scikit-learn.

Estimators
----------
NCEDensityRatio
    Density ratio ``p_nu / p_de`` by binary NCE (covariate-shift weights,
    two-sample problems), with telescoping for distant samples.
InfoNCEAnchorMI
    Mutual information by InfoNCE with an anchor class (plug-in estimate of
    a consistently estimated log density ratio); ``mutual_info_nce`` wraps it.
CNCEEnergyModel
    Energy-based density model by conditional NCE, normalised by importance
    sampling; ``score_samples``, ``score`` and ``sample`` like ``KernelDensity``.
NoisierNCEClassifier
    Outlier detector from a data-versus-noise classifier trained by "Noisier"
    NCE, with the ``IsolationForest`` API.

Building blocks
---------------
sklearn_nce.modules
    The noise densities and critics, to pass (``noise=``, ``base=``,
    ``critic=``) or subclass.

Helpers
-------
plot_history
    A fitted estimator's loss per epoch (``sklearn_nce.inspection``).
show_versions
    Versions and devices, for bug reports.
"""

from ._show_versions import show_versions
from .density_ratio import NCEDensityRatio, make_two_sample
from .energy import CNCEEnergyModel
from .inspection import plot_history
from .mutual_info import InfoNCEAnchorMI, mutual_info_nce
from .outlier import NoisierNCEClassifier

__all__ = [
    "CNCEEnergyModel",
    "InfoNCEAnchorMI",
    "NCEDensityRatio",
    "NoisierNCEClassifier",
    "make_two_sample",
    "mutual_info_nce",
    "plot_history",
    "show_versions",
]
__version__ = "0.1.0.dev0"
