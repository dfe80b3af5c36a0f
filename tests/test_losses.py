"""Unit tests of the contrastive losses against hand-computed values and closed-form optima."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sklearn_nce._core.losses import (
    LOSSES,
    balanced_log_likelihood,
    brier_loss,
    dv_loss,
    infonce_anchor_loss,
    infonce_loss,
    logistic_loss,
    lsif_loss,
    mine_loss,
    noisier_nce_loss,
    nwj_loss,
    two_sample_loss,
)

# Three critic outputs: two positives and one negative.
H_POS = (0.5, -1.0)
H_NEG = (0.2,)


def _tensors(h_pos=H_POS, h_neg=H_NEG):
    return (
        torch.tensor(h_pos, dtype=torch.float64),
        torch.tensor(h_neg, dtype=torch.float64),
    )


def _sigmoid(t):
    return 1.0 / (1.0 + math.exp(-t))


# ---------------------------------------------------------------------------
# Hand-computed values
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("noise_weight", [1.0, 2.0, 0.25])
def test_logistic_loss_hand_computed(noise_weight):
    # Implied classifier logit g = h - log M; P(pos | x) = e^h / (e^h + M), so
    # -log P(pos) = log(1 + M e^-h) and -log P(neg) = log(1 + e^h / M).
    M = noise_weight
    pos = (math.log(1 + M * math.exp(-0.5)) + math.log(1 + M * math.exp(1.0))) / 2
    neg = math.log(1 + math.exp(0.2) / M)
    expected = (pos + M * neg) / (1 + M)
    got = logistic_loss(*_tensors(), noise_weight=M)
    assert got.ndim == 0
    assert float(got) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("noise_weight", [1.0, 3.0])
def test_noisier_nce_loss_hand_computed(noise_weight):
    M = noise_weight
    pos = (math.log(1 + M * math.exp(-0.5)) + math.log(1 + M * math.exp(1.0))) / 2
    neg = math.log(1 + math.exp(0.2) / M)
    assert float(noisier_nce_loss(*_tensors(), M)) == pytest.approx(pos + M * neg, rel=1e-12)


@pytest.mark.parametrize("noise_weight", [1.0, 4.0])
def test_brier_loss_hand_computed(noise_weight):
    M = noise_weight
    p_pos = [math.exp(h) / (math.exp(h) + M) for h in H_POS]
    p_neg = [math.exp(h) / (math.exp(h) + M) for h in H_NEG]
    pos = ((1 - p_pos[0]) ** 2 + (1 - p_pos[1]) ** 2) / 2
    neg = p_neg[0] ** 2
    expected = (pos + M * neg) / (1 + M)
    got = brier_loss(*_tensors(), noise_weight=M)
    assert float(got) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("noise_weight", [1.0, 7.0])
def test_lsif_loss_hand_computed(noise_weight):
    # 0.5 E_neg[r^2] - E_pos[r], whatever the noise weight.
    expected = 0.5 * math.exp(2 * 0.2) - (math.exp(0.5) + math.exp(-1.0)) / 2
    got = lsif_loss(*_tensors(), noise_weight=noise_weight)
    assert float(got) == pytest.approx(expected, rel=1e-12)


def test_balanced_log_likelihood_hand_computed():
    # Equal priors: mean over the two samples of log P(true sample | x).
    pos = (math.log(_sigmoid(0.5)) + math.log(_sigmoid(-1.0))) / 2
    neg = math.log(1 - _sigmoid(0.2))
    expected = (pos + neg) / 2
    assert float(balanced_log_likelihood(*_tensors())) == pytest.approx(expected, rel=1e-12)


def test_balanced_log_likelihood_at_zero_is_minus_log_two():
    h_pos, h_neg = torch.zeros(5, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    assert float(balanced_log_likelihood(h_pos, h_neg)) == pytest.approx(-math.log(2), rel=1e-12)


def test_balanced_log_likelihood_orders_good_and_bad_critics():
    # A critic that is right with confidence scores above chance, a wrong one below it.
    good = balanced_log_likelihood(torch.full((4,), 5.0), torch.full((4,), -5.0))
    bad = balanced_log_likelihood(torch.full((4,), -5.0), torch.full((4,), 5.0))
    assert -math.log(2) < float(good) <= 0.0
    assert float(bad) < -math.log(2)


# ---------------------------------------------------------------------------
# Relations between losses
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("noise_weight", [0.5, 1.0, 10.0, 1000.0])
def test_noisier_is_unnormalised_logistic(noise_weight):
    gen = torch.Generator().manual_seed(0)
    h_pos = torch.randn(7, generator=gen, dtype=torch.float64) * 3
    h_neg = torch.randn(11, generator=gen, dtype=torch.float64) * 3
    torch.testing.assert_close(
        noisier_nce_loss(h_pos, h_neg, noise_weight),
        (1 + noise_weight) * logistic_loss(h_pos, h_neg, noise_weight),
    )


def _labelled_batch(seed):
    """13 critic outputs (float64) with 5 positives in a random order, and their generator."""
    gen = torch.Generator().manual_seed(seed)
    values = torch.randn(13, generator=gen, dtype=torch.float64) * 2
    return gen, values, torch.randperm(13, generator=gen) < 5


def _assert_same_value_and_gradient(values, got, expected):
    """``got(values)`` and ``expected(values)`` agree in value and in gradient."""
    stacked = values.clone().requires_grad_()
    split = values.clone().requires_grad_()
    got_value, expected_value = got(stacked), expected(split)
    torch.testing.assert_close(got_value, expected_value)
    expected_value.backward()
    got_value.backward()
    torch.testing.assert_close(stacked.grad, split.grad)


@pytest.mark.parametrize("loss", list(LOSSES.values()), ids=list(LOSSES))
@pytest.mark.parametrize("noise_weight", [1.0, 0.3, 25.0])
def test_two_sample_loss_equals_the_split_loss(loss, noise_weight):
    # The labelled-batch form (a weighted sum for logistic and noisier) must
    # give the value and the gradient of the loss on the split batch, with the
    # labels in any order.
    _, values, is_pos = _labelled_batch(3)
    _assert_same_value_and_gradient(
        values,
        lambda h: two_sample_loss(loss, h, is_pos, noise_weight),
        lambda h: loss(h[is_pos], h[~is_pos], noise_weight),
    )


@pytest.mark.parametrize("loss", list(LOSSES.values()), ids=list(LOSSES))
@pytest.mark.parametrize("noise_weight", [1.0, 0.3, 25.0])
def test_integer_row_weights_count_as_copies_of_the_rows(loss, noise_weight):
    # Weighted means: a row of weight k is k copies of it, and a row of
    # weight 0 is absent, in value and gradient; in the labelled-batch form
    # (the weighted sum for logistic and noisier) as in the split one.
    gen, values, is_pos = _labelled_batch(4)
    weight = torch.randint(0, 4, (13,), generator=gen).to(torch.float64)
    # Each class keeps some weight.
    weight[is_pos.nonzero()[0]], weight[(~is_pos).nonzero()[0]] = 2.0, 3.0
    copies = torch.repeat_interleave(torch.arange(13), weight.long())
    _assert_same_value_and_gradient(
        values,
        lambda h: two_sample_loss(loss, h, is_pos, noise_weight, sample_weight=weight),
        lambda h: loss(h[copies][is_pos[copies]], h[copies][~is_pos[copies]], noise_weight),
    )


@pytest.mark.parametrize("loss", list(LOSSES.values()), ids=list(LOSSES))
def test_a_class_whose_batch_weights_are_all_zero_adds_nothing(loss):
    # A batch may draw only weight-0 rows of a class: that class's term is 0
    # (as for no rows), not 0 / 0.
    log_ratio = torch.tensor([0.5, -1.0, 0.2, 0.7])
    is_pos = torch.tensor([True, True, False, False])
    weight = torch.tensor([0.0, 0.0, 1.0, 2.0])
    value = two_sample_loss(loss, log_ratio, is_pos, 1.0, sample_weight=weight)
    assert torch.isfinite(value)


def test_logistic_loss_with_class_ratio_is_stacked_cross_entropy():
    # With M = n_neg / n_pos the loss is plain logistic regression on the stacked
    # sample with logit h - log M (the class-prior correction).
    gen = torch.Generator().manual_seed(1)
    h_pos = torch.randn(3, generator=gen, dtype=torch.float64)
    h_neg = torch.randn(9, generator=gen, dtype=torch.float64)
    M = 9 / 3
    logits = torch.cat([h_pos, h_neg]) - math.log(M)
    labels = torch.cat([torch.ones(3), torch.zeros(9)]).to(torch.float64)
    expected = F.binary_cross_entropy_with_logits(logits, labels)
    torch.testing.assert_close(logistic_loss(h_pos, h_neg, M), expected)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_are_differentiable_scalars(name):
    h_pos = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
    h_neg = torch.tensor([0.1, 0.4, -1.0], dtype=torch.float64, requires_grad=True)
    loss = LOSSES[name](h_pos, h_neg, 2.0)
    assert loss.shape == ()
    loss.backward()
    assert torch.all(h_pos.grad != 0) and torch.all(h_neg.grad != 0)


# ---------------------------------------------------------------------------
# Population optimum: h* = log p_pos / p_neg for every noise weight
# ---------------------------------------------------------------------------

# Two atoms a, b with P_pos = (0.7, 0.3) and P_neg = (0.2, 0.8). Repeating each
# atom's logit in proportion to its probability (7:3 and 2:8) makes the losses'
# plain means exactly the population (weighted) means.
P_POS = (0.7, 0.3)
P_NEG = (0.2, 0.8)
POS_INDEX = torch.tensor([0] * 7 + [1] * 3)
NEG_INDEX = torch.tensor([0] * 2 + [1] * 8)
TRUE_LOG_RATIO = [math.log(P_POS[0] / P_NEG[0]), math.log(P_POS[1] / P_NEG[1])]


def _minimise(loss_fn, noise_weight):
    """Minimise the population loss over the two free logits (h_a, h_b) with LBFGS."""
    h = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [h],
        lr=1.0,
        max_iter=500,
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(h[POS_INDEX], h[NEG_INDEX], noise_weight)
        loss.backward()
        return loss

    for _ in range(5):
        optimizer.step(closure)
    return h.detach().tolist()


@pytest.mark.parametrize("noise_weight", [0.5, 1.0, 10.0])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_population_optimum_is_log_ratio(name, noise_weight):
    h_opt = _minimise(LOSSES[name], noise_weight)
    # Smooth strictly convex 1-D problems per atom, solved in float64 to a
    # gradient of 1e-12: 1e-5 leaves room for the flatter Brier curvature.
    assert h_opt == pytest.approx(TRUE_LOG_RATIO, abs=1e-5)


def test_noisier_optimum_with_large_noise_weight():
    # M = 1000 puts the implied logit h - log M near -6.9, where the positive
    # term's curvature is ~1e-3 of the logistic maximum; still exact in float64.
    h_opt = _minimise(noisier_nce_loss, 1000.0)
    assert h_opt == pytest.approx(TRUE_LOG_RATIO, abs=1e-5)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_population_loss_is_larger_away_from_log_ratio(name):
    # The optimum is a strict minimum: moving either logit by 0.3 costs something.
    truth = torch.tensor(TRUE_LOG_RATIO, dtype=torch.float64)
    best = LOSSES[name](truth[POS_INDEX], truth[NEG_INDEX], 2.0)
    for shift in ([0.3, 0.0], [0.0, -0.3], [0.3, 0.3]):
        h = truth + torch.tensor(shift, dtype=torch.float64)
        assert float(LOSSES[name](h[POS_INDEX], h[NEG_INDEX], 2.0)) > float(best)


# --- InfoNCE and InfoNCE-anchor ----------------------------------------------


def test_infonce_loss_hand_computed():
    scores = torch.tensor([[2.0, 0.0, 1.0]])
    expected = -2.0 + math.log(math.exp(2.0) + math.exp(0.0) + math.exp(1.0))
    assert float(infonce_loss(scores)) == pytest.approx(expected, rel=1e-6)


def test_infonce_anchor_loss_hand_computed():
    # K = 2 candidates, nu = 1: priors 2/3 (a positive present) and 1/3 (anchor).
    scores_pos = torch.tensor([[1.0, 0.0]])
    scores_anchor = torch.tensor([[0.5, -0.5]])
    denom_pos = math.exp(1.0) + math.exp(0.0) + 1.0  # anchor logit log(1) = 0
    denom_anchor = math.exp(0.5) + math.exp(-0.5) + 1.0
    expected = 2 / 3 * -math.log(math.exp(1.0) / denom_pos) + 1 / 3 * -math.log(1.0 / denom_anchor)
    got = infonce_anchor_loss(scores_pos, scores_anchor, nu=1.0)
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_infonce_anchor_brier_hand_computed():
    scores_pos = torch.tensor([[0.0, 0.0]])
    scores_anchor = torch.tensor([[0.0, 0.0]])
    # All logits equal (anchor log 1 = 0): probabilities 1/3 each.
    brier_pos = (1 - 1 / 3) ** 2 + 2 * (1 / 3) ** 2
    expected = 2 / 3 * brier_pos + 1 / 3 * brier_pos
    got = infonce_anchor_loss(scores_pos, scores_anchor, nu=1.0, scoring="brier")
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_infonce_anchor_with_nu_zero_is_infonce():
    scores = torch.randn(7, 4, generator=torch.Generator().manual_seed(0))
    anchor = torch.randn(7, 4, generator=torch.Generator().manual_seed(1))
    assert float(infonce_anchor_loss(scores, anchor, nu=0.0)) == pytest.approx(
        float(infonce_loss(scores)), rel=1e-6
    )


def _discrete_joint():
    # A 3 x 3 joint with every cell positive and a non-product structure.
    joint = torch.tensor([[0.20, 0.05, 0.05], [0.05, 0.25, 0.05], [0.02, 0.08, 0.25]])
    joint = joint / joint.sum()
    log_ratio = torch.log(joint) - torch.log(joint.sum(1, keepdim=True) * joint.sum(0))
    return joint, log_ratio


def _sample_tuples(joint, n_tuples, n_candidates, seed):
    """Index tuples (x, y_1..y_K): positive tuples have y_1 ~ p(y|x); anchor tuples none."""
    gen = torch.Generator().manual_seed(seed)
    flat = torch.multinomial(joint.reshape(-1), n_tuples, replacement=True, generator=gen)
    x_pos, y_pos = flat // 3, flat % 3
    marginal_y = joint.sum(0)
    negatives = torch.multinomial(
        marginal_y, n_tuples * (2 * n_candidates - 1), replacement=True, generator=gen
    )
    neg_pos = negatives[: n_tuples * (n_candidates - 1)].reshape(n_tuples, -1)
    neg_anchor = negatives[n_tuples * (n_candidates - 1) :].reshape(n_tuples, -1)
    x_anchor = torch.multinomial(joint.sum(1), n_tuples, replacement=True, generator=gen)
    return x_pos, torch.cat([y_pos[:, None], neg_pos], dim=1), x_anchor, neg_anchor


def _fit_table(joint, nu, scoring, init_offset=0.0):
    x_pos, y_pos, x_anchor, y_anchor = _sample_tuples(joint, 20000, 3, seed=0)
    table = torch.full((3, 3), init_offset, requires_grad=True)
    optimizer = torch.optim.LBFGS([table], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = infonce_anchor_loss(
            table[x_pos[:, None], y_pos], table[x_anchor[:, None], y_anchor], nu, scoring
        )
        loss.backward()
        return loss

    optimizer.step(closure)
    return table.detach()


@pytest.mark.parametrize("scoring", ["log", "brier"])
@pytest.mark.parametrize("nu", [0.5, 1.0, 4.0])
def test_infonce_anchor_optimum_is_the_log_ratio(nu, scoring):
    # A free score per (x, y) cell, fitted on 20 000 Monte-Carlo tuples of each
    # kind: the minimiser must be log p(x,y)/(p(x)p(y)) itself. Cells have
    # probability >= 0.02, so each sees >= 400 positives; the Monte-Carlo
    # error of a log ratio is then ~1/sqrt(400) = 0.05, hence atol 0.2.
    joint, log_ratio = _discrete_joint()
    table = _fit_table(joint, nu, scoring)
    np.testing.assert_allclose(table.numpy(), log_ratio.numpy(), atol=0.2)


def test_infonce_without_anchor_identifies_ratio_only_up_to_c_of_x():
    joint, log_ratio = _discrete_joint()
    x_pos, y_pos, x_anchor, y_anchor = _sample_tuples(joint, 2000, 3, seed=1)
    table = torch.randn(3, 3, generator=torch.Generator().manual_seed(2))
    shifted = table + torch.tensor([[5.0], [-3.0], [1.0]])  # add c(x)

    def loss(t, nu):
        return float(
            infonce_anchor_loss(t[x_pos[:, None], y_pos], t[x_anchor[:, None], y_anchor], nu)
        )

    # nu = 0 (plain InfoNCE) cannot tell the two apart; the anchor can.
    assert loss(table, 0.0) == pytest.approx(loss(shifted, 0.0), rel=1e-5)
    assert abs(loss(table, 1.0) - loss(shifted, 1.0)) > 0.1
    # Fitted without the anchor, only within-row differences match the truth.
    fitted = _fit_table(joint, 0.0, "log", init_offset=2.0)
    within_row = fitted - fitted.mean(dim=1, keepdim=True)
    true_within_row = log_ratio - log_ratio.mean(dim=1, keepdim=True)
    np.testing.assert_allclose(within_row.numpy(), true_within_row.numpy(), atol=0.2)
    assert np.abs((fitted - log_ratio).numpy()).max() > 1.0  # the offset stays arbitrary


def test_nwj_and_dv_hand_computed():
    joint = torch.tensor([1.0, 2.0])
    marginal = torch.tensor([[0.0, 1.0], [-1.0, 0.5]])
    mean_exp = (1.0 + math.e + math.exp(-1.0) + math.exp(0.5)) / 4
    assert float(nwj_loss(joint, marginal)) == pytest.approx(-(1.5 - mean_exp / math.e), rel=1e-6)
    assert float(dv_loss(joint, marginal)) == pytest.approx(-(1.5 - math.log(mean_exp)), rel=1e-6)


def test_bounds_at_the_true_critic_equal_the_mi():
    # Discrete joint: with T = log r (DV) or T = 1 + log r (NWJ), both bounds
    # are tight. Exact expectations via weights: replicate cells by counts.
    joint, log_ratio = _discrete_joint()
    product = joint.sum(1, keepdim=True) * joint.sum(0)
    true_mi = float((joint * log_ratio).sum())
    weights_p = (joint * 1000).round().long().reshape(-1)
    weights_q = (product * 1000).round().long().reshape(-1)
    flat = log_ratio.reshape(-1)
    t_joint = flat.repeat_interleave(weights_p)
    t_marginal = flat.repeat_interleave(weights_q)
    # Rounding the weights to 1/1000 perturbs the expectations by ~1e-3.
    assert -float(dv_loss(t_joint, t_marginal)) == pytest.approx(true_mi, abs=0.01)
    assert -float(nwj_loss(t_joint + 1.0, t_marginal + 1.0)) == pytest.approx(true_mi, abs=0.01)


def test_mine_gradient_is_dv_gradient_rescaled_by_the_running_mean():
    joint = torch.tensor([1.0, 2.0], requires_grad=True)
    marginal = torch.tensor([[0.0, 1.0], [-1.0, 0.5]], requires_grad=True)
    mean_exp = float(torch.exp(marginal.detach()).mean())
    # With the running mean equal to this batch's mean, MINE's gradient is
    # exactly the DV gradient (the correction only changes the denominator).
    mine_loss(joint, marginal, torch.tensor(math.log(mean_exp))).backward()
    mine_grads = joint.grad.clone(), marginal.grad.clone()
    joint.grad, marginal.grad = None, None
    dv_loss(joint, marginal).backward()
    torch.testing.assert_close(mine_grads[0], joint.grad)
    torch.testing.assert_close(mine_grads[1], marginal.grad)
    # With a running mean twice as large, the marginal gradient halves:
    # d/dT_j of mean(exp T)/m is exp(T_j) / (n m).
    marginal.grad = None
    mine_loss(joint, marginal, torch.tensor(math.log(2 * mean_exp))).backward()
    expected = torch.exp(marginal.detach()) / (marginal.numel() * 2 * mean_exp)
    torch.testing.assert_close(marginal.grad, expected)


def test_noisier_gradient_weights_tend_to_maximum_likelihood():
    # d/dh of mean softplus(-(h - log M)) + M mean softplus(h - log M):
    # data points get -M / (r + M) / n, noise points +M r / (r + M) / m; as M
    # grows these tend to -1/n and r/m, the MLE gradient E_p[grad h] - E_q[r grad h].
    h_pos = torch.tensor([0.3, -1.0, 2.0], requires_grad=True)
    h_neg = torch.tensor([0.5, -0.2], requires_grad=True)
    for weight in (1.0, 10.0, 1e6):
        noisier_nce_loss(h_pos, h_neg, weight).backward()
        r_pos, r_neg = h_pos.detach().exp(), h_neg.detach().exp()
        torch.testing.assert_close(h_pos.grad, -weight / (r_pos + weight) / 3)
        torch.testing.assert_close(h_neg.grad, weight * r_neg / (r_neg + weight) / 2)
        h_pos.grad, h_neg.grad = None, None
    noisier_nce_loss(h_pos, h_neg, 1e6).backward()
    torch.testing.assert_close(h_pos.grad, torch.full((3,), -1 / 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(h_neg.grad, h_neg.detach().exp() / 2, atol=1e-5, rtol=0)


@pytest.mark.parametrize("weight", [1.0, 30.0, 1000.0])
def test_noisier_population_optimum_is_the_log_ratio(weight):
    # One point with data density p and noise density q: the expected loss
    # p softplus(-(h - log M)) + M q softplus(h - log M) is least at h = log p/q.
    p, q = 0.7, 0.2
    h = torch.linspace(-3, 5, 80001)
    shift = math.log(weight)
    loss = p * F.softplus(-(h - shift)) + weight * q * F.softplus(h - shift)
    assert h[loss.argmin()].item() == pytest.approx(math.log(p / q), abs=1e-3)
