"""Row-wise losses over the last axis (softmax focal, KL divergence, perplexity,
triplet margin)."""

__all__ = []
