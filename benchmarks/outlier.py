"""Outlier-detection benchmark: NoisierNCEClassifier beside sklearn and PyOD detectors.

Held-out-class protocol, every method on identical splits:

* **Digits** (``load_digits``, 8x8 images, 64 pixels): for each digit d in 0..9
  and each seed, train on a random 80% of the other nine digits
  (``train_test_split(test_size=0.2, random_state=seed)`` of the non-d rows) and
  test on the remaining 20% plus every image of d; d is the anomaly class.
* **Breast cancer** (``load_breast_cancer``): train on 80% of the benign rows,
  test on the other 20% plus malignant rows drawn (per seed) so that malignant
  is 10% of the test rows.
* **Wine** (``load_wine``): each cultivar held out in turn, as for digits.

Every method sits behind the same ``VarianceThreshold() -> StandardScaler()``
pipeline fitted on the training rows (some digit pixels are constant within a
training split; several peers need the filter, ours no longer does), except
the "raw features" rows: LOF and PyOD's k-NN behind ``VarianceThreshold()``
alone, as a user computes distances on pixels that share one unit (ours
standardises inside, whatever it is given). Every
score is turned into "higher = more anomalous" (the negated ``score_samples`` of
sklearn-style detectors and density models, PyOD's ``decision_function`` as it
is) and scored by AUPRC (``average_precision_score``, anomaly = positive) and
AUROC; chance AUPRC is the anomaly share of the test rows. Fit time is the
pipeline's ``fit``.

Methods: ``NoisierNCEClassifier`` at its defaults (M = sqrt(n)), with
``noise_weight=5.0`` (M = K = ``n_noise``, vanilla NCE) and with
``anneal_noise_weight=True``; ``IsolationForest``, ``LocalOutlierFactor(novelty=True)``,
``OneClassSVM(gamma="scale", nu=0.1)``; ``KernelDensity`` (bandwidth by 3-fold
``GridSearchCV``) and ``GaussianMixture`` (full covariance, n_components by
3-fold ``GridSearchCV``); PyOD's ``KNN``, ``ECOD`` and ``AutoEncoder`` (skipped
with a note when PyOD is not installed).

Fits run ``--n-jobs`` at a time (default 2), one torch thread each. Run
``python benchmarks/outlier.py`` (about 15 minutes on 2 cores; ``--quick`` for a
smoke run); ``--digits-epochs`` and ``--digits-seeds`` cut the digits section
down. A row "our base alone" scores the noise our default chooses by held-out
likelihood (``SelectedDensity``), refitted on all the training rows, without
the network; the verdicts also score the default's own fit with its network
switched off (``base_score_samples``: the base fitted on the same rows), to
show what the trained network adds (diagnostics, not peers). Results go to
``benchmarks/results/outlier.{json,md,png}`` and the README's
``BENCHMARK:outlier`` block is rewritten.
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.feature_selection import VarianceThreshold
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KernelDensity
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nce import NoisierNCEClassifier

sys.path.insert(0, str(Path(__file__).parent))
from _shared import BaseAlone, classical_detector, run_meta, write_readme_block  # noqa: E402

RESULTS = Path(__file__).parent / "results"

SEEDS = [0, 1, 2]
CV = 3
KDE_BANDWIDTHS = np.geomspace(0.1, 3, 12)
GMM_COMPONENTS = [1, 2, 4, 8, 16]
N_NOISE = 5
AE_EPOCHS = 10
PICTURE_DIGIT, PICTURE_SEED, N_WORST = 4, 0, 10

OURS = "Noisier (default M = sqrt(n))"
OURS_K = "M = K (vanilla NCE)"
OURS_ANNEAL = "Noisier, annealed M"
OURS_ALL = [OURS, OURS_K, OURS_ANNEAL]
# Diagnostic, not a peer: the noise our default starts from, scored alone
# (f = 0), to show what the trained network adds.
NOISE_ALONE = "our base alone (auto, s = 0)"
# Peers fitted without the StandardScaler, on the features as given: digits'
# pixels share one unit, and a k-NN or LOF user computes distances on them as
# they are (a user test: raw, LOF read 0.914 and k-NN 0.962 mean AUPRC where
# standardised pixels read 0.740 and 0.745, rare pixels weighing as much as
# common ones). Shown on breast cancer and wine too, whose units differ.
RAW = {"LOF (novelty), raw features": "LOF (novelty)", "PyOD KNN, raw features": "PyOD KNN"}
SKLEARN = [
    "IsolationForest",
    "LOF (novelty)",
    "LOF (novelty), raw features",
    "OneClassSVM",
    "KDE (CV)",
    "GMM (CV)",
]
PYOD = ["PyOD KNN", "PyOD KNN, raw features", "PyOD ECOD", "PyOD AutoEncoder"]
METHODS = [*OURS_ALL, NOISE_ALONE, *SKLEARN, *PYOD]
DATASETS = ["digits", "breast_cancer", "wine"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 digits, 1 seed")
    parser.add_argument("--n-jobs", type=int, default=2, help="parallel fits, 1 thread each")
    parser.add_argument(
        "--digits-epochs", default="auto", help='max_epochs of ours on digits ("auto" = default)'
    )
    parser.add_argument("--digits-seeds", type=int, nargs="+", default=SEEDS)
    parser.add_argument(
        "--from-json", type=Path, help="re-render the report from a saved JSON, fitting nothing"
    )
    args = parser.parse_args()
    if args.from_json is not None:
        _render(
            json.loads(args.from_json.read_text()), quick=args.from_json.stem.endswith("quick")
        )
        return
    torch.set_num_threads(1)
    RESULTS.mkdir(exist_ok=True)
    digits_epochs = args.digits_epochs if args.digits_epochs == "auto" else int(args.digits_epochs)
    config = dict(
        seeds={"digits": args.digits_seeds, "breast_cancer": SEEDS, "wine": SEEDS},
        digits_classes=list(range(10)),
        ours_epochs={"digits": digits_epochs, "breast_cancer": "auto", "wine": "auto"},
        ae_epochs=AE_EPOCHS,
    )
    if args.quick:
        config.update(
            seeds={"digits": [0], "breast_cancer": [0], "wine": [0]},
            digits_classes=[PICTURE_DIGIT, 7],
            ours_epochs={"digits": 2, "breast_cancer": 2, "wine": 2},
            ae_epochs=1,
        )
    pyod_note = _pyod_note()
    methods = METHODS if pyod_note is None else [*OURS_ALL, NOISE_ALONE, *SKLEARN]
    wall_start = time.perf_counter()
    jobs = _jobs(config, methods)
    print(f"{len(jobs)} jobs on {args.n_jobs} workers", flush=True)
    rows = Parallel(n_jobs=args.n_jobs, verbose=5)(delayed(_run_job)(*job) for job in jobs)
    total_s = time.perf_counter() - wall_start
    picture = next((row.pop("picture") for row in rows if "picture" in row), None)
    meta = run_meta(
        torch=torch.__version__,
        pyod=_pyod_version(),
        pyod_note=pyod_note,
        torch_threads=1,
        parallel_jobs=args.n_jobs,
        config=config,
        methods=methods,
        cv_folds=CV,
        kde_bandwidths=KDE_BANDWIDTHS.tolist(),
        gmm_components=GMM_COMPONENTS,
        total_runtime_s=total_s,
    )
    summary = _summarise(rows, methods, config)
    suffix = "_quick" if args.quick else ""
    payload = dict(meta=meta, summary=summary, picture=picture, rows=rows)
    (RESULTS / f"outlier{suffix}.json").write_text(json.dumps(payload, indent=1))
    _render(payload, quick=args.quick)
    print(f"total runtime {total_s:.0f} s")


def _render(payload, quick):
    """Markdown, figure and (full runs only) the README block from a result payload."""
    meta, summary, methods = payload["meta"], payload["summary"], payload["meta"]["methods"]
    suffix = "_quick" if quick else ""
    text = _markdown(summary, meta, methods)
    (RESULTS / f"outlier{suffix}.md").write_text(text)
    _plot(summary, payload["picture"], methods, meta["config"], RESULTS / f"outlier{suffix}.png")
    if not quick:
        write_readme_block("outlier", _readme_lines(summary, meta, methods))
    print(text)


def _pyod_note():
    try:
        import pyod  # noqa: F401
        from pyod.models.auto_encoder import AutoEncoder  # noqa: F401
        from pyod.models.ecod import ECOD  # noqa: F401
        from pyod.models.knn import KNN  # noqa: F401
    except ImportError as exc:
        return f"PyOD not available ({exc}); its methods are skipped."
    return None


def _pyod_version():
    try:
        import pyod
    except ImportError:
        return None
    return pyod.__version__


# -- data ----------------------------------------------------------------------


def _load(dataset):
    loader = {"digits": load_digits, "breast_cancer": load_breast_cancer, "wine": load_wine}
    return loader[dataset](return_X_y=True)


def _classes(dataset, config):
    if dataset == "digits":
        return config["digits_classes"]
    if dataset == "wine":
        return [0, 1, 2]
    return [0]  # breast cancer: target 0 is malignant


def _split(dataset, anomaly, seed):
    """Train rows, test rows and the test rows' anomaly labels (1 = anomaly)."""
    X, y = _load(dataset)
    normal = np.flatnonzero(y != anomaly)
    train, test_normal = train_test_split(normal, test_size=0.2, random_state=seed)
    anomalous = np.flatnonzero(y == anomaly)
    if dataset == "breast_cancer":
        # Malignant rows make up 10% of the test rows.
        n_anomalous = int(round(len(test_normal) / 9))
        anomalous = np.random.RandomState(seed).choice(anomalous, n_anomalous, replace=False)
    test = np.concatenate([test_normal, anomalous])
    is_anomaly = np.concatenate([np.zeros(len(test_normal)), np.ones(len(anomalous))])
    return X, y, train, test, is_anomaly.astype(int)


# -- methods -------------------------------------------------------------------


def _detector(method, dataset, seed, config):
    ours_epochs = config["ours_epochs"][dataset]
    if method in OURS_ALL:
        extra = {
            OURS: {},
            OURS_K: dict(noise_weight=float(N_NOISE)),
            OURS_ANNEAL: dict(anneal_noise_weight=True),
        }[method]
        return NoisierNCEClassifier(random_state=seed, max_epochs=ours_epochs, **extra)
    if method == NOISE_ALONE:
        return BaseAlone(random_state=seed, shrunk_gaussian=False)
    method = RAW.get(method, method)  # the same detector, on unscaled features
    classical = classical_detector(method, seed)
    if classical is not None:
        return classical
    if method == "KDE (CV)":
        return GridSearchCV(KernelDensity(), {"bandwidth": KDE_BANDWIDTHS}, cv=CV)
    if method == "GMM (CV)":
        return GridSearchCV(
            GaussianMixture(covariance_type="full", random_state=seed),
            {"n_components": GMM_COMPONENTS},
            cv=CV,
        )
    if method == "PyOD KNN":
        from pyod.models.knn import KNN

        return KNN()
    if method == "PyOD ECOD":
        from pyod.models.ecod import ECOD

        return ECOD()
    if method == "PyOD AutoEncoder":
        from pyod.models.auto_encoder import AutoEncoder

        return AutoEncoder(epoch_num=config["ae_epochs"], verbose=0, random_state=seed)
    raise ValueError(method)


def _ranked(score):
    """Anomaly scores with the non-finite ones ranked, not dropped.

    A -inf log density (a row off a training-constant feature's value) is
    the most anomalous possible: +inf and NaN rank above every finite score,
    -inf below.
    """
    finite = score[np.isfinite(score)]
    high, low = (finite.max() + 1, finite.min() - 1) if len(finite) else (1.0, -1.0)
    score = np.where(np.isnan(score) | (score == np.inf), high, score)
    return np.where(score == -np.inf, low, score)


def _anomaly_score(method, pipeline, X):
    """Higher = more anomalous, for every method."""
    if method.startswith("PyOD"):
        return pipeline.decision_function(X)  # PyOD: higher = more anomalous
    return -pipeline.score_samples(X)  # sklearn / ours: higher = more normal


def _jobs(config, methods):
    """(dataset, anomaly, seed, method, config), slowest first."""
    slow_first = [m for m in OURS_ALL if m in methods] + [m for m in methods if m not in OURS_ALL]
    return [
        (dataset, anomaly, seed, method, config)
        for dataset in DATASETS
        for method in slow_first
        for seed in config["seeds"][dataset]
        for anomaly in _classes(dataset, config)
    ]


def _run_job(dataset, anomaly, seed, method, config):
    torch.set_num_threads(1)
    X, y, train, test, is_anomaly = _split(dataset, anomaly, seed)
    scaler = [] if method in RAW else [StandardScaler()]
    detector = _detector(method, dataset, seed, config)
    pipeline = make_pipeline(VarianceThreshold(), *scaler, detector)
    row = dict(
        dataset=dataset,
        anomaly=int(anomaly),
        seed=int(seed),
        method=method,
        n_train=len(train),
        n_test=len(test),
        n_features_kept=None,
        chance=float(is_anomaly.mean()),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        try:
            pipeline.fit(X[train])
            row["fit_s"] = time.perf_counter() - start
            score = _anomaly_score(method, pipeline, X[test])
            row["error"] = None
        except (ValueError, RuntimeError, np.linalg.LinAlgError) as exc:  # report, do not hide
            row["fit_s"] = time.perf_counter() - start
            row["error"] = f"{type(exc).__name__}: {exc}"[:300]
    row["warnings"] = sorted(
        {f"{w.category.__name__}: {str(w.message).splitlines()[0]}"[:200] for w in caught}
    )
    if row["error"] is not None:
        return row
    row["n_features_kept"] = int(pipeline[0].get_support().sum())
    row["non_finite_scores"] = int((~np.isfinite(score)).sum())
    score = _ranked(score)
    row["auprc"] = float(average_precision_score(is_anomaly, score))
    row["auroc"] = float(roc_auc_score(is_anomaly, score))
    detector = pipeline[-1]
    if isinstance(detector, GridSearchCV):
        row["best_params"] = {k: float(v) for k, v in detector.best_params_.items()}
    if method == OURS:
        # The same fit scored by its base alone (the network switched off).
        off = _ranked(-detector.base_score_samples(pipeline[:-1].transform(X[test])))
        row["auprc_network_off"] = float(average_precision_score(is_anomaly, off))
    if method in OURS_ALL:
        row.update(
            n_iter=int(detector.n_iter_),
            noise_weight=float(detector.noise_weight_),
            network_scale=float(detector.network_scale_),
            base_family=str(detector.base_family_),
            importance_ess=float(detector.importance_ess_),
        )
    if method == OURS and dataset == "digits" and (anomaly, seed) == (PICTURE_DIGIT, PICTURE_SEED):
        worst = np.argsort(-score)[:N_WORST]
        row["picture"] = dict(
            digit=int(anomaly),
            seed=int(seed),
            images=X[test[worst]].tolist(),
            labels=y[test[worst]].tolist(),
            scores=score[worst].tolist(),
        )
    return row


# -- summary -------------------------------------------------------------------


def _stats(values):
    values = np.asarray(values, dtype=float)
    return dict(mean=float(np.mean(values)), std=float(np.std(values)), values=values.tolist())


def _summarise(rows, methods, config):
    """Per dataset and method: per-seed means over the held-out classes, then mean ± std."""
    summary = {}
    for dataset in DATASETS:
        seeds = config["seeds"][dataset]
        classes = _classes(dataset, config)
        block = {}
        for method in methods:
            mine = [r for r in rows if r["dataset"] == dataset and r["method"] == method]
            ok = [r for r in mine if r["error"] is None]
            entry = dict(
                n_runs=len(mine),
                n_errors=len(mine) - len(ok),
                errors=sorted({r["error"] for r in mine if r["error"]}),
                warnings=sorted({w for r in mine for w in r["warnings"]}),
                fit_s=_stats([r["fit_s"] for r in mine]),
            )
            if len(ok) == len(mine):
                for key in ("auprc", "auroc", "chance"):
                    per_seed = [np.mean([r[key] for r in ok if r["seed"] == s]) for s in seeds]
                    entry[key] = _stats(per_seed)
                    entry[f"{key}_per_class"] = {
                        str(c): _stats([r[key] for r in ok if r["anomaly"] == c]) for c in classes
                    }
                entry["per_run"] = {f"{r['anomaly']}/{r['seed']}": r["auprc"] for r in ok}
            if method in OURS_ALL and ok:
                entry["n_iter"] = _stats([r["n_iter"] for r in ok])
                entry["network_scale"] = _stats([r["network_scale"] for r in ok])
                families = [r["base_family"] for r in ok]
                entry["base_families"] = {f: families.count(f) for f in sorted(set(families))}
                entry["noise_weight"] = _stats([r["noise_weight"] for r in ok])
            if method == OURS and len(ok) == len(mine) and ok:
                seeds_off = [
                    np.mean([r["auprc_network_off"] for r in ok if r["seed"] == s]) for s in seeds
                ]
                entry["auprc_network_off"] = _stats(seeds_off)
            if ok and "best_params" in ok[0]:
                entry["best_params"] = [r["best_params"] for r in ok]
            block[method] = entry
        summary[dataset] = block
    return summary


def _pm(stat, fmt=".3f"):
    return f"{stat['mean']:{fmt}} ± {stat['std']:{fmt}}"


def _scored(summary, dataset, methods):
    return [m for m in methods if "auprc" in summary[dataset][m]]


def _verdict(summary, dataset, methods):
    """Plain-text comparison of our default with every peer and with M = K."""
    block = summary[dataset]
    if "auprc" not in block[OURS]:
        return [f"- **{dataset}:** our default did not produce scores ({block[OURS]['errors']})."]
    ours = block[OURS]["auprc"]["mean"]
    peers = [m for m in _scored(summary, dataset, methods) if m not in [*OURS_ALL, NOISE_ALONE]]
    best_peer = max(peers, key=lambda m: block[m]["auprc"]["mean"])
    beaten = [m for m in peers if block[m]["auprc"]["mean"] >= ours]
    ranking = sorted(_scored(summary, dataset, methods), key=lambda m: -block[m]["auprc"]["mean"])
    rank = ranking.index(OURS) + 1
    if not beaten:
        head = (
            f"our default's mean AUPRC {_pm(block[OURS]['auprc'])} **is above every peer** "
            f"in this run (best peer: {best_peer}, {_pm(block[best_peer]['auprc'])})"
        )
    else:
        head = (
            f"our default's mean AUPRC {_pm(block[OURS]['auprc'])} **is not above every peer**: "
            f"{len(beaten)} of {len(peers)} peers score at least as high ("
            + ", ".join(f"{m} {block[m]['auprc']['mean']:.3f}" for m in beaten)
            + f"); it ranks {rank} of {len(ranking)}"
        )
    lines = [f"- **{dataset}:** {head}. Chance {_pm(block[OURS]['chance'])}."]
    if "auprc" in block[OURS_K]:
        k = block[OURS_K]
        diff = np.subtract(block[OURS]["auprc"]["values"], k["auprc"]["values"])
        runs = block[OURS]["per_run"]
        wins = sum(runs[key] > k["per_run"][key] for key in runs)
        word = "beats" if diff.mean() > 0 else "does not beat"
        lines.append(
            f"- **{dataset}, Noisier vs M = K:** Noisier (M = sqrt(n)) {word} M = K: "
            f"{_pm(block[OURS]['auprc'])} against {_pm(k['auprc'])} (paired difference per "
            f"seed {diff.mean():+.3f}; higher in {wins} of {len(runs)} held-out-class runs)."
        )
    # (base scores, verdict title, what they are, who changes them): the base
    # selection refitted on all rows, and the default's own fit, network off.
    bases = [
        (
            block.get(NOISE_ALONE, {}).get("auprc"),
            "what the network adds",
            "the chosen base alone (s = 0, refitted on all the training rows) scores",
            "the trained default",
        ),
        (
            block[OURS].get("auprc_network_off"),
            "the network against its own base",
            "the default fit scored by its base alone (`base_score_samples`: the network "
            "switched off, the base fitted on the same rows) reads",
            "the network",
        ),
    ]
    for base, title, what, changer in bases:
        if base is not None:
            diff = np.subtract(block[OURS]["auprc"]["values"], base["values"]).mean()
            lines.append(
                f"- **{dataset}, {title}:** {what} {_pm(base)}; {changer} changes mean AUPRC "
                f"by {diff:+.3f}."
            )
    return lines


def _fit_ratio_lines(summary, methods):
    lines = []
    for dataset in DATASETS:
        block = summary[dataset]
        ours = block[OURS]["fit_s"]["mean"]
        peers = [m for m in methods if m not in [*OURS_ALL, NOISE_ALONE]]
        ratios = ", ".join(f"{m} {ours / block[m]['fit_s']['mean']:.3g}x" for m in peers)
        lines.append(
            f"- **Fit time, {dataset}:** ours {ours:.1f} s per fit; ours / peer: {ratios}."
        )
    return lines


def _setting(meta):
    config = meta["config"]
    epochs = config["ours_epochs"]["digits"]
    seeds = config["seeds"]
    return (
        f"Held-out-class protocol; digits seeds {seeds['digits']}, breast cancer and wine seeds "
        f"{seeds['wine']}. Every method behind `VarianceThreshold() -> StandardScaler()` "
        "fitted on the training rows (some digit pixels are constant within a training "
        'split), except the "raw features" rows: LOF and k-NN behind `VarianceThreshold()` '
        "alone, distances on pixels as they are (ours standardises inside whatever it is "
        "given). Ours: "
        "`NoisierNCEClassifier(random_state=seed)` (noise: a held-out-likelihood stack, "
        "(64, 64) SiLU MLP, 5 noise draws per row), the same with `noise_weight=5.0` "
        "(M = K, vanilla NCE) and with `anneal_noise_weight=True`; "
        + (
            f"on digits all three run with `max_epochs={epochs}`, on breast cancer and wine at "
            "the default budget (2000 optimiser steps, at most 300 passes)"
            if epochs != "auto"
            else "all three at the default budget (2000 optimiser steps, at most 300 passes) "
            "on every data set"
        )
        + ". Peers: `IsolationForest(random_state=seed)`, `LocalOutlierFactor(novelty=True)`, "
        "`OneClassSVM(gamma='scale', nu=0.1)`, `KernelDensity` (bandwidth in "
        "`geomspace(0.1, 3, 12)` by 3-fold `GridSearchCV`), `GaussianMixture` (full covariance, "
        "n_components in [1, 2, 4, 8, 16] by 3-fold `GridSearchCV`)"
        + (
            f", PyOD {meta['pyod']} `KNN()`, `ECOD()` and `AutoEncoder(epoch_num="
            f"{config['ae_epochs']})`"
            if meta["pyod_note"] is None
            else f"; {meta['pyod_note']}"
        )
        + ". Scores: negated `score_samples` (sklearn, ours), PyOD's `decision_function`; AUPRC "
        f"with the anomaly as the positive class. {meta['parallel_jobs']} fit(s) at a time, "
        "1 torch thread each."
    )


def _markdown(summary, meta, methods):
    config = meta["config"]
    lines = ["# Outlier detection: NoisierNCEClassifier", "", _setting(meta), ""]
    lines += ["## Verdicts", ""]
    for dataset in DATASETS:
        lines += _verdict(summary, dataset, methods)
    lines += _fit_ratio_lines(summary, methods)
    lines += [
        "- The reference figures for this protocol are about 0.75 AUPRC for k-NN distance and "
        "LOF on digits and a chance level of about 0.36; " + _issue_check(summary),
        "",
        "## Mean over held-out classes (mean ± std over seeds)",
        "",
    ]
    header = "| method | " + " | ".join(f"{d} AUPRC | {d} AUROC | {d} fit (s)" for d in DATASETS)
    lines += [header + " |", "|---" * (1 + 3 * len(DATASETS)) + "|"]
    for method in methods:
        cells = []
        for dataset in DATASETS:
            entry = summary[dataset][method]
            if "auprc" in entry:
                cells += [_pm(entry["auprc"]), _pm(entry["auroc"]), _pm(entry["fit_s"], ".2f")]
            else:
                cells += [f"failed ({entry['n_errors']} runs)", "—", _pm(entry["fit_s"], ".2f")]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines.append(
        "| chance | "
        + " | ".join(f"{_pm(summary[d][OURS]['chance'])} | 0.5 | —" for d in DATASETS)
        + " |"
    )
    for dataset, name in (("digits", "digit"), ("wine", "cultivar")):
        classes = [str(c) for c in _classes(dataset, config)]
        lines += [
            "",
            f"## {dataset}: AUPRC per held-out {name} (mean over seeds)",
            "",
            "| method | " + " | ".join(classes) + " | mean |",
            "|---" * (len(classes) + 2) + "|",
        ]
        for method in _scored(summary, dataset, methods):
            entry = summary[dataset][method]
            per = [entry["auprc_per_class"][c]["mean"] for c in classes]
            lines.append(
                f"| {method} | " + " | ".join(f"{v:.3f}" for v in per) + f" | {np.mean(per):.3f} |"
            )
        chance = summary[dataset][OURS]["chance_per_class"]
        lines.append(
            "| chance | " + " | ".join(f"{chance[c]['mean']:.3f}" for c in classes) + " | |"
        )
    lines += ["", "## Diagnostics", ""]
    for dataset in DATASETS:
        for method in OURS_ALL:
            entry = summary[dataset][method]
            if "n_iter" in entry:
                lines.append(
                    f"- {dataset}, {method}: epochs {_pm(entry['n_iter'], '.0f')}, "
                    f"M {_pm(entry['noise_weight'], '.1f')}, network share kept "
                    f"{_pm(entry['network_scale'], '.2f')}, noise chosen "
                    f"{entry['base_families']}."
                )
        for method in ("KDE (CV)", "GMM (CV)"):
            entry = summary[dataset][method]
            if "best_params" in entry:
                chosen = sorted({tuple(p.items()) for p in entry["best_params"]})
                lines.append(f"- {dataset}, {method}: chosen {[dict(c) for c in chosen]}.")
    lines += ["", "Warnings and errors raised during fits (distinct messages):", ""]
    for dataset in DATASETS:
        for method in methods:
            entry = summary[dataset][method]
            for message in entry["errors"] + entry["warnings"]:
                lines.append(f"- {dataset}, {method}: {message}")
    lines += [
        "",
        f"Commit {meta['git_commit']}, torch {meta['torch']}, {meta['machine']}, total runtime "
        f"{meta['total_runtime_s']:.0f} s. Figure: `benchmarks/results/outlier.png`.",
        "",
    ]
    return "\n".join(lines)


def _issue_check(summary):
    block = summary["digits"]
    parts = []
    for method in ("PyOD KNN", "LOF (novelty)"):
        if "auprc" in block.get(method, {}):
            value = block[method]["auprc"]["mean"]
            agrees = "agrees" if abs(value - 0.75) <= 0.05 else "disagrees"
            parts.append(f"{method} scores {value:.3f} here ({agrees})")
    chance = block[OURS]["chance"]["mean"]
    parts.append(
        f"chance is {chance:.3f} here ({'agrees' if abs(chance - 0.36) <= 0.03 else 'disagrees'})"
    )
    return "; ".join(parts) + "."


def _readme_lines(summary, meta, methods):
    lines = [
        _setting(meta)
        + " Full tables: [`benchmarks/results/outlier.md`](benchmarks/results/outlier.md); "
        "figure: `benchmarks/results/outlier.png`; rerun with `python benchmarks/outlier.py`.",
        "",
        "Mean AUPRC over held-out classes (mean ± std over seeds) and fit time per fit:",
        "",
        "| method | digits AUPRC | breast cancer AUPRC | wine AUPRC | digits fit (s) |",
        "|---|---|---|---|---|",
    ]
    for method in methods:
        cells = [
            _pm(summary[d][method]["auprc"]) if "auprc" in summary[d][method] else "failed"
            for d in DATASETS
        ]
        fit = summary["digits"][method]["fit_s"]["mean"]
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {fit:.2f} |")
    lines.append(
        "| chance | " + " | ".join(_pm(summary[d][OURS]["chance"]) for d in DATASETS) + " | — |"
    )
    lines.append("")
    for dataset in DATASETS:
        lines += _verdict(summary, dataset, methods)
    lines += _fit_ratio_lines(summary, methods)[:1]
    lines.append(
        "- Reference figures for this protocol: ~0.75 AUPRC for k-NN and LOF on digits, "
        "chance ~0.36; " + _issue_check(summary)
    )
    return lines


# -- figure --------------------------------------------------------------------


def _plot(summary, picture, methods, config, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    block = summary["digits"]
    scored = _scored(summary, "digits", methods)
    fig = plt.figure(figsize=(13, 5.5))
    grid = fig.add_gridspec(2, 10, height_ratios=[3, 1.3])
    ax = fig.add_subplot(grid[0, :])
    means = [block[m]["auprc"]["mean"] for m in scored]
    stds = [block[m]["auprc"]["std"] for m in scored]
    colours = [
        "tab:red" if m in OURS_ALL else "tab:orange" if m == NOISE_ALONE else "tab:blue"
        for m in scored
    ]
    ax.bar(range(len(scored)), means, yerr=stds, color=colours, capsize=3)
    chance = block[OURS]["chance"]["mean"]
    ax.axhline(chance, color="black", linestyle="--", label=f"chance ({chance:.2f})")
    for k, value in enumerate(means):
        ax.text(k, value + 0.01, f"{value:.2f}", ha="center", fontsize=8)
    ax.set_xticks(range(len(scored)))
    ax.set_xticklabels(scored, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("mean AUPRC")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper right")
    ax.set_title(
        f"Digits, held-out digit ({len(config['digits_classes'])} digits, seeds "
        f"{config['seeds']['digits']}): mean AUPRC (red: ours)"
    )
    if picture is not None:
        for k, (image, label) in enumerate(zip(picture["images"], picture["labels"], strict=True)):
            sub = fig.add_subplot(grid[1, k])
            sub.imshow(np.reshape(image, (8, 8)), cmap="gray_r")
            colour = "tab:red" if label == picture["digit"] else "black"
            sub.set_title(f"true {label}", fontsize=8, color=colour)
            sub.set_xticks([])
            sub.set_yticks([])
        fig.text(
            0.5,
            0.01,
            f"The {len(picture['labels'])} most anomalous test images by our default "
            f"(held-out digit {picture['digit']}, seed {picture['seed']})",
            ha="center",
            fontsize=9,
        )
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
