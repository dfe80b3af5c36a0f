"""Critic networks: torch modules mapping a sample to one or more scores.

A critic's output is read as a log density ratio (see ``losses``). The
estimators build an :class:`MLPCritic` by default; any ``torch.nn.Module``
mapping a float32 tensor of shape ``(n, n_features)`` to ``(n,)`` or
``(n, n_outputs)`` can be passed instead.
"""

from collections.abc import Callable, Sequence

import torch
from torch import nn

__all__ = ["ACTIVATIONS", "MLPCritic"]

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
}


class MLPCritic(nn.Module):
    """Multi-layer perceptron critic ``x -> (n, out_features)``.

    Parameters
    ----------
    in_features : int
        Dimension of the input.
    out_features : int, default=1
        Number of scores per sample (one per ratio head).
    hidden_features : sequence of int, default=(64, 64)
        Width of each hidden layer; empty gives a linear critic.
    activation : callable returning an ``nn.Module``, default=nn.SiLU
        Non-linearity after each hidden layer. A smooth one gives a smooth
        log ratio, which extrapolates better than ReLU's piecewise-linear one.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int = 1,
        hidden_features: Sequence[int] = (64, 64),
        activation: Callable[[], nn.Module] = nn.SiLU,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for hidden in hidden_features:
            layers += [nn.Linear(width, hidden), activation()]
            width = hidden
        layers.append(nn.Linear(width, out_features))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def as_scores(output: torch.Tensor, n_samples: int) -> torch.Tensor:
    """Reshape a critic's output to ``(n_samples, n_outputs)``, rejecting other shapes."""
    if output.ndim not in (1, 2) or output.shape[0] != n_samples:
        raise ValueError(
            f"The critic must return a tensor of shape (n_samples,) or (n_samples, k); "
            f"got {tuple(output.shape)} for {n_samples} samples."
        )
    return output.reshape(n_samples, -1)
