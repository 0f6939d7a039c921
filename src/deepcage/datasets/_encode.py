"""ENCODE DNase + RNA (the paper's data): pooch download code and the bundled TF TPM table."""

from __future__ import annotations

__all__ = ["encode", "encode_tf_tpm"]


def encode(*args, **kwargs):
    raise NotImplementedError("encode is being implemented")


def encode_tf_tpm(*args, **kwargs):
    raise NotImplementedError("encode_tf_tpm is being implemented")
