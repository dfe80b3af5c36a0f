"""Scaling benchmark: time per epoch and peak memory against rows, beside ``MLPClassifier``.

For n from 10^3 to 10^6 rows of d = 20 features, every estimator is fitted in
a fresh subprocess (one thread for torch and for BLAS, so that the timings
compare like with like on any machine) with early stopping off:

* ``NCEDensityRatio`` on two Gaussian samples of n/2 rows each (the NCE
  classifier) at its default ``batch_size="auto"`` (256 up to 25 600 rows,
  then n/100 up to 4096) and at ``batch_size=256``, and sklearn's
  ``MLPClassifier`` on the same rows and labels with the same hidden sizes
  (64, 64), batch size 256 (sklearn's default is 200: a larger batch makes its
  epochs shorter, so the comparison does not favour us), Adam and epochs;
* ``NoisierNCEClassifier`` and ``CNCEEnergyModel`` (noise "gaussian": the
  BIC mixture search is a one-off cost measured by the energy benchmark, not a
  per-epoch one) on n rows, and ``NoisierNCEClassifier`` at its default noise
  (the held-out-likelihood stack of mixtures, KDEs and Gaussians), whose
  "fit (s)" is what a user waits for on n rows: the one-off selection, the
  epochs and the importance-sampled normaliser;
* ``InfoNCEAnchorMI`` on n pairs (``cv=2``: per-epoch time is per critic) up
  to 10^5 pairs (its B^2 pair scoring makes an epoch over 10^6 pairs take
  minutes).

Time per epoch is the median of the per-epoch durations skorch records
(``history_[:, "dur"]``) over ``EPOCHS`` epochs; for ``MLPClassifier`` the
fit time over its ``max_iter`` epochs (its set-up is negligible). Peak memory
is the largest resident set size sampled every 5 ms during ``fit``, minus the
resident size just before it, in units of the float32 size of X; a one-epoch
warm-up fit on ``WARM_UP_ROWS`` rows in the same process first pays the fixed
costs (imports, torch's first allocations, the heap kept after the first
inference batches), which do not grow with X.
The growth exponent is the slope of log time per epoch against log n from
10^4 rows up.

Run ``python benchmarks/scaling.py`` (about 10 minutes; ``--quick`` stops at
10^4 rows). Results go to ``benchmarks/results/scaling.{json,md,png}`` and the
README's ``BENCHMARK:scaling`` block is rewritten.

``--device cuda`` (or any torch device) compares devices instead: each of our
estimators is fitted on the CPU and on that device in the same run, and
beside ``NCEDensityRatio`` a raw torch loop does the same work on the device
(its MLP, batch size, Adam and logistic loss, epochs over the same rows, no
skorch and no per-step host read): a reference for the cost of the loop itself.
Results go to ``benchmarks/results/scaling_<device>.{json,md}`` (and
``$BENCHMARK_OUT``), rewritten after every row; ``--max-rows`` caps the sizes,
``--device-only`` leaves the CPU rows out (see ``gpu_check.py`` for the
device machine's recipe).
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _shared import (  # noqa: E402
    device_meta,
    run_meta,
    short_commit,
    write_device_results,
    write_readme_block,
)

RESULTS = Path(__file__).parent / "results"
N_FEATURES = 20
EPOCHS = 3
# One warm-up epoch on this many rows before the measured fit: two of the
# package's 4096-row inference batches at least.
WARM_UP_ROWS = 16_384
SIZES = [1_000, 10_000, 100_000, 1_000_000]
# InfoNCE scores B^2 pairs per batch: an epoch over 10^6 pairs takes minutes.
MI_MAX_ROWS = 100_000
MLP = "MLPClassifier (sklearn)"
EQUAL_BATCH = "NCEDensityRatio (batch_size=256)"
DEFAULT_NOISE = "NoisierNCEClassifier (default noise)"
ESTIMATORS = [
    "NCEDensityRatio",
    EQUAL_BATCH,
    MLP,
    "NoisierNCEClassifier",
    DEFAULT_NOISE,
    "CNCEEnergyModel",
    "InfoNCEAnchorMI",
]
# Single-threaded BLAS and torch in every worker.
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="stop at 10^4 rows")
    parser.add_argument(
        "--device", help="compare the CPU with this torch device (e.g. cuda) instead"
    )
    parser.add_argument("--max-rows", type=int, help="leave out sizes above this")
    parser.add_argument(
        "--device-only",
        action="store_true",
        help="with --device, leave the CPU rows out (gpu_check.py compares default fits)",
    )
    parser.add_argument(
        "--worker", nargs=3, metavar=("ESTIMATOR", "N", "DEVICE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker is not None:
        name, n, device = args.worker
        print(json.dumps(_measure(name, int(n), device)))
        return
    sizes = SIZES[:2] if args.quick else SIZES
    sizes = [n for n in sizes if args.max_rows is None or n <= args.max_rows]
    if args.device is not None:
        _compare_devices(sizes, args.device, args.quick, args.device_only)
        return
    wall_start = time.perf_counter()
    rows = _run_all(sizes, ESTIMATORS, ["cpu"])
    meta = _meta(sizes, wall_start)
    import sklearn
    import torch

    meta.update(torch=torch.__version__, sklearn=sklearn.__version__)
    summary = _summarise(rows)
    suffix = "_quick" if args.quick else ""
    payload = dict(meta=meta, summary=summary, rows=rows)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"scaling{suffix}.json").write_text(json.dumps(payload, indent=1))
    text = _markdown(summary, rows, meta)
    (RESULTS / f"scaling{suffix}.md").write_text(text)
    _plot(rows, RESULTS / f"scaling{suffix}.png")
    if not args.quick:
        write_readme_block("scaling", _readme_lines(summary, rows))
    print(text)


def _compare_devices(sizes, device, quick, device_only=False):
    """Our estimators on the CPU and on ``device``, same run, same rows; writes the results.

    Written after every row: the device tool stops a command at 10 minutes,
    and a run cut there kept nothing (a review).
    """
    wall_start = time.perf_counter()
    ours = [estimator for estimator in ESTIMATORS if estimator != MLP]

    def write(rows, echo=False):
        meta = _meta(sizes, wall_start, **device_meta(device))
        markdown = _device_markdown(rows, meta)
        write_device_results("scaling", meta, rows, markdown, quick, echo=echo)

    rows = _run_all(sizes, ours, [device] if device_only else ["cpu", device], on_row=write)
    write(rows, echo=True)


def _run_all(sizes, estimators, devices, on_row=None):
    """Each estimator at each size on each device, in fresh workers, printed as they come.

    ``on_row(rows)`` is called with the rows so far after each one.
    """
    rows = []
    for n in sizes:
        for estimator in estimators:
            if estimator == "InfoNCEAnchorMI" and n > MI_MAX_ROWS:
                continue
            for device in devices:
                row = {**_run_worker(estimator, n, device), "device": device}
                print(json.dumps(row), flush=True)
                rows.append(row)
                if on_row is not None:
                    on_row(rows)
    return rows


def _meta(sizes, wall_start, **extra):
    """The run's metadata: git state and machine, the sizes and settings, the wall time."""
    return run_meta(
        cpu_count=os.cpu_count(),
        sizes=sizes,
        n_features=N_FEATURES,
        epochs=EPOCHS,
        total_runtime_s=time.perf_counter() - wall_start,
        **extra,
    )


def _run_worker(estimator, n, device="cpu"):
    """One measurement in a fresh interpreter, so that peak memory starts clean."""
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", estimator, str(n), device],
        capture_output=True,
        text=True,
        env={**os.environ, **THREAD_ENV},
        check=False,
    )
    if completed.returncode != 0:
        return dict(estimator=estimator, n=n, error=completed.stderr.strip()[-500:])
    return json.loads(completed.stdout.strip().splitlines()[-1])


# -- the worker ----------------------------------------------------------------
def _measure(name, n, device="cpu"):
    import torch

    torch.set_num_threads(1)
    X, y = _data(name, n)
    estimator = _on_device(_estimator(name), device)
    sampler = _PeakRSS()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Warm-up: lazy imports, torch's first allocations and the heap the
        # allocator keeps after the first inference batches (the fit's
        # weights pass; ~10 MB here) are a fixed cost, not memory that grows
        # with X. WARM_UP_ROWS makes the warm-up fit run both.
        X_warm, y_warm = _data(name, WARM_UP_ROWS)
        _on_device(_estimator(name), device).set_params(**_one_epoch(name)).fit(X_warm, y_warm)
        before = _rss_bytes()
        with sampler:
            tic = time.perf_counter()
            estimator.fit(X, y)
            fit_s = time.perf_counter() - tic
    x_bytes = n * N_FEATURES * 4 * (2 if name == "InfoNCEAnchorMI" else 1)
    if name == MLP:
        epochs = int(estimator.n_iter_)
        per_epoch = fit_s / epochs
    else:
        # InfoNCEAnchorMI keeps one history per cross-fitted critic.
        from skorch.history import History

        histories = estimator.history_
        histories = [histories] if isinstance(histories, History) else histories
        durations = [d for history in histories for d in history[:, "dur"]]
        epochs = len(durations)
        per_epoch = float(np.median(durations))
    row = dict(
        estimator=name,
        n=n,
        fit_s=fit_s,
        epochs=epochs,
        s_per_epoch=per_epoch,
        peak_over_x=(sampler.peak - before) / x_bytes,
        x_float32_mb=x_bytes / 2**20,
    )
    if name == "NCEDensityRatio":
        row["raw_torch_s_per_epoch"] = _raw_torch_epoch_s(X, y, estimator.batch_size_, device)
    return row


def _on_device(estimator, device):
    """``estimator`` set to fit on ``device`` (sklearn's MLP, which has no device, as it is)."""
    if device == "cpu" or "device" not in estimator.get_params():
        return estimator
    return estimator.set_params(device=device)


def _raw_torch_epoch_s(X, y, batch_size, device):
    """Median seconds per epoch of a bare torch loop doing ``NCEDensityRatio``'s work.

    The default critic's shape ((64, 64), SiLU), Adam at its learning rate,
    the logistic loss of balanced labels, ``EPOCHS`` shuffled passes of
    ``batch_size`` rows on ``device``; the losses stay on the device (read
    once at the end), and each epoch is timed after a device synchronisation.
    """
    import torch

    torch.manual_seed(0)
    X = torch.as_tensor(X, device=device)
    y = torch.as_tensor(y, dtype=torch.float32, device=device)
    critic = torch.nn.Sequential(
        torch.nn.Linear(X.shape[1], 64),
        torch.nn.SiLU(),
        torch.nn.Linear(64, 64),
        torch.nn.SiLU(),
        torch.nn.Linear(64, 1),
    ).to(device)
    optimizer = torch.optim.Adam(critic.parameters(), lr=1e-3)
    durations, total = [], torch.zeros((), device=device)
    for _ in range(EPOCHS):
        _synchronise(device)
        tic = time.perf_counter()
        for batch in torch.randperm(len(X), device=device).split(batch_size):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                critic(X[batch]).squeeze(-1), y[batch]
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach()
        _synchronise(device)
        durations.append(time.perf_counter() - tic)
    assert np.isfinite(float(total))
    return float(np.median(durations))


def _synchronise(device):
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _data(name, n):
    rng = np.random.RandomState(0)
    if name == "InfoNCEAnchorMI":
        X = rng.standard_normal((n, N_FEATURES)).astype(np.float32)
        y = (0.5 * X + rng.standard_normal((n, N_FEATURES))).astype(np.float32)
        return X, y
    X = rng.standard_normal((n, N_FEATURES)).astype(np.float32)
    y = np.arange(n) % 2
    X[y == 1] += np.float32(0.5)
    if name in ("NoisierNCEClassifier", DEFAULT_NOISE, "CNCEEnergyModel"):
        return X, None
    return X, y


def _one_epoch(name):
    return {"max_iter": 1} if name == MLP else {"max_epochs": 1}


def _estimator(name):
    from sklearn.neural_network import MLPClassifier

    from sklearn_nce import (
        CNCEEnergyModel,
        InfoNCEAnchorMI,
        NCEDensityRatio,
        NoisierNCEClassifier,
    )

    common = dict(max_epochs=EPOCHS, early_stopping=False, random_state=0)
    if name == "NCEDensityRatio":
        return NCEDensityRatio(**common)
    if name == EQUAL_BATCH:
        return NCEDensityRatio(batch_size=256, **common)
    if name == MLP:
        return MLPClassifier(
            hidden_layer_sizes=(64, 64),
            batch_size=256,
            max_iter=EPOCHS,
            tol=0.0,
            n_iter_no_change=EPOCHS + 1,
            random_state=0,
        )
    if name == "NoisierNCEClassifier":
        return NoisierNCEClassifier(noise="gaussian", **common)
    if name == DEFAULT_NOISE:
        return NoisierNCEClassifier(**common)
    if name == "CNCEEnergyModel":
        return CNCEEnergyModel(noise="gaussian", base="gaussian", **common)
    if name == "InfoNCEAnchorMI":
        return InfoNCEAnchorMI(cv=2, **common)
    raise ValueError(name)


def _rss_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _PeakRSS:
    """Sample the resident set size every 5 ms in a thread; ``peak`` after exit."""

    def __enter__(self):
        self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss_bytes())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())


# -- report ------------------------------------------------------------------
def _summarise(rows):
    """Per estimator: growth exponent from 10^4 rows up; per size: ratio to the MLP."""
    ok = [row for row in rows if "error" not in row]
    summary = {}
    mlp = {row["n"]: row["s_per_epoch"] for row in ok if row["estimator"] == MLP}
    for name in ESTIMATORS:
        mine = sorted((row["n"], row["s_per_epoch"]) for row in ok if row["estimator"] == name)
        large = [(n, t) for n, t in mine if n >= 10_000]
        exponent = None
        if len(large) >= 2:
            exponent = float(
                np.polyfit(np.log([n for n, _ in large]), np.log([t for _, t in large]), 1)[0]
            )
        summary[name] = dict(
            exponent=exponent,
            ratio_to_mlp={str(n): t / mlp[n] for n, t in mine if n in mlp},
            peak_over_x={
                str(row["n"]): row["peak_over_x"] for row in ok if row["estimator"] == name
            },
        )
    return summary


def _markdown(summary, rows, meta):
    lines = [
        "# Scaling: time per epoch and peak memory",
        "",
        f"d = {meta['n_features']} features, {meta['epochs']} epochs per fit, early stopping off, "
        "one thread for torch and BLAS, every fit in a fresh subprocess, run one after another. "
        "`MLPClassifier` with the same (64, 64) hidden layers, batch 256 and Adam on the same "
        'rows as `NCEDensityRatio`, which runs at its default `batch_size="auto"` (256 up to '
        "25,600 rows, then n/100 up to 4096) and at 256. "
        'Energy and outlier models use `noise="gaussian"`, and the outlier model also its '
        "default noise (fit time includes its one-off base selection); "
        "`InfoNCEAnchorMI` uses `cv=2` and stops at "
        f"{MI_MAX_ROWS:,} pairs. Peak memory: largest RSS during `fit` minus RSS before it "
        f"(after a one-epoch warm-up fit on {WARM_UP_ROWS:,} rows in the same process), "
        "over the float32 size of X (X and y for MI); at 10^3 and 10^4 rows X is under 1 MB, "
        "so there the ratio mostly reflects what the allocator reuses from the warm-up. "
        f"{meta['machine']}, {meta['cpu_count']} CPUs, torch {meta['torch']}, sklearn "
        f"{meta['sklearn']}; total {meta['total_runtime_s']:.0f} s; commit "
        f"{short_commit(meta)}.",
        "",
        "| estimator | n | s / epoch | ratio to MLPClassifier | peak memory / X | fit (s) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        if "error" in row:
            lines.append(
                f"| {row['estimator']} | {row['n']:,} | error: {row['error'][:80]} | | | |"
            )
            continue
        ratio = summary[row["estimator"]]["ratio_to_mlp"].get(str(row["n"]))
        lines.append(
            f"| {row['estimator']} | {row['n']:,} | {row['s_per_epoch']:.3g} | "
            f"{'—' if ratio is None else f'{ratio:.2f}'} | {row['peak_over_x']:.2f} | "
            f"{row['fit_s']:.1f} |"
        )
    lines += ["", "Growth exponent of time per epoch (slope of log-log, from 10^4 rows up):", ""]
    for name, entry in summary.items():
        value = "—" if entry["exponent"] is None else f"{entry['exponent']:.2f}"
        lines.append(f"- {name}: {value}")
    return "\n".join(lines) + "\n"


def _device_markdown(rows, meta):
    """The CPU beside the device: time per epoch and per fit, and the raw torch loop."""
    device = meta["device"]
    lines = [
        f"# Scaling on {device} ({meta['device_name']}) beside the CPU",
        "",
        f"d = {meta['n_features']} features, {meta['epochs']} epochs per fit, early stopping "
        'off, defaults otherwise (energy and outlier models with `noise="gaussian"`, '
        "`InfoNCEAnchorMI` with `cv=2`); one torch thread on the CPU; every fit in a fresh "
        "subprocess after a one-epoch warm-up fit in it. Raw torch: the same critic, batch "
        "size, Adam and logistic loss as `NCEDensityRatio` in a bare loop on the device, "
        "losses read once at the end; a reference, not a bound (torch's default Adam, where "
        "the package steps a fused one: on one CPU thread at 10^4 rows the bare loop took "
        f"0.0166 s per epoch, the package 0.0132). {meta['machine']}, {meta['cpu_count']} "
        "CPUs; total "
        f"{meta['total_runtime_s']:.0f} s; commit {short_commit(meta)}.",
        "",
        f"| estimator | n | s / epoch, CPU | s / epoch, {device} | CPU / {device} | "
        f"raw torch s / epoch, {device} | fit (s), CPU | fit (s), {device} |",
        "|---|---|---|---|---|---|---|---|",
    ]
    keys = list(dict.fromkeys((row["estimator"], row["n"]) for row in rows))
    for estimator, n in keys:
        by_device = {
            row["device"]: row for row in rows if (row["estimator"], row["n"]) == (estimator, n)
        }
        cpu, other = by_device.get("cpu", {}), by_device.get(device, {})
        if "error" in cpu or "error" in other:
            error = (cpu.get("error") or other.get("error"))[:80]
            lines.append(f"| {estimator} | {n:,} | error: {error} | | | | | |")
            continue
        raw = other.get("raw_torch_s_per_epoch")
        ratio = (
            cpu["s_per_epoch"] / other["s_per_epoch"] if cpu and other else None
        )  # a --device-only run, or a run cut between the two rows, has one
        lines.append(
            f"| {estimator} | {n:,} | {_cell(cpu, 's_per_epoch', '.3g')} | "
            f"{_cell(other, 's_per_epoch', '.3g')} | "
            f"{'—' if ratio is None else f'{ratio:.2f}'} | "
            f"{'—' if raw is None else f'{raw:.3g}'} | {_cell(cpu, 'fit_s', '.2f')} | "
            f"{_cell(other, 'fit_s', '.2f')} |"
        )
    return "\n".join(lines) + "\n"


def _cell(row, key, spec):
    """``row[key]`` formatted by ``spec``, or a dash where the row was not measured."""
    return format(row[key], spec) if key in row else "—"


def _readme_lines(summary, rows):
    ratio = summary["NCEDensityRatio"]["ratio_to_mlp"]
    equal = summary[EQUAL_BATCH]["ratio_to_mlp"]
    peaks = summary["NCEDensityRatio"]["peak_over_x"]
    return [
        "Time per epoch against rows (d = 20, one thread; `MLPClassifier` at batch 256; "
        "[full table](benchmarks/results/scaling.md)):",
        "",
        "- `NCEDensityRatio` / `MLPClassifier` time per epoch, at our default "
        '`batch_size="auto"`: '
        + ", ".join(f"{int(n):,} rows {r:.2f}x" for n, r in ratio.items())
        + "; at an equal batch of 256: "
        + ", ".join(f"{int(n):,} rows {r:.2f}x" for n, r in equal.items())
        + ".",
        "- Growth exponents from 10^4 rows: "
        + ", ".join(
            f"{name} {entry['exponent']:.2f}"
            for name, entry in summary.items()
            if entry["exponent"] is not None and name != DEFAULT_NOISE
        )
        + ".",
        "- `NCEDensityRatio` peak memory during fit over the float32 size of X: "
        + ", ".join(f"{int(n):,} rows {p:.2f}" for n, p in peaks.items())
        + f" (above the level after a one-epoch warm-up fit on {WARM_UP_ROWS:,} rows; "
        "X is under 1 MB up to 10^4 rows, so there the ratio is mostly allocator noise).",
        "",
        "![Scaling](benchmarks/results/scaling.png)",
    ]


def _plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    for name in ESTIMATORS:
        points = sorted(
            (row["n"], row["s_per_epoch"])
            for row in rows
            if row["estimator"] == name and "error" not in row
        )
        if points:
            ax.plot(
                *zip(*points, strict=True),
                marker="o",
                label=name,
                linestyle="--" if name == MLP else "-",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows n (d = 20)")
    ax.set_ylabel("seconds per epoch (one thread)")
    ax.legend(fontsize=8)
    ax.set_title("Time per epoch against rows")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
