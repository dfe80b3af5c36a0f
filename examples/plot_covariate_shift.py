"""
==========================================
Covariate-shift reweighting of a regressor
==========================================

A model is fitted on inputs from one distribution (training) and used on inputs from another
(test). When the model is misspecified, the fit that is best on the training inputs is not the
best on the test inputs. Weighting each training row by the density ratio
``w(x) = p_test(x) / p_train(x)`` makes the training loss an estimate of the test loss
(Shimodaira, 2000).

:class:`~sklearn_nce.NCEDensityRatio` estimates ``w`` from the two input samples alone: it needs
no test labels. This example repeats Shimodaira's one-dimensional problem: a straight line is
fitted to the cubic ``y = -x + x^3 + noise``, with training inputs from ``N(0.5, 0.5^2)`` and
test inputs from ``N(0, 0.3^2)``.
"""

# %%
# The data
# --------
#
# 500 labelled training rows and 500 test rows. The test labels are used only to measure the
# error at the end.

# sphinx_gallery_start_ignore
import os

# sphinx_gallery_end_ignore
import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import norm
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error

from sklearn_nce import NCEDensityRatio, make_two_sample

N_TRAIN = 500
N_TEST = 500
MAX_EPOCHS = 100
# sphinx_gallery_start_ignore
# Reduced sizes for tests/test_examples.py, hidden from the rendered page.
if os.environ.get("SKLEARN_NCE_EXAMPLES_QUICK"):
    N_TRAIN, N_TEST, MAX_EPOCHS = 100, 100, 2
# sphinx_gallery_end_ignore

TRAIN_MEAN, TRAIN_SD = 0.5, 0.5
TEST_MEAN, TEST_SD = 0.0, 0.3
NOISE_SD = 0.3


def target(x):
    return -x + x**3


rng = np.random.RandomState(0)
x_train = rng.normal(TRAIN_MEAN, TRAIN_SD, N_TRAIN)
x_test = rng.normal(TEST_MEAN, TEST_SD, N_TEST)
y_train = target(x_train) + rng.normal(0, NOISE_SD, N_TRAIN)
y_test = target(x_test) + rng.normal(0, NOISE_SD, N_TEST)

# %%
# Estimating the weights
# ----------------------
#
# The test inputs form the numerator sample and the training inputs the denominator sample.
# ``predict_weights()`` with no argument returns the weights of the training rows, normalised to
# mean 1. (``ratio.fit_weights(X_source=..., X_target=...)`` does both steps in one call, with
# named arguments so that the direction cannot be swapped.) Here the true ratio is known, so the
# estimate can be checked against it.

X_two, y_two = make_two_sample(x_test[:, None], x_train[:, None])
ratio = NCEDensityRatio(max_epochs=MAX_EPOCHS, random_state=0).fit(X_two, y_two)
weights = ratio.predict_weights()

true_weights = norm.pdf(x_train, TEST_MEAN, TEST_SD) / norm.pdf(x_train, TRAIN_MEAN, TRAIN_SD)
true_weights /= true_weights.mean()


def effective_sample_size(w):
    return w.sum() ** 2 / (w**2).sum()


print(
    f"correlation of log weights with the truth: "
    f"{np.corrcoef(np.log(weights), np.log(true_weights))[0, 1]:.3f}"
)
print(
    f"effective sample size: {effective_sample_size(weights):.0f} estimated, "
    f"{effective_sample_size(true_weights):.0f} true, of {N_TRAIN} rows"
)
print(
    f"share of training rows with a weight below 0.1: {np.mean(weights < 0.1):.0%} "
    f"estimated, {np.mean(true_weights < 0.1):.0%} true"
)

# %%
# Fitting the line with and without weights
# -----------------------------------------
#
# The same linear model is fitted three times: unweighted, with the estimated weights and with
# the true weights. The test error is the mean squared error on the test rows. The noise
# variance, ``0.3^2 = 0.09``, is the smallest error any model can reach.

fits = {
    "unweighted": None,
    "NCE weights": weights,
    "true weights": true_weights,
}
models = {}
for name, sample_weight in fits.items():
    models[name] = LinearRegression().fit(x_train[:, None], y_train, sample_weight=sample_weight)
    test_mse = mean_squared_error(y_test, models[name].predict(x_test[:, None]))
    print(f"{name:>13}: test MSE {test_mse:.3f}")

# %%
# The left panel shows the two samples, the true curve and the three fitted lines. The
# unweighted line follows the training inputs, most of which lie to the right of the test
# inputs. The right panel shows the estimated and the true weights of the training rows.

fig, (ax_fit, ax_weights) = plt.subplots(1, 2, figsize=(11, 4.2))
grid = np.linspace(-1.0, 2.0, 200)
ax_fit.scatter(x_train, y_train, s=8, alpha=0.4, color="tab:gray", label="training rows")
ax_fit.scatter(x_test, y_test, s=8, alpha=0.4, color="tab:orange", label="test rows")
ax_fit.plot(grid, target(grid), color="black", lw=1, label="true curve")
styles = {
    "unweighted": ("--", "tab:blue"),
    "NCE weights": ("-", "tab:red"),
    "true weights": (":", "tab:green"),
}
for name, model in models.items():
    style, color = styles[name]
    ax_fit.plot(grid, model.predict(grid[:, None]), style, color=color, lw=2, label=name)
ax_fit.set(xlabel="x", ylabel="y", xlim=(-1.0, 2.0), ylim=(-1.5, 4.0))
ax_fit.legend(loc="upper left", fontsize=8)
ax_fit.set_title("Training and test rows, fitted lines")

order = np.argsort(x_train)
ax_weights.plot(x_train[order], true_weights[order], color="black", lw=1, label="true")
ax_weights.plot(x_train[order], weights[order], color="tab:red", lw=2, label="NCEDensityRatio")
ax_weights.set(xlabel="x (training rows)", ylabel="weight (mean 1)")
ax_weights.legend()
ax_weights.set_title("Importance weights of the training rows")
fig.tight_layout()
plt.show()

# %%
# The weights are largest just left of ``x = 0``, where the test inputs are dense and the
# training inputs are not. The training rows on the right, where the test inputs are rare, get
# weights near 0 (the share below 0.1 is printed above), so the weighted fit rests on fewer
# rows than it was given: the effective sample size says how many. At the left edge, where there
# are few training rows, the estimated weights depart most from the true ones.
#
# Reference: H. Shimodaira, "Improving predictive inference under covariate shift by weighting
# the log-likelihood function", *Journal of Statistical Planning and Inference* 90 (2000).
