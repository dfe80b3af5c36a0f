"""Every public docstring passes numpydoc's validation, as scikit-learn's do.

The same rules as scikit-learn's ``sklearn/tests/test_docstrings.py``: the
extended summary, "See Also" and "Examples" are required of public classes and
functions (not of each method); RT02 (a named return value), GL01 and GL02
(where the text starts and ends) are not checked. A method that overrides
another without a docstring of its own (a noise's ``log_prob``) shows the
parent's in the API reference, as Sphinx inherits it, so it is checked there.
"""

import inspect

import numpydoc.validate
import pytest

import sklearn_nce
import sklearn_nce.datasets
import sklearn_nce.inspection
import sklearn_nce.modules

# Not checked, as in scikit-learn (see the module docstring).
_NEVER = {"RT02", "GL01", "GL02"}
_TOP_LEVEL_ONLY = {"ES01", "SA01", "EX01"}
_MODULES = [sklearn_nce, sklearn_nce.datasets, sklearn_nce.inspection, sklearn_nce.modules]


def _public_names():
    for module in _MODULES:
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue  # constants (e.g. datasets.RELATIONS) have no numpydoc form
            yield f"{module.__name__}.{name}", None
            if inspect.isclass(obj):
                for method in _own_public_methods(obj):
                    yield f"{module.__name__}.{name}.{method}", (obj, method)


def _own_public_methods(cls):
    """Public methods and properties that sklearn_nce defines (not torch's or sklearn's)."""
    for method in sorted(dir(cls)):
        if method.startswith("_"):
            continue
        owner = _defining_class(cls, method)
        if not _ours(owner):
            continue
        # getattr, not vars: a method behind scikit-learn's available_if (e.g.
        # transform) is a descriptor in the class dictionary, not a function.
        if isinstance(vars(owner)[method], property) or callable(getattr(cls, method, None)):
            yield method


def _defining_class(cls, method):
    return next(klass for klass in cls.__mro__ if method in vars(klass))


def _documenting_class(cls, method):
    """The class whose docstring of ``method`` Sphinx shows (it inherits them)."""
    for klass in cls.__mro__:
        attribute = vars(klass).get(method)
        if attribute is not None and getattr(attribute, "__doc__", None):
            return klass
    return None


def _ours(cls):
    return cls.__module__.startswith("sklearn_nce")


def _errors(name, owner):
    errors = numpydoc.validate.validate(name)["errors"]
    for code, message in errors:
        if code in _NEVER or (owner is not None and code in _TOP_LEVEL_ONLY):
            continue
        if owner is not None:
            cls, method = owner
            attribute = inspect.getattr_static(cls, method)
            if isinstance(attribute, property) and code in {"PR02", "GL08"}:
                continue
            documenting = _documenting_class(cls, method)
            if code == "GL08" and documenting is not None and _ours(documenting):
                continue  # inherited from our parent class, checked there
        yield code, message


_CASES = list(_public_names())


@pytest.mark.parametrize("name, owner", _CASES, ids=[name for name, _ in _CASES])
def test_docstring(name, owner):
    errors = list(_errors(name, owner))
    assert not errors, "\n".join(f"{code}: {message}" for code, message in errors)
