"""Renamed arguments: the old spelling still works, with a :class:`FutureWarning` that names the new one."""

from __future__ import annotations

import functools
import warnings

__all__ = ["renamed_arg"]


def renamed_arg(old: str, new: str):
    """Accept ``old=`` as a deprecated spelling of ``new=`` (as scanpy's ``renamed_arg``).

    ``FutureWarning`` (shown to users by default, unlike ``DeprecationWarning``): ``fit(progress_bar=False)`` reads
    ``dc.tl.fit: progress_bar= is deprecated; use progress= instead ...``. Both given is a ``TypeError``.
    """

    def decorator(func):
        where = (
            f"dc.{func.__module__.split('.')[1]}.{func.__name__}"
            if func.__module__.count(".")
            else func.__name__
        )

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if old in kwargs:
                if new in kwargs:
                    raise TypeError(f"{where}: give {new}= only ({old}= is its deprecated spelling).")
                warnings.warn(
                    f"{where}: {old}= is deprecated and will be removed; use {new}= instead (same meaning).",
                    FutureWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        wrapper.__renamed_args__ = {**getattr(func, "__renamed_args__", {}), old: new}
        return wrapper

    return decorator
