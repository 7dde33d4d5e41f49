"""Plain float64 NumPy twins of ``fastloss.ctc_loss_and_grad``; never imports fastloss.

Two independent ways to the same numbers:

- `ctc_sequence`: the textbook forward-backward recursion of Graves et al. (2006)
  in *probability* space with per-frame rescaling (Rabiner's scaled alphas: the
  alphas of each frame are divided by their sum, and the loss is minus the sum of
  the logs of those sums), and betas rescaled the same way; the posterior of a
  frame is alpha * beta normalised over the states. The kernel works in log space
  and takes the posterior as exp(alpha + beta + loss): a different route.
- `ctc_brute_force`: every alignment of a tiny problem enumerated, collapsed
  (merge repeats, drop blanks) and summed; the gradient of -log p with respect to
  lp[t, c] is minus the share of the alignments through class c at frame t.

`reference` applies torch's reductions (the per-target-length "mean"),
``zero_infinity`` and per-sequence weights to the per-sequence results.
"""

import itertools

import numpy as np


def _extended(labels, blank):
    ext = [blank]
    for y in labels:
        ext += [int(y), blank]
    return ext


def ctc_sequence(lp, labels, blank=0):
    """(loss, grad) of one sequence: lp (T, C) log-probabilities in float64, labels
    a list of ints. grad = d loss / d lp (minus the posterior); loss = inf when no
    alignment exists (grad is then NaN, as torch's)."""
    lp = np.asarray(lp, dtype=np.float64)
    t_n, c = lp.shape
    ext = _extended(labels, blank)
    s_n = len(ext)
    if t_n == 0:
        return (0.0 if not labels else np.inf), np.zeros((0, c))
    y = np.exp(lp)  # probabilities; -inf log-probabilities are 0
    alpha = np.zeros((t_n, s_n))
    log_scale = 0.0
    alpha[0, 0] = y[0, ext[0]]
    if s_n > 1:
        alpha[0, 1] = y[0, ext[1]]
    for t in range(t_n):
        if t > 0:
            for s in range(s_n):
                total = alpha[t - 1, s]
                if s >= 1:
                    total += alpha[t - 1, s - 1]
                if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                    total += alpha[t - 1, s - 2]
                alpha[t, s] = total * y[t, ext[s]]
        z = alpha[t].sum()
        if z == 0:
            return np.inf, np.full((t_n, c), np.nan)
        alpha[t] /= z
        log_scale += np.log(z)
    p_end = alpha[-1, -1] + (alpha[-1, -2] if s_n > 1 else 0.0)
    if p_end == 0:
        return np.inf, np.full((t_n, c), np.nan)
    loss = -(log_scale + np.log(p_end))
    # beta_t(s): probability of the rest given state s at frame t (frame t's
    # emission not included), rescaled per frame
    beta = np.zeros((t_n, s_n))
    beta[-1, -1] = 1.0
    if s_n > 1:
        beta[-1, -2] = 1.0
    for t in range(t_n - 2, -1, -1):
        for s in range(s_n):
            total = beta[t + 1, s] * y[t + 1, ext[s]]
            if s + 1 < s_n:
                total += beta[t + 1, s + 1] * y[t + 1, ext[s + 1]]
            if s + 2 < s_n and ext[s + 2] != blank and ext[s + 2] != ext[s]:
                total += beta[t + 1, s + 2] * y[t + 1, ext[s + 2]]
            beta[t, s] = total
        beta[t] /= beta[t].max()
    grad = np.zeros((t_n, c))
    for t in range(t_n):
        post = alpha[t] * beta[t]
        post /= post.sum()
        for s in range(s_n):
            grad[t, ext[s]] -= post[s]
    return float(loss), grad


def _collapse(path, blank):
    out = []
    prev = None
    for k in path:
        if k != prev and k != blank:
            out.append(k)
        prev = k
    return out


def ctc_brute_force(lp, labels, blank=0):
    """(loss, grad) of one sequence by enumerating all C**T alignments (tiny only),
    in log space: each alignment's log-probability, then their log-sum-exp, so it
    holds for log-probabilities of any magnitude."""
    lp = np.asarray(lp, dtype=np.float64)
    t_n, c = lp.shape
    labels = [int(v) for v in labels]
    paths = [
        path
        for path in itertools.product(range(c), repeat=t_n)
        if _collapse(path, blank) == labels
    ]
    logs = np.array([sum(lp[t, k] for t, k in enumerate(path)) for path in paths])
    if not paths or np.max(logs) == -np.inf:
        return np.inf, np.full((t_n, c), np.nan)
    top = np.max(logs)
    log_total = top + np.log(np.exp(logs - top).sum())
    grad = np.zeros((t_n, c))
    for path, v in zip(paths, logs):
        share = np.exp(v - log_total)
        for t, k in enumerate(path):
            grad[t, k] -= share
    return -log_total, grad


def reference(
    log_probs,
    targets,
    input_lengths,
    target_lengths,
    *,
    blank=0,
    reduction="mean",
    zero_infinity=False,
    from_logits=False,
    batch_first=False,
    sample_weight=None,
    seq=ctc_sequence,
):
    """(loss, grad) as fastloss documents them, in float64. targets are (N, S)
    padded or 1-D concatenated; log_probs (T, N, C) (or (N, T, C) batch_first)."""
    x = np.asarray(log_probs, dtype=np.float64)
    if batch_first:
        x = x.transpose(1, 0, 2)
    t_max, n, c = x.shape
    if from_logits:
        m = x.max(axis=-1, keepdims=True)
        lp = x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))
    else:
        lp = x
    il = np.asarray(input_lengths).reshape(-1)
    tl = np.asarray(target_lengths).reshape(-1)
    y = np.asarray(targets)
    if y.ndim == 2:
        seqs = [list(y[i, : tl[i]]) for i in range(n)]
    else:
        ends = np.cumsum(tl)
        seqs = [list(y[e - k : e]) for e, k in zip(ends, tl)]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    if reduction == "mean":
        d = w.sum()
        factor = np.array(
            [(w[i] / d if d else 0.0) / max(int(tl[i]), 1) for i in range(n)]
        )
    else:
        factor = w.copy()
    losses = np.zeros(n)
    grad = np.zeros_like(lp)
    for i in range(n):
        li, gi = seq(lp[: il[i], i], seqs[i], blank)
        if zero_infinity and li == np.inf:
            li, gi = 0.0, np.zeros_like(gi)
        if factor[i] == 0:  # a weight of 0 contributes exactly 0
            li, gi = 0.0, np.zeros_like(gi)
        else:
            li, gi = li * factor[i], gi * factor[i]
        if from_logits:  # through log_softmax: g - softmax * sum(g)
            gi = gi - np.exp(lp[: il[i], i]) * gi.sum(axis=-1, keepdims=True)
        losses[i] = li
        grad[: il[i], i] = gi
    if batch_first:
        grad = grad.transpose(1, 0, 2)
    if reduction == "none":
        return losses, grad
    return float(losses.sum()), grad
