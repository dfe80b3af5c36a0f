"""Mutual-information benchmark: InfoNCEAnchorMI beside the estimators a user would pick instead.

Problems with the true MI known in closed form (nats), ``n`` joint pairs each:
correlated Gaussians (d = 5 at 1, 4 and 8 nats, the last above ``log(batch)``;
the Poole et al. staircase, d = 20 at 2, 6 and 10 nats; a high-MI d = 20
Gaussian at 20 nats; d = 1 at 1 nat so that sklearn's 1-D estimator has a
row), the d = 5, 4-nat Gaussian with ``Y`` passed through ``cube``, ``asinh``
and the normal CDF (MI unchanged), and a Student-t pair (d = 5, 3 degrees of
freedom, 2 nats). Every method sees the same sample:

* ``InfoNCE-anchor (log)``   the headline, ``InfoNCEAnchorMI()`` at its defaults
  (in-batch critics, refitted by telescoping where they saturate);
* ``InfoNCE-anchor (in-batch)`` the same with ``telescope_saturated=False``;
* ``InfoNCE-anchor (brier)`` the same with the Brier scoring rule;
* ``InfoNCE bound (nu=0)``   the same critic trained as plain InfoNCE; its
  reported estimate is the InfoNCE lower bound ``diagnostics_["infonce"]``
  (capped at ``log B``), since its plug-in is unidentified;
* ``NWJ (trained)`` / ``DV (trained)`` the same critic and budget trained on
  the NWJ or Donsker-Varadhan bound (``objective="nwj"/"dv"``), reporting the
  bound on the held-out rows (DV with plain in-batch gradients);
* ``MINE (trained)``         the DV bound trained with MINE's moving-average
  gradient correction (``objective="mine"``), reporting the DV bound;
* ``NWJ / DV on anchor critic`` the same two bounds *evaluated* on the
  in-batch anchor critic (from the in-batch model's ``diagnostics_``);
* ``KSG (k=3)``              Kraskov, Stoegbauer and Grassberger (2004),
  algorithm 1, implemented below with ``scipy.spatial.cKDTree``;
* ``sklearn mutual_info_regression`` (also KSG, k=3) on the d = 1 task only:
  for multivariate X it returns per-feature marginal MIs, not ``I(X; Y)``.

Reported per task and method: truth, estimate, bias, absolute error and fit
time; the summary is the mean absolute error over tasks. A second table
varies the anchor weight ``nu`` on three Gaussian tasks. Run
``python benchmarks/mutual_info.py --section tasks`` (``--quick`` for a smoke
run); results go to ``benchmarks/results/mutual_info.{json,md,png}`` and
``benchmarks/results/mutual_info_nu.md``.

``--section small``: five one-dimensional non-Gaussian relations at 500, 2000
and 8000 pairs, three seeds (``mutual_info_small.*``). ``--section high``:
the high-MI protocol of TRE / DRE-infinity, correlated Gaussians in d = 40,
80 and 160 at 10 to 40 nats, telescoping beside the in-batch methods and
KSG (``mutual_info_high.*``, about an hour). No ``--section`` runs all three.
"""

import argparse
import functools
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from joblib import Parallel, delayed
from scipy.spatial import cKDTree
from scipy.special import digamma
from sklearn.feature_selection import mutual_info_regression

from sklearn_nce import InfoNCEAnchorMI
from sklearn_nce.datasets import (
    RELATIONS,
    make_correlated_gaussian,
    make_mi_staircase,
    make_noisy_relation,
    make_student_t_pair,
)

sys.path.insert(0, str(Path(__file__).parent))
from _shared import run_meta, short_commit, write_readme_block  # noqa: E402

RESULTS = Path(__file__).parent / "results"

# (name, kind, n_features, mi, transform)
TASKS = [
    ("gauss d=1 MI=1", "gauss", 1, 1.0, None),
    ("gauss d=5 MI=1", "gauss", 5, 1.0, None),
    ("gauss d=5 MI=4", "gauss", 5, 4.0, None),
    ("gauss d=5 MI=8", "gauss", 5, 8.0, None),
    ("staircase d=20 MI=2", "staircase", 20, 2.0, None),
    ("staircase d=20 MI=6", "staircase", 20, 6.0, None),
    ("staircase d=20 MI=10", "staircase", 20, 10.0, None),
    ("gauss d=20 MI=20", "gauss", 20, 20.0, None),
    ("cube d=5 MI=4", "gauss", 5, 4.0, "cube"),
    ("asinh d=5 MI=4", "gauss", 5, 4.0, "asinh"),
    ("normal-cdf d=5 MI=4", "gauss", 5, 4.0, "normal_cdf"),
    ("student-t dof=3 d=5 MI=2", "student", 5, 2.0, None),
]
QUICK_TASKS = [TASKS[0], TASKS[2]]
NU_TASKS = [
    "gauss d=5 MI=1",
    "gauss d=5 MI=4",
    "gauss d=5 MI=8",
    "staircase d=20 MI=10",
    "gauss d=20 MI=20",
]

# Every neural method runs at the estimator's defaults (its batch size,
# learning rate and step budget, nu="auto", joint critic). The
# headline cross-fits with its default cv=5; the methods beside it use cv=2
# so that the whole run fits in about an hour on 2 cores (a bound evaluated
# on any held-out half is still a valid estimate of it; its critics see 1000
# pairs instead of 1600).
NEURAL = dict(random_state=0)
PEER_CV = 2
QUICK_NEURAL = dict(NEURAL, max_epochs=5)
HEADLINE = "InfoNCE-anchor (log)"
IN_BATCH = "InfoNCE-anchor (in-batch)"
KSG_K = 3
METHOD_ORDER = [
    HEADLINE,
    IN_BATCH,
    "InfoNCE-anchor (brier)",
    "InfoNCE bound (nu=0)",
    "NWJ (trained)",
    "DV (trained)",
    "MINE (trained)",
    "NWJ on anchor critic",
    "DV on anchor critic",
    f"KSG (k={KSG_K})",
    "sklearn mutual_info_regression",
]
NU_VALUES = [1.0, 10.0]

# Small-data section: one-dimensional non-Gaussian relations (truth by
# quadrature), several sample sizes and seeds.
SMALL_SIZES = [500, 2000, 8000]
SMALL_SEEDS = [0, 1, 2]
SMALL_HEADLINE = "InfoNCE-anchor (defaults)"
SMALL_METHODS = [
    SMALL_HEADLINE,
    "DV (trained)",
    "NWJ (trained)",
    f"KSG (k={KSG_K})",
    "sklearn mutual_info_regression",
]


# High-MI section (the TRE / DRE-infinity protocol): correlated Gaussians,
# d = 40, 80 and 160 at 10, 20, 30 and 40 nats. 20 000 pairs, cv=2 for every
# neural method: each critic trains on 10 000 (about an hour on 2 cores).
HIGH_CELLS = [(d, mi) for d in (40, 80, 160) for mi in (10.0, 20.0, 30.0, 40.0)]
HIGH_N = 20_000
HIGH_CV = 2
HIGH_HEADLINE = "InfoNCEAnchorMI() (default)"
HIGH_TRE = "InfoNCE-anchor + TRE(auto)"
HIGH_METHODS = {
    # The defaults: in-batch critics, refitted by telescoping where they
    # saturate (telescope_saturated), with (256, 256) critics then.
    HIGH_HEADLINE: {},
    # Telescoping asked for: what the default refits with, on every cell (a
    # wider critic: at d = 40 a (64, 64) one read 16.8 at 20 nats, (256, 256) 19.9).
    HIGH_TRE: dict(telescoping_steps="auto", hidden_layer_sizes=(256, 256)),
    "InfoNCE-anchor (in-batch)": dict(telescope_saturated=False),
    "InfoNCE bound (nu=0)": dict(nu=0.0),
    "NWJ (trained)": dict(objective="nwj"),
    "DV (trained)": dict(objective="dv"),
    "MINE (trained)": dict(objective="mine"),
}
# KSG's k-d trees degrade to brute force in 80-320 dimensions: it runs on the
# first HIGH_KSG_N pairs (its estimate saturates far below the truth anyway).
HIGH_KSG_N = 5000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="pairs per task (default 2000)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: few tasks, 5 epochs")
    parser.add_argument(
        "--section",
        choices=["all", "tasks", "small", "high"],
        default="all",
        help="what to run (high: the high-MI protocol, about an hour)",
    )
    parser.add_argument("--n-jobs", type=int, default=2, help="parallel fits, 1 thread each")
    parser.add_argument(
        "--from-json", metavar="PATH", help="rewrite the task section's outputs from its JSON"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    RESULTS.mkdir(exist_ok=True)
    if args.from_json:
        _rerender_tasks(args.from_json)
        return
    if args.section in ("all", "tasks"):
        _run_tasks(args)
    if args.section in ("all", "small"):
        _run_small(args)
    if args.section in ("all", "high"):
        _run_high(args)


def _run_tasks(args):
    tasks, n, neural = (QUICK_TASKS, 500, QUICK_NEURAL) if args.quick else (TASKS, args.n, NEURAL)
    wall_start = time.perf_counter()
    sanity = _ksg_sanity_check()
    print(f"KSG sanity check: {sanity}", flush=True)
    jobs = []
    for name, kind, d, mi, transform in tasks:
        for method in _neural_methods(neural):
            jobs.append((name, kind, d, mi, transform, n, method, None, neural))
        if name in NU_TASKS or args.quick:
            jobs += [(name, kind, d, mi, transform, n, None, nu, neural) for nu in NU_VALUES]
    # Slow jobs (high d) first, so that the two workers finish together.
    jobs.sort(key=lambda job: -job[2])
    results = Parallel(n_jobs=args.n_jobs, verbose=5)(delayed(_task_job)(*job) for job in jobs)
    rows, nu_rows = [], []
    for name, kind, d, mi, transform in tasks:
        X, Y, truth = _make_task(kind, n, d, mi, transform)
        for result in results:
            if result["task"] != name:
                continue
            if "nu" in result:
                nu_rows.append(result)
            else:
                rows.append(result)
        rows += _on_anchor_critic(rows, name, d, truth)
        if name in NU_TASKS or args.quick:
            nu_rows.append(dict(_lookup(rows, name, IN_BATCH), nu="auto"))
        for method, estimate, fit_s in [
            (f"KSG (k={KSG_K})", *_timed(ksg_mi, X, Y, k=KSG_K)),
            *([("sklearn mutual_info_regression", *_timed(_sklearn_mi, X, Y))] if d == 1 else []),
        ]:
            rows.append(_row(name, d, truth, method, estimate, fit_s, None))
    rows.sort(key=lambda r: (r["task"], METHOD_ORDER.index(r["method"])))
    for row in rows:
        print(_format_row(row), flush=True)
    meta = _run_meta(
        args, wall_start, n_pairs=n, neural=neural, peer_cv=PEER_CV, ksg_k=KSG_K, ksg_sanity=sanity
    )
    _write_tasks(rows, nu_rows, meta, args.quick)


def _on_anchor_critic(rows, name, d, truth):
    """NWJ and DV evaluated on the in-batch anchor critics (the in-batch row's diagnostics)."""
    in_batch = _lookup(rows, name, IN_BATCH)
    return [
        _row(name, d, truth, method, in_batch.get("diagnostics", {}).get(key), None, None)
        for key, method in [("nwj", "NWJ on anchor critic"), ("dv", "DV on anchor critic")]
    ]


def _rerender_tasks(path):
    """Rewrite the task section's tables, plot and README block from its JSON."""
    payload = json.loads(Path(path).read_text())
    derived = {"NWJ on anchor critic", "DV on anchor critic"}
    rows = [r for r in payload["rows"] if r["method"] not in derived]
    for name, _kind, d, mi, _transform in TASKS:
        if any(r["task"] == name for r in rows):
            rows += _on_anchor_critic(rows, name, d, mi)
    rows.sort(key=lambda r: (r["task"], METHOD_ORDER.index(r["method"])))
    _write_tasks(rows, payload["nu_rows"], payload["meta"], quick=False)


def _write_tasks(rows, nu_rows, meta, quick):
    summary = _mae(rows)
    payload = dict(meta=meta, mae=summary, rows=rows, nu_rows=nu_rows)
    suffix = "_quick" if quick else ""
    (RESULTS / f"mutual_info{suffix}.json").write_text(json.dumps(payload, indent=1))
    (RESULTS / f"mutual_info{suffix}.md").write_text(_markdown(rows, summary, meta))
    (RESULTS / f"mutual_info_nu{suffix}.md").write_text(_nu_markdown(nu_rows, meta))
    _plot(rows, RESULTS / f"mutual_info{suffix}.png")
    if not quick:
        _update_readme(rows, summary, meta)
    print((RESULTS / f"mutual_info{suffix}.md").read_text())
    print(f"total runtime {meta['total_runtime_s']:.0f} s")


def _neural_methods(neural):
    peer = dict(neural, cv=PEER_CV)
    return {
        HEADLINE: dict(neural, scoring="log"),
        # The headline's in-batch critics, kept where they saturate.
        IN_BATCH: dict(neural, scoring="log", telescope_saturated=False),
        # The in-batch Brier critic, as the rows below are in-batch critics.
        "InfoNCE-anchor (brier)": dict(peer, scoring="brier", telescope_saturated=False),
        "InfoNCE bound (nu=0)": dict(peer, scoring="log", nu=0.0),
        "NWJ (trained)": dict(peer, objective="nwj"),
        "DV (trained)": dict(peer, objective="dv"),
        "MINE (trained)": dict(peer, objective="mine"),
    }


def _task_job(name, kind, d, mi, transform, n, method, nu, neural):
    """Fit one neural method (or one nu value) on one task in a worker; return its row."""
    torch.set_num_threads(1)
    X, Y, truth = _make_task(kind, n, d, mi, transform)
    params = dict(neural, nu=nu) if nu is not None else _neural_methods(neural)[method]
    model, error, fit_s = _fit_or_report(params, X, Y)
    if model is None:
        estimate, extra = None, {}
    elif method == "InfoNCE bound (nu=0)":
        # The bound is the estimate; the plug-in is recorded but meaningless.
        estimate = model.diagnostics_["infonce"]
        extra = dict(plug_in_unidentified=model.mi_)
    else:
        estimate = model.mi_
        extra = dict(mi_std=model.mi_std_, diagnostics=model.diagnostics_)
        if method == HEADLINE and nu is None:
            extra.update(_interval_fields(model, truth))
    if model is not None:
        extra["n_epochs"] = model.n_iter_.tolist()
    if nu is not None:
        return _row(name, d, truth, f"nu={nu:g}", estimate, fit_s, error, nu=nu, **extra)
    return _row(name, d, truth, method, estimate, fit_s, error, **extra)


def _fit_or_report(params, X, Y):
    """``(model, error, fit_s)``: a fitted InfoNCEAnchorMI, or None and the error it raised."""
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the run records the self-check figures instead
            model = InfoNCEAnchorMI(**params).fit(X, Y)
        error = None
    except (ValueError, RuntimeError) as exc:  # report, do not hide
        model, error = None, f"{type(exc).__name__}: {exc}"[:200]
    return model, error, time.perf_counter() - start


def _run_meta(args, wall_start, **fields):
    """What every section records about its run, plus its own ``fields``."""
    return run_meta(
        processor=platform.processor(),
        torch_threads=1,
        parallel_jobs=args.n_jobs,
        in_batch_defaults=_in_batch_defaults(),
        **fields,
        total_runtime_s=time.perf_counter() - wall_start,
    )


def _timed(function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - start


def _run_high(args):
    """The high-MI protocol: every method on the same 20 000 pairs of each cell."""
    cells = HIGH_CELLS[:1] if args.quick else HIGH_CELLS
    n = 2000 if args.quick else HIGH_N
    extra = dict(max_epochs=3) if args.quick else {}
    wall_start = time.perf_counter()
    jobs = [(d, mi, n, method, extra) for d, mi in cells for method in HIGH_METHODS]
    # Telescoping fits are the long ones: first, so that the workers finish together.
    jobs.sort(key=lambda job: (job[3] != HIGH_HEADLINE, -job[0], -job[1]))
    rows = Parallel(n_jobs=args.n_jobs, verbose=5)(delayed(_high_job)(*job) for job in jobs)
    for d, mi in cells:
        X, Y, truth = make_correlated_gaussian(n, d, mi, random_state=0)
        m = min(n, HIGH_KSG_N)
        estimate, fit_s = _timed(ksg_mi, X[:m], Y[:m], k=KSG_K)
        rows.append(_high_row(d, truth, f"KSG (k={KSG_K})", estimate, fit_s, None, n_pairs=m))
    order = [*HIGH_METHODS, f"KSG (k={KSG_K})"]
    rows.sort(key=lambda r: (r["n_features"], r["truth"], order.index(r["method"])))
    for row in rows:
        print(_format_row(row), flush=True)
    meta = _run_meta(
        args,
        wall_start,
        n_pairs=n,
        cv=HIGH_CV,
        methods={k: {**v, **extra} for k, v in HIGH_METHODS.items()},
        ksg_pairs=min(n, HIGH_KSG_N),
    )
    suffix = "_quick" if args.quick else ""
    payload = dict(meta=meta, rows=rows)
    (RESULTS / f"mutual_info_high{suffix}.json").write_text(json.dumps(payload, indent=1))
    markdown = _high_markdown(rows, meta)
    (RESULTS / f"mutual_info_high{suffix}.md").write_text(markdown)
    _high_plot(rows, RESULTS / f"mutual_info_high{suffix}.png")
    if not args.quick:
        write_readme_block("mutual_info_high", _high_table(rows, meta, readme=True))
    print(markdown)


def _high_job(d, mi, n, method, extra):
    """One neural method on one high-MI cell, in a worker with one torch thread."""
    torch.set_num_threads(1)
    X, Y, truth = make_correlated_gaussian(n, d, mi, random_state=0)
    params = dict(HIGH_METHODS[method], cv=HIGH_CV, random_state=0, **extra)
    model, error, fit_s = _fit_or_report(params, X, Y)
    if model is None:
        return _high_row(d, truth, method, None, fit_s, error)
    # Plain InfoNCE's plug-in is unidentified: its estimate is the bound.
    estimate = model.diagnostics_["infonce"] if model.nu == 0.0 else model.mi_
    return _high_row(
        d,
        truth,
        method,
        estimate,
        fit_s,
        None,
        n_pairs=n,
        mi_std=model.mi_std_,
        fold_estimates=model.fold_estimates_.tolist(),
        n_epochs=model.n_iter_.tolist(),
        telescoping_steps=model.telescoping_steps_.tolist(),
        diagnostics=model.diagnostics_,
    )


def _high_row(d, truth, method, estimate, fit_s, error, **extra):
    row = _row(f"gauss d={d} MI={truth:g}", d, truth, method, estimate, fit_s, error, **extra)
    row["rel_error"] = None if row["abs_error"] is None else row["abs_error"] / truth
    return row


def _high_table(rows, meta, readme=False):
    methods = list(dict.fromkeys(r["method"] for r in rows))
    cells = list(dict.fromkeys((r["n_features"], r["truth"]) for r in rows))
    lookup = {(r["n_features"], r["truth"], r["method"]): r for r in rows}
    fit_of = {
        (d, truth): lookup[(d, truth, HIGH_HEADLINE)]["fit_s"]
        for d, truth in cells
        if (d, truth, HIGH_HEADLINE) in lookup
    }
    lines = [
        f"Correlated Gaussians (X, Y each d-dimensional), {meta['n_pairs']} pairs, one data "
        f"seed, cv={meta['cv']} for every neural method (each critic trains on half the "
        f"pairs); KSG on the first {meta['ksg_pairs']} pairs. `{HIGH_HEADLINE}` is "
        "`InfoNCEAnchorMI(cv=2)`: in-batch critics, refitted by telescoping with (256, 256) "
        "critics where they saturate (`telescope_saturated`); "
        f'`{HIGH_TRE}` is `InfoNCEAnchorMI(telescoping_steps="auto", '
        "hidden_layer_sizes=(256, 256), cv=2)` on every cell; the other neural rows are "
        "`InfoNCEAnchorMI(cv=2)`'s in-batch critics (joint (64, 64), "
        f"{_in_batch_defaults(meta)}) with the objective named. "
        "Estimates in nats (relative error); "
        + (
            "fit times in `benchmarks/results/mutual_info_high.md`"
            if readme
            else "fit time in seconds beside the headline's (time ratio = method / headline)"
        )
        + f"; {meta['parallel_jobs']} fits in parallel, 1 torch thread each.",
        "",
    ]
    lines += _high_grid(cells, methods, lookup, _estimate_text)
    if not readme:
        lines += ["", "Fit time (s), and its ratio to the headline's:", ""]

        def fit_text(row):
            base = fit_of.get((row["n_features"], row["truth"]))
            if row["fit_s"] is None:
                return "n/a"
            ratio = f" ({row['fit_s'] / base:.2f}x)" if base else ""
            return f"{row['fit_s']:.0f}{ratio}"

        lines += _high_grid(cells, methods, lookup, fit_text)
    return lines


def _high_grid(cells, methods, lookup, text):
    """A markdown table, one line per (d, truth) cell, ``text(row)`` per method ("n/a": none)."""
    lines = ["| d | truth | " + " | ".join(methods) + " |", "|" + "---|" * (len(methods) + 2)]
    for d, truth in cells:
        entries = []
        for method in methods:
            row = lookup.get((d, truth, method))
            entries.append("n/a" if row is None else text(row))
        lines.append(f"| {d} | {truth:g} | " + " | ".join(entries) + " |")
    return lines


def _estimate_text(row):
    if row["estimate"] is None:
        return "failed"
    return f"{row['estimate']:.1f} ({row['rel_error']:.0%})"


def _high_markdown(rows, meta):
    lines = ["# Mutual information past 20 nats (the TRE / DRE-infinity protocol)", ""]
    lines += _high_table(rows, meta)
    headline = [r for r in rows if r["method"] == HIGH_HEADLINE and r["estimate"] is not None]
    lines += ["", "Telescoping steps per fold (headline):"]
    lines += [
        f"- d={r['n_features']}, MI={r['truth']:g}: {r['telescoping_steps']}, "
        f"folds {[round(v, 2) for v in r['fold_estimates']]}, epochs {r['n_epochs']}"
        for r in headline
    ]
    lines += ["", f"Run: {meta['total_runtime_s']:.0f} s, commit {meta['git_commit']}."]
    return "\n".join(lines) + "\n"


def _high_plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dims = sorted(set(r["n_features"] for r in rows))
    fig, axes = plt.subplots(1, len(dims), figsize=(4.2 * len(dims), 4.2), squeeze=False)
    for ax, d in zip(axes[0], dims, strict=True):
        top = 1.1 * max(r["truth"] for r in rows if r["n_features"] == d)
        ax.plot([0, top], [0, top], color="black", lw=1, label="truth")
        for method in dict.fromkeys(r["method"] for r in rows):
            points = sorted(
                (r["truth"], r["estimate"])
                for r in rows
                if r["n_features"] == d and r["method"] == method and r["estimate"] is not None
            )
            if points:
                truth, estimate = np.array(points).T
                ax.plot(truth, np.clip(estimate, -2, top), marker="o", label=method)
        ax.set_ylim(-2, top)
        ax.set_title(f"correlated Gaussians, d = {d}")
        ax.set_xlabel("true MI (nats)")
        ax.set_ylabel("estimate (nats; clipped)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _run_small(args):
    sizes, seeds = ([300], [0]) if args.quick else (SMALL_SIZES, SMALL_SEEDS)
    relations = list(RELATIONS)[:2] if args.quick else list(RELATIONS)
    neural = dict(max_epochs=5) if args.quick else {}
    wall_start = time.perf_counter()
    jobs = [
        (relation, n, seed, method, neural)
        for n in sorted(sizes, reverse=True)
        for relation in relations
        for seed in seeds
        for method in SMALL_METHODS[:3]
    ]
    rows = Parallel(n_jobs=args.n_jobs, verbose=5)(delayed(_small_job)(*job) for job in jobs)
    for relation in relations:
        for n in sizes:
            for seed in seeds:
                X, y, truth = make_noisy_relation(n, relation, random_state=seed)
                discrete = relation == "discrete"
                for method, function, kwargs in [
                    (f"KSG (k={KSG_K})", ksg_mi, dict(k=KSG_K)),
                    (
                        "sklearn mutual_info_regression",
                        _sklearn_mi,
                        dict(random_state=seed, discrete=discrete),
                    ),
                ]:
                    estimate, fit_s = _timed(function, X, y, **kwargs)
                    rows.append(_small_row(relation, n, seed, truth, method, estimate, fit_s))
    meta = _run_meta(
        args,
        wall_start,
        sizes=sizes,
        seeds=seeds,
        peer_cv=PEER_CV,
        relations={name: RELATIONS[name].description for name in relations},
    )
    summary = _small_summary(rows)
    suffix = "_quick" if args.quick else ""
    payload = dict(meta=meta, summary=summary, rows=rows)
    (RESULTS / f"mutual_info_small{suffix}.json").write_text(json.dumps(payload, indent=1))
    text = _small_markdown(rows, summary, meta)
    (RESULTS / f"mutual_info_small{suffix}.md").write_text(text)
    _small_plot(rows, RESULTS / f"mutual_info_small{suffix}.png")
    if not args.quick:
        _update_readme_small(summary, meta)
    print(text)
    print(f"total runtime {meta['total_runtime_s']:.0f} s")


def _small_job(relation, n, seed, method, neural):
    torch.set_num_threads(1)
    X, y, truth = make_noisy_relation(n, relation, random_state=seed)
    params = dict(neural, random_state=seed)
    if method != SMALL_HEADLINE:
        params.update(objective="nwj" if method.startswith("NWJ") else "dv", cv=PEER_CV)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = InfoNCEAnchorMI(**params).fit(X, y)
    fit_s = time.perf_counter() - start
    return _small_row(
        relation,
        n,
        seed,
        truth,
        method,
        model.mi_,
        fit_s,
        **_interval_fields(model, truth),
        log_normaliser=model.diagnostics_["log_normaliser"],
        warnings=[str(w.message)[:120] for w in caught],
    )


def _interval_fields(model, truth):
    """The 95% interval with and without the shared-bias terms, and whether each covers."""
    low, high = model.confidence_interval(0.05)
    low_sampling, high_sampling = model.confidence_interval(0.05, include_bias=False)
    return dict(
        mi_std=model.mi_std_,
        mi_bias_bounds=list(model.mi_bias_bounds_),
        fold_estimates=model.fold_estimates_.tolist(),
        fold_train_estimates=model.fold_train_estimates_.tolist(),
        low=low,
        high=high,
        covers=bool(low <= truth <= high),
        low_sampling=low_sampling,
        high_sampling=high_sampling,
        covers_sampling=bool(low_sampling <= truth <= high_sampling),
    )


def _small_row(relation, n, seed, truth, method, estimate, fit_s, **extra):
    return dict(
        relation=relation,
        n=n,
        seed=seed,
        truth=truth,
        method=method,
        estimate=estimate,
        rel_error=abs(estimate - truth) / truth,
        fit_s=fit_s,
        **extra,
    )


def _small_summary(rows):
    """Per method and n: mean relative error, mean |bias|, seed SD, coverage, fit time."""
    summary = {}
    for method in SMALL_METHODS:
        for n in sorted(set(r["n"] for r in rows)):
            cell = [r for r in rows if r["method"] == method and r["n"] == n]
            if not cell:
                continue
            groups = {}
            for r in cell:
                groups.setdefault(r["relation"], []).append(r)
            biases = [np.mean([r["estimate"] for r in g]) - g[0]["truth"] for g in groups.values()]
            sds = [
                np.std([r["estimate"] for r in g], ddof=1) if len(g) > 1 else 0.0
                for g in groups.values()
            ]
            covers = [r["covers"] for r in cell if "covers" in r]
            intervals = [r for r in cell if "covers_sampling" in r]
            summary[f"{method} | {n}"] = dict(
                method=method,
                n=n,
                mean_rel_error=float(np.mean([r["rel_error"] for r in cell])),
                max_rel_error=float(np.max([r["rel_error"] for r in cell])),
                mean_abs_bias=float(np.mean(np.abs(biases))),
                mean_seed_sd=float(np.mean(sds)),
                coverage=float(np.mean(covers)) if covers else None,
                mean_fit_s=float(np.mean([r["fit_s"] for r in cell])),
                **(_coverage_summary(intervals) if intervals else {}),
            )
    return summary


def _coverage_summary(rows):
    """Runs covered and mean half-width of the 95% interval, with and without the bias terms."""
    return dict(
        n_runs=len(rows),
        n_covered=sum(r["covers"] for r in rows),
        n_covered_sampling=sum(r["covers_sampling"] for r in rows),
        mean_half_width=float(np.mean([(r["high"] - r["low"]) / 2 for r in rows])),
        mean_half_width_sampling=float(
            np.mean([(r["high_sampling"] - r["low_sampling"]) / 2 for r in rows])
        ),
    )


def _coverage_lines(groups, label):
    """A markdown table of ``_coverage_summary`` per group (``label`` names the group column)."""
    lines = [
        f"| {label} | covered (with bias terms) | covered (sampling only) | "
        "mean half-width (nats), with / without |",
        "|---|---|---|---|",
    ]
    for name, c in groups:
        lines.append(
            f"| {name} | {c['n_covered']}/{c['n_runs']} | {c['n_covered_sampling']}/{c['n_runs']} "
            f"| {c['mean_half_width']:.3f} / {c['mean_half_width_sampling']:.3f} |"
        )
    return lines


_INTERVAL_NOTE = (
    "The headline's interval is `confidence_interval(0.05)`: Student-t on `mi_std_` (cv - 1 "
    "dof), its ends moved out by `mi_bias_bounds_` (down by the held-out normaliser when the "
    "DV bound lies below the plug-in; up by the critics' in-sample optimism plus the "
    'normaliser\'s size). "sampling only" is `confidence_interval(0.05, include_bias=False)`.'
)
_TIMING_NOTE = (
    "Fit times were measured on a 2-core machine with another engineer's single-threaded "
    "jobs running beside the benchmark: they are slower than on an idle machine."
)


def _small_markdown(rows, summary, meta):
    sizes, relations = meta["sizes"], list(meta["relations"])
    lines = [
        "# Mutual information on small non-Gaussian data",
        "",
        f"Relations (truth by quadrature, ~1 nat each), n in {sizes}, seeds {meta['seeds']}. "
        f"`{SMALL_HEADLINE}` is `InfoNCEAnchorMI(random_state=seed)`: cv=5, 95% Student-t "
        f"interval. DV/NWJ (trained): the same critic trained on that bound, cv="
        f"{meta['peer_cv']}. KSG (k=3): the benchmark's own implementation; sklearn: "
        "`mutual_info_regression(n_neighbors=3)`, with `discrete_features=True` on the "
        f"discrete relation. {meta['parallel_jobs']} fits in parallel, 1 torch thread each; "
        f"total runtime {meta['total_runtime_s']:.0f} s. " + _TIMING_NOTE,
        "",
        *[f"- `{name}`: {text}" for name, text in meta["relations"].items()],
        "",
        "## Summary per n (relative error averaged over relations and seeds)",
        "",
        "| method | n | mean rel. error | max rel. error | mean abs. bias (nats) | "
        "mean seed SD (nats) | 95% interval coverage | mean fit (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in summary.values():
        coverage = "—" if s["coverage"] is None else f"{s['coverage']:.0%}"
        if s["method"] != SMALL_HEADLINE:
            coverage = "—"  # the bounds' intervals are not calibrated for the bound's bias
        lines.append(
            f"| {s['method']} | {s['n']} | {s['mean_rel_error']:.1%} | {s['max_rel_error']:.1%} "
            f"| {s['mean_abs_bias']:.3f} | {s['mean_seed_sd']:.3f} | {coverage} "
            f"| {s['mean_fit_s']:.2f} |"
        )
    headline = [r for r in rows if r["method"] == SMALL_HEADLINE]
    groups = [(n, _coverage_summary([r for r in headline if r["n"] == n])) for n in sizes]
    lines += ["", f"## 95% interval coverage of `{SMALL_HEADLINE}`", "", _INTERVAL_NOTE, ""]
    lines += _coverage_lines([*groups, ("all", _coverage_summary(headline))], "n")
    lookup = {}
    for r in rows:
        lookup.setdefault((r["relation"], r["n"], r["method"]), []).append(r)
    lines += [
        "",
        "## Mean estimate ± SD over seeds (nats); for the headline also intervals covering",
        "",
        "| relation | n | truth | " + " | ".join(SMALL_METHODS) + " |",
        "|" + "---|" * (len(SMALL_METHODS) + 3),
    ]
    for relation in relations:
        for n in sizes:
            cells = []
            truth = lookup[(relation, n, SMALL_HEADLINE)][0]["truth"]
            for method in SMALL_METHODS:
                group = lookup.get((relation, n, method), [])
                values = [r["estimate"] for r in group]
                cell = f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}" if values else "—"
                if method == SMALL_HEADLINE:
                    cell += f" ({sum(r['covers'] for r in group)}/{len(group)})"
                cells.append(cell)
            lines.append(f"| {relation} | {n} | {truth:.3f} | " + " | ".join(cells) + " |")
    flagged = [r for r in rows if r.get("warnings")]
    lines += ["", "## Warnings raised by the fits", ""]
    lines += [
        f"- {r['method']}, {r['relation']}, n={r['n']}, seed {r['seed']}: "
        f"{'; '.join(r['warnings'])}"
        for r in flagged
    ] or ["None."]
    return "\n".join(lines) + "\n"


def _small_plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(set(r["n"] for r in rows))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for k, method in enumerate(SMALL_METHODS):
        errors = [
            np.mean([r["rel_error"] for r in rows if r["method"] == method and r["n"] == n])
            for n in sizes
        ]
        ax.plot(sizes, errors, marker="osD^v"[k], label=method)
    ax.set_xscale("log")
    ax.set_xlabel("pairs (n)")
    ax.set_ylabel("mean relative error")
    ax.set_title("Five 1-d non-Gaussian relations, 3 seeds each")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _update_readme_small(summary, meta):
    """Rewrite the README's small-data summary between its BENCHMARK:mutual_info_small markers."""
    lines = [
        "Five 1-d non-Gaussian relations with quadrature truth (~1 nat), 3 seeds each; "
        "full tables: [`benchmarks/results/mutual_info_small.md`]"
        "(benchmarks/results/mutual_info_small.md).",
        "",
        "| method | n | mean rel. error | mean seed SD (nats) | 95% interval coverage |",
        "|---|---|---|---|---|",
    ]
    for s in summary.values():
        coverage = f"{s['coverage']:.0%}" if s["method"] == SMALL_HEADLINE else "—"
        lines.append(
            f"| {s['method']} | {s['n']} | {s['mean_rel_error']:.1%} | "
            f"{s['mean_seed_sd']:.3f} | {coverage} |"
        )
    write_readme_block("mutual_info_small", lines)


def _make_task(kind, n, d, mi, transform):
    if kind == "gauss":
        return make_correlated_gaussian(n, d, mi, random_state=0, transform=transform)
    if kind == "staircase":
        return make_mi_staircase(n, d, levels=(mi,), random_state=0, transform=transform)[0]
    return make_student_t_pair(n, d, dof=3.0, random_state=0, mi=mi, transform=transform)


def _sklearn_mi(X, Y, random_state=0, discrete=False):
    return float(
        mutual_info_regression(
            X, Y.ravel(), n_neighbors=KSG_K, random_state=random_state, discrete_features=discrete
        )[0]
    )


def ksg_mi(X, Y, k=3):
    """KSG estimator of ``I(X; Y)`` in nats (Kraskov et al. 2004, algorithm 1).

    ``eps_i`` is the max-norm distance from ``(x_i, y_i)`` to its k-th nearest
    neighbour in the joint space; ``n_x(i)`` and ``n_y(i)`` count the other
    points strictly closer than ``eps_i`` in each marginal. Then
    ``I = psi(k) + psi(N) - mean(psi(n_x + 1) + psi(n_y + 1))``.
    """
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    Y = np.asarray(Y, dtype=np.float64).reshape(len(Y), -1)
    n = len(X)
    joint = np.hstack([X, Y])
    # k + 1 neighbours: the first is the point itself.
    eps = cKDTree(joint).query(joint, k=k + 1, p=np.inf)[0][:, -1]
    # Strictly closer: shrink the radius by one ulp (query_ball_point is <=).
    radius = np.nextafter(eps, 0)
    n_x = cKDTree(X).query_ball_point(X, radius, p=np.inf, return_length=True) - 1
    n_y = cKDTree(Y).query_ball_point(Y, radius, p=np.inf, return_length=True) - 1
    return float(digamma(k) + digamma(n) - np.mean(digamma(n_x + 1) + digamma(n_y + 1)))


def _ksg_sanity_check():
    """KSG on an independent pair (MI 0) and a 2-d Gaussian pair (MI 1); raise if far off."""
    rng = np.random.default_rng(0)
    independent = ksg_mi(rng.standard_normal((1000, 2)), rng.standard_normal((1000, 2)))
    X, Y, truth = make_correlated_gaussian(1000, 2, 1.0, random_state=0)
    gaussian = ksg_mi(X, Y)
    if abs(independent) > 0.1 or abs(gaussian - truth) > 0.15:
        raise AssertionError(f"KSG sanity check failed: {independent=}, {gaussian=}")
    return dict(
        independent_truth=0.0, independent=independent, gaussian_truth=truth, gaussian=gaussian
    )


def _row(task, d, truth, method, estimate, fit_s, error, **extra):
    ok = estimate is not None and np.isfinite(estimate)
    return dict(
        task=task,
        n_features=d,
        truth=truth,
        method=method,
        estimate=estimate,
        bias=estimate - truth if ok else None,
        abs_error=abs(estimate - truth) if ok else None,
        fit_s=fit_s,
        error=error,
        **extra,
    )


def _lookup(rows, task, method):
    return next(r for r in rows if r["task"] == task and r["method"] == method)


def _mae(rows):
    """Mean absolute error per method over the tasks it ran on (and how many)."""
    summary = {}
    present = set(r["method"] for r in rows)
    for method in [m for m in METHOD_ORDER if m in present]:
        errors = [r["abs_error"] for r in rows if r["method"] == method]
        finite = [e for e in errors if e is not None]
        summary[method] = dict(
            mae=float(np.mean(finite)) if finite else None,
            n_tasks=len(finite),
            n_failed=len(errors) - len(finite),
        )
    return summary


def _format_row(row):
    est = "failed" if row["estimate"] is None else f"{row['estimate']:.3g}"
    fit = "" if row["fit_s"] is None else f" fit={row['fit_s']:.1f}s"
    return f"{row['task']:26s} {row['method']:32s} truth={row['truth']:5.2f} est={est:>8s}{fit}"


def _cell(value, fmt=".3g"):
    return "—" if value is None else format(value, fmt)


def _in_batch_defaults(meta=None):
    """The in-batch critic's default batch, learning rate and step budget.

    As the run recorded them in ``meta``; a run that did not record them
    (made before the field existed) is referred to its commit's defaults.
    """
    if meta is not None:
        if "in_batch_defaults" in meta:
            return meta["in_batch_defaults"]
        return f"the defaults of commit {short_commit(meta, 7)}"
    return _fitted_in_batch_defaults()


@functools.lru_cache(maxsize=1)
def _fitted_in_batch_defaults():
    """What the defaults resolve to, read from a default fit on 640 pairs (two folds of 320).

    320 training pairs per fold: enough that the 300-pass cap leaves the
    step budget whole (the benchmark's folds are larger), and early stopping
    is off.
    """
    fold = 320
    X, Y, *_ = make_noisy_relation(2 * fold, "sine", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a small sample: the fit may say so
        model = InfoNCEAnchorMI(cv=2, random_state=0).fit(X, Y)
    steps = model.max_epochs_ * (fold // model.batch_size_)
    decay = dict(model.nets_[0].callbacks_).get("lr_decay")
    schedule = (
        f" held for {1 - decay.decay_fraction:.0%} of the steps and decayed linearly to 0"
        if decay is not None
        else ""
    )
    return (
        f"batch_size={model.batch_size_}, lr={model.lr_:g}{schedule}, "
        f"{steps} optimiser steps per critic"
    )


def _setting(meta):
    return (
        f"{meta['n_pairs']} pairs per task, one data seed. Every neural method runs at "
        f"`InfoNCEAnchorMI`'s defaults (joint (64, 64) critic, {_in_batch_defaults(meta)}, "
        'nu="auto"); the headline cross-fits with its '
        f"default cv=5, the other neural rows with cv={meta['peer_cv']} (each critic sees "
        "half the pairs) to keep the run near an hour. "
        'Rows "(trained)" train the same critic on that bound; rows "on anchor critic" '
        "*evaluate* NWJ and DV on the in-batch anchor critics (from the in-batch model's "
        f"`diagnostics_`). {meta['parallel_jobs']} fits in parallel, 1 torch thread each."
    )


def _markdown(rows, summary, meta):
    methods = list(summary)
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    lookup = {(r["task"], r["method"]): r for r in rows}
    sanity = meta["ksg_sanity"]
    lines = [
        "# Mutual-information benchmark",
        "",
        _setting(meta),
        f"Machine: {meta['machine']}, {meta['torch_threads']} torch threads; "
        f"total runtime {meta['total_runtime_s']:.0f} s. " + _TIMING_NOTE,
        "",
        f"KSG sanity check (n=1000, d=2): independent pair {sanity['independent']:.3f} "
        f"(truth 0), Gaussian pair {sanity['gaussian']:.3f} (truth {sanity['gaussian_truth']:g}).",
        "",
        "## Mean absolute error over tasks (nats, lower is better)",
        "",
        "Only methods run on every task are comparable; sklearn's estimator has only the "
        "d = 1 task.",
        "",
        "| method | MAE | tasks | failed |",
        "|---|---|---|---|",
    ]
    # Methods run on every task first (comparable MAE), then by MAE.
    ranked = sorted(
        methods,
        key=lambda m: (
            -summary[m]["n_tasks"],
            np.inf if summary[m]["mae"] is None else summary[m]["mae"],
        ),
    )
    for method in ranked:
        s = summary[method]
        lines.append(f"| {method} | {_cell(s['mae'])} | {s['n_tasks']} | {s['n_failed']} |")
    header = "| task | truth | " + " | ".join(methods) + " |"
    for key, title in [
        ("estimate", "Estimate (nats)"),
        ("bias", "Bias (nats)"),
        ("abs_error", "Absolute error (nats)"),
        ("fit_s", "Fit time (s)"),
    ]:
        lines += ["", f"## {title}", "", header, "|" + "---|" * (len(methods) + 2)]
        for task in tasks:
            truth = next(r["truth"] for r in rows if r["task"] == task)
            cells = [
                _cell(lookup[(task, m)][key]) if (task, m) in lookup else "n/a" for m in methods
            ]
            lines.append(f"| {task} | {truth:.3g} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "`InfoNCE bound (nu=0)` plug-in (unidentified, for reference): "
        + ", ".join(
            f"{r['task']}: {r['plug_in_unidentified']:.3g}"
            for r in rows
            if "plug_in_unidentified" in r
        )
        + ".",
    ]
    lines += _task_interval_lines(rows)
    failures = [r for r in rows if r["error"]]
    if failures:
        lines += ["", "## Failures", ""]
        lines += [f"- {r['method']} on {r['task']}: {r['error']}" for r in failures]
    return "\n".join(lines) + "\n"


def _task_interval_lines(rows):
    """The headline's 95% interval per task, with and without the bias terms, and its coverage."""
    headline = [r for r in rows if r["method"] == HEADLINE and "covers" in r]
    if not headline:
        return []
    lines = ["", f"## 95% interval of `{HEADLINE}`", "", _INTERVAL_NOTE, ""]
    lines += _coverage_lines([("all tasks", _coverage_summary(headline))], "tasks")
    lines += [
        "",
        "| task | truth | estimate | interval | covers | sampling only | covers |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in headline:
        lines.append(
            f"| {r['task']} | {r['truth']:.3g} | {r['estimate']:.3f} "
            f"| [{r['low']:.3f}, {r['high']:.3f}] | {'yes' if r['covers'] else 'no'} "
            f"| [{r['low_sampling']:.3f}, {r['high_sampling']:.3f}] "
            f"| {'yes' if r['covers_sampling'] else 'no'} |"
        )
    return lines


def _nu_markdown(nu_rows, meta):
    tasks = list(dict.fromkeys(r["task"] for r in nu_rows))
    values = list(dict.fromkeys(r["nu"] for r in nu_rows))
    lookup = {(r["task"], r["nu"]): r for r in nu_rows}
    lines = [
        "# InfoNCEAnchorMI: sensitivity to the anchor weight nu",
        "",
        'scoring="log", cv=5; otherwise as in [`mutual_info.md`](mutual_info.md). "auto" is '
        "the default, nu = batch_size - 1. " + _setting(meta),
        "",
        "| task | truth | "
        + " | ".join(f"nu={v} estimate | nu={v} abs error" for v in values)
        + " |",
        "|" + "---|" * (2 * len(values) + 2),
    ]
    for task in tasks:
        truth = lookup[(task, values[0])]["truth"]
        cells = []
        for v in values:
            row = lookup[(task, v)]
            cells += [_cell(row["estimate"]), _cell(row["abs_error"])]
        lines.append(f"| {task} | {truth:.3g} | " + " | ".join(cells) + " |")
    maes = [np.mean([lookup[(t, v)]["abs_error"] for t in tasks]) for v in values]
    lines.append("| **MAE** | | " + " | ".join(f" | {m:.3g}" for m in maes) + " |")
    return "\n".join(lines) + "\n"


def _update_readme(rows, summary, meta):
    """Rewrite the README's summary between its BENCHMARK:mutual_info markers."""
    methods = list(summary)
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    lookup = {(r["task"], r["method"]): r for r in rows}
    lines = [
        _setting(meta) + " Full tables (bias, error, fit time): "
        "[`benchmarks/results/mutual_info.md`](benchmarks/results/mutual_info.md); nu "
        "sensitivity: "
        "[`benchmarks/results/mutual_info_nu.md`](benchmarks/results/mutual_info_nu.md); "
        "plot: `benchmarks/results/mutual_info.png`; rerun with "
        "`python benchmarks/mutual_info.py`.",
        "",
        "Estimates in nats (MAE over the tasks each method ran on in the last row):",
        "",
        "| task | truth | " + " | ".join(methods) + " |",
        "|" + "---|" * (len(methods) + 2),
    ]
    for task in tasks:
        truth = next(r["truth"] for r in rows if r["task"] == task)
        cells = [
            _cell(lookup[(task, m)]["estimate"]) if (task, m) in lookup else "n/a" for m in methods
        ]
        lines.append(f"| {task} | {truth:.3g} | " + " | ".join(cells) + " |")
    lines.append(
        "| **MAE** | | " + " | ".join(f"**{_cell(summary[m]['mae'])}**" for m in methods) + " |"
    )
    headline = [r for r in rows if r["method"] == HEADLINE and "covers" in r]
    if headline:
        c = _coverage_summary(headline)
        lines += [
            "",
            f"The headline's 95% interval covered the truth on {c['n_covered']} of "
            f"{c['n_runs']} tasks ({c['n_covered_sampling']} without its shared-bias terms; "
            f"mean half-width {c['mean_half_width']:.2f} against "
            f"{c['mean_half_width_sampling']:.2f} nats).",
        ]
    write_readme_block("mutual_info", lines)


def _plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(dict.fromkeys(r["method"] for r in rows))
    top = 1.25 * max(r["truth"] for r in rows)
    low = -1.0
    fig, ax = plt.subplots(figsize=(10, 6))
    ax.plot([low, top], [low, top], color="black", lw=1, label="identity")
    # One colour and one marker per method: ten of each wrapped round at the eleventh, so two
    # methods were drawn alike (user test 14).
    markers = "osD^v<>PXhp*d"
    colours = plt.get_cmap("tab20").colors
    for k, method in enumerate(methods):
        pts = [
            (r["truth"], r["estimate"])
            for r in rows
            if r["method"] == method and r["estimate"] is not None
        ]
        if not pts:
            continue
        truth, est = np.array(pts).T
        # Off-scale estimates (NWJ can be hugely negative) are drawn on the edge.
        clipped = np.clip(est, low, top)
        jitter = 0.08 * (k - len(methods) / 2)
        ax.scatter(
            truth + jitter,
            clipped,
            marker=markers[k % len(markers)],
            color=colours[(2 * k) % len(colours) + (2 * k) // len(colours)],
            label=method,
            alpha=0.8,
        )
    ax.set_xlim(low, top)
    ax.set_ylim(low, top)
    ax.set_xlabel("true MI (nats)")
    ax.set_ylabel("estimated MI (nats; clipped to the axes)")
    ax.set_title("Mutual-information estimate vs truth")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
