"""Critic networks: torch modules mapping a sample to one or more scores.

A critic's output is read as a log density ratio (see ``losses``). The
estimators build an :class:`MLPCritic` by default; any ``torch.nn.Module``
mapping a float32 tensor of shape ``(n, n_features)`` to ``(n,)`` or
``(n, n_outputs)`` can be passed instead.
"""

from collections.abc import Callable, Iterable, Sequence
from numbers import Integral

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "ACTIVATIONS",
    "BaseCorrectedDensity",
    "ConcatenatedPairCritic",
    "CriticEnsemble",
    "JointCritic",
    "MLPCritic",
    "QuadraticCritic",
    "ResidualCritic",
    "SeparableCritic",
    "as_scores",
    "score_count",
    "single_scores",
]

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
}


class MLPCritic(nn.Module):
    """Multi-layer perceptron critic ``x -> (n, out_features)``.

    What the estimators build when ``critic=None`` (with their
    ``hidden_layer_sizes`` and ``activation``), alone or as a part: the
    network of a density model, the MLP of ``NCEDensityRatio``, the
    encoders of a :class:`SeparableCritic`. Linear layers in float32, each
    hidden one followed by the non-linearity, then a linear output layer.
    Each width is checked to be a positive int when the critic is built, so
    that a misplaced argument fails with its name, not inside torch.

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

    See Also
    --------
    QuadraticCritic : A quadratic form per output, exact for two Gaussians.
    ResidualCritic : A base critic plus a network fitted to what it misses.
    sklearn_nce.NCEDensityRatio : A density-ratio estimator that takes ``critic=``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sklearn_nce.modules import MLPCritic
    >>> critic = MLPCritic(3, out_features=2, hidden_features=(16,), activation=nn.ELU)
    >>> critic(torch.zeros(5, 3)).shape
    torch.Size([5, 2])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int = 1,
        hidden_features: Sequence[int] = (64, 64),
        activation: Callable[[], nn.Module] = nn.SiLU,
    ):
        super().__init__()
        _check_widths(in_features=in_features, out_features=out_features)
        if not isinstance(hidden_features, Iterable):
            raise ValueError(
                f"hidden_features must be a sequence of widths, e.g. ({hidden_features!r},); "
                f"got {hidden_features!r}."
            )
        hidden_features = tuple(hidden_features)  # read twice: a generator once
        _check_widths(**{f"hidden_features[{i}]": w for i, w in enumerate(hidden_features)})
        layers: list[nn.Module] = []
        width = in_features
        for hidden in hidden_features:
            layers += [nn.Linear(width, hidden, dtype=torch.float32), activation()]
            width = hidden
        layers.append(nn.Linear(width, out_features, dtype=torch.float32))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Compute the scores of each row.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, in_features)
            The rows, float32.

        Returns
        -------
        scores : torch.Tensor of shape (n_samples, out_features)
            One score per output for each row.
        """
        return self.layers(x)


class QuadraticCritic(nn.Module):
    """Quadratic critic ``h_k(x) = x' A_k x + b_k' x + c_k``, one form per output.

    The exact family for the log ratio of two Gaussians. It is linear in its
    parameters, so a full-batch quasi-Newton fit (``optimizer="lbfgs"``)
    reaches the optimum of a convex loss, and it extrapolates the way the
    true ratio does -- what lets telescoping bridge a wide density chasm.
    It has ``out_features * (n^2 + n + 1)`` parameters for ``n`` inputs, so
    it overfits where that approaches the sample size.

    Parameters
    ----------
    in_features : int
        Dimension of the input.
    out_features : int, default=1
        Number of scores per sample (one per ratio head).

    See Also
    --------
    MLPCritic : The default critic, a multi-layer perceptron.
    ResidualCritic : A base critic (this one, say) plus a network fitted to what it misses.

    Examples
    --------
    The matrices ``A_k`` start at zero, so a fresh critic is linear:

    >>> import torch
    >>> from sklearn_nce.modules import QuadraticCritic
    >>> critic = QuadraticCritic(3, out_features=2)
    >>> critic.quadratic.shape
    torch.Size([2, 3, 3])
    >>> int(critic.quadratic.count_nonzero())
    0
    >>> critic(torch.ones(4, 3)).shape
    torch.Size([4, 2])
    """

    def __init__(self, in_features: int, out_features: int = 1):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, dtype=torch.float32)
        # Zero start: the initial ratio is constant, as for a fresh logistic
        # regression; only the symmetric part of each A_k affects the output.
        self.quadratic = nn.Parameter(
            torch.zeros(out_features, in_features, in_features, dtype=torch.float32)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Compute ``x' A_k x + b_k' x + c_k`` for each row and output ``k``.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, in_features)
            The rows, float32.

        Returns
        -------
        scores : torch.Tensor of shape (n_samples, out_features)
            One score per output for each row.
        """
        quadratic = torch.einsum("ni,kij,nj->nk", x, self.quadratic, x)
        return self.linear(x) + quadratic


class ResidualCritic(nn.Module):
    """A base critic plus a network fitted to what it misses: ``h(x) = base(x) + network(x)``.

    Trained in two stages by the shared training code: the base first, alone
    and in full batch (LBFGS), then frozen while the network, whose last layer
    starts at zero so that training starts from the base's ratio, learns the
    rest. With a linear base the first stage is a convex problem solved
    exactly; its linear log ratio keeps extrapolating across a density chasm,
    where an MLP trained alone saturates once the samples separate, and the
    network's early-stopped correction stays small where no data are.

    Parameters
    ----------
    base : nn.Module
        Maps ``(n, d)`` to ``(n, k)``; fitted first (e.g. ``nn.Linear(d, k)``).
    network : nn.Module
        Maps ``(n, d)`` to ``(n, k)``. If its last submodule is an
        ``nn.Linear`` (as in :class:`MLPCritic`), that layer is zeroed, in
        place.

    Attributes
    ----------
    base_fitted : bool
        Whether the base's stage is done (set by :meth:`freeze_base`): a warm
        start or a refit of a fitted copy trains the network alone.

    See Also
    --------
    MLPCritic : The usual network, and the default critic.
    QuadraticCritic : A base that is exact for two Gaussians.
    sklearn_nce.NCEDensityRatio : Builds one with ``architecture="residual"``.

    Examples
    --------
    The network's last layer starts at zero, so a fresh critic scores as its base:

    >>> import torch
    >>> from torch import nn
    >>> from sklearn_nce.modules import MLPCritic, ResidualCritic
    >>> critic = ResidualCritic(nn.Linear(3, 1), MLPCritic(3, hidden_features=(16,)))
    >>> x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    >>> bool(torch.equal(critic(x), critic.base(x)))
    True
    """

    def __init__(self, base: nn.Module, network: nn.Module):
        super().__init__()
        self.base = base
        self.network = network
        # Plain attribute (pickled with the module): a warm start or a refit of
        # a fitted copy must not fit its base again.
        self.base_fitted = False
        last = list(network.modules())[-1]
        if isinstance(last, nn.Linear):
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def freeze_base(self) -> None:
        """Mark the base fitted and stop its gradients (the network trains alone)."""
        self.base.requires_grad_(False)
        self.base_fitted = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Compute ``base(x) + network(x)``.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_features)
            The rows, float32.

        Returns
        -------
        scores : torch.Tensor
            The sum of the two modules' outputs, of their shape (for example
            ``(n_samples, k)``).
        """
        return self.base(x) + self.network(x)


class SeparableCritic(nn.Module):
    """Two-variable critic ``s(x, y) = f(x) @ g(y)`` (a dot product) with MLP encoders f and g.

    All-pairs scores of a batch cost one matrix product, and ``f(x)`` is an
    embedding of x usable downstream. Each encoder is an :class:`MLPCritic`
    with ``embedding_dim`` outputs.

    Parameters
    ----------
    x_features : int
        Dimension of x.
    y_features : int
        Dimension of y.
    embedding_dim : int, default=32
        Output width of f and g.
    hidden_features : sequence of int, default=(64, 64)
        Hidden widths of both encoders.
    activation : callable returning an ``nn.Module``, default=nn.SiLU
        Non-linearity after each hidden layer of both encoders.

    Attributes
    ----------
    encode_x : MLPCritic
        The encoder ``f``, mapping ``(n, x_features)`` to ``(n, embedding_dim)``.
    encode_y : MLPCritic
        The encoder ``g``, mapping ``(n, y_features)`` to ``(n, embedding_dim)``.

    See Also
    --------
    JointCritic : An MLP of the concatenated pair: more flexible, costlier.
    sklearn_nce.InfoNCEAnchorMI : Builds one with ``architecture="separable"``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_nce.modules import SeparableCritic
    >>> critic = SeparableCritic(x_features=3, y_features=2, embedding_dim=8)
    >>> x, y = torch.zeros(5, 3), torch.ones(4, 2)
    >>> critic.score_matrix(x, y).shape
    torch.Size([5, 4])
    >>> critic(x[:4], y).shape
    torch.Size([4])
    """

    def __init__(
        self,
        x_features: int,
        y_features: int,
        embedding_dim: int = 32,
        hidden_features: Sequence[int] = (64, 64),
        activation: Callable[[], nn.Module] = nn.SiLU,
    ):
        super().__init__()
        self.encode_x = MLPCritic(x_features, embedding_dim, hidden_features, activation)
        self.encode_y = MLPCritic(y_features, embedding_dim, hidden_features, activation)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Compute the scores of aligned pairs ``(x_i, y_i)``.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, x_features)
            The x of each pair.
        y : torch.Tensor of shape (n_samples, y_features)
            The y of each pair, row ``i`` paired with ``x``'s row ``i``.

        Returns
        -------
        scores : torch.Tensor of shape (n_samples,)
            ``f(x_i) . g(y_i)`` for each pair.
        """
        return (self.encode_x(x) * self.encode_y(y)).sum(dim=-1)

    def score_matrix(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Compute the scores of every pair ``(x_i, y_j)``, in one matrix product.

        Parameters
        ----------
        x : torch.Tensor of shape (n_x, x_features)
            The x values.
        y : torch.Tensor of shape (n_y, y_features)
            The y values.

        Returns
        -------
        scores : torch.Tensor of shape (n_x, n_y)
            ``f(x_i) . g(y_j)`` in row ``i``, column ``j``.
        """
        return self.encode_x(x) @ self.encode_y(y).T


class JointCritic(nn.Module):
    """Two-variable critic ``s(x, y) = MLP([x, y])``: the most flexible, quadratic cost per batch.

    The MLP (an :class:`MLPCritic` with ``x_features + y_features`` inputs and
    one output) reads the concatenated pair, so it can express any
    interaction of x and y; the price is that the scores of all ``n_x * n_y``
    pairs of a batch take ``n_x * n_y`` passes through its hidden layers,
    where :class:`SeparableCritic` needs ``n_x + n_y``.

    Parameters
    ----------
    x_features : int
        Dimension of x.
    y_features : int
        Dimension of y.
    hidden_features : sequence of int, default=(64, 64)
        Width of each hidden layer of the MLP; empty gives a linear critic.
    activation : callable returning an ``nn.Module``, default=nn.SiLU
        Non-linearity after each hidden layer.

    Attributes
    ----------
    mlp : MLPCritic
        The network, mapping ``(n, x_features + y_features)`` to ``(n, 1)``.

    See Also
    --------
    SeparableCritic : ``f(x) . g(y)``, all pairs in one matrix product.
    sklearn_nce.InfoNCEAnchorMI : Builds one with ``architecture="joint"``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_nce.modules import JointCritic
    >>> critic = JointCritic(x_features=3, y_features=2, hidden_features=(16,))
    >>> x, y = torch.zeros(5, 3), torch.ones(4, 2)
    >>> critic.score_matrix(x, y).shape
    torch.Size([5, 4])
    >>> critic(x[:4], y).shape
    torch.Size([4])
    """

    def __init__(
        self,
        x_features: int,
        y_features: int,
        hidden_features: Sequence[int] = (64, 64),
        activation: Callable[[], nn.Module] = nn.SiLU,
    ):
        super().__init__()
        self.mlp = MLPCritic(x_features + y_features, 1, hidden_features, activation)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Compute the scores of aligned pairs ``(x_i, y_i)``.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, x_features)
            The x of each pair.
        y : torch.Tensor of shape (n_samples, y_features)
            The y of each pair, row ``i`` paired with ``x``'s row ``i``.

        Returns
        -------
        scores : torch.Tensor of shape (n_samples,)
            ``MLP([x_i, y_i])`` for each pair.
        """
        return self.mlp(torch.cat([x, y], dim=-1)).squeeze(-1)

    def score_matrix(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Compute the scores of every pair ``(x_i, y_j)``.

        Meant for the pairs of one batch (never of the whole data set): the
        hidden activations of all ``n_x * n_y`` pairs are held at once. The
        concatenated pairs themselves are not built: the first layer is
        affine, so its output for ``[x_i, y_j]`` is ``(W_x x_i + b) + W_y y_j``,
        ``n_x + n_y`` products broadcast to every pair.

        Parameters
        ----------
        x : torch.Tensor of shape (n_x, x_features)
            The x values.
        y : torch.Tensor of shape (n_y, y_features)
            The y values.

        Returns
        -------
        scores : torch.Tensor of shape (n_x, n_y)
            ``MLP([x_i, y_j])`` in row ``i``, column ``j``.
        """
        n_x, n_y = len(x), len(y)
        # The first layer is affine in [x, y], so W [x_i, y_j] + b is
        # (W_x x_i + b) + W_y y_j: n_x + n_y products broadcast to the n_x * n_y
        # pairs, instead of building and multiplying every concatenated pair.
        first, rest = self.mlp.layers[0], self.mlp.layers[1:]
        weight_x, weight_y = first.weight[:, : x.shape[-1]], first.weight[:, x.shape[-1] :]
        hidden = F.linear(x, weight_x, first.bias)[:, None, :] + F.linear(y, weight_y)[None, :, :]
        return rest(hidden.reshape(n_x * n_y, -1)).reshape(n_x, n_y)


class ConcatenatedPairCritic(nn.Module):
    """A one-input critic read as a two-variable one: ``s(x, y) = sum_k h_k([x, y])``.

    Wraps a critic trained on concatenated rows ``[x, y]`` (e.g. a
    telescoping density-ratio critic of joint pairs against shuffled pairs,
    whose heads sum to the log ratio) so that it offers the interface of
    :class:`JointCritic`.

    Parameters
    ----------
    critic : nn.Module
        Maps ``(n, x_features + y_features)`` to ``(n,)`` or ``(n, k)``.
    """

    def __init__(self, critic: nn.Module):
        super().__init__()
        self.critic = critic

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Scores of aligned pairs ``(x_i, y_i)``, shape ``(n,)``."""
        pairs = torch.cat([x, y], dim=-1)
        return as_scores(self.critic(pairs), len(pairs)).sum(-1)

    def score_matrix(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Scores of every pair ``(x_i, y_j)``, shape ``(n_x, n_y)`` (one batch's pairs only)."""
        n_x, n_y = len(x), len(y)
        rows = x.repeat_interleave(n_y, dim=0)
        columns = y.repeat(n_x, 1)
        return self.forward(rows, columns).reshape(n_x, n_y)


class CriticEnsemble(nn.Module):
    """Mean of two-variable critics, each shifted by a constant: ``mean_k [s_k(x, y) + c_k]``.

    Holds the critics that cross-fitting trains (one per fold) as one critic
    for inference. When every member is separable, so is the mean:
    ``encode_x``/``encode_y`` concatenate the members' embeddings, scaled by
    ``1/sqrt(K)``, and their dot product is the mean score less the offsets.

    Parameters
    ----------
    critics : sequence of nn.Module
        Two-variable critics with ``forward(x, y)`` and ``score_matrix(x, y)``.
    offsets : sequence of float, default=None
        The constant added to each critic (default 0).
    """

    def __init__(self, critics: Sequence[nn.Module], offsets: Sequence[float] | None = None):
        super().__init__()
        self.members = nn.ModuleList(critics)
        offsets = [0.0] * len(critics) if offsets is None else list(offsets)
        self.register_buffer("offsets", torch.tensor(offsets, dtype=torch.float32))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean score of aligned pairs, shape ``(n,)``."""
        scores = [member(x, y).reshape(len(x)) for member in self.members]
        return torch.stack(scores).mean(0) + self.offsets.mean()

    def score_matrix(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean score of every pair, shape ``(n_x, n_y)``."""
        scores = [member.score_matrix(x, y) for member in self.members]
        return torch.stack(scores).mean(0) + self.offsets.mean()

    def encode_x(self, x: torch.Tensor) -> torch.Tensor:
        """Concatenated x-embeddings of separable members, scaled by ``1/sqrt(K)``."""
        return self._concat([member.encode_x(x) for member in self.members])

    def encode_y(self, y: torch.Tensor) -> torch.Tensor:
        """Concatenated y-embeddings of separable members, scaled by ``1/sqrt(K)``."""
        return self._concat([member.encode_y(y) for member in self.members])

    def _concat(self, embeddings):
        return torch.cat(embeddings, dim=1) / len(embeddings) ** 0.5


class BaseCorrectedDensity(nn.Module):
    """An unnormalised log density ``log phi(x) = f(x) + log b(x)`` over a fixed base ``b``.

    The network ``f`` learns only the correction to a fitted base density
    (e.g. a Gaussian mixture), so where ``b`` is already close to the data the
    contrastive problem is easy, and the base's tails keep ``phi`` integrable
    far from the data, where ``f`` extrapolates. The base is a fitted noise
    module (``log_prob``) whose tensors are buffers: it is not trained.
    Without a base, unit Gaussian tails beyond the box (:func:`box_log_tail`)
    keep ``phi`` integrable instead.

    Parameters
    ----------
    network : nn.Module
        ``f``, mapping ``(n, d)`` to ``(n,)`` or ``(n, 1)``.
    base : nn.Module or None
        Fitted density with ``log_prob``; None makes ``log phi = f`` (plus
        :func:`box_log_tail` when ``bounds`` are given).
    bounds : (low, high) tensors of shape (n_features,), default=None
        A box the network's input is clamped to (None: no clamp).
    """

    def __init__(
        self,
        network: nn.Module,
        base: nn.Module | None,
        bounds: tuple[torch.Tensor, torch.Tensor] | None = None,
    ):
        super().__init__()
        self.network = network
        self.base = base
        # log phi = scale * f + log b: the fit sets the scale (0 to 1) that the
        # held-out rows prefer, so a correction that does not generalise is
        # shrunk or switched off.
        self.register_buffer("network_scale", torch.tensor(1.0, dtype=torch.float32))
        # The network reads x clamped to a box around the training rows, so
        # that far from the data f stays at its value on the box instead of
        # extrapolating: the base's tails rule there. An unclamped network
        # grew a spike among the base's far draws (newthyroid: an importance
        # ESS of 1 of 10 000).
        self.register_buffer("low", None if bounds is None else torch.as_tensor(bounds[0]))
        self.register_buffer("high", None if bounds is None else torch.as_tensor(bounds[1]))

    def correction(self, x: torch.Tensor) -> torch.Tensor:
        """The scaled network output ``scale * f(x)``, one value per row."""
        if self.low is not None:
            x = torch.clamp(x, self.low, self.high)
        f = single_scores(self.network(x), len(x), "The network of a density model")
        return f * self.network_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log_phi = self.correction(x)
        if self.base is not None:
            return log_phi + self.base.log_prob(x)
        if self.low is not None:
            # Without a base, f is flat beyond the box: phi would not be
            # integrable, log Z would count only the proposal's region and
            # Langevin draws would drift off (on a 2-d grid mixture 98% of
            # draws lay past 5 SDs; exp(log p) summed to 13 over [-20, 20]^2).
            # Unit Gaussian tails beyond the box keep phi a density.
            log_phi = log_phi + box_log_tail(x, self.low, self.high)
        return log_phi


def box_log_tail(x: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """``-|x - clamp(x, low, high)|^2 / 2`` per row: 0 on the box, a unit Gaussian tail beyond."""
    outside = x - torch.clamp(x, low, high)
    return -0.5 * outside.square().sum(dim=-1)


def as_scores(output: torch.Tensor, n_samples: int) -> torch.Tensor:
    """Reshape a critic's output to ``(n_samples, n_outputs)``, rejecting other shapes."""
    score_count(output, n_samples)
    return output.reshape(n_samples, -1)


def score_count(output: torch.Tensor, n_samples: int) -> int:
    """Scores per sample in a critic's output of shape ``(n_samples,)`` or ``(n_samples, k)``."""
    if output.ndim not in (1, 2) or output.shape[0] != n_samples:
        raise ValueError(
            f"The critic must return a tensor of shape (n_samples,) or (n_samples, k); "
            f"got {tuple(output.shape)} for {n_samples} samples."
        )
    return 1 if output.ndim == 1 else output.shape[1]


def single_scores(output: torch.Tensor, n_samples: int, who: str = "The critic", hint: str = ""):
    """A critic's output of one score per sample as shape ``(n_samples,)``; rejects others.

    One reshape, a view: ``as_scores(output, n)[:, 0]`` would add a select to
    the autograd graph (~3% of a training step of the default critic).
    """
    n_scores = score_count(output, n_samples)
    if n_scores != 1:
        raise ValueError(f"{who} must return one score per sample; it returned {n_scores}.{hint}")
    return output.reshape(n_samples)


def _check_widths(**widths):
    """Raise a ValueError naming the argument unless each width is a positive int.

    ``MLPCritic(2, (16,))`` put the hidden widths in ``out_features`` and
    failed inside ``nn.Linear`` with torch's "empty(): argument 'size'".
    """
    for name, width in widths.items():
        if isinstance(width, bool) or not isinstance(width, Integral) or width < 1:
            raise ValueError(f"{name} must be a positive int; got {width!r}.")
