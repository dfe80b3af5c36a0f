"""``show_versions``: what a bug report needs, like ``sklearn.show_versions``."""

import platform
import sys
from importlib.metadata import PackageNotFoundError, version

__all__ = ["show_versions"]

# The optional ones too (plot_history draws with matplotlib; pandas and
# polars outputs through set_output), as sklearn.show_versions lists them.
_PACKAGES = (
    "sklearn_nce",
    "scikit-learn",
    "torch",
    "skorch",
    "numpy",
    "scipy",
    "joblib",
    "tqdm",
    "matplotlib",
    "pandas",
    "polars",
)


def show_versions():
    """Print the versions of sklearn_nce and its dependencies, and the devices torch sees.

    Paste its output into a bug report: fits depend on the versions of torch,
    skorch and scikit-learn, and on the device and threads torch uses.

    See Also
    --------
    sklearn.show_versions : The same for scikit-learn alone.

    Examples
    --------
    >>> from sklearn_nce import show_versions
    >>> show_versions()  # doctest: +ELLIPSIS
    <BLANKLINE>
    System:
    ...
    torch devices:
    ...
    """
    print("\nSystem:")
    print(f"    python: {sys.version.split()[0]}")
    print(f"  platform: {platform.platform()}")
    print("\nPython dependencies:")
    for package in _PACKAGES:
        print(f"{package:>14}: {_version(package)}")
    print("\ntorch devices:")
    for line in _devices():
        print(f"    {line}")


def _version(package):
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _devices():
    import torch

    lines = [f"cpu (threads: {torch.get_num_threads()})"]
    if torch.cuda.is_available():
        lines += [
            f"cuda:{index} {torch.cuda.get_device_name(index)}"
            for index in range(torch.cuda.device_count())
        ]
    else:
        lines.append("cuda: not available")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        lines.append("mps: available")
    return lines
