"""The GPU check of issue 32: same answers and default-fit times, CPU beside a device.

One prepared script for a session lent a device machine (about 15 minutes of
device time in all). For each estimator at its defaults it fits the same rows
with the same ``random_state`` on the CPU and on ``--device``, in this
process, and reports both fit times, how far the answers differ and what the
fits' CUDA graphs did (batch shapes captured, steps replayed, or why a fit
stepped eagerly):

* ``NCEDensityRatio()`` on two samples of ``n`` rows (20-d mean shift, KL 2.5):
  the largest difference of the log ratio on 2000 new rows;
* ``InfoNCEAnchorMI()`` on 5000 pairs (issue 32's target there: 3 s on a GPU)
  and, with ``--large``, on ``n`` pairs: ``mi_``;
* ``CNCEEnergyModel()`` and ``NoisierNCEClassifier()`` on ``n`` rows of a
  Gaussian mixture: the held-out mean log-likelihood.

Run on the device machine from the repository root, as two calls (one command
may run 10 minutes, and all calls share ~15 minutes of device time, the
machine's start included). skorch and tabulate travel as wheels in ``.whl``
(``pip download skorch tabulate --no-deps -d .whl`` here, then ``carry``
it; see the device tool's README); the checkout travels without ``.git``, so
the commit comes in ``SKLEARN_NCE_COMMIT``, and every row is written into
``$BENCHMARK_OUT`` as it comes, so that a call stopped at its limit still
returns what it measured::

    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl &&
    export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 BENCHMARK_OUT=$OUT \
        SKLEARN_NCE_COMMIT=<the commit here> &&
    python3 benchmarks/gpu_check.py --device cuda 2>&1 | tee $OUT/gpu_check.log

then the same setup and ``python3 benchmarks/scaling.py --device cuda
--device-only 2>&1 | tee $OUT/scaling.log`` (the CPU's default fits are in
the first call's table; ``--large`` adds MI on ``--n`` pairs if time is left).
Measured here on one CPU thread, the first call's CPU half takes ~85 s at
``--n`` 100 000 and the scaling sweep's CPU half ~220 s, which
``--device-only`` leaves out.

Here, ``python benchmarks/gpu_check.py --device cpu`` runs the same code on
the CPU twice (a smoke test: every difference 0). Results go to
``benchmarks/results/gpu_check_<device>.{json,md}``.
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _shared import device_meta, run_meta, short_commit, write_device_results  # noqa: E402

MI_PAIRS = 5000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="torch device beside the CPU")
    parser.add_argument("--n", type=int, default=100_000, help="rows of the large fits")
    parser.add_argument("--large", action="store_true", help="also MI on --n pairs")
    parser.add_argument("--quick", action="store_true", help="2000 rows (a smoke test)")
    args = parser.parse_args()
    n = 2000 if args.quick else args.n
    _warm_up(args.device)
    rows = []
    meta = run_meta(n=n, **device_meta(args.device))
    for name, fit_and_read in _checks(n, args.large).items():
        row = dict(check=name)
        answers = {}
        for where in ("cpu", args.device):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tic = time.perf_counter()
                answer, model = fit_and_read(where)
                row[f"fit_s_{where}"] = time.perf_counter() - tic
                answers[where] = np.asarray(answer, dtype=float)
                row[f"graphs_{where}"] = _graph_summary(model)
        row["max_abs_difference"] = float(np.max(np.abs(answers["cpu"] - answers[args.device])))
        row["answer_cpu"] = float(np.mean(answers["cpu"]))
        print(json.dumps(row), flush=True)
        rows.append(row)
        write_device_results(
            "gpu_check", meta, rows, _markdown(rows, meta), args.quick, echo=False
        )
    print(_markdown(rows, meta))


def _warm_up(device):
    """One tiny fit per device, untimed: CUDA's context and cuBLAS start on the first one."""
    from sklearn_nce import NCEDensityRatio
    from sklearn_nce.datasets import make_mean_shift

    X, y = make_mean_shift(n_features=2, kl=1.0).sample(200, 200, random_state=0)
    for where in ("cpu", device):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            NCEDensityRatio(max_epochs=2, device=where, random_state=0).fit(X, y)


def _checks(n, large):
    """``{name: fit_and_read(device) -> (answer array, model)}``, each fit at the defaults."""
    from sklearn_nce import CNCEEnergyModel, InfoNCEAnchorMI, NCEDensityRatio, NoisierNCEClassifier
    from sklearn_nce.datasets import make_mean_shift

    pair = make_mean_shift(n_features=20, kl=2.5)
    X_ratio, y_ratio = pair.sample(n, n, random_state=0)
    X_ratio_new, _ = pair.sample(0, 2000, random_state=1)
    X_density, X_density_new = _mixture(n, 0), _mixture(2000, 1)

    def ratio(device):
        model = NCEDensityRatio(device=device, random_state=0).fit(X_ratio, y_ratio)
        return model.predict_log_ratio(X_ratio_new), model

    def mutual_info(n_pairs):
        x, y = _pairs(n_pairs)

        def fit_and_read(device):
            model = InfoNCEAnchorMI(device=device, random_state=0).fit(x, y)
            return [model.mi_], model

        return fit_and_read

    def density(estimator_class):
        def fit_and_read(device):
            model = estimator_class(device=device, random_state=0).fit(X_density)
            return [model.score_samples(X_density_new).mean()], model

        return fit_and_read

    checks = {
        f"NCEDensityRatio() on 2 x {n:,} rows": ratio,
        f"InfoNCEAnchorMI() on {MI_PAIRS:,} pairs": mutual_info(MI_PAIRS),
        f"CNCEEnergyModel() on {n:,} rows": density(CNCEEnergyModel),
        f"NoisierNCEClassifier() on {n:,} rows": density(NoisierNCEClassifier),
    }
    if large:
        checks[f"InfoNCEAnchorMI() on {n:,} pairs"] = mutual_info(n)
    return checks


def _graph_summary(model):
    """What the fit's CUDA graphs did, from its nets' ``cuda_graph_report_`` ("-": none tried)."""
    nets = getattr(model, "nets_", None) or [model.net_]
    reports = [getattr(net, "cuda_graph_report_", None) for net in nets]
    if all(report is None for report in reports):
        return "-"
    parts = []
    for report in filter(None, reports):
        failure = f", eager: {report['failure']}" if report["failure"] else ""
        parts.append(f"{report['shapes']} shapes, {report['replays']} replays{failure}")
    return "; ".join(dict.fromkeys(parts))


def _mixture(n, seed):
    """``n`` rows of a 10-d mixture of three Gaussians."""
    rng = np.random.RandomState(seed)
    centres = np.random.RandomState(100).normal(scale=3.0, size=(3, 10))
    return centres[rng.randint(3, size=n)] + rng.standard_normal((n, 10))


def _pairs(n):
    """``n`` pairs of a 5-d Gaussian with correlation 0.8 per coordinate."""
    rng = np.random.RandomState(0)
    x = rng.standard_normal((n, 5))
    return x, 0.8 * x + 0.6 * rng.standard_normal((n, 5))


def _markdown(rows, meta):
    device = meta["device"]
    lines = [
        f"# Default fits on the CPU and on {device} ({meta['device_name']})",
        "",
        "Same rows, same `random_state`, one process; one torch thread on the CPU (the "
        f"package's fit policy). torch {meta['torch']}; {meta['machine']}; commit "
        f"{short_commit(meta)}.",
        "",
        f"| fit | CPU (s) | {device} (s) | CPU / {device} | answer (CPU) | largest difference "
        f"| CUDA graphs on {device} |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cpu, other = row["fit_s_cpu"], row[f"fit_s_{device}"]
        lines.append(
            f"| {row['check']} | {cpu:.2f} | {other:.2f} | {cpu / other:.2f} | "
            f"{row['answer_cpu']:.4g} | {row['max_abs_difference']:.2g} | "
            f"{row[f'graphs_{device}']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
