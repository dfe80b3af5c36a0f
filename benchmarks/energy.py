"""Energy-based density benchmark: CNCEEnergyModel beside KernelDensity and GaussianMixture.

Three problems, every method on the same data:

1. **The CNCE paper's 20-d, 40-component Gaussian mixture**
   (``make_random_mixture(n_features=20, n_components=40, scale=0.1)``, the
   density of its Table 1): train, validation and test sets of 10 000 rows,
   3 seeds (0, 1, 2). A ``StandardScaler`` is fitted on train and every model
   gets the scaled training rows (``CNCEEnergyModel`` holds out its own 10%
   for early stopping, the peers choose by 3-fold CV on train; the validation
   set is drawn as in the paper but no method selects on it). Every log
   density is mapped back to the original space (minus
   ``log(scaler.scale_).sum()``) and compared with the exact
   ``mixture.log_density`` on the test set, with the paper's three metrics:

   * Ratio: MSE of ``(s_hat_i - s_hat_j) - (s_i - s_j)`` over 10 000 random
     pairs of test rows (one fixed generator);
   * NLL: mean negative normalised log-likelihood (ours normalised by the
     importance-sampled ``log_partition_``, 100 000 draws as in the paper);
   * MSE: mean of ``(s_hat - s)**2``;

   plus the excess NLL (NLL minus the true density's NLL) and the fit time.
   Methods: our default ``CNCEEnergyModel`` (a network on top of a base
   stacked by held-out likelihood); the same with the paper's mixed local/global
   jumps (``noise="mix"``); that base alone; the paper's variants, all with
   ``base=None`` (the network learns the whole energy) and
   ``max_epochs=20``: NCE with Gaussian, KDE or GMM noise, CNCE with local,
   global or mixed jumps, CNCE with GMM noise; and ``KernelDensity`` and
   ``GaussianMixture`` tuned by ``GridSearchCV``.
2. **Digits** (``load_digits``, PCA to 15 components as in sklearn's KDE
   example, then ``StandardScaler``; both fitted on train): held-out mean
   log-likelihood in the PCA space over 3 random 75/25 splits.
3. **The paper's 2-D grid of 25 Gaussians** (``make_grid_mixture(scale=0.1)``,
   5000 training rows): held-out log-likelihood of ours, of ours with
   ``base=None``, of the base alone and of the two tuned peers, and a figure
   of the true and learnt densities and of samples.

A small extra job checks whether two default fits with ``random_state=0``
agree; the report says so when they do not.

Fits run ``--n-jobs`` at a time (default 2), one torch thread each, so every
method's fit time is measured under the same contention. Run
``python benchmarks/energy.py`` (about 6 minutes on 2 cores; ``--quick`` for a
smoke run); results go to ``benchmarks/results/energy.{json,md,png}`` and
``benchmarks/results/energy_mixture.png``, and the README's
``BENCHMARK:energy`` block is rewritten.
"""

import argparse
import copy
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KernelDensity
from sklearn.preprocessing import StandardScaler

from sklearn_nce import CNCEEnergyModel
from sklearn_nce.datasets import make_grid_mixture, make_random_mixture

sys.path.insert(0, str(Path(__file__).parent))
from _shared import mean_std, run_meta, write_readme_block  # noqa: E402

RESULTS = Path(__file__).parent / "results"
README = Path(__file__).parent.parent / "README.md"

SEEDS = [0, 1, 2]
N_ROWS = 10_000
N_PAIRS = 10_000
N_IMPORTANCE = 100_000
VARIANT_EPOCHS = 20
GRID_ROWS = 5000
GRID_EPOCHS = 50
GRID_SIDE = 200
GRID_SAMPLES = 2000
CV = 3
# Paired excess-NLL differences below this (nats) are reported as ties.
TIE_NATS = 0.01

OURS = "ours (default)"
BASE = "our base alone (s = 0)"
KDE = "KDE (CV)"
GMM = "GMM (CV)"
# The paper's variants: every one learns the whole energy (base=None).
VARIANTS = {
    "NCE Gaussian": dict(noise="gaussian", objective="nce"),
    "NCE KDE": dict(noise="kde", objective="nce"),
    "NCE GMM": dict(noise="gmm", objective="nce"),
    "CNCE local": dict(noise="local", objective="cnce"),
    "CNCE global": dict(noise="global", objective="cnce"),
    "CNCE mix": dict(noise="mix", objective="cnce"),
    "CNCE GMM": dict(noise="gmm", objective="cnce"),
}
# Ours with the paper's mixed jumps instead of the default noise, on the same base.
OURS_MIX = "ours, noise=mix"
MIXTURE_METHODS = [OURS, OURS_MIX, BASE, *VARIANTS, KDE, GMM]
# Table 1 of the paper (mean ± std over 3 seeds): Ratio, NLL, MSE. Its "NCE"
# column is Gaussian noise and its "CNCE" column local jumps.
PAPER = {
    "NCE Gaussian": [(54.9, 8.6), (3.5, 1.3), (334.2, 48.6)],
    "NCE GMM": [(39.1, 6.6), (-5.9, 1.6), (87.6, 29.7)],
    "CNCE local": [(130.0, 43.4), (2.1, 2.7), (329.2, 103.9)],
    "CNCE mix": [(23.8, 0.5), (-6.6, 0.5), (66.2, 7.4)],
    "CNCE GMM": [(20.2, 0.5), (-3.3, 2.5), (130.9, 55.8)],
}
METRICS = ["ratio", "nll", "mse"]

DIGITS_METHODS = [OURS, OURS_MIX, BASE, KDE, GMM]
GRID_BASE_NONE = "CNCE mix, base=None"
GRID_METHODS = [OURS, GRID_BASE_NONE, BASE, KDE, GMM]

KDE_GRID = {
    "mixture": np.geomspace(0.02, 1.0, 12),
    "digits": np.geomspace(0.05, 2.0, 15),
    "grid": np.geomspace(0.02, 1.0, 12),
}
GMM_GRID = {
    "mixture": [10, 20, 30, 40, 50, 60],
    "digits": [1, 2, 4, 8, 16, 32],
    "grid": [10, 20, 30, 40, 50, 60],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 2000 rows, 1 seed, 3 epochs"
    )
    parser.add_argument("--n-jobs", type=int, default=2, help="parallel fits, 1 thread each")
    args = parser.parse_args()
    torch.set_num_threads(1)
    RESULTS.mkdir(exist_ok=True)
    config = dict(
        seeds=SEEDS,
        n_rows=N_ROWS,
        n_importance_samples=N_IMPORTANCE,
        variant_epochs=VARIANT_EPOCHS,
        grid_rows=GRID_ROWS,
        grid_epochs=GRID_EPOCHS,
        default_epochs="auto",
    )
    if args.quick:
        config.update(
            seeds=[0],
            n_rows=2000,
            n_importance_samples=10_000,
            variant_epochs=3,
            grid_rows=1000,
            grid_epochs=3,
            default_epochs=3,
        )
    wall_start = time.perf_counter()
    jobs = _jobs(config)
    print(f"{len(jobs) + 1} jobs on {args.n_jobs} workers", flush=True)
    outputs = Parallel(n_jobs=args.n_jobs, verbose=10)(
        [*(delayed(_run_job)(*job) for job in jobs), delayed(_reproducibility_check)()]
    )
    reproducible = outputs.pop()
    print(f"reproducibility check: {reproducible}", flush=True)
    rows = [row for output in outputs for row in output]
    total_s = time.perf_counter() - wall_start
    grid_pictures = {row["method"]: row.pop("picture") for row in rows if "picture" in row}
    meta = run_meta(
        processor=platform.processor(),
        torch_threads=1,
        parallel_jobs=args.n_jobs,
        config=config,
        cv_folds=CV,
        kde_bandwidths={k: v.tolist() for k, v in KDE_GRID.items()},
        gmm_components=GMM_GRID,
        reproducibility=reproducible,
        total_runtime_s=total_s,
    )
    summary = _summarise(rows)
    suffix = "_quick" if args.quick else ""
    payload = dict(meta=meta, summary=summary, rows=rows)
    (RESULTS / f"energy{suffix}.json").write_text(json.dumps(payload, indent=1))
    text = _markdown(summary, rows, meta)
    (RESULTS / f"energy{suffix}.md").write_text(text)
    _plot_grid(grid_pictures, config, RESULTS / f"energy{suffix}.png")
    _plot_mixture(summary, config, RESULTS / f"energy_mixture{suffix}.png")
    if not args.quick:
        _update_readme(summary, meta)
    print(text)
    print(f"total runtime {total_s:.0f} s")


def _reproducibility_check():
    """Whether two default fits with ``random_state=0`` agree (1500 rows of the 2-D grid).

    With more than 1000 rows the KDE noises ("kde", "global" and the global half of
    "mix") keep a random subset of kernel centres; the benchmark records whether that
    subset follows ``random_state``, so that the seed-to-seed spread can be read right.
    """
    torch.set_num_threads(1)
    X = make_grid_mixture(scale=0.3).sample(1500, random_state=0)
    out = {}
    for noise in ("default", "mix"):
        params = {} if noise == "default" else dict(noise=noise)
        fits = [
            CNCEEnergyModel(**params, max_epochs=1, n_importance_samples=1000, random_state=0).fit(
                X
            )
            for _ in range(2)
        ]
        out[noise] = bool(np.array_equal(*(fit.score_samples(X[:100]) for fit in fits)))
    return out


# -- jobs ------------------------------------------------------------------


def _jobs(config):
    """(section, seed, method, config) tuples, slowest first so that the workers end together."""
    mixture = [
        ("mixture", seed, method, config)
        for method in [OURS, OURS_MIX, *VARIANTS, GMM, KDE]
        for seed in config["seeds"]
    ]
    digits = [
        ("digits", seed, method, config)
        for method in [OURS, OURS_MIX, GMM, KDE]
        for seed in config["seeds"]
    ]
    grid = [("grid", 0, method, config) for method in [OURS, GRID_BASE_NONE, GMM, KDE]]
    return mixture + grid + digits


def _run_job(section, seed, method, config):
    """Fit one method on one section and seed in a worker; return its row(s)."""
    torch.set_num_threads(1)
    data = _DATA[section](seed, config)
    estimator = _estimator(section, seed, method, config)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            estimator.fit(data["X_train"])
            error = None
        except (ValueError, RuntimeError) as exc:  # report, do not hide
            error = f"{type(exc).__name__}: {exc}"[:300]
    fit_s = time.perf_counter() - start
    messages = sorted({f"{w.category.__name__}: {w.message}"[:300] for w in caught})
    base = dict(section=section, seed=seed, fit_s=fit_s, error=error, warnings=messages)
    if error is not None:
        return [dict(base, method=method)]
    rows = [dict(base, method=method, **_evaluate(section, data, estimator.score_samples))]
    rows[0].update(_details(estimator, method))
    if method == OURS:
        # The fitted base alone: what the network adds on top of it.
        components, kind = _base_summary(estimator.base_)
        rows.append(
            dict(
                base,
                method=BASE,
                fit_s=None,
                warnings=[],
                n_components=components,
                covariance_type=kind,
                **_evaluate(section, data, _base_alone(estimator).score_samples),
            )
        )
    if section == "grid" and method in (OURS, GRID_BASE_NONE):
        rows[0]["picture"] = _picture(data, estimator)
    return rows


def _estimator(section, seed, method, config):
    n_is = config["n_importance_samples"]
    if method == KDE:
        return GridSearchCV(KernelDensity(), {"bandwidth": KDE_GRID[section]}, cv=CV)
    if method == GMM:
        return GridSearchCV(
            GaussianMixture(random_state=seed), {"n_components": GMM_GRID[section]}, cv=CV
        )
    quick = {} if config["default_epochs"] == "auto" else dict(max_epochs=config["default_epochs"])
    ours = dict(random_state=seed, n_importance_samples=n_is, **quick)
    if method == OURS:
        return CNCEEnergyModel(**ours)
    if method == OURS_MIX:
        return CNCEEnergyModel(noise="mix", **ours)
    if section == "mixture":
        return CNCEEnergyModel(
            **dict(ours, **VARIANTS[method], base=None, max_epochs=config["variant_epochs"])
        )
    return CNCEEnergyModel(**dict(ours, noise="mix", base=None, max_epochs=config["grid_epochs"]))


def _details(estimator, method):
    if isinstance(estimator, GridSearchCV):
        params = estimator.best_params_
        return dict(best_params={key: np.asarray(value).item() for key, value in params.items()})
    details = dict(
        log_partition=float(estimator.log_partition_),
        log_partition_std=float(estimator.log_partition_std_),
        importance_ess=float(estimator.importance_ess_),
        n_iter=int(estimator.n_iter_),
        n_importance_samples=int(estimator.n_importance_samples),
    )
    history = estimator.history_
    if len(history) and "valid_loss" in history[-1]:
        valid = np.asarray(history[:, "valid_loss"], dtype=float)
        details["best_epoch"] = int(np.argmin(valid)) + 1
    components, kind = _base_summary(estimator.proposal_)
    details["proposal_components"] = components
    details["proposal_covariance"] = kind
    return details


def _base_alone(estimator):
    """A copy of a fitted CNCEEnergyModel with its network switched off: its base alone.

    The network's share is a buffer of the fitted critic (``network_scale_``
    reports it); at 0 the model is the base, which is normalised (log Z = 0).
    """
    alone = copy.deepcopy(estimator)
    alone.net_.module_.network_scale.fill_(0.0)
    alone.log_partition_ = 0.0
    return alone


def _base_summary(density):
    """(component count or "-", covariance type or family) of a fitted base density.

    For a stack (``base="auto"``), its heaviest candidate, e.g. (40, "diag").
    """
    weights = getattr(density, "weights_", None)
    if weights:
        heaviest = max(weights, key=weights.get)  # "gmm (diag, 40)", "kde (adaptive)", ...
        kind, _, count = heaviest.partition("(")[2].rstrip(")").partition(", ")
        return (int(count), kind) if count else ("-", heaviest)
    inner = density
    while hasattr(inner, "density"):  # SelectedDensity -> DefensiveMixture -> the fit
        inner = inner.density
    mixture = getattr(inner, "mixture_", None)
    if mixture is not None:
        return int(mixture.n_components), mixture.covariance_type
    return "-", getattr(density, "family_", type(inner).__name__)


# -- data --------------------------------------------------------------------


def _mixture_data(seed, config):
    n = config["n_rows"]
    truth = make_random_mixture(n_features=20, n_components=40, scale=0.1, random_state=seed)
    X_train, X_val, X_test = (truth.sample(n, random_state=100 * seed + k) for k in (1, 2, 3))
    scaler = StandardScaler().fit(X_train)
    rng = np.random.default_rng(12345)
    pairs = rng.integers(0, n, size=(2, N_PAIRS))
    return dict(
        truth=truth,
        scaler=scaler,
        X_train=scaler.transform(X_train),
        X_val=scaler.transform(X_val),
        X_test=scaler.transform(X_test),
        s_val=truth.log_density(X_val),
        s_test=truth.log_density(X_test),
        pairs=pairs,
    )


def _digits_data(seed, config):
    del config
    X = load_digits().data
    X_train, X_test = train_test_split(X, random_state=seed)
    pca = PCA(n_components=15).fit(X_train)
    scaler = StandardScaler().fit(pca.transform(X_train))
    return dict(
        scaler=scaler,
        X_train=scaler.transform(pca.transform(X_train)),
        X_test=scaler.transform(pca.transform(X_test)),
    )


def _grid_data(seed, config):
    truth = make_grid_mixture(scale=0.1)
    X_train = truth.sample(config["grid_rows"], random_state=seed)
    X_test = truth.sample(GRID_ROWS, random_state=seed + 1)
    scaler = StandardScaler().fit(X_train)
    return dict(
        truth=truth,
        scaler=scaler,
        X_train=scaler.transform(X_train),
        X_test=scaler.transform(X_test),
        s_test=truth.log_density(X_test),
    )


_DATA = {"mixture": _mixture_data, "digits": _digits_data, "grid": _grid_data}


# -- metrics -------------------------------------------------------------------


def _evaluate(section, data, score_samples):
    """Metrics of a log density ``score_samples`` on scaled rows, in the original space."""
    shift = float(np.log(data["scaler"].scale_).sum())
    s_hat = score_samples(data["X_test"]) - shift
    if not np.all(np.isfinite(s_hat)):
        return dict(loglik=None, nonfinite=int(np.sum(~np.isfinite(s_hat))))
    out = dict(loglik=float(np.mean(s_hat)))
    if section != "mixture":
        # In-sample fit, to tell overfitting from underfitting (cheap at these sizes).
        out["train_loglik"] = float(np.mean(score_samples(data["X_train"]) - shift))
    if section == "digits":
        return out
    s = data["s_test"]
    out.update(true_loglik=float(np.mean(s)), excess_nll=float(np.mean(s - s_hat)))
    if section == "grid":
        return out
    i, j = data["pairs"]
    error = (s_hat[i] - s_hat[j]) - (s[i] - s[j])
    s_val_hat = score_samples(data["X_val"]) - shift
    out.update(
        ratio=float(np.mean(error**2)),
        nll=float(-np.mean(s_hat)),
        true_nll=float(-np.mean(s)),
        mse=float(np.mean((s_hat - s) ** 2)),
        val_nll=float(-np.mean(s_val_hat)),
        true_val_nll=float(-np.mean(data["s_val"])),
    )
    return out


def _picture(data, estimator):
    """Learnt density on the figure's grid and draws from the model, in the original space."""
    scaler = data["scaler"]
    axis = np.linspace(-3.0, 3.0, GRID_SIDE)
    points = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    shift = float(np.log(scaler.scale_).sum())
    log_density = estimator.score_samples(scaler.transform(points)) - shift
    draws = scaler.inverse_transform(estimator.sample(GRID_SAMPLES, random_state=0))
    return dict(density=np.exp(log_density).reshape(GRID_SIDE, GRID_SIDE), samples=draws)


def _summarise(rows):
    """Mean and std (ddof=1) over seeds per (section, method, metric); fit-time ratios."""
    keys = [
        "ratio",
        "nll",
        "mse",
        "excess_nll",
        "true_nll",
        "loglik",
        "true_loglik",
        "fit_s",
        "log_partition_std",
        "importance_ess",
        "n_iter",
        "best_epoch",
        "train_loglik",
    ]
    summary = {}
    for section, methods in [
        ("mixture", MIXTURE_METHODS),
        ("digits", DIGITS_METHODS),
        ("grid", GRID_METHODS),
    ]:
        summary[section] = {}
        for method in methods:
            group = [r for r in rows if r["section"] == section and r["method"] == method]
            if not group:
                continue
            entry = dict(n_runs=len(group), n_failed=sum(r.get("loglik") is None for r in group))
            entry["per_seed"] = {}
            for key in keys:
                values = [r[key] for r in group if r.get(key) is not None]
                if values:
                    entry[key] = mean_std(values)
                    entry["per_seed"][key] = {
                        r["seed"]: r[key] for r in group if r.get(key) is not None
                    }
            proposals = {
                f"{r['proposal_components']} {r['proposal_covariance']}"
                for r in group
                if "proposal_components" in r
            }
            if proposals:
                entry["proposal"] = sorted(proposals)
            summary[section][method] = entry
    # Mean fit time of ours over that of each tuned peer.
    summary["fit_ratios"] = {}
    for section in ("mixture", "digits", "grid"):
        ours = summary[section].get(OURS, {}).get("fit_s")
        for peer in (KDE, GMM):
            peer_fit = summary[section].get(peer, {}).get("fit_s")
            if ours and peer_fit:
                ratios = summary["fit_ratios"].setdefault(section, {})
                ratios[peer] = ours["mean"] / peer_fit["mean"]
    return summary


def _pm(stat, fmt=".3g"):
    if stat is None:
        return "—"
    if stat["std"] == 0.0 and len(stat["values"]) == 1:
        return format(stat["mean"], fmt)
    return f"{format(stat['mean'], fmt)} ± {format(stat['std'], fmt)}"


def _paper_cell(method, k):
    if method not in PAPER:
        return "—"
    mean, std = PAPER[method][k]
    return f"{mean:g} ± {std:g}"


# -- verdicts ------------------------------------------------------------------


def _mean(summary, section, method, key):
    stat = summary[section].get(method, {}).get(key)
    return None if stat is None else stat["mean"]


def _verdicts(summary, config):
    """Plain sentences: who wins, what the network adds, whether the paper's ranking holds."""
    mix = summary["mixture"]
    n_draws = config["n_importance_samples"]
    lines = []
    present = [m for m in MIXTURE_METHODS if "excess_nll" in mix.get(m, {})]
    ranked = sorted(present, key=lambda m: _mean(summary, "mixture", m, "excess_nll"))
    if len(ranked) >= 2:
        best = ranked[0]
        # Methods whose paired (same-seed) excess NLL is within TIE_NATS of the best.
        tied = [
            m
            for m in ranked[1:]
            if abs(_paired_mean(summary, "mixture", m, best, "excess_nll")) < TIE_NATS
        ]
        rest = [m for m in ranked[1:] if m not in tied]
        text = (
            f"**Best on the 20-d mixture (excess NLL):** {best}, "
            f"{_pm(mix[best]['excess_nll'])} nats"
        )
        if tied:
            text += f"; tied with it within {TIE_NATS} nats (paired difference per seed): " + (
                "; ".join(
                    f"{m} {_paired_text(summary, 'mixture', m, best, 'excess_nll')}" for m in tied
                )
            )
        if rest:
            text += (
                f". Next: {rest[0]}, {_pm(mix[rest[0]]['excess_nll'])} "
                f"({_paired_text(summary, 'mixture', rest[0], best, 'excess_nll')} more)"
            )
        lines.append(
            text
            + ". Ranking: "
            + ", ".join(f"{m} {_mean(summary, 'mixture', m, 'excess_nll'):.3g}" for m in ranked)
            + "."
        )
    if OURS in mix and BASE in mix:
        proposals = " / ".join(mix[OURS].get("proposal", []))
        gain = _paired_text(summary, "mixture", OURS, BASE, "excess_nll")
        epochs = _pm(mix[OURS].get("n_iter"), ".0f")
        best_epochs = _best_epochs(summary, OURS)
        training = (
            f"early stopping ends training after {epochs} epochs and restores the best one "
            f"(epochs {best_epochs})"
            if best_epochs != "—"
            else f"training runs {epochs} epochs"
        )
        lines.append(
            f"**What the network adds to its base on the mixture:** ours minus the base mixture "
            f"alone, excess NLL per seed {gain} nats, Ratio "
            f"{_paired_text(summary, 'mixture', OURS, BASE, 'ratio')}. The base chosen: "
            f"{proposals} (the truth: 40 isotropic components); {training}. Our "
            f"log Z standard error {_pm(mix[OURS].get('log_partition_std'))} nats, importance "
            f"ESS {_pm(mix[OURS].get('importance_ess'), '.0f')} of {n_draws} draws."
        )
    variants = [m for m in VARIANTS if "nll" in mix.get(m, {})]
    if variants:
        lines += _variant_verdicts(summary, config, variants)
    digits = summary["digits"]
    scored = [m for m in DIGITS_METHODS if "loglik" in digits.get(m, {})]
    if scored:
        best = max(scored, key=lambda m: _mean(summary, "digits", m, "loglik"))
        text = (
            f"**Digits (held-out log-likelihood, higher is better):** best {best}, "
            f"{_pm(digits[best]['loglik'])}"
        )
        for method in scored:
            if method != best:
                diff = _paired_text(summary, "digits", best, method, "loglik")
                text += f"; {diff} above {method}"
        text += "."
        if "importance_ess" in digits.get(OURS, {}):
            base = digits.get(BASE, {})
            text += (
                f" Our default's importance ESS is {_pm(digits[OURS]['importance_ess'], '.0f')} "
                f"of {n_draws} draws; its training-set log-likelihood is "
                f"{_pm(digits[OURS].get('train_loglik'))} against "
                f"{_pm(digits[OURS].get('loglik'))} held out (base alone: "
                f"{_pm(base.get('train_loglik'))} against {_pm(base.get('loglik'))}); "
                "early stopping holds out 10% of the rows from 50 rows on, with at least 400 "
                "steps' patience."
            )
        lines.append(text)
    for section in ("mixture", "digits"):
        ratios = [
            f"{ratio:.1f}x the time of {peer}"
            for peer, ratio in summary["fit_ratios"].get(section, {}).items()
        ]
        if ratios:
            label = "20-d mixture" if section == "mixture" else section
            lines.append(f"**Fit time, {label}:** ours takes " + ", ".join(ratios) + ".")
    return lines


def _variant_verdicts(summary, config, variants):
    mix = summary["mixture"]
    n_draws = config["n_importance_samples"]
    excess = [_mean(summary, "mixture", m, "excess_nll") for m in variants]
    ess = [v for m in variants for v in mix[m].get("importance_ess", {}).get("values", [])]
    std = [v for m in variants for v in mix[m].get("log_partition_std", {}).get("values", [])]
    lines = [
        f"**The paper's variants (base=None, {config['variant_epochs']} epochs, no tuning)** "
        f"have excess NLL {min(excess):.3g}–{max(excess):.3g} nats. Their importance ESS is "
        f"{min(ess):.0f}–{max(ess):.0f} of {n_draws} draws (log Z standard error "
        f"{min(std):.2g}–{max(std):.2g} nats by the delta method, itself unreliable at such an "
        "ESS), so their NLL and MSE carry an uncertain log Z; Ratio does not involve log Z."
    ]
    paper_rows = [m for m in PAPER if m in variants]
    labels = dict(ratio="Ratio", nll="NLL", mse="MSE")
    orders = []
    for k, key in enumerate(METRICS):
        paper_order = sorted(paper_rows, key=lambda m: PAPER[m][k][0])
        here = sorted(paper_rows, key=lambda m: _mean(summary, "mixture", m, key))
        orders.append(
            f"{labels[key]}: paper {' < '.join(paper_order)}; here "
            + " < ".join(f"{m} ({_mean(summary, 'mixture', m, key):.3g})" for m in here)
        )
    lines.append(
        "**Rankings over the five columns of the paper's Table 1.** " + ". ".join(orders) + "."
    )
    if "CNCE mix" in variants:
        best = {
            key: min(variants, key=lambda m: _mean(summary, "mixture", m, key)) for key in METRICS
        }
        ranks = {
            key: sorted(variants, key=lambda m: _mean(summary, "mixture", m, key)).index(
                "CNCE mix"
            )
            + 1
            for key in METRICS
        }
        if all(b == "CNCE mix" for b in best.values()):
            verdict = "reproduces: CNCE mix is the best variant on Ratio, NLL and MSE"
        else:
            winner = max(set(best.values()), key=list(best.values()).count)
            versus = ", ".join(
                f"{labels[key]} {_mean(summary, 'mixture', winner, key):.3g} against "
                f"{_mean(summary, 'mixture', 'CNCE mix', key):.3g}"
                for key in METRICS
            )
            verdict = (
                "does not reproduce at this budget: CNCE mix ranks "
                + ", ".join(f"{ranks[key]}/{len(variants)} on {labels[key]}" for key in METRICS)
                + f" among the {len(variants)} variants; {winner} is best on "
                + ", ".join(labels[key] for key in METRICS if best[key] == winner)
                + f" ({winner} vs CNCE mix: {versus})"
            )
        lines.append(f"**The paper's claim that CNCE mix is the best variant** {verdict}.")
    return lines


def _best_epochs(summary, method):
    epochs = summary["mixture"].get(method, {}).get("per_seed", {}).get("best_epoch", {})
    return ", ".join(str(epochs[seed]) for seed in sorted(epochs)) or "—"


def _paired_diffs(summary, section, a, b, key):
    left = summary[section].get(a, {}).get("per_seed", {}).get(key, {})
    right = summary[section].get(b, {}).get("per_seed", {}).get(key, {})
    return np.array([left[s] - right[s] for s in sorted(set(left) & set(right))])


def _paired_mean(summary, section, a, b, key):
    diffs = _paired_diffs(summary, section, a, b, key)
    return float(diffs.mean()) if len(diffs) else np.inf


def _paired_text(summary, section, a, b, key):
    """``a - b`` per seed over the seeds both have, as 'mean ± std (v1, v2, ...)'."""
    diffs = _paired_diffs(summary, section, a, b, key)
    if not len(diffs):
        return "—"
    cells = ", ".join(f"{d:+.3g}" for d in diffs)
    if len(diffs) == 1:
        return cells
    return f"{diffs.mean():+.3g} ± {diffs.std(ddof=1):.2g} ({cells})"


# -- reports -------------------------------------------------------------------


def _default_text():
    params = CNCEEnergyModel().get_params()
    return ", ".join(f"{key}={params[key]!r}" for key in ("noise", "objective", "base"))


def _setting(meta):
    config = meta["config"]
    # Optimiser steps of a variant: 90% of the rows train (early stopping holds out 10%).
    steps = config["variant_epochs"] * (int(0.9 * config["n_rows"]) // 256)
    return (
        f"{config['n_rows']} train / validation / test rows per seed, seeds "
        f"{config['seeds']}; `StandardScaler` on train, every log density reported in the "
        "original space. Ours: `CNCEEnergyModel(random_state=seed, "
        f"n_importance_samples={config['n_importance_samples']})` at its defaults "
        f"({_default_text()}; base: a held-out-likelihood stack of each covariance "
        "type's BIC mixtures, two KDEs (fixed and adaptive kernels) and two Gaussians "
        "(sample and Ledoit-Wolf covariances), "
        "network: (64, 64) "
        "SiLU MLP, batch 256, lr 1e-3, 2000 optimiser steps (at most 300 passes), early "
        "stopping on a held-out 10% "
        "from 50 rows, network share kept by held-out likelihood); "
        '"ours, noise=mix" swaps in the paper\'s mixed local/global jumps '
        "on the same base. The paper's "
        f"variants use `base=None`, `max_epochs={config['variant_epochs']}` (~{steps} steps of "
        "batch 256, each with 5 noise draws) and the estimator's automatic noise scales; the "
        "paper trains a ResNet for 50 000 steps of batch 256 and tunes the learning rate, the "
        "noise scales and the local proportion, so its numbers are for a far larger budget. "
        f"Peers: `KernelDensity` (bandwidth by {meta['cv_folds']}-fold `GridSearchCV`) and "
        f"`GaussianMixture` (full covariance, n_components by {meta['cv_folds']}-fold "
        f"`GridSearchCV`). {meta['parallel_jobs']} fits in parallel, 1 torch thread each, so "
        "every method's fit time is measured under the same contention."
    )


def _markdown(summary, rows, meta):
    mix = summary["mixture"]
    true_nll = next((v["true_nll"] for v in mix.values() if "true_nll" in v), None)
    lines = [
        "# Energy-based density benchmark (CNCEEnergyModel)",
        "",
        _setting(meta),
        f"Machine: {meta['machine']}; total runtime {meta['total_runtime_s']:.0f} s.",
        *_reproducibility_note(meta),
        "",
        "## 20-d, 40-component Gaussian mixture (the CNCE paper's Table 1)",
        "",
        "Mean ± std (ddof=1) over seeds. Ratio: MSE of the log-density difference between "
        "10 000 random pairs of test rows; NLL: mean negative normalised log-likelihood on the "
        "10 000 test rows; MSE: mean squared error of the normalised log density (the "
        "paper's definitions; lower is better). Our models are normalised by importance "
        "sampling from the fitted base (the paper used the true density as proposal). "
        f"True NLL of the test rows: {_pm(true_nll, '.3f')}.",
        "",
        "| method | Ratio | paper Ratio | NLL | paper NLL | MSE | paper MSE | excess NLL | "
        "fit (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for method in MIXTURE_METHODS:
        entry = mix.get(method)
        if entry is None:
            continue
        cells = []
        for k, key in enumerate(METRICS):
            cells += [_pm(entry.get(key)), _paper_cell(method, k)]
        failed = f" ({entry['n_failed']} failed)" if entry["n_failed"] else ""
        lines.append(
            f"| {method}{failed} | "
            + " | ".join(cells)
            + f" | {_pm(entry.get('excess_nll'))} | {_pm(entry.get('fit_s'))} |"
        )
    lines += ["", *[f"- {line}" for line in _verdicts(summary, meta["config"])]]
    lines += [
        "",
        "### Normalisation and training diagnostics (20-d mixture)",
        "",
        "| method | seed | log Z std err | importance ESS | epochs | best epoch | "
        "proposal mixture | val NLL | true val NLL |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in _ordered(rows, "mixture", MIXTURE_METHODS):
        if "importance_ess" not in r:
            continue
        lines.append(
            f"| {r['method']} | {r['seed']} | {r['log_partition_std']:.3g} | "
            f"{r['importance_ess']:.0f} / {r['n_importance_samples']} | {r['n_iter']} | "
            f"{r.get('best_epoch', '—')} | {r['proposal_components']} "
            f"{r['proposal_covariance']} | {_fmt(r.get('val_nll'))} | "
            f"{_fmt(r.get('true_val_nll'))} |"
        )
    lines += ["", "Peers' chosen hyper-parameters (20-d mixture, digits, grid): "]
    chosen = [
        f"{r['section']} {r['method']} seed {r['seed']}: {r['best_params']}"
        for section in ("mixture", "digits", "grid")
        for r in _ordered(rows, section, [KDE, GMM])
        if "best_params" in r
    ]
    lines += ["", *[f"- {c}" for c in chosen]]
    lines += [
        "",
        "## Digits (PCA to 15 dimensions, 75/25 splits)",
        "",
        "`load_digits`, `PCA(n_components=15)` then `StandardScaler`, both fitted on the "
        "training split; held-out mean log-likelihood in the PCA space (higher is better), "
        "mean ± std over seeds. KDE bandwidth grid `geomspace(0.05, 2.0, 15)`, GMM "
        "n_components in [1, 2, 4, 8, 16, 32].",
        "",
        "| method | held-out log-likelihood | fit (s) |",
        "|---|---|---|",
    ]
    for method, entry in summary["digits"].items():
        lines.append(f"| {method} | {_pm(entry.get('loglik'))} | {_pm(entry.get('fit_s'))} |")
    grid_config = meta["config"]
    lines += [
        "",
        "## 2-D grid of 25 Gaussians (scale 0.1)",
        "",
        f"{grid_config['grid_rows']} training rows, {GRID_ROWS} test rows, seed 0. "
        f'"{GRID_BASE_NONE}" is `CNCEEnergyModel(base=None, noise="mix", '
        f"max_epochs={grid_config['grid_epochs']})`. Figure: `energy.png` (true density, "
        f"learnt densities on a {GRID_SIDE}x{GRID_SIDE} grid over [-3, 3]^2, and "
        f"{GRID_SAMPLES} model draws over {GRID_SAMPLES} true draws).",
        "",
        "| method | held-out log-likelihood | true | excess NLL | fit (s) |",
        "|---|---|---|---|---|",
    ]
    for method, entry in summary["grid"].items():
        lines.append(
            f"| {method} | {_pm(entry.get('loglik'), '.4g')} | "
            f"{_pm(entry.get('true_loglik'), '.4g')} | {_pm(entry.get('excess_nll'))} | "
            f"{_pm(entry.get('fit_s'))} |"
        )
    failures = [r for r in rows if r.get("error") or r.get("nonfinite")]
    lines += ["", "## Failures", ""]
    lines += [
        f"- {r['section']} {r['method']} seed {r['seed']}: "
        f"{r.get('error') or str(r.get('nonfinite')) + ' non-finite log densities'}"
        for r in failures
    ] or ["None."]
    warned = [r for r in rows if r.get("warnings")]
    lines += ["", "## Warnings raised by the fits", ""]
    lines += [
        f"- {r['section']} {r['method']} seed {r['seed']}: {'; '.join(r['warnings'])}"
        for r in warned
    ] or ["None."]
    return "\n".join(lines) + "\n"


def _reproducibility_note(meta):
    check = meta.get("reproducibility", {})
    if not check:
        return []
    names = {noise: "the default" if noise == "default" else f'noise="{noise}"' for noise in check}
    if all(check.values()):
        agreeing = " and ".join(names.values())
        return ["", f"Two fits with `random_state=0` agree bit for bit ({agreeing})."]
    failing = ", ".join(names[noise] for noise, same in check.items() if not same)
    return [
        "",
        f"**Not bit-reproducible:** two fits with `random_state=0` differed for {failing}, so "
        "a rerun gives slightly different numbers for those settings.",
    ]


def _ordered(rows, section, methods):
    chosen = [r for r in rows if r["section"] == section and r["method"] in methods]
    return sorted(chosen, key=lambda r: (methods.index(r["method"]), r["seed"]))


def _fmt(value, fmt=".3f"):
    return "—" if value is None else format(value, fmt)


def _update_readme(summary, meta):
    """Rewrite the README's summary between its BENCHMARK:energy markers."""
    mix, digits = summary["mixture"], summary["digits"]
    true_nll = next((v["true_nll"] for v in mix.values() if "true_nll" in v), None)
    lines = [
        _setting(meta) + " Full tables and diagnostics: "
        "[`benchmarks/results/energy.md`](benchmarks/results/energy.md); figures: "
        "`benchmarks/results/energy.png` (2-D grid), `benchmarks/results/energy_mixture.png`; "
        "rerun with `python benchmarks/energy.py`.",
        "",
        f"Excess NLL (nats above the true density's {_pm(true_nll, '.2f')}) on the 20-d "
        "mixture and held-out log-likelihood on digits (PCA-15), mean ± std over 3 seeds:",
        "",
        "| method | 20-d mixture excess NLL | 20-d fit (s) | digits log-likelihood | "
        "digits fit (s) |",
        "|---|---|---|---|---|",
    ]
    for method in [OURS, OURS_MIX, BASE, KDE, GMM]:
        m, d = mix.get(method, {}), digits.get(method, {})
        lines.append(
            f"| {method} | {_pm(m.get('excess_nll'))} | {_pm(m.get('fit_s'))} | "
            f"{_pm(d.get('loglik'))} | {_pm(d.get('fit_s'))} |"
        )
    lines += [
        "",
        "The paper's variants on the same data (`base=None`, 20 epochs, no tuning) beside its "
        "Table 1 (50 000 steps, ResNet, tuned):",
        "",
        "| method | Ratio | paper | NLL | paper | MSE | paper |",
        "|---|---|---|---|---|---|---|",
    ]
    for method in [m for m in VARIANTS if m in mix]:
        cells = []
        for k, key in enumerate(METRICS):
            cells += [_pm(mix[method].get(key)), _paper_cell(method, k)]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += ["", *[f"- {line}" for line in _verdicts(summary, meta["config"])]]
    write_readme_block("energy", lines)


# -- figures -------------------------------------------------------------------


def _plot_grid(pictures, config, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    truth = make_grid_mixture(scale=0.1)
    axis = np.linspace(-3.0, 3.0, GRID_SIDE)
    points = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    true_density = np.exp(truth.log_density(points)).reshape(GRID_SIDE, GRID_SIDE)
    true_draws = truth.sample(GRID_SAMPLES, random_state=1)
    models = [m for m in (OURS, GRID_BASE_NONE) if m in pictures]
    titles = {
        OURS: f"ours (default: {_default_text()})",
        GRID_BASE_NONE: f"CNCE mix, base=None, {config['grid_epochs']} epochs",
    }
    fig, axes = plt.subplots(2, 1 + len(models), figsize=(4 * (1 + len(models)), 8))
    axes = np.atleast_2d(axes)
    extent = (-3, 3, -3, 3)
    vmax = true_density.max()
    axes[0, 0].imshow(true_density, origin="lower", extent=extent, vmax=vmax, cmap="viridis")
    axes[0, 0].set_title("true density")
    axes[1, 0].scatter(*true_draws.T, s=2, color="black", alpha=0.5)
    axes[1, 0].set_title(f"{GRID_SAMPLES} true draws")
    for k, method in enumerate(models, start=1):
        picture = pictures[method]
        axes[0, k].imshow(
            picture["density"], origin="lower", extent=extent, vmax=vmax, cmap="viridis"
        )
        axes[0, k].set_title(f"{titles[method]}\nlearnt density", fontsize=9)
        axes[1, k].scatter(*true_draws.T, s=2, color="black", alpha=0.25, label="true")
        axes[1, k].scatter(*picture["samples"].T, s=2, color="tab:red", alpha=0.5, label="model")
        axes[1, k].set_title(f"{titles[method]}\nsample(2000) (red) over true (black)", fontsize=9)
    for ax in axes.ravel():
        ax.set_xlim(-3, 3)
        ax.set_ylim(-3, 3)
        ax.set_aspect("equal")
    fig.suptitle("25 Gaussians on a grid (scale 0.1): densities share the true colour scale")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_mixture(summary, config, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mix = summary["mixture"]
    methods = [m for m in MIXTURE_METHODS if "excess_nll" in mix.get(m, {})]
    means = [mix[m]["excess_nll"]["mean"] for m in methods]
    stds = [mix[m]["excess_nll"]["std"] for m in methods]
    colours = [
        "tab:red"
        if m in (OURS, OURS_MIX)
        else "tab:orange"
        if m == BASE
        else "tab:blue"
        if m in VARIANTS
        else "tab:green"
        for m in methods
    ]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.bar(range(len(methods)), means, yerr=stds, color=colours, capsize=3)
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_xticks(range(len(methods)))
    ax.set_xticklabels(methods, rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("excess NLL over the true density (nats, symlog)")
    ax.set_title(
        f"20-d, 40-component Gaussian mixture, {config['n_rows']} test rows, "
        f"{len(config['seeds'])} seeds (mean ± std)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
