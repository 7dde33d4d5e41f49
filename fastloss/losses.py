"""Keras-named loss classes over the fastloss kernels, and `get_loss`."""

__all__ = ["get_loss"]


def get_loss(name):
    """Resolve a fastloss or Keras loss name (not yet populated)."""
    raise ValueError(f"unknown loss {name!r}")
