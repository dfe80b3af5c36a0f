"""Busy-machine benchmark: default fits on an idle CPU and beside two spinning processes.

Users run fits next to other work: a grid search's other jobs, a notebook's
kernel, a build. Torch's default of one intra-op thread per core spins when the
cores are shared (``InfoNCEAnchorMI(cv=2)`` on 2000 pairs took 197 s beside two
busy processes on 2 cores, against 14.4 s with one thread); every fit of this
package therefore runs on one thread. This benchmark measures what is left:
each estimator at its defaults, in a fresh interpreter with torch's thread
settings untouched (no ``OMP_NUM_THREADS``), timed idle and while two other
processes spin (``while True: pass``), three times each (the median is
reported). Imports and torch's one-off first-optimizer cost are paid before the
clock starts. On ``os.cpu_count()`` cores the fair share beside two spinning
processes is ``min(1, cores / 3)`` of a core: 2/3 on 2 cores, so a ratio of 1.5
is what a perfectly fair scheduler gives a single-threaded fit there.

Run ``python benchmarks/busy.py`` (about 5 minutes on 2 cores); results go to
``benchmarks/results/busy.{json,md}`` and the ``BENCHMARK:busy`` block of
``docs/benchmarks.rst``.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _shared import run_meta, write_readme_block  # noqa: E402

RESULTS = Path(__file__).parent / "results"
REPEATS = 3
SPINNERS = 2
FITS = {
    "InfoNCEAnchorMI": "InfoNCEAnchorMI() on 2000 sine pairs",
    "NCEDensityRatio": "NCEDensityRatio() on 2 x 5000 rows (20-d mean shift, KL 2.5)",
    "CNCEEnergyModel": "CNCEEnergyModel() on breast cancer (569 x 30)",
    "NoisierNCEClassifier": "NoisierNCEClassifier() on breast cancer (569 x 30)",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", metavar="ESTIMATOR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(_fit_once(args.worker)))
        return
    wall_start = time.perf_counter()
    rows = []
    for estimator in FITS:
        idle = [_run_worker(estimator) for _ in range(REPEATS)]
        with _spinning(SPINNERS):
            busy = [_run_worker(estimator) for _ in range(REPEATS)]
        row = dict(
            estimator=estimator,
            fit=FITS[estimator],
            idle_s=statistics.median(idle),
            busy_s=statistics.median(busy),
            idle_all=idle,
            busy_all=busy,
        )
        row["ratio"] = row["busy_s"] / row["idle_s"]
        print(json.dumps(row), flush=True)
        rows.append(row)
    meta = run_meta(
        cpu_count=os.cpu_count(),
        spinners=SPINNERS,
        repeats=REPEATS,
        total_runtime_s=time.perf_counter() - wall_start,
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "busy.json").write_text(json.dumps(dict(meta=meta, rows=rows), indent=1))
    lines = _markdown(rows, meta)
    (RESULTS / "busy.md").write_text("\n".join(["# Busy-machine benchmark", "", *lines]) + "\n")
    write_readme_block("busy", lines)
    print("\n".join(lines))


def _fit_once(estimator):
    """Build the data, pay the one-off costs, then time one default fit (seconds)."""
    import numpy as np
    import torch
    from sklearn.datasets import load_breast_cancer

    import sklearn_nce
    from sklearn_nce.datasets import make_mean_shift, make_noisy_relation

    # torch imports torch._dynamo at the first optimizer of a process (0.7-1 s).
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
    if estimator == "InfoNCEAnchorMI":
        X, y, _ = make_noisy_relation(2000, "sine", random_state=0)
    elif estimator == "NCEDensityRatio":
        X, y = make_mean_shift(20, 2.5).sample(5000, 5000, random_state=0)
    else:
        X, y = load_breast_cancer(return_X_y=True)
        y = None
    model = getattr(sklearn_nce, estimator)(random_state=0)
    threads_before = torch.get_num_threads()
    start = time.perf_counter()
    model.fit(X, y) if y is not None else model.fit(X)
    elapsed = time.perf_counter() - start
    assert np.isfinite(elapsed)
    return dict(seconds=elapsed, torch_threads=threads_before)


def _run_worker(estimator):
    """One timed fit in a fresh interpreter, torch's thread settings as a user gets them."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", estimator],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])["seconds"]


class _spinning:
    """Context manager: ``n`` processes running ``while True: pass`` until exit."""

    def __init__(self, n):
        self.n = n
        self.processes = []

    def __enter__(self):
        self.processes = [
            subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(self.n)
        ]
        time.sleep(1.0)  # let them reach the scheduler
        return self

    def __exit__(self, *exc):
        for process in self.processes:
            process.kill()
            process.wait()


def _markdown(rows, meta):
    lines = [
        f"Each estimator at its defaults in a fresh interpreter (torch's thread settings "
        f"untouched), timed idle and beside {meta['spinners']} spinning processes, median of "
        f"{meta['repeats']}; {meta['cpu_count']} cores, where a fair scheduler gives a "
        "single-threaded fit a busy/idle ratio of "
        f"{max(1.0, (meta['spinners'] + 1) / meta['cpu_count']):.2f}. "
        "Rerun with `python benchmarks/busy.py`.",
        "",
        "| fit | idle (s) | beside 2 busy processes (s) | ratio |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r['fit']} | {r['idle_s']:.1f} | {r['busy_s']:.1f} | {r['ratio']:.2f} |" for r in rows
    ]
    return lines


if __name__ == "__main__":
    main()
