"""Package settings (``dc.settings``): CPU threads for torch."""

from __future__ import annotations

import os

__all__ = ["settings"]


def _available_cpus() -> int:
    """CPUs this process may run on (the affinity mask, which containers and job schedulers restrict)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _busy_cpus(samples: int = 5, interval: float = 0.005) -> int:
    """CPUs other processes keep busy now: the median over a few samples of ``/proc/loadavg``'s count of
    runnable tasks, minus this process (a moment's sample, not the 1-minute average, which also counts this
    process's own past threads)."""
    import time

    counts = []
    for i in range(samples):
        try:
            with open("/proc/loadavg") as fh:
                counts.append(int(fh.read().split()[3].split("/")[0]))
        except (OSError, ValueError, IndexError):
            return 0
        if i + 1 < samples:
            time.sleep(interval)
    return max(sorted(counts)[len(counts) // 2] - 1, 0)


class Settings:
    """Global options of deepcage, as ``dc.settings``.

    Attributes
    ----------
    n_threads
        CPU threads torch uses in :func:`deepcage.tl.fit`, :func:`deepcage.tl.predict` and the other model calls.
        ``None`` (default, or the environment variable ``DEEPCAGE_NUM_THREADS``) chooses at the start of each
        call: the CPUs available to the process (its affinity mask) minus those other processes keep busy at that
        moment, at least 1 and at most torch's own setting. Threads that wait for a CPU held by another process
        stall every parallel step, which on a shared machine slows training tenfold or more; one thread per free
        core keeps a busy machine at about the speed its fair share allows. An integer fixes the count.

    Examples
    --------
    >>> dc.settings.n_threads = 4  # doctest: +SKIP
    """

    def __init__(self):
        env = os.environ.get("DEEPCAGE_NUM_THREADS")
        self._n_threads: int | None = None
        if env:
            self.n_threads = env

    @property
    def n_threads(self) -> int | None:
        return self._n_threads

    @n_threads.setter
    def n_threads(self, value) -> None:
        if value is None or value == "auto":
            self._n_threads = None
            return
        try:
            n = int(value)
        except (TypeError, ValueError):
            n = 0
        if n < 1:
            raise ValueError(f"n_threads must be a positive integer or None (automatic), got {value!r}.")
        self._n_threads = n

    def threads_now(self, current: int) -> int:
        """The thread count a model call uses now (``current``: torch's present setting)."""
        if self._n_threads is not None:
            return self._n_threads
        if current <= 1:
            return 1
        return max(1, min(current, _available_cpus() - _busy_cpus()))

    def __repr__(self) -> str:
        return f"deepcage settings: n_threads={self._n_threads or 'auto'}"


settings = Settings()
