"""The estimators among other tools: a dask cluster, PyOD, and the built wheel's metadata."""

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV

import sklearn_nce
from sklearn_nce import NCEDensityRatio, NoisierNCEClassifier, make_two_sample

ROOT = Path(__file__).resolve().parents[1]


def _fast_detector(**params):
    # The BIC mixture noise and the importance draws kept small: a fit in ~0.5 s.
    return NoisierNCEClassifier(max_epochs=5, n_importance_samples=1000, random_state=0, **params)


# -- dask.distributed ------------------------------------------------------------------------


def test_grid_search_on_dask_cluster_matches_serial():
    # GridSearchCV through joblib's dask backend on a two-worker loopback
    # cluster gives exactly the serial scores: each fit is seeded by
    # random_state alone. Worker *processes* are required for that: the fits
    # seed torch's process-wide generator (in a forked state), so two fits in
    # threads of one process (processes=False) draw from each other's stream:
    # their scores then differed from the serial ones by 0.002 to 0.02, changing
    # from run to run.
    distributed = pytest.importorskip("distributed")
    rng = np.random.RandomState(0)
    X, y = make_two_sample(rng.normal(1.0, 1.0, (300, 2)), rng.normal(0.0, 1.0, (300, 2)))
    model = NCEDensityRatio(max_epochs=5, random_state=0)
    grid = {"lr": [1e-2, 3e-2], "hidden_layer_sizes": [(8,), (16, 16)]}
    serial = GridSearchCV(model, grid, cv=2, n_jobs=1).fit(X, y)

    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
        joblib.parallel_backend("dask"),
        distributed.get_task_stream(client) as tasks,
    ):
        on_cluster = GridSearchCV(model, grid, cv=2).fit(X, y)
    # The cross-validation fits ran in both worker processes (the refit of
    # the best cell runs in this process, as with any joblib backend).
    assert len({task["worker"] for task in tasks.data}) == 2

    for key in ("split0_test_score", "split1_test_score", "mean_test_score"):
        np.testing.assert_array_equal(serial.cv_results_[key], on_cluster.cv_results_[key])
    assert serial.best_params_ == on_cluster.best_params_
    np.testing.assert_array_equal(
        serial.best_estimator_.predict_log_ratio(X),
        on_cluster.best_estimator_.predict_log_ratio(X),
    )


# -- PyOD adapter ----------------------------------------------------------------------------


def test_pyod_detector_follows_pyod_conventions():
    pytest.importorskip("pyod")
    from pyod.models.base import BaseDetector

    from sklearn_nce.contrib.pyod import NoisierNCEDetector

    X = np.random.RandomState(0).normal(size=(300, 2))
    # The wrapped estimator thresholds at the same share, in sklearn's signs.
    detector = NoisierNCEDetector(_fast_detector(contamination=0.1), contamination=0.1).fit(X)
    estimator = detector.estimator_

    assert isinstance(detector, BaseDetector)
    assert not hasattr(detector.estimator, "offset_")  # the parameter itself stays unfitted
    # Higher is more abnormal: the negated log density, on training and new rows.
    np.testing.assert_array_equal(detector.decision_scores_, -estimator.score_samples(X))
    X_new = np.array([[0.0, 0.0], [6.0, 6.0]])
    centre, far = detector.decision_function(X_new)
    np.testing.assert_array_equal([centre, far], -estimator.score_samples(X_new))
    assert far > centre
    # PyOD's threshold marks `contamination` of the training rows (30 of 300).
    assert set(np.unique(detector.labels_)) == {0, 1}
    assert detector.labels_.sum() == 30
    np.testing.assert_array_equal(detector.predict(X), detector.labels_)
    # (sklearn's offset_ targets the share of *new* inliers, read from held-out
    # rows, so it need not equal PyOD's training quantile.)


def test_pyod_detector_is_a_clonable_nested_estimator():
    pytest.importorskip("pyod")
    from sklearn_nce.contrib.pyod import NoisierNCEDetector

    detector = NoisierNCEDetector(_fast_detector(), contamination=0.2)
    params = detector.get_params()
    assert params["contamination"] == 0.2
    assert params["estimator__max_epochs"] == 5
    copy = clone(detector).set_params(estimator__max_epochs=3, contamination=0.05)
    assert copy.estimator.max_epochs == 3 and copy.contamination == 0.05
    assert detector.estimator.max_epochs == 5  # clone did not share the wrapped estimator
    assert NoisierNCEDetector().get_params()["estimator"] is None  # default built at fit
    with pytest.raises(ValueError, match="contamination"):
        NoisierNCEDetector(contamination=0.7)  # PyOD validates it


def test_pyod_detector_with_pyod_data_utilities():
    # PyOD's own toy data and scaler, and its inherited predict_proba.
    pytest.importorskip("pyod")
    from pyod.utils.data import generate_data
    from pyod.utils.utility import standardizer

    from sklearn_nce.contrib.pyod import NoisierNCEDetector

    X_train, X_test, y_train, y_test = generate_data(
        n_train=300, n_test=200, n_features=2, contamination=0.1, random_state=0
    )
    X_train, X_test = standardizer(X_train, X_test)
    detector = NoisierNCEDetector(_fast_detector(), contamination=0.1).fit(X_train)

    assert roc_auc_score(y_train, detector.decision_scores_) > 0.95
    assert roc_auc_score(y_test, detector.decision_function(X_test)) > 0.95
    proba = detector.predict_proba(X_test)
    assert proba.shape == (200, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_pyod_module_imports_without_pyod(monkeypatch):
    # With PyOD absent the module still imports (doctest collection, docs);
    # the class then raises an ImportError saying what to install. Loaded as
    # a separate module object, so the real one is left alone.
    monkeypatch.setitem(sys.modules, "pyod", None)
    monkeypatch.setitem(sys.modules, "pyod.models", None)
    monkeypatch.setitem(sys.modules, "pyod.models.base", None)
    path = ROOT / "sklearn_nce" / "contrib" / "pyod.py"
    spec = importlib.util.spec_from_file_location("sklearn_nce.contrib._pyod_hidden", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    with pytest.raises(ImportError, match=r"pip install 'sklearn_nce\[pyod\]'"):
        module.NoisierNCEDetector  # noqa: B018
    with pytest.raises(AttributeError):
        module.something_else  # noqa: B018


# -- packaging -------------------------------------------------------------------------------


def test_wheel_metadata(tmp_path):
    # Build the wheel from a copy of the source (the build writes build/ and
    # *.egg-info next to pyproject.toml), offline, with the installed setuptools.
    pytest.importorskip("setuptools")
    pytest.importorskip("wheel")
    requirement_of = pytest.importorskip("packaging.requirements").Requirement

    source = tmp_path / "source"
    ignore = shutil.ignore_patterns(
        ".*", "build", "dist", "*.egg-info", "_build", "generated", "__pycache__"
    )
    shutil.copytree(ROOT, source, ignore=ignore)
    out = tmp_path / "wheelhouse"
    command = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps"]
    command += ["--no-build-isolation", "--no-index", "--quiet", "--wheel-dir", str(out)]
    built = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = out.glob("*.whl")

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata_name,) = (name for name in names if name.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_name).decode())

    assert metadata["Name"] == "sklearn_nce"
    assert metadata["Version"] == sklearn_nce.__version__
    requirements = [requirement_of(line) for line in metadata.get_all("Requires-Dist")]
    runtime = {req.name for req in requirements if req.marker is None}
    assert {"numpy", "scipy", "scikit-learn", "torch", "skorch"} <= runtime
    for requirement in requirements:
        # Ranges, never exact pins: a library must coexist with its users' versions.
        assert requirement.specifier, f"{requirement} has no version range"
        assert all(spec.operator not in ("==", "===") for spec in requirement.specifier), (
            f"{requirement} is pinned"
        )
    assert {"test", "docs", "distributed", "pyod"} <= set(metadata.get_all("Provides-Extra"))

    core = {f"sklearn_nce/_core/{path.name}" for path in (ROOT / "sklearn_nce/_core").glob("*.py")}
    assert "sklearn_nce/_core/training.py" in core and core <= names
    assert "sklearn_nce/contrib/pyod.py" in names
    # Only the package and its metadata: no tests/, benchmarks/ or docs/.
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"sklearn_nce", metadata_name.split("/")[0]}, top_level
