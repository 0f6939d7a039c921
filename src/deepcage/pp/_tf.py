"""TF expression: TPM/CPM -> log1p -> quantile normalisation against a training reference."""

from __future__ import annotations

__all__ = ["apply_tf_reference", "tf_expression"]


def tf_expression(*args, **kwargs):
    raise NotImplementedError("tf_expression is being implemented")


def apply_tf_reference(*args, **kwargs):
    raise NotImplementedError("apply_tf_reference is being implemented")
