"""Sphinx configuration for the sklearn_nce documentation.

Build with ``make docs`` (it installs the ``docs`` extra and treats warnings as errors).
Links to other projects' docs (intersphinx) need the network: set
``SKLEARN_NCE_DOCS_INTERSPHINX=1`` to turn them on; the default build is offline and
deterministic.
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

intersphinx_mapping = {} if not os.environ.get("SKLEARN_NCE_DOCS_INTERSPHINX") else {
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


def _skip_metadata_routing(app, what, name, obj, skip, options):
    # scikit-learn's metadata-routing methods (get_metadata_routing,
    # set_*_request) are inherited plumbing whose docstrings cross-reference
    # scikit-learn's own glossary: leave them to scikit-learn's docs.
    if name == "get_metadata_routing" or (name.startswith("set_") and name.endswith("_request")):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_routing)
