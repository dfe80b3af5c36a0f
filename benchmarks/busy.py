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

What the machine itself gives a single-threaded program is measured in the
same run: a reference row trains a (64, 64) MLP in a plain torch loop on one
thread (no sklearn_nce) for a fixed number of steps, about as long as a fit.
Each row also records the CPU seconds the process used, so that what the
scheduler withholds (wall time per CPU second) and what the shared cores cost
per CPU second are read apart.

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
REFERENCE = "reference"
FITS = {
    REFERENCE: "reference: a plain one-thread torch loop, (64, 64) MLP, batch 256",
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
        row = dict(estimator=estimator, fit=FITS[estimator])
        for name, runs in (("idle", idle), ("busy", busy)):
            row[f"{name}_s"] = statistics.median(r["seconds"] for r in runs)
            row[f"{name}_cpu_s"] = statistics.median(r["cpu_seconds"] for r in runs)
            row[f"{name}_all"] = runs
        row["ratio"] = row["busy_s"] / row["idle_s"]
        row["cpu_ratio"] = row["busy_cpu_s"] / row["idle_cpu_s"]
        if estimator != REFERENCE:
            row["against_reference"] = row["ratio"] / rows[0]["ratio"]
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
    """Build the data, pay the one-off costs, then time one default fit (wall and CPU s)."""
    import numpy as np
    import torch

    if estimator == REFERENCE:
        return _reference_once()
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
    start, cpu_start = time.perf_counter(), time.process_time()
    model.fit(X, y) if y is not None else model.fit(X)
    elapsed = time.perf_counter() - start
    assert np.isfinite(elapsed)
    return dict(
        seconds=elapsed, cpu_seconds=time.process_time() - cpu_start, torch_threads=threads_before
    )


def _reference_once(steps=6000):
    """A plain torch training loop on one thread: what any single-threaded program gets."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(30, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 1),
    )
    optimizer = torch.optim.Adam(net.parameters())
    X, y = torch.randn(256, 30), torch.randint(0, 2, (256, 1)).float()
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(net(X), y).backward()
        optimizer.step()
    return dict(
        seconds=time.perf_counter() - start,
        cpu_seconds=time.process_time() - cpu_start,
        torch_threads=1,
    )


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
    return json.loads(completed.stdout.strip().splitlines()[-1])


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
        "The reference row is a plain single-threaded torch loop: its ratio is what this "
        "machine gives any one-thread program. CPU ratio: CPU seconds used busy / idle (above 1: "
        "the same work costs more CPU on shared cores). Rerun with `python benchmarks/busy.py`.",
        "",
        f"| fit | idle (s) | beside {meta['spinners']} busy processes (s) | ratio | "
        "ratio / reference's | CPU ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        against = f"{r['against_reference']:.2f}" if "against_reference" in r else "-"
        lines.append(
            f"| {r['fit']} | {r['idle_s']:.1f} | {r['busy_s']:.1f} | {r['ratio']:.2f} | "
            f"{against} | {r['cpu_ratio']:.2f} |"
        )
    return lines


if __name__ == "__main__":
    main()
