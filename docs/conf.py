"""Sphinx configuration for the sklearn_nce documentation.

Build with ``pip install -e ".[docs]"`` and ``sphinx-build docs docs/_build/html``.
"""

import os
import sys

# Document the working tree (not an installed copy): the repository root holds sklearn_nce/.
sys.path.insert(0, os.path.abspath(".."))

import sklearn_nce  # noqa: E402

project = "sklearn_nce"
author = "The sklearn_nce developers"
copyright = "the sklearn_nce developers, BSD-3-Clause"
release = sklearn_nce.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
]

# autosummary writes one page per object into docs/generated/ at build time.
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
# numpydoc lists the methods itself; without this every method appears twice.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "scipy": ("https://docs.scipy.org/doc/scipy", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "torch": ("https://pytorch.org/docs/stable", None),
    "skorch": ("https://skorch.readthedocs.io/en/stable", None),
}

root_doc = "index"
exclude_patterns = ["_build"]
default_role = "literal"
html_theme = "alabaster"
html_title = f"sklearn_nce {release}"
