"""Optimizer steps for the training loop, without torch's per-call Python work.

A training step of the default critic ((64, 64) hidden units, 256 rows) is
about half a millisecond, and torch's optimizer API spent a fifth of it
around the arithmetic: ``Optimizer.step`` opens a profiling context, runs
the hook machinery, re-collects the parameters and their state, checks its
options and regroups the tensors by device and dtype (~45 us) before the
fused Adam kernel runs (~6 us), and ``zero_grad`` adds another ~8 us. For
the plain configuration the estimators use (one parameter group, fused Adam
or AdamW, no AMSGrad, no hooks), :func:`optimizer_step` calls that same
kernel with the same arguments; every other case goes through
``optimizer.step()``. A one-time check compares the direct call with
torch's own step and falls back for good if they ever differ (the kernel is
a private torch op, so a future torch may change it).
"""

import functools

import torch
from torch.optim import optimizer as torch_optimizer

__all__ = ["clear_grads", "optimizer_step"]


def clear_grads(optimizer):
    """``optimizer.zero_grad(set_to_none=True)``: every parameter's gradient to None."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            param.grad = None


def optimizer_step(optimizer):
    """``optimizer.step()``, by the fused Adam kernel directly where that is the same update."""
    state = _fused_adam_state(optimizer)
    if state is None:
        optimizer.step()
        return
    _fused_adam_update(optimizer, *state)


def _fused_adam_state(optimizer):
    """``(params, grads, exp_avgs, exp_avg_sqs, steps)`` if the direct call applies, else None.

    It applies to the plain configuration, where the one-time check found the
    direct call to be torch's step for this kind of learning rate.
    """
    if type(optimizer) not in (torch.optim.Adam, torch.optim.AdamW) or _has_step_hooks(optimizer):
        return None
    state = _plain_fused_adam_state(optimizer)
    tensor_lr = isinstance(optimizer.param_groups[0]["lr"], torch.Tensor)
    if state is None or not _direct_call_matches_torch(tensor_lr):
        return None
    return state


def _plain_fused_adam_state(optimizer):
    # The state lists of a one-group fused Adam in its plain configuration.
    if len(optimizer.param_groups) != 1:
        return None
    group = optimizer.param_groups[0]
    if not group["fused"] or group["amsgrad"] or group["maximize"] or group["capturable"]:
        return None
    if group["differentiable"]:
        return None
    params, grads, exp_avgs, exp_avg_sqs, steps = [], [], [], [], []
    for param in group["params"]:
        # Torch skips a parameter without a gradient (e.g. a frozen base);
        # its first step creates the state, so a parameter with a gradient
        # and no state yet goes the long way, as do mixed devices or dtypes,
        # which torch regroups.
        if param.grad is None:
            continue
        param_state = optimizer.state.get(param)
        if not param_state or param.grad.is_sparse:
            return None
        params.append(param)
        grads.append(param.grad)
        exp_avgs.append(param_state["exp_avg"])
        exp_avg_sqs.append(param_state["exp_avg_sq"])
        steps.append(param_state["step"])
    if not params or params[0].is_complex():
        return None
    if len({(param.device, param.dtype) for param in params}) != 1:
        return None
    if not _plain_lr(group["lr"], params[0].device):
        return None
    return params, grads, exp_avgs, exp_avg_sqs, steps


def _plain_lr(lr, device):
    """Whether the kernel takes ``lr`` as it is: a float, or a float32 0-d tensor on ``device``.

    A scheduled rate (:class:`~sklearn_nce._core.training.HoldThenDecay`) is a
    0-d tensor on the parameters' device, which the kernel reads where it
    lies, as a CUDA graph needs (a CUDA kernel reads a CPU tensor's value
    once, on the host, and a graph would keep that value); a rate that
    requires a gradient (a learnt or differentiable one) is not plain.
    """
    if not isinstance(lr, torch.Tensor):
        return True
    plain = lr.dim() == 0 and lr.dtype == torch.float32 and not lr.requires_grad
    return plain and lr.device == device


def _has_step_hooks(optimizer):
    # An instance-level step (an LR scheduler wraps it to record the call)
    # or registered hooks must see every step, so they take torch's path.
    return bool(
        "step" in vars(optimizer)
        or optimizer._optimizer_step_pre_hooks
        or optimizer._optimizer_step_post_hooks
        or torch_optimizer._global_optimizer_pre_hooks
        or torch_optimizer._global_optimizer_post_hooks
    )


def _fused_adam_update(optimizer, params, grads, exp_avgs, exp_avg_sqs, steps):
    # What torch.optim.adam._fused_adam does for a single device and dtype.
    group = optimizer.param_groups[0]
    beta1, beta2 = group["betas"]
    decoupled = group.get("decoupled_weight_decay", isinstance(optimizer, torch.optim.AdamW))
    kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_
    torch._foreach_add_(steps, 1)
    kernel(
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        [],
        steps,
        amsgrad=False,
        lr=group["lr"] if isinstance(group["lr"], torch.Tensor) else float(group["lr"]),
        beta1=float(beta1),
        beta2=float(beta2),
        weight_decay=float(group["weight_decay"]),
        eps=float(group["eps"]),
        maximize=False,
    )


def _direct_call_matches_torch(tensor_lr=False):
    """Whether the direct kernel call gives torch's own Adam and AdamW steps, to the bit.

    On the CPU, once per process and kind of learning rate (a float, or with
    ``tensor_lr`` a 0-d tensor: a failure with one kind keeps the other's
    direct call); the state lists are built without the hook test, so that
    hooks registered at that moment cannot skip the comparison.
    """
    return _checked_direct_call(bool(tensor_lr))


@functools.cache
def _checked_direct_call(tensor_lr):
    # Cached by the one normalised argument: f() and f(False) are one entry.
    try:
        for optimizer_class in (torch.optim.Adam, torch.optim.AdamW):
            lr = torch.tensor(0.1) if tensor_lr else 0.1
            generator = torch.Generator().manual_seed(0)
            start = torch.randn(3, 2, generator=generator)
            grads = [torch.randn(3, 2, generator=generator) for _ in range(3)]
            ours, theirs = (torch.nn.Parameter(start.clone()) for _ in range(2))
            optimizers = [
                optimizer_class([param], lr=lr, weight_decay=0.01, fused=True)
                for param in (ours, theirs)
            ]
            for step, grad in enumerate(grads):
                ours.grad, theirs.grad = grad.clone(), grad.clone()
                optimizers[1].step()
                if step == 0:
                    optimizers[0].step()  # the first step creates the state
                    continue
                state = _plain_fused_adam_state(optimizers[0])
                if state is None:
                    return False
                _fused_adam_update(optimizers[0], *state)
            if not torch.equal(ours, theirs):
                return False
    except Exception:  # noqa: BLE001 - any failure means: use torch's step
        return False
    return True
