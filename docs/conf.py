"""Sphinx configuration for the sklearn_nce documentation.

Build with ``make docs`` (it installs the ``docs`` extra and treats warnings as errors).
Links to other projects' docs (intersphinx) need the network: set
``SKLEARN_NCE_DOCS_INTERSPHINX=1`` to turn them on; the default build is offline and
deterministic.

The example gallery (sphinx-gallery) runs every ``examples/plot_*.py`` and renders it into
``docs/auto_examples/`` (generated, not committed). Set ``SKLEARN_NCE_DOCS_NO_GALLERY_RUN=1`` to
render the examples without running them (no figures or outputs), for a quick check of the text.
"""

import os
import sys

# Document the working tree (not an installed copy): the repository root holds sklearn_nce/.
sys.path.insert(0, os.path.abspath(".."))

import sklearn_nce  # noqa: E402
import torch  # noqa: E402

# The gallery runs in this process. One torch thread: on a shared two-core
# machine two threads took an MI example from 9 s to over 500 s.
torch.set_num_threads(1)

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
    "sphinx_gallery.gen_gallery",
]

# autosummary writes one page per object into docs/generated/ at build time, from
# _templates/autosummary/class.rst for classes (public methods only in their tables).
autosummary_generate = True
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["custom.css"]
# numpydoc gives every parameter's type; autodoc's type hints in the signature only repeat
# them, less readably (MLPCritic's read "<class 'torch.nn.modules.activation.SiLU'>").
autodoc_typehints = "none"
# Straight quotes: numpydoc type lines such as default="auto" are code, not prose.
smartquotes = False
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

# The example gallery. Only plain values here: Sphinx pickles the configuration, and a value it
# cannot pickle (a class or function defined in this file) is a warning, hence an error with -W.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "within_subsection_order": "FileNameSortKey",
    # An example that raises fails the build once the others have run (the default, kept
    # explicit: a warning alone would let a broken example render its traceback as output).
    "only_warn_on_example_error": False,
    "plot_gallery": "False" if os.environ.get("SKLEARN_NCE_DOCS_NO_GALLERY_RUN") else "True",
    # Names in the examples' code link to this site's API pages.
    "doc_module": ("sklearn_nce",),
    "reference_url": {"sklearn_nce": None},
    "remove_config_comments": True,
    "download_all_examples": False,
}

root_doc = "index"
exclude_patterns = ["_build"]
default_role = "literal"
html_theme = "alabaster"
# Alabaster's 940 px page leaves ~74 columns of code; the examples are written to 88-99.
# The previous/next links at the bottom of a page are off in alabaster by default.
html_theme_options = {"page_width": "1160px", "show_relbar_bottom": True}
html_title = f"sklearn_nce {release}"


_ABSENT = object()


def _skip_metadata_routing(app, what, name, obj, skip, options):
    # scikit-learn's metadata-routing methods (get_metadata_routing,
    # set_*_request) are inherited plumbing whose docstrings cross-reference
    # scikit-learn's own glossary: leave them to scikit-learn's docs.
    if name == "get_metadata_routing" or (name.startswith("set_") and name.endswith("_request")):
        return True
    # Likewise torch.nn.Module's own methods on the modules of sklearn_nce.modules.
    if getattr(torch.nn.Module, name, _ABSENT) is obj:
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_routing)
