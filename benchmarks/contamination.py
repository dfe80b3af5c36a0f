"""Contamination benchmark: the share of new inliers that ``predict`` flags.

``contamination=c`` asks an outlier detector to flag about ``c`` of new rows
from the training distribution. Each task trains on inliers only and counts
the share of *new* inliers flagged: ``NoisierNCEClassifier(contamination=c)``
beside ``IsolationForest`` and ``LocalOutlierFactor(novelty=True)`` at the same
``c``, on the same rows, after a ``StandardScaler`` fitted on the training
rows. Ten tasks: two 3-d correlated Gaussians (2000 and 400 training rows,
10 000 new), 5-d blobs (2000, 10 000), a table of six binary flags (1000,
5000), and 60% / 40% splits of scikit-learn's digits, breast cancer's benign
rows and the inliers of four ODDS sets (breastw, ionosphere, satimage2,
shuttle, at most 4000 rows). Seeds 0-7, a new data draw or split each; levels
0.05 and 0.1. Reported: per task the mean, min and max share flagged, and over
tasks the mean distance of the share from the level, in points.

Public API only. Run ``python benchmarks/contamination.py`` (``--quick``: two
seeds, level 0.05); results go to ``benchmarks/results/contamination.{json,md}``,
and the summary to ``docs/benchmarks.rst``.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.datasets import load_breast_cancer, load_digits, make_blobs
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler

from sklearn_nce import NoisierNCEClassifier

sys.path.insert(0, str(Path(__file__).parent))
from _shared import run_meta, write_readme_block  # noqa: E402

RESULTS = Path(__file__).parent / "results"
ODDS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "anomaly"
ODDS_TASKS = ("breastw", "ionosphere", "satimage2", "shuttle")
TASKS = [
    "3-d Gaussian",
    "3-d Gaussian, 400 rows",
    "5-d blobs",
    "binary flags",
    "digits",
    "breast cancer",
    "breastw",
    "ionosphere",
    "satimage2",
    "shuttle",
]
METHODS = ["NoisierNCEClassifier", "IsolationForest", "LOF (novelty)"]
SEEDS = range(8)
LEVELS = (0.05, 0.1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two seeds, level 0.05")
    args = parser.parse_args()
    seeds, levels = (range(2), (0.05,)) if args.quick else (SEEDS, LEVELS)
    tasks = [task for task in TASKS if task not in ODDS_TASKS or ODDS.is_dir()]
    start = time.perf_counter()
    # Two fits at a time, one torch thread each (the machine has two cores).
    runs = Parallel(n_jobs=2)(
        delayed(_one_run)(task, seed, level)
        for task in tasks
        for seed in seeds
        for level in levels
    )
    rows = [row for run in runs for row in run]
    meta = run_meta(seeds=list(seeds), levels=list(levels), runtime_s=time.perf_counter() - start)
    stem = "contamination_quick" if args.quick else "contamination"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(dict(meta=meta, rows=rows), indent=1))
    markdown = _markdown(rows, meta, tasks)
    (RESULTS / f"{stem}.md").write_text(markdown)
    if not args.quick:
        write_readme_block("contamination", markdown.splitlines()[2:])  # after the title
    print(markdown)


def _data(task, seed):
    """(training rows, new inlier rows) of one task and seed."""
    rng = np.random.default_rng(seed)
    if task.startswith("3-d Gaussian"):
        n_train = 400 if task.endswith("400 rows") else 2000
        rows = rng.normal(size=(n_train + 10_000, 3)) @ rng.normal(size=(3, 3))
        return rows[:n_train], rows[n_train:]
    if task == "5-d blobs":
        rows, _ = make_blobs(12_000, 5, centers=4, random_state=seed)
        rows = rows[rng.permutation(len(rows))]
        return rows[:2000], rows[2000:]
    if task == "binary flags":
        rows = (rng.random((6000, 6)) < [0.5, 0.3, 0.2, 0.6, 0.1, 0.4]).astype(float)
        rows[:, 1] = np.where(rng.random(6000) < 0.8, rows[:, 0], rows[:, 1])  # correlated
        return rows[:1000], rows[1000:]
    if task == "digits":
        rows = load_digits().data
    elif task == "breast cancer":
        data = load_breast_cancer()
        rows = data.data[data.target == 1]  # benign
    else:
        data = np.load(ODDS / f"{task}.npz")
        rows = data["X"][data["y"] == 0][:4000]
    rows = rows[rng.permutation(len(rows))]
    n_train = int(0.6 * len(rows))
    return rows[:n_train], rows[n_train:]


def _one_run(task, seed, level):
    """The share of new inliers each method flags at ``level``: one row per method."""
    torch.set_num_threads(1)
    train, new = _data(task, seed)
    scaler = StandardScaler().fit(train)
    train, new = scaler.transform(train), scaler.transform(new)
    detectors = {
        "NoisierNCEClassifier": NoisierNCEClassifier(contamination=level, random_state=seed),
        "IsolationForest": IsolationForest(contamination=level, random_state=seed),
        "LOF (novelty)": LocalOutlierFactor(novelty=True, contamination=level),
    }
    rows = []
    for method, detector in detectors.items():
        started = time.perf_counter()
        detector.fit(train)
        flagged = float(np.mean(detector.predict(new) == -1))
        rows.append(
            dict(
                task=task,
                seed=seed,
                level=level,
                method=method,
                n_train=len(train),
                flagged=flagged,
                fit_s=time.perf_counter() - started,
            )
        )
    return rows


def _markdown(rows, meta, tasks):
    lines = [
        "# Contamination: the share of new inliers flagged",
        "",
        f"Seeds {meta['seeds']}; each method trained on inliers only and scored on new inliers "
        "(see `benchmarks/contamination.py`). Share flagged in %: mean (min-max) over seeds.",
        "",
    ]
    for level in meta["levels"]:
        at_level = [row for row in rows if row["level"] == level]
        lines += [f"## contamination={level}", "", "| task | " + " | ".join(METHODS) + " |"]
        lines.append("|---|" + "---:|" * len(METHODS))
        for task in tasks:
            cells = []
            for method in METHODS:
                shares = [
                    100 * row["flagged"]
                    for row in at_level
                    if row["task"] == task and row["method"] == method
                ]
                cells.append(f"{np.mean(shares):.1f} ({min(shares):.1f}-{max(shares):.1f})")
            lines.append(f"| {task} | " + " | ".join(cells) + " |")
        distances = {
            method: np.mean(
                [
                    np.mean(
                        [
                            abs(100 * (row["flagged"] - level))
                            for row in at_level
                            if row["task"] == task and row["method"] == method
                        ]
                    )
                    for task in tasks
                ]
            )
            for method in METHODS
        }
        lines += [
            "",
            "Mean distance of the share flagged from the level, in points (mean over tasks of "
            "the mean over seeds): "
            + ", ".join(f"{method} {value:.2f}" for method, value in distances.items())
            + ".",
            "",
        ]
    lines.append(
        f"Commit {meta['git_commit']}, {meta['machine']}, runtime {meta['runtime_s']:.0f} s."
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
