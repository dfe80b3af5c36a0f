"""sklearn_nce: noise-contrastive estimation for scikit-learn.

Estimators
----------
NCEDensityRatio
    Density ratio ``p_nu / p_de`` by binary NCE (covariate-shift weights,
    two-sample problems), with telescoping for distant samples.
"""

from .density_ratio import NCEDensityRatio, make_two_sample

__all__ = ["NCEDensityRatio", "make_two_sample"]
__version__ = "0.1.0.dev0"
