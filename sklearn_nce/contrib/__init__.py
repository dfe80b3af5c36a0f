"""Adapters to other libraries' interfaces, each behind an optional extra.

Nothing here is imported by ``import sklearn_nce``; import the adapter you need.

pyod
    :class:`~sklearn_nce.contrib.pyod.NoisierNCEDetector`, ``NoisierNCEClassifier`` as a
    PyOD detector (``pip install sklearn_nce[pyod]``).
"""

__all__: list[str] = []
