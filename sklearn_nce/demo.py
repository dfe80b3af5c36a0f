"""A two-minute tour of :class:`~sklearn_nce.NCEDensityRatio` on a problem with a known answer.

Run it with ``make demo`` or ``python -m sklearn_nce.demo [--output PATH]``.

The problem is covariate shift in two dimensions: a "training" sample from
``p_de = N(0, I)`` and a "test" sample from ``p_nu = N(mu, I)`` with
``KL(p_nu || p_de) = 2`` nats (:func:`~sklearn_nce.datasets.make_mean_shift`),
so the true log ratio ``log p_nu(x) / p_de(x) = mu.x - |mu|^2 / 2`` is known
exactly. The demo

1. fits ``NCEDensityRatio`` with its defaults on 2000 rows of each sample;
2. compares the estimated log ratio with the truth on *held-out* denominator
   rows (mean squared error, the truth's variance for scale, Spearman rank
   correlation);
3. uses :meth:`~sklearn_nce.NCEDensityRatio.predict_weights` to estimate a
   mean under the test distribution from training rows alone, beside the
   exact value and the naive unweighted mean;
4. saves a two-panel figure (``demo_density_ratio.png`` by default): the
   estimated against the true log ratio, and the two samples with the
   estimated log-ratio contours.
"""

import argparse
import time

import numpy as np
from scipy.stats import norm, spearmanr

from ._core.validation import torch_threads
from .datasets import make_mean_shift
from .density_ratio import NCEDensityRatio

__all__ = ["main"]

N_FEATURES = 2
KL = 2.0
N_PER_SAMPLE = 2000
THRESHOLD = 1.0


def _beyond_threshold(X):
    """The function whose test-distribution mean the importance weights estimate."""
    return (X.sum(axis=1) > THRESHOLD).astype(float)


def main(argv=None):
    """Fit, report and plot; ``argv`` defaults to the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_nce.demo",
        description="Density-ratio estimation by NCE on a Gaussian covariate shift.",
    )
    parser.add_argument(
        "--output",
        default="demo_density_ratio.png",
        help="where to write the figure (default: %(default)s)",
    )
    args = parser.parse_args(argv)

    # A 64x64 MLP on 256-row batches gains nothing from more threads, and on a
    # small machine their start-up costs more than the arithmetic: use one.
    with torch_threads(1):
        _run(args.output)


def _run(output):
    # Imported here so that importing the package (or collecting its doctests)
    # never needs matplotlib; Agg draws to files without a display.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = time.perf_counter()
    pair = make_mean_shift(n_features=N_FEATURES, kl=KL)
    X, y = pair.sample(N_PER_SAMPLE, N_PER_SAMPLE, random_state=0)
    X_test, y_test = pair.sample(N_PER_SAMPLE, N_PER_SAMPLE, random_state=1)

    model = NCEDensityRatio(random_state=0).fit(X, y)
    fit_seconds = time.perf_counter() - start

    print(
        f"Covariate shift: p_nu = N(mu, I) over p_de = N(0, I) in {N_FEATURES}-d, "
        f"KL(p_nu || p_de) = {pair.kl:.2f} nats"
    )
    print(
        f"NCEDensityRatio(random_state=0) fitted on {N_PER_SAMPLE} + {N_PER_SAMPLE} rows "
        f"in {fit_seconds:.1f} s ({model.n_iter_} epochs)"
    )

    # Accuracy of the log ratio where it is used for weighting: on fresh rows
    # of the denominator (training) distribution.
    X_de = X_test[y_test == 0]
    true_log_ratio = pair.log_ratio(X_de)
    est_log_ratio = model.predict_log_ratio(X_de)
    mse = float(np.mean((est_log_ratio - true_log_ratio) ** 2))
    rho = float(spearmanr(est_log_ratio, true_log_ratio)[0])
    print(f"\nLog ratio on {len(X_de)} held-out denominator rows:")
    print(f"  MSE vs truth          {mse:.4f}")
    print(f"  variance of the truth {np.var(true_log_ratio):.4f}  (2 * KL = {2 * KL:.1f})")
    print(f"  Spearman correlation  {rho:.4f}")
    print(f"  held-out score        {model.score(X_test, y_test):.4f}  (chance: -log 2 = -0.6931)")

    # Importance weighting: estimate a probability under the test distribution
    # from training rows alone. Self-normalised weighting (np.average) is the
    # usual estimator; it is unbiased as n grows and steadier than mean(w * f).
    weights = model.predict_weights(X_de)
    true_weights = np.exp(true_log_ratio)
    values = _beyond_threshold(X_de)
    mu = pair.numerator.mean
    exact = float(norm.cdf((mu.sum() - THRESHOLD) / np.sqrt(N_FEATURES)))
    ess = weights.sum() ** 2 / np.sum(weights**2)
    print(f"\nImportance weighting: P_nu(x1 + x2 > {THRESHOLD:g}) from denominator rows alone")
    print(f"  exact value                      {exact:.3f}")
    print(f"  unweighted mean (ignores shift)  {values.mean():.3f}")
    print(f"  weighted by predict_weights      {np.average(values, weights=weights):.3f}")
    print(f"  weighted by the true ratio       {np.average(values, weights=true_weights):.3f}")
    print(
        f"  mean weight {weights.mean():.3f}, effective sample size {ess:.0f} of {len(X_de)} "
        "(heavy-tailed weights: chi^2(p_nu || p_de) = exp(2 KL) - 1 here)"
    )

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.8), constrained_layout=True)

    left.scatter(true_log_ratio, est_log_ratio, s=4, alpha=0.4, color="tab:blue")
    low = min(true_log_ratio.min(), est_log_ratio.min())
    high = max(true_log_ratio.max(), est_log_ratio.max())
    left.plot([low, high], [low, high], color="black", linewidth=1, label="identity")
    left.set_xlabel("true log ratio")
    left.set_ylabel("estimated log ratio")
    left.set_title(f"Held-out denominator rows: MSE {mse:.3f}, Spearman {rho:.3f}")
    left.legend(loc="upper left")

    rng = np.random.default_rng(0)
    shown = 500
    X_nu_shown = X[y == 1][rng.choice(N_PER_SAMPLE, shown, replace=False)]
    X_de_shown = X[y == 0][rng.choice(N_PER_SAMPLE, shown, replace=False)]
    lims = (min(X[:, 0].min(), X[:, 1].min()) - 0.5, max(X[:, 0].max(), X[:, 1].max()) + 0.5)
    grid = np.linspace(*lims, 150)
    xx, yy = np.meshgrid(grid, grid)
    cells = np.column_stack([xx.ravel(), yy.ravel()])
    zz_est = model.predict_log_ratio(cells).reshape(xx.shape)
    zz_true = pair.log_ratio(cells).reshape(xx.shape)
    levels = np.arange(-8, 9, 2)
    filled = right.contourf(
        xx, yy, zz_est, levels=np.linspace(-10, 10, 21), cmap="RdBu_r", alpha=0.4, extend="both"
    )
    lines = right.contour(
        xx, yy, zz_est, levels=levels, colors="black", linewidths=0.9, linestyles="solid"
    )
    right.clabel(lines, fontsize="x-small", fmt="%g")
    right.contour(
        xx, yy, zz_true, levels=levels, colors="dimgrey", linewidths=0.9, linestyles="dashed"
    )
    right.scatter(*X_de_shown.T, s=5, color="tab:blue", label="denominator p_de (y=0)")
    right.scatter(*X_nu_shown.T, s=5, color="tab:red", label="numerator p_nu (y=1)")
    right.set_xlim(lims)
    right.set_ylim(lims)
    right.set_aspect("equal")
    right.set_xlabel("x1")
    right.set_ylabel("x2")
    right.set_title("Log ratio, contours every 2: estimate (solid), truth (dashed)")
    right.legend(loc="lower right", fontsize="small", markerscale=3)
    fig.colorbar(filled, ax=right, label="estimated log ratio")

    fig.savefig(output, dpi=110)
    plt.close(fig)
    print(f"\nFigure written to {output} ({time.perf_counter() - start:.1f} s in all)")


if __name__ == "__main__":
    main()
