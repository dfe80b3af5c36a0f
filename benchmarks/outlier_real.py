"""Real-data outlier and density benchmark: the six ODDS sets of ``../shared/datasets/anomaly/``.

Protocol (semi-supervised, as ADBench's and the data sets' README): for seeds
0, 1, 2, train on a random 60% of the normal rows (at most 10 000), test on the
other normal rows plus every anomaly; ``VarianceThreshold()`` then
``StandardScaler`` fitted on the training rows, for every method alike. Score:
higher = more anomalous; AUPRC (``average_precision_score``, anomaly =
positive) and AUROC, mean over the seeds; fit time of the detector alone.

Detectors: ``NoisierNCEClassifier()`` at its defaults; ``IsolationForest``,
``LocalOutlierFactor(novelty=True)``, ``OneClassSVM(nu=0.1)``, a BIC
``GaussianMixture`` (full, ``reg_covar=1e-4``), ``KernelDensity`` with its
bandwidth by 5-fold ``GridSearchCV`` (on at most 5000 rows) and PyOD's ``KNN``
(k = 5; skipped without PyOD). Beside ours: the same fitted model with its
network switched off (``base_score_samples``: the base the network corrects,
fitted on the same rows, so the difference is what the network adds on the
test rows), the base selection refitted on all the training rows with another
seed ("our base alone"; the model's own base does not see the rows early
stopping holds out; the energy model's, "energy base alone", also stacks a
Ledoit-Wolf Gaussian that the detector's noise leaves out), the base family
it chose, the share of its network it kept (``network_scale_``) and the nats
that network added on the held-out rows that also chose it
(``network_gain_``).

Density: the held-out mean log-likelihood of the unseen normal test rows for
``CNCEEnergyModel()`` at its defaults, the same model with its network
switched off, its base alone, the BIC mixture and the KDE.

A set whose file is missing is skipped. Run
``python benchmarks/outlier_real.py`` (about 10 minutes on one thread);
results go to ``benchmarks/results/outlier_real.{json,md}`` and the docs'
benchmark page (``--from-json`` re-renders them from the saved JSON).
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.feature_selection import VarianceThreshold
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity
from sklearn.preprocessing import StandardScaler

from sklearn_nce import CNCEEnergyModel, NoisierNCEClassifier

sys.path.insert(0, str(Path(__file__).parent))
from _shared import (  # noqa: E402
    BaseAlone,
    classical_detector,
    run_meta,
    write_readme_block,
)

RESULTS = Path(__file__).parent / "results"
DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "anomaly"
SETS = ["ionosphere", "breastw", "satimage2", "shuttle", "vertebral", "newthyroid"]
SEEDS = [0, 1, 2]
MAX_TRAIN = 10_000
KDE_CV_ROWS = 5000
OURS = "NoisierNCEClassifier()"
ENERGY = "CNCEEnergyModel()"
# The same fitted model scored by its base alone (base_score_samples): the
# base the network corrects, fitted on the same rows, so the difference is
# what the network adds out of sample.
OURS_OFF = "ours, network off"
ENERGY_OFF = "energy model, network off"
# The base selection refitted on all the training rows with another seed, no
# network (the model's own base saw the rows early stopping did not hold out):
# the detector's noise, and the energy model's base, which also stacks a
# Ledoit-Wolf Gaussian.
BASE_ALONE = "our base alone"
ENERGY_BASE = "energy base alone"
PEERS = ["IsolationForest", "LOF (novelty)", "OneClassSVM", "GMM (BIC)", "KDE (CV)", "PyOD KNN"]
DENSITIES = [ENERGY, ENERGY_OFF, ENERGY_BASE, "GMM (BIC)", "KDE (CV)"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=SETS)
    parser.add_argument("--from-json", action="store_true", help="re-render, fitting nothing")
    args = parser.parse_args()
    if args.from_json:
        _render_saved()
        return
    torch.set_num_threads(1)
    RESULTS.mkdir(exist_ok=True)
    rows = []
    for name in args.sets:
        path = DATA / f"{name}.npz"
        if not path.exists():
            print(f"skipping {name}: {path} not found", flush=True)
            continue
        for seed in SEEDS:
            rows.extend(_run_set(name, path, seed))
    payload = dict(
        meta=run_meta(torch=torch.__version__, seeds=SEEDS),
        rows=rows,
    )
    (RESULTS / "outlier_real.json").write_text(json.dumps(payload, indent=1))
    text = _markdown(rows)
    (RESULTS / "outlier_real.md").write_text(text)
    # The docs' benchmark page shows the tables without the title line.
    write_readme_block("outlier_real", text.splitlines()[2:])
    print(text)


def _render_saved():
    """Rewrite the md and the docs block from the saved JSON (no fitting)."""
    rows = json.loads((RESULTS / "outlier_real.json").read_text())["rows"]
    text = _markdown(rows)
    (RESULTS / "outlier_real.md").write_text(text)
    write_readme_block("outlier_real", text.splitlines()[2:])


def _split(path, seed):
    data = np.load(path)
    X, y = data["X"], data["y"]
    rng = np.random.RandomState(seed)
    normal = np.flatnonzero(y == 0)
    rng.shuffle(normal)
    n_train = min(int(0.6 * len(normal)), MAX_TRAIN)
    train, test = normal[:n_train], np.concatenate([normal[n_train:], np.flatnonzero(y == 1)])
    selector = VarianceThreshold().fit(X[train])
    scaler = StandardScaler().fit(selector.transform(X[train]))

    def prepare(rows):
        return scaler.transform(selector.transform(X[rows]))

    return prepare(train), prepare(test), y[test]


def _run_set(name, path, seed):
    X_train, X_test, is_anomaly = _split(path, seed)
    rows = []
    for method in [OURS, BASE_ALONE, *PEERS]:
        detector = _detector(method, seed, X_train)
        if detector is None:
            continue
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            detector.fit(X_train)
        fit_s = time.perf_counter() - start
        if method == "PyOD KNN":  # PyOD: decision_function is already "higher = anomalous"
            anomaly_score = detector.decision_function(X_test)
        else:
            anomaly_score = -np.asarray(detector.score_samples(X_test))
        row = dict(
            set=name,
            seed=seed,
            method=method,
            **_ranking(is_anomaly, anomaly_score),
            fit_s=fit_s,
            package_warnings=[str(w.message)[:120] for w in caught if _ours(w)],
        )
        if method == OURS:
            row.update(
                base_family=detector.base_family_,
                network_scale=detector.network_scale_,
                network_gain=detector.network_gain_,
            )
        if method in ("GMM (BIC)", "KDE (CV)"):
            row["normal_loglik"] = float(np.mean(detector.score_samples(X_test[is_anomaly == 0])))
        rows.append(row)
        print(name, seed, method, f"{row['auprc']:.3f}", f"{fit_s:.1f}s", flush=True)
        if method == OURS:
            off = -detector.base_score_samples(X_test)
            rows.append(dict(set=name, seed=seed, method=OURS_OFF, **_ranking(is_anomaly, off)))
    energy = CNCEEnergyModel(random_state=seed)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        energy.fit(X_train)
    normal_rows = X_test[is_anomaly == 0]
    rows.append(
        dict(
            set=name,
            seed=seed,
            method=ENERGY,
            fit_s=time.perf_counter() - start,
            normal_loglik=float(energy.score(normal_rows)),
            base_family=energy.base_family_,
            network_scale=energy.network_scale_,
            network_gain=energy.network_gain_,
            package_warnings=[str(w.message)[:120] for w in caught if _ours(w)],
        )
    )
    print(name, seed, ENERGY, f"{rows[-1]['normal_loglik']:.2f}", flush=True)
    base = BaseAlone(random_state=seed).fit(X_train)
    for method, log_density in [
        (ENERGY_OFF, energy.base_score_samples(normal_rows)),
        (ENERGY_BASE, base.score_samples(normal_rows)),
    ]:
        rows.append(
            dict(set=name, seed=seed, method=method, normal_loglik=float(np.mean(log_density)))
        )
    return rows


def _ranking(is_anomaly, anomaly_score):
    """AUPRC and AUROC of an anomaly score (higher = more anomalous)."""
    return dict(
        auprc=float(average_precision_score(is_anomaly, anomaly_score)),
        auroc=float(roc_auc_score(is_anomaly, anomaly_score)),
    )


def _ours(warning):
    return "sklearn_nce" in str(warning.filename) or type(warning.message).__module__.startswith(
        "sklearn_nce"
    )


class _BICMixture:
    """A BIC-selected ``GaussianMixture`` (full covariance, 1 to 32 components)."""

    def __init__(self, seed):
        self.seed = seed

    def fit(self, X):
        best = None
        for count in (1, 2, 4, 8, 16, 32):
            if count > len(X) // 10 and count > 1:
                break
            mixture = GaussianMixture(count, reg_covar=1e-4, random_state=self.seed).fit(X)
            if best is None or mixture.bic(X) < best.bic(X):
                best = mixture
        self.mixture_ = best
        return self

    def score_samples(self, X):
        return self.mixture_.score_samples(X)


class _CVKernelDensity:
    """``KernelDensity`` with its bandwidth by 5-fold ``GridSearchCV`` on <= 5000 rows."""

    def fit(self, X):
        rows = X[np.random.RandomState(0).permutation(len(X))[:KDE_CV_ROWS]]
        search = GridSearchCV(KernelDensity(), {"bandwidth": np.geomspace(0.05, 3, 20)}, cv=5)
        bandwidth = search.fit(rows).best_params_["bandwidth"]
        self.kde_ = KernelDensity(bandwidth=bandwidth).fit(X)
        return self

    def score_samples(self, X):
        return self.kde_.score_samples(X)


def _detector(method, seed, X_train):
    if method == OURS:
        return NoisierNCEClassifier(random_state=seed)
    if method == BASE_ALONE:
        return BaseAlone(random_state=seed, shrunk_gaussian=False)
    classical = classical_detector(method, seed)
    if classical is not None:
        return classical
    if method == "GMM (BIC)":
        return _BICMixture(seed)
    if method == "KDE (CV)":
        return _CVKernelDensity()
    try:
        from pyod.models.knn import KNN
    except ImportError:
        return None
    return KNN(n_neighbors=5)


def _markdown(rows):
    sets = list(dict.fromkeys(row["set"] for row in rows))
    methods = [OURS, OURS_OFF, BASE_ALONE, *PEERS]
    timed = [OURS, BASE_ALONE, *PEERS]  # the network-off scores come from OURS' fit
    lines = [
        "# Real-data outlier detection (six ODDS sets)",
        "",
        "Mean AUPRC over seeds 0-2 (ADBench protocol; see `benchmarks/outlier_real.py`).",
        "",
        "| set | " + " | ".join(methods) + " | ours: base / kept / gain (nats) |",
        "|---|" + "---:|" * len(methods) + "---|",
    ]
    means = {method: [] for method in methods}
    for name in sets:
        cells = []
        for method in methods:
            values = [r["auprc"] for r in rows if r["set"] == name and r["method"] == method]
            cells.append(f"{np.mean(values):.3f}" if values else "-")
            if values:
                means[method].append(np.mean(values))
        ours = [r for r in rows if r["set"] == name and r["method"] == OURS]
        detail = ", ".join(
            f"{r['base_family']}/{r['network_scale']:.1f}/"
            + ("-" if r["network_gain"] is None else f"{r['network_gain']:.2f}")
            for r in ours
        )
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {detail} |")
    lines.append(
        "| **mean** | "
        + " | ".join(f"**{np.mean(v):.3f}**" if v else "-" for v in means.values())
        + " | |"
    )
    lines += ["", "Mean fit time (s):", "", "| set | " + " | ".join(timed) + " |"]
    lines.append("|---|" + "---:|" * len(timed))
    for name in sets:
        cells = []
        for method in timed:
            values = [r["fit_s"] for r in rows if r["set"] == name and r["method"] == method]
            cells.append(f"{np.mean(values):.2f}" if values else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Held-out mean log-likelihood of the unseen normal rows (mean over seeds):",
        "",
        "| set | " + " | ".join(DENSITIES) + " | energy model: base / kept / gain |",
        "|---|" + "---:|" * len(DENSITIES) + "---|",
    ]
    for name in sets:
        cells = []
        for method in DENSITIES:
            values = [
                r["normal_loglik"] for r in rows if r["set"] == name and r["method"] == method
            ]
            cells.append(f"{np.mean(values):.2f}" if values else "-")
        energy = [r for r in rows if r["set"] == name and r["method"] == DENSITIES[0]]
        detail = ", ".join(
            f"{r['base_family']}/{r['network_scale']:.1f}/"
            + ("-" if r["network_gain"] is None else f"{r['network_gain']:.2f}")
            for r in energy
        )
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {detail} |")
    fits = [r for r in rows if "fit_s" in r]
    warned = sum(bool(r.get("package_warnings")) for r in fits)
    lines += ["", f"Fits with a sklearn_nce warning: {warned} of {len(fits)}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
