"""scikit-learn's common estimator checks, plus invariants every estimator keeps."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_nce import CNCEEnergyModel, InfoNCEAnchorMI, NCEDensityRatio, NoisierNCEClassifier


def _fast(estimator):
    # Few, larger steps: sklearn's checks use tiny data and assert only basic
    # learning (e.g. > 83% training accuracy on separated blobs).
    return estimator.set_params(max_epochs=30, lr=1e-2, random_state=0)


ESTIMATORS = [
    _fast(NCEDensityRatio()),
    # Two-stage critic and a first fit that chooses the telescoping steps.
    _fast(NCEDensityRatio(architecture="residual", telescoping_steps="auto")),
    _fast(InfoNCEAnchorMI(batch_size=16)),
    _fast(InfoNCEAnchorMI(batch_size=16, architecture="separable", cv=2)),
    # Each fold a telescoping classifier of joint against shuffled pairs.
    _fast(InfoNCEAnchorMI(telescoping_steps=2, cv=2)),
    _fast(CNCEEnergyModel(n_importance_samples=1000)),
    _fast(NoisierNCEClassifier(n_importance_samples=1000)),
    # The checks' data have 20-30 rows, where "auto" keeps the base alone:
    # these keep the network whole, so that the checks reach it too.
    _fast(CNCEEnergyModel(n_importance_samples=1000, early_stopping=False)),
    _fast(NoisierNCEClassifier(n_importance_samples=1000, early_stopping=False)),
]

EXPECTED_FAILED_CHECKS = {
    "InfoNCEAnchorMI": {
        # The separable critic's transform: float32, batch-size-dependent rounding.
        "check_methods_subset_invariance": "float32 inference agrees to ~1e-6, not 1e-7",
    },
    "NCEDensityRatio": {
        # Inference runs in float32: a different batch size changes the order
        # of float32 reductions, so outputs agree to ~1e-6 relative, not 1e-7.
        "check_methods_subset_invariance": "float32 inference agrees to ~1e-6, not 1e-7",
        # The check's integer weights leave one row of nonzero weight in the
        # denominator sample, which fit refuses (a ratio needs 2 rows per
        # sample; it counts rows, so that row's three copies pass: a user
        # test). Past that, a weight of 2 is a copy of the row in the loss
        # but not in the stochastic batches: a row's copies are drawn twice,
        # its weighted self once, so the two fits take different steps
        # (sklearn lists this check as failing for its own SGD estimators;
        # with LBFGS and a linear critic they agree to ~1e-5). The weighted
        # fit's statistics (class priors, loss) are a copy's: tested in
        # test_density_ratio.
        "check_sample_weight_equivalence_on_dense_data": (
            "its weights leave 1 nonzero row in a sample, refused; and stochastic batches"
        ),
    },
    # The mixture log density is a float32 matrix product whose blocking (and
    # so its rounding) depends on the number of rows: score_samples on a
    # subset agrees to ~5e-7 absolute, not the check's 1e-7. (Not strict: the
    # rounding may happen to agree: on this machine both models' does on the
    # checks' data, where under 50 rows each model is its base alone; with
    # the network kept whole (early_stopping=False) CNCEEnergyModel's does too
    # since the stack's Gaussian took the mixtures' covariance floor, and
    # NoisierNCEClassifier's does not. Rounding depends on the CPU's BLAS
    # blocking.)
    "CNCEEnergyModel": {
        "check_methods_subset_invariance": "float32 mixture log density agrees to ~5e-7, not 1e-7",
    },
    "NoisierNCEClassifier": {
        "check_methods_subset_invariance": "float32 mixture log density agrees to ~5e-7, not 1e-7",
        # A novelty detector: offset_ is set so that `contamination` of *new*
        # inliers is flagged (from held-out rows), not of the training rows,
        # which the model scores optimistically. sklearn skips this count for
        # its own novelty detector (LocalOutlierFactor(novelty=True)). (Not
        # strict: with early_stopping=False the offset moves only by the
        # base's cross-fitted optimism, which on the checks' blobs can leave
        # the training count within the check's ties; it does here since the
        # stack's held-out score came to be weighed out of fold.)
        # fit_predict flags the share asked for among the rows given (as
        # IsolationForest does), so it is not fit(X).predict(X), which reads
        # the threshold for new rows. (Not strict either, for the same
        # reason: with early_stopping=False the two thresholds can flag the
        # same rows of the checks' blobs, and here they do.)
        "check_outliers_train": "offset_ flags `contamination` of new inliers, not of X",
        # An infinite value after fit has density 0: predict and
        # decision_function score its row as the most anomalous, with a
        # warning, and score the rest (a user test: one inf failed a whole
        # batch; IsolationForest scores it, and skips this check by allowing
        # NaN). NaN is refused, and fit refuses both (test_bad_input).
        "check_estimators_nan_inf": "an inf row after fit scores -inf (density 0); NaN refused",
        "check_outliers_fit_predict": "fit_predict flags `contamination` of X; predict new rows",
    },
}


def _expected_failed_checks(estimator):
    if getattr(estimator, "architecture", None) == "joint":
        return {}  # no transform: every method's output is batch-independent here
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
