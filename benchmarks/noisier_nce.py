"""NCE -> MLE study: vanilla NCE, "Noisier" NCE and exact maximum likelihood, step by step.

Every run trains the same model, ``log p(x) = log q(x) + f(x) - log Z`` with
``f`` the package's default (64, 64) SiLU MLP starting at ``f = 0`` (the
model starts at the noise ``q``), with the same Adam (lr 1e-3), batches of
256 rows, 5 noise draws per row, the same torch seed, 2000 optimiser steps and
no early stopping. Only the objective differs:

* **vanilla NCE**: ``NoisierNCEClassifier(noise_weight=5)`` (M = K = n_noise);
* **Noisier NCE** at ``M = sqrt(n)`` (the estimator's "auto"), ``1e3`` and
  ``1e5``, and **annealed** from ``M = 5`` to ``1e5`` over the run
  (``anneal_noise_weight=True``);
* **exact MLE** (problem a only): the negative log-likelihood with ``log Z``
  of ``q exp(f)`` by quadrature on a 101 x 101 grid, every step.

NCE runs are ``NoisierNCEClassifier`` fits; a skorch callback (added through
the estimator's ``_training_callbacks`` hook, which the benchmark extends)
records the error at checkpoints without drawing random numbers, so recording
does not change the trajectory. The exact-MLE run is the same estimator with
its objective replaced (``_make_objective``), so batches, optimiser and
initialisation are shared too.

Problems (the truth is known in closed form):

* **(a) chasm**, 2-D: the target is an equal mixture of ``N((4.5, +-2), 0.5^2 I)``,
  the noise a *fixed* ``N(0, I)`` (not fitted to the data), so
  ``KL(p || q)`` is about 12 nats: vanilla NCE's classifier separates data from
  noise almost perfectly. 2000 training rows.
* **(b) 20-d mixture**: the energy benchmark's target (40 components, means
  from ``N(0, I)``, scale 0.1), noise the full-covariance Gaussian fitted to
  the 10 000 training rows (``noise="gaussian"``): a chasm of about 40 nats.
  No exact MLE (``Z`` of a 20-d network density has no quadrature); the
  package's default noise (the BIC mixture) is run beside it as a reference.

Error: the root-mean-square error of the *normalised* log density on 5000
test draws from the target, ``sqrt(mean (log p_hat - log p)^2)``, with
``log Z`` by quadrature on a 241 x 241 grid (a) or by importance sampling
from ``(p + q) / 2`` with 20 000 fixed draws (b). Steps-to-tolerance is the
first checkpoint at which the error is at most the tolerance.

Run ``python benchmarks/noisier_nce.py`` (about 10 minutes on 2 cores;
``--quick`` for a smoke run). Fits run ``--n-jobs`` at a time, one torch
thread each. Results go to ``benchmarks/results/noisier_nce.{json,md,png}``
and the README's ``BENCHMARK:noisier_nce`` block is rewritten.
"""

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from joblib import Parallel, delayed
from skorch.callbacks import Callback
from torch import nn

from sklearn_nce import NoisierNCEClassifier
from sklearn_nce.datasets import IsotropicMixture, make_random_mixture
from sklearn_nce.modules import GaussianNoise

sys.path.insert(0, str(Path(__file__).parent))
from _shared import mean_std, run_meta, short_commit, write_readme_block  # noqa: E402

RESULTS = Path(__file__).parent / "results"
SEEDS = [0, 1, 2]
N_NOISE = 5
HIGH_M = 1e5
# Optimiser steps per fit: the estimator's default budget on (a); (b) starts
# 40 nats away and needs more to show any trend.
STEPS = {"chasm": 2000, "mixture20": 10_000}
# Error levels (nats) whose first crossing is reported, per problem: from
# about a third of the starting error down to what exact MLE reaches.
TOLERANCES = {"chasm": [4.0, 2.0, 1.0, 0.5], "mixture20": [35.0, 30.0, 25.0]}
N_TEST = 5000
N_IMPORTANCE = 20_000
# Checkpoints: dense early (log-spaced), where the methods differ most.
N_CHECKPOINTS = 40

VANILLA = "vanilla NCE (M = K = 5)"
AUTO = "Noisier, M = sqrt(n)"
M_1E3 = "Noisier, M = 1e3"
M_HIGH = "Noisier, M = 1e5"
ANNEALED = "Noisier, M annealed 5 -> 1e5"
MLE = "exact MLE"
DEFAULT_NOISE = "package default (BIC mixture noise, M = sqrt(n))"

VARIANTS = {
    VANILLA: dict(noise_weight=float(N_NOISE)),
    AUTO: dict(noise_weight="auto"),
    M_1E3: dict(noise_weight=1e3),
    M_HIGH: dict(noise_weight=HIGH_M),
    ANNEALED: dict(noise_weight=HIGH_M, anneal_noise_weight=True),
}
PROBLEM_METHODS = {
    "chasm": [VANILLA, AUTO, M_1E3, M_HIGH, ANNEALED, MLE],
    "mixture20": [VANILLA, AUTO, M_1E3, M_HIGH, ANNEALED, DEFAULT_NOISE],
}
PROBLEM_TITLES = {
    "chasm": "(a) 2-D chasm: mixture 12 nats from a fixed N(0, I) noise",
    "mixture20": "(b) 20-d, 40-component mixture, fitted-Gaussian noise",
}
COLOURS = {
    VANILLA: "tab:red",
    AUTO: "tab:orange",
    M_1E3: "tab:olive",
    M_HIGH: "tab:green",
    ANNEALED: "tab:blue",
    MLE: "black",
    DEFAULT_NOISE: "tab:purple",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 100 steps")
    parser.add_argument("--n-jobs", type=int, default=2, help="parallel fits, 1 thread each")
    parser.add_argument("--problems", nargs="+", default=list(PROBLEM_METHODS))
    parser.add_argument(
        "--from-json", type=Path, help="re-render the report from a saved JSON, fitting nothing"
    )
    args = parser.parse_args()
    if args.from_json is not None:
        payload = json.loads(args.from_json.read_text())
        _render(payload["summary"], payload["meta"], quick=args.from_json.stem.endswith("quick"))
        return
    torch.set_num_threads(1)
    RESULTS.mkdir(exist_ok=True)
    seeds = [0] if args.quick else SEEDS
    jobs = [
        (problem, method, seed, 100 if args.quick else STEPS[problem])
        for problem in args.problems
        for seed in seeds
        for method in PROBLEM_METHODS[problem]
    ]
    # The slowest (exact MLE, default noise) first, so the pool ends together.
    jobs.sort(key=lambda job: job[1] not in (MLE, DEFAULT_NOISE))
    print(f"{len(jobs)} fits on {args.n_jobs} workers", flush=True)
    wall_start = time.perf_counter()
    rows = Parallel(n_jobs=args.n_jobs, verbose=5)(delayed(_run)(*job) for job in jobs)
    meta = run_meta(
        torch=torch.__version__,
        torch_threads=1,
        parallel_jobs=args.n_jobs,
        seeds=seeds,
        steps={problem: 100 if args.quick else STEPS[problem] for problem in args.problems},
        problems=args.problems,
        tolerances={problem: TOLERANCES[problem] for problem in args.problems},
        problem_facts={problem: _problem_facts(problem) for problem in args.problems},
        total_runtime_s=time.perf_counter() - wall_start,
    )
    summary = _summarise(rows, meta)
    suffix = "_quick" if args.quick else ""
    payload = dict(meta=meta, summary=summary, rows=rows)
    (RESULTS / f"noisier_nce{suffix}.json").write_text(json.dumps(payload, indent=1))
    _render(summary, meta, quick=args.quick)
    print(f"total runtime {meta['total_runtime_s']:.0f} s")


def _render(summary, meta, quick):
    """Markdown, figure and (full runs only) the README block from a summary."""
    suffix = "_quick" if quick else ""
    text = _markdown(summary, meta)
    (RESULTS / f"noisier_nce{suffix}.md").write_text(text)
    _plot(summary, meta, RESULTS / f"noisier_nce{suffix}.png")
    if not quick:
        write_readme_block("noisier_nce", _readme_lines(summary, meta))
    print(text)


# -- problems -----------------------------------------------------------------
class FixedGaussian(GaussianNoise):
    """A Gaussian noise with given mean and covariance that ``fit`` leaves alone."""

    def __init__(self, mean, covariance):
        super().__init__()
        scale_tril = np.linalg.cholesky(np.atleast_2d(covariance))
        self.register_buffer("means", torch.tensor(np.atleast_2d(mean), dtype=torch.float32))
        self.register_buffer("scale_trils", torch.tensor(scale_tril[None], dtype=torch.float32))
        self.register_buffer(
            "precision_trils",
            torch.tensor(np.linalg.inv(scale_tril)[None], dtype=torch.float32),
        )

    def fit(self, X):
        return self


def _chasm_target():
    return IsotropicMixture([[4.5, 2.0], [4.5, -2.0]], 0.5)


def _problem(name, seed):
    """Training rows, the truth, the noise spec and the evaluator of a problem."""
    rng = np.random.RandomState(seed)
    if name == "chasm":
        truth = _chasm_target()
        X = truth.sample(2000, random_state=rng)
        noise = FixedGaussian(np.zeros(2), np.eye(2))
        evaluator = GridEvaluator(truth, truth.sample(N_TEST, random_state=rng))
        return X, noise, evaluator
    truth = make_random_mixture(n_features=20, n_components=40, scale=0.1, random_state=seed)
    X = truth.sample(10_000, random_state=rng)
    X_test = truth.sample(N_TEST, random_state=rng)
    fitted_gaussian = GaussianNoise().fit(X)
    evaluator = ImportanceEvaluator(truth, X_test, fitted_gaussian, rng)
    return X, "gaussian", evaluator


def _problem_facts(name):
    """KL(p || q) of the target from the noise, by Monte Carlo (seed 0's data)."""
    X, noise, evaluator = _problem(name, 0)
    if isinstance(noise, str):
        noise = GaussianNoise().fit(X)
    log_q = noise.log_prob(torch.as_tensor(evaluator.X_test, dtype=torch.float32)).numpy()
    kl = float(np.mean(evaluator.log_p_test - log_q))
    return dict(kl_target_from_noise=kl, n_train=len(X), n_features=X.shape[1])


class GridEvaluator:
    """Normalised log-density error of ``q exp(f)`` with ``log Z`` by quadrature (2-D)."""

    side = 241
    bounds = ((-6.0, 10.0), (-8.0, 8.0))

    def __init__(self, truth, X_test):
        self.X_test = X_test
        self.log_p_test = truth.log_density(X_test)
        self.grid, self.log_cell = _grid(self.bounds, self.side)

    def __call__(self, critic):
        log_phi_grid = _log_phi(critic, self.grid)
        log_z = float(torch.logsumexp(log_phi_grid, 0)) + self.log_cell
        return _errors(_log_phi(critic, self.X_test).numpy() - log_z, self.log_p_test, log_z)


class ImportanceEvaluator:
    """The same error with ``log Z`` by importance sampling from ``(p + q) / 2``.

    The defensive mixture keeps the weights bounded by ``2 phi / p`` and
    ``2 phi / q``: the estimate stays usable whether the model is still near
    the noise or already near the target.
    """

    def __init__(self, truth, X_test, noise, rng):
        self.X_test = X_test
        self.log_p_test = truth.log_density(X_test)
        n_half = N_IMPORTANCE // 2
        draws_q = noise.sample(n_half, torch.Generator().manual_seed(int(rng.randint(2**31))))
        draws = np.vstack([truth.sample(n_half, random_state=rng), draws_q.numpy()])
        log_q = noise.log_prob(torch.as_tensor(draws, dtype=torch.float32)).numpy()
        self.log_proposal = np.logaddexp(truth.log_density(draws), log_q) - math.log(2.0)
        self.draws = torch.as_tensor(draws, dtype=torch.float32)

    def __call__(self, critic):
        log_weights = _log_phi(critic, self.draws).numpy() - self.log_proposal
        log_z = float(torch.logsumexp(torch.as_tensor(log_weights), 0)) - math.log(
            len(log_weights)
        )
        return _errors(_log_phi(critic, self.X_test).numpy() - log_z, self.log_p_test, log_z)


def _errors(log_p_hat, log_p, log_z):
    difference = log_p_hat - log_p
    return dict(
        rmse=float(np.sqrt(np.mean(difference**2))),
        # The error of the shape alone (log Z's error removed): its spread.
        shape_rmse=float(np.std(difference)),
        kl=float(-np.mean(difference)),
        log_z=log_z,
    )


def _log_phi(critic, X):
    """The critic's ``log phi`` on float32 rows, in batches, without gradients."""
    X = torch.as_tensor(X, dtype=torch.float32)
    with torch.no_grad():
        return torch.cat([_log_density(critic, part) for part in X.split(8192)]).double()


def _log_density(critic, X):
    """A density critic's one output per row, ``log phi(X)``, as a 1-D tensor."""
    return critic(X).reshape(len(X))


def _grid(bounds, side):
    axes = [torch.linspace(low, high, side, dtype=torch.float32) for low, high in bounds]
    mesh = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, len(bounds))
    log_cell = sum(math.log((high - low) / (side - 1)) for low, high in bounds)
    return mesh, log_cell


# -- the exact-MLE objective and the recording hooks --------------------------
class GridLikelihoodObjective(nn.Module):
    """Exact negative log-likelihood of ``phi``: ``-mean log phi(x) + log Z``, Z by quadrature."""

    side = 101

    def __init__(self, bounds, noise):
        super().__init__()
        # The model is q exp(f) over this noise (the estimator reads it back).
        self.noise = noise
        grid, self.log_cell = _grid(bounds, self.side)
        self.register_buffer("grid", grid)

    def forward(self, critic, X, y):
        del y
        log_z = torch.logsumexp(_log_density(critic, self.grid), 0) + self.log_cell
        return log_z - _log_density(critic, X).mean()


class TrajectoryRecorder(Callback):
    """Evaluate the model at given optimiser steps (draws no random numbers)."""

    def __init__(self, evaluator, checkpoints):
        self.evaluator = evaluator
        self.checkpoints = set(checkpoints)

    def on_train_begin(self, net, **kwargs):
        self.step_ = 0
        self.train_s_ = 0.0
        self.records_ = [self._record(net)]
        self._tic = time.perf_counter()

    def on_batch_end(self, net, training=False, **kwargs):
        if not training:
            return
        self.step_ += 1
        if self.step_ in self.checkpoints:
            self.train_s_ += time.perf_counter() - self._tic
            self.records_.append(self._record(net))
            self._tic = time.perf_counter()

    def _record(self, net):
        row = self.evaluator(net.module_)
        row.update(step=self.step_, train_s=self.train_s_)
        return row


class RecordedNoisier(NoisierNCEClassifier):
    """``NoisierNCEClassifier`` with a recorder, and optionally the exact-MLE objective.

    The extras are plain attributes, not parameters: the study never clones.
    """

    recorder = None
    mle_bounds = None

    def _training_callbacks(self):
        return [*super()._training_callbacks(), ("recorder", self.recorder)]

    def _make_objective(self, noise, n_samples):
        objective = super()._make_objective(noise, n_samples)
        if self.mle_bounds is None:
            return objective
        return GridLikelihoodObjective(self.mle_bounds, noise)


# -- one run ------------------------------------------------------------------
def _run(problem, method, seed, steps):
    torch.set_num_threads(1)
    X, noise, evaluator = _problem(problem, seed)
    params = dict(VARIANTS.get(method, {}))
    if method == DEFAULT_NOISE:
        noise = "gmm"
    batch_size = 256
    steps_per_epoch = len(X) // batch_size
    estimator = RecordedNoisier(
        noise=noise,
        n_noise=N_NOISE,
        batch_size=batch_size,
        max_epochs=math.ceil(steps / steps_per_epoch),
        early_stopping=False,
        random_state=seed,
        **params,
    )
    total_steps = steps_per_epoch * estimator.max_epochs
    checkpoints = np.unique(np.geomspace(1, total_steps, N_CHECKPOINTS).round().astype(int))
    estimator.recorder = TrajectoryRecorder(evaluator, checkpoints)
    if method == MLE:
        estimator.mle_bounds = GridEvaluator.bounds
    tic = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X)
    fit_s = time.perf_counter() - tic
    recorder = estimator.recorder
    return dict(
        problem=problem,
        method=method,
        seed=seed,
        steps=[row["step"] for row in recorder.records_],
        rmse=[row["rmse"] for row in recorder.records_],
        shape_rmse=[row["shape_rmse"] for row in recorder.records_],
        kl=[row["kl"] for row in recorder.records_],
        log_z=[row["log_z"] for row in recorder.records_],
        train_s=recorder.train_s_,
        fit_s=fit_s,
        noise_weight=float(estimator.noise_weight_),
        estimator_log_partition=float(estimator.log_partition_),
        estimator_ess=float(estimator.importance_ess_),
        warnings=sorted({str(w.message).split(";")[0] for w in caught}),
    )


# -- summary, report, figure --------------------------------------------------
def _summarise(rows, meta):
    """Per problem and method: error curves over seeds, steps-to-tolerance, final figures."""
    summary = {}
    for problem in meta["problems"]:
        block = summary[problem] = {}
        for method in PROBLEM_METHODS[problem]:
            runs = [row for row in rows if row["problem"] == problem and row["method"] == method]
            if not runs:
                continue
            steps = runs[0]["steps"]
            curves = np.array([run["rmse"] for run in runs])
            block[method] = dict(
                steps=steps,
                rmse_mean=curves.mean(0).tolist(),
                rmse_min=curves.min(0).tolist(),
                rmse_max=curves.max(0).tolist(),
                final_rmse=mean_std(curves[:, -1]),
                final_shape_rmse=mean_std([run["shape_rmse"][-1] for run in runs]),
                final_log_z=mean_std([run["log_z"][-1] for run in runs]),
                best_rmse=mean_std(curves.min(1)),
                ms_per_step=mean_std([1e3 * run["train_s"] / steps[-1] for run in runs]),
                estimator_ess=mean_std([run["estimator_ess"] for run in runs]),
                noise_weight=runs[0]["noise_weight"],
                to_tolerance={
                    str(tol): [_first_step(steps, run["rmse"], tol) for run in runs]
                    for tol in meta["tolerances"][problem]
                },
            )
    return summary


def _first_step(steps, errors, tolerance):
    """The first checkpoint step with error <= tolerance (None: never within the run)."""
    return next(
        (step for step, error in zip(steps, errors, strict=True) if error <= tolerance), None
    )


def _pm(stat, fmt=".2f"):
    if len(stat["values"]) == 1:
        return format(stat["mean"], fmt)
    return f"{format(stat['mean'], fmt)} ± {format(stat['std'], fmt)}"


def _steps_cell(reached):
    """Median over seeds of the steps to tolerance, with how many seeds got there."""
    hits = [step for step in reached if step is not None]
    if not hits:
        return "never"
    # A seed that never got there counts as infinitely slow in the median.
    median = np.median([np.inf if step is None else step for step in reached])
    text = "never" if not np.isfinite(median) else f"{median:.0f}"
    return f"{text} ({len(hits)}/{len(reached)})"


def _speedups(block, method, reference, tolerance):
    """Per seed: does ``method`` reach ``tolerance`` in fewer steps than ``reference``?"""
    outcomes = []
    for ours, theirs in zip(
        block[method]["to_tolerance"][tolerance],
        block[reference]["to_tolerance"][tolerance],
        strict=True,
    ):
        ours, theirs = _or_inf(ours), _or_inf(theirs)
        outcomes.append("tie" if ours == theirs else ("faster" if ours < theirs else "slower"))
    return outcomes


def _or_inf(step):
    return np.inf if step is None else step


def _verdicts(summary, meta):
    lines = []
    for problem, block in summary.items():
        title = PROBLEM_TITLES[problem].split(":")[0]
        noisier = [m for m in block if m.startswith("Noisier")]
        tolerances = list(map(str, meta["tolerances"][problem]))
        faster_at = {m: [] for m in noisier}
        slower_at = {m: [] for m in noisier}
        for tolerance in tolerances:
            for method in noisier:
                outcomes = _speedups(block, method, VANILLA, tolerance)
                if outcomes.count("faster") > len(outcomes) / 2:
                    faster_at[method].append(f"{float(tolerance):g}")
                if outcomes.count("slower") > len(outcomes) / 2:
                    slower_at[method].append(f"{float(tolerance):g}")
        lines.append(f"- **{title}: {_headline(faster_at, slower_at)}**")
        for tolerance in tolerances:
            cells = [
                f"{_short(method)} {_steps_cell(block[method]['to_tolerance'][tolerance])}"
                for method in block
                if method != DEFAULT_NOISE
            ]
            lines.append(f"  - steps to error <= {float(tolerance):g} nats: {'; '.join(cells)}.")
        cells = [f"{_short(method)} {_pm(block[method]['final_rmse'])}" for method in block]
        lines.append(f"  - error after {meta['steps'][problem]} steps (nats): {'; '.join(cells)}.")
    lines.append(
        "- Steps are the median over seeds of the first checkpoint at or below the error; "
        "the seeds that got there within the run are in brackets."
    )
    return lines


def _headline(faster_at, slower_at):
    """One sentence: at which error levels each Noisier variant beats vanilla NCE."""
    faster = [
        f"{_short(m)} (at {', '.join(levels)} nats)" for m, levels in faster_at.items() if levels
    ]
    slower = [
        f"{_short(m)} (at {', '.join(levels)} nats)" for m, levels in slower_at.items() if levels
    ]
    text = (
        "Noisier NCE reaches the error in fewer steps than vanilla NCE, in most seeds, for "
        + ", ".join(faster)
        if faster
        else "no Noisier variant reaches any error level in fewer steps than vanilla NCE"
    )
    if slower:
        text += "; it needs more steps for " + ", ".join(slower)
    return text + "."


def _short(method):
    return {VANILLA: "vanilla", MLE: "exact MLE", DEFAULT_NOISE: "BIC-mixture noise"}.get(
        method, method.removeprefix("Noisier, ")
    )


def _markdown(summary, meta):
    lines = [
        "# NCE -> MLE study: vanilla NCE, Noisier NCE and exact MLE",
        "",
        _setting(meta),
        "",
        "## Verdicts",
        "",
        *_verdicts(summary, meta),
    ]
    for problem, block in summary.items():
        tolerances = meta["tolerances"][problem]
        facts = meta["problem_facts"][problem]
        lines += [
            "",
            f"## {PROBLEM_TITLES[problem]}",
            "",
            f"KL(target || noise) = {facts['kl_target_from_noise']:.1f} nats "
            "(Monte Carlo, seed 0); "
            f"{facts['n_train']} training rows in {facts['n_features']} dimensions; "
            f"{meta['steps'][problem]} steps.",
            "",
            "| method | M | "
            + " | ".join(f"steps to <= {t:g}" for t in tolerances)
            + " | best error | final error | final shape error | final log Z | "
            "ms / step | estimator's own ESS |",
            "|---|---" + "|---" * len(tolerances) + "|---|---|---|---|---|---|",
        ]
        for method, entry in block.items():
            weight = "—" if method == MLE else f"{entry['noise_weight']:.3g}"
            cells = [_steps_cell(entry["to_tolerance"][str(t)]) for t in tolerances]
            lines.append(
                f"| {method} | {weight} | "
                + " | ".join(cells)
                + f" | {_pm(entry['best_rmse'])} | {_pm(entry['final_rmse'])} | "
                f"{_pm(entry['final_shape_rmse'])} | {_pm(entry['final_log_z'])} | "
                f"{_pm(entry['ms_per_step'], '.1f')} | {_pm(entry['estimator_ess'], '.0f')} |"
            )
    lines += ["", _notes(meta), ""]
    return "\n".join(lines)


def _setting(meta):
    return (
        f"Seeds {meta['seeds']}; every run is `NoisierNCEClassifier` (default (64, 64) SiLU "
        f"network, f = 0 at the start, Adam lr 1e-3, batch 256, {N_NOISE} noise draws per row, "
        "no early stopping); only the noise weight M, its annealing, or (exact MLE) the "
        "objective differ, so batches, noise draws and initialisation are shared within a "
        "seed. Error: RMSE of the normalised log density on 5000 test draws from the target "
        "(nats); 'shape error' is the standard deviation of the same difference (log Z's error "
        "removed); 'log Z' is the true log normaliser of the unnormalised model, which NCE "
        "should drive to 0; 'estimator's own ESS' is the effective sample size (of 10 000) "
        "behind the fitted estimator's `log_partition_`, importance-sampled from its noise. "
        f"{meta['parallel_jobs']} fits in parallel, one torch thread each; total "
        f"{meta['total_runtime_s']:.0f} s; commit {short_commit(meta)}."
    )


def _notes(meta):
    return (
        "Steps-to-tolerance is read at log-spaced checkpoints (about 40 per run), so it is "
        "the first checkpoint at or below the tolerance, not the exact step. The objective "
        "is our reconstruction from the Noisier-NCE abstract (the full paper was not "
        "available)."
    )


def _readme_lines(summary, meta):
    lines = [
        "Vanilla NCE, Noisier NCE and exact MLE on the same model, batches and seeds "
        "(`benchmarks/noisier_nce.py`; [full table](benchmarks/results/noisier_nce.md)):",
        "",
        *_verdicts(summary, meta),
        "",
        "![NCE to MLE](benchmarks/results/noisier_nce.png)",
    ]
    return lines


def _plot(summary, meta, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(summary), figsize=(6.5 * len(summary), 4.8), squeeze=False)
    for ax, (problem, block) in zip(axes[0], summary.items(), strict=True):
        for method, entry in block.items():
            steps = np.maximum(entry["steps"], 1)
            colour = COLOURS[method]
            ax.plot(steps, entry["rmse_mean"], color=colour, label=method)
            ax.fill_between(steps, entry["rmse_min"], entry["rmse_max"], color=colour, alpha=0.15)
        for tolerance in meta["tolerances"][problem]:
            ax.axhline(tolerance, color="grey", linestyle=":", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("optimiser steps (step 0 drawn at 1)")
        ax.set_ylabel("RMSE of the normalised log density (nats)")
        ax.set_title(PROBLEM_TITLES[problem], fontsize=10)
        ax.legend(fontsize=7)
    fig.suptitle(f"Mean over seeds {meta['seeds']}; band: min to max", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
