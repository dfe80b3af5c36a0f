"""``NoisierNCEClassifier`` as a PyOD detector.

PyOD's detectors score the other way round from scikit-learn's: a *higher*
``decision_function`` is *more* abnormal, and labels are 1 (outlier) and 0
(inlier). :class:`NoisierNCEDetector` wraps a :class:`~sklearn_nce.NoisierNCEClassifier`
and reports its negated log density in that convention, so the estimator can be
used wherever a ``pyod.models.base.BaseDetector`` is expected.

This module imports without PyOD (so that ``import sklearn_nce.contrib.pyod``
and doctest collection never fail); using ``NoisierNCEDetector`` then raises an
``ImportError`` that says what to install.
"""

from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from ..outlier import NoisierNCEClassifier

__all__ = ["NoisierNCEDetector"]

_INSTALL_HINT = (
    "NoisierNCEDetector needs PyOD (>= 2.0), an optional dependency of sklearn_nce: "
    "pip install 'sklearn_nce[pyod]'"
)

try:
    from pyod.models.base import BaseDetector
except ImportError as exc:  # PyOD is optional: fail on use, not on import.
    _PYOD_IMPORT_ERROR = exc
else:
    _PYOD_IMPORT_ERROR = None

if _PYOD_IMPORT_ERROR is None:

    class NoisierNCEDetector(BaseDetector):
        """PyOD detector whose outlier score is minus a NoisierNCEClassifier's log density.

        ``fit`` fits a clone of ``estimator`` and sets PyOD's attributes from the
        training rows: ``decision_scores_ = -estimator_.score_samples(X)``, and
        ``threshold_`` and ``labels_`` from ``contamination`` (PyOD's own
        thresholding). ``decision_function(X)`` is ``-estimator_.score_samples(X)``:
        higher is more abnormal, as PyOD requires (the opposite of scikit-learn's
        sign). ``predict`` (0 inlier, 1 outlier), ``predict_proba`` and the other
        PyOD methods are inherited.

        Read more in the :ref:`User Guide <scaling_out>`.

        Parameters
        ----------
        estimator : NoisierNCEClassifier, default=None
            The unfitted detector to wrap, with its hyper-parameters set; it is
            cloned at fit. None uses ``NoisierNCEClassifier()``. Tune it as a
            nested parameter, e.g. ``estimator__noise_weight``. Its own
            ``contamination`` (and so its ``offset_`` and ``predict``) is not
            used here: the threshold is PyOD's.
        contamination : float in (0, 0.5], default=0.1
            Share of outliers in the training data: ``threshold_`` is the
            ``1 - contamination`` quantile of ``decision_scores_``. A PyThresh
            thresholder is also accepted, as by every PyOD detector.

        Attributes
        ----------
        estimator_ : NoisierNCEClassifier
            The fitted clone of ``estimator``.
        decision_scores_ : ndarray of shape (n_samples,)
            Outlier scores of the training rows, ``-estimator_.score_samples(X)``
            (negated log density in nats); higher is more abnormal.
        threshold_ : float
            Scores above it are outliers.
        labels_ : ndarray of shape (n_samples,)
            Training labels: 1 for outliers, 0 for inliers.

        See Also
        --------
        sklearn_nce.NoisierNCEClassifier : The wrapped detector, with scikit-learn's
            signs (``predict`` in {+1, -1}).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_nce import NoisierNCEClassifier
        >>> from sklearn_nce.contrib.pyod import NoisierNCEDetector
        >>> rng = np.random.RandomState(0)
        >>> X = rng.normal(size=(500, 2))
        >>> detector = NoisierNCEDetector(
        ...     NoisierNCEClassifier(max_epochs=5, random_state=0), contamination=0.05
        ... ).fit(X)
        >>> int(detector.labels_.sum())  # contamination * n_samples
        25
        >>> detector.predict([[0.0, 0.0], [6.0, 6.0]])
        array([0, 1])
        """

        def __init__(self, estimator=None, contamination=0.1):
            super().__init__(contamination=contamination)
            self.estimator = estimator

        def fit(self, X, y=None):
            """Fit the wrapped estimator and set PyOD's training-score attributes.

            Parameters
            ----------
            X : array-like of shape (n_samples, n_features)
                Training data, in any units (the wrapped estimator standardises it).
            y : None
                Ignored; present for API consistency (PyOD warns when it is given).

            Returns
            -------
            self : NoisierNCEDetector
                The fitted detector.
            """
            self._set_n_classes(y)
            estimator = NoisierNCEClassifier() if self.estimator is None else self.estimator
            self.estimator_ = clone(estimator).fit(X)
            self.decision_scores_ = self.decision_function(X)
            self._process_decision_scores()
            return self

        def decision_function(self, X):
            """Outlier score of each row: minus its log density (higher is more abnormal).

            Parameters
            ----------
            X : array-like of shape (n_samples, n_features)
                Points to score.

            Returns
            -------
            anomaly_scores : ndarray of shape (n_samples,)
                ``-estimator_.score_samples(X)``.
            """
            check_is_fitted(self, "estimator_")
            return -self.estimator_.score_samples(X)

else:

    def __getattr__(name):
        # Without PyOD the class is never defined: say what to install.
        if name == "NoisierNCEDetector":
            raise ImportError(_INSTALL_HINT) from _PYOD_IMPORT_ERROR
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
