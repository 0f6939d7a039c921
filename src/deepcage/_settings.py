"""Package settings (``dc.settings``): how much deepcage tells (verbosity, progress bars) and CPU threads for torch."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from enum import IntEnum

__all__ = ["Verbosity", "settings", "show_progress"]


class Verbosity(IntEnum):
    """How much deepcage tells, as scanpy's ``sc.settings.verbosity``: 0 ``'error'``, 1 ``'warning'`` (default),
    2 ``'info'``, 3 ``'hint'``, 4 ``'debug'``.

    ``'error'`` hides progress bars too; from ``'info'`` on deepcage's info messages show, and so do
    Lightning's console lines (``GPU available: ...``, ``LOCAL_RANK ...``, the model summary of
    :func:`deepcage.tl.fit`), which deepcage silences below it.
    """

    error = 0
    warning = 1
    info = 2
    hint = 3
    debug = 4

    @contextlib.contextmanager
    def override(self, verbosity):
        """Run a block at another verbosity (as scanpy's ``sc.settings.verbosity.override('info')``)."""
        before = settings.verbosity
        settings.verbosity = verbosity
        try:
            yield settings.verbosity
        finally:
            settings.verbosity = before


#: the level of the ``deepcage`` logger at each verbosity ('hint' shows what 'info' does)
_LOG_LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO, 3: logging.INFO, 4: logging.DEBUG}


def _verbosity(value) -> Verbosity:
    if isinstance(value, str):
        name = value.strip().lower()
        if name in Verbosity.__members__:
            return Verbosity[name]
        if name.lstrip("-").isdigit():
            value = int(name)
    if isinstance(value, int | float) and not isinstance(value, bool) and value == int(value):
        return Verbosity(min(max(int(value), 0), 4))  # scanpy accepts 5 and above as debug
    names = ", ".join(f"{v.value} {v.name!r}" for v in Verbosity)
    raise ValueError(f"verbosity must be one of {names}; got {value!r}.")


class _StderrHandler(logging.StreamHandler):
    """deepcage's console handler: messages to the *current* ``sys.stderr`` (as Jupyter and pytest replace it),
    ``WARNING: ...`` / ``ERROR: ...`` prefixed as scanpy's. Silent when the root logger has handlers (Jupyter's,
    ``logging.basicConfig``, pytest's): the records propagate and print there, once."""

    def __init__(self):
        super().__init__()
        self.setFormatter(_Formatter())

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ assigns it
        pass

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger().handlers:
            return
        super().emit(record)


class _Formatter(logging.Formatter):
    #: set by the command line: its warnings read ``deepcage <command>: warning: ...``, with its flags
    prefix: str | None = None
    translate = None

    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if self.translate is not None:
            msg = self.translate(msg)
        if record.exc_info:
            msg = f"{msg}\n{self.formatException(record.exc_info)}"
        if record.levelno < logging.WARNING:
            return msg
        if self.prefix:
            return f"{self.prefix}: {record.levelname.lower()}: {' '.join(msg.split())}"
        return f"{record.levelname}: {msg}"


_logger = logging.getLogger("deepcage")
for _h in [h for h in _logger.handlers if type(h).__name__ == "_StderrHandler"]:  # a reload of this module
    _logger.removeHandler(_h)
_handler = _StderrHandler()
_logger.addHandler(_handler)


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
    """Global options of deepcage, as ``dc.settings`` (after scanpy's ``sc.settings``).

    Attributes
    ----------
    n_threads
        CPU threads torch uses in :func:`deepcage.tl.fit`, :func:`deepcage.tl.predict` and the other model calls.
        ``None`` (default, or the environment variable ``DEEPCAGE_NUM_THREADS``) chooses at the start of each
        call: the CPUs available to the process (its affinity mask) minus those other processes keep busy at that
        moment, at least 1 and at most torch's own setting. Threads that wait for a CPU held by another process
        stall every parallel step, which on a shared machine slows training tenfold or more; one thread per free
        core keeps a busy machine at about the speed its fair share allows. An integer fixes the count.

    verbosity
        How much deepcage tells, as scanpy's ``sc.settings.verbosity``: ``0``/``'error'``, ``1``/``'warning'``
        (default, or the environment variable ``DEEPCAGE_VERBOSITY``), ``2``/``'info'``, ``3``/``'hint'``,
        ``4``/``'debug'`` (read back as a ``Verbosity``, an ``IntEnum``). It sets the level of the ``deepcage`` logger (messages go to
        stderr, or to the root logger's handlers where there are some), whether progress bars show when a
        function's ``progress`` is left at ``None`` (from ``'warning'`` on) and whether Lightning's console
        lines (devices, model summary) show (from ``'info'`` on). Progress bars go to stderr, so
        ``deepcage demo > results.txt`` keeps the results file clean.

    Examples
    --------
    >>> dc.settings.n_threads = 4  # doctest: +SKIP
    >>> dc.settings.verbosity = "info"  # doctest: +SKIP
    >>> with dc.settings.verbosity.override("error"):  # doctest: +SKIP
    ...     model = dc.tl.fit(adata)  # no progress bars, no messages
    """

    def __init__(self):
        env = os.environ.get("DEEPCAGE_NUM_THREADS")
        self._n_threads: int | None = None
        if env:
            self.n_threads = env
        self._verbosity = Verbosity.warning
        self.verbosity = os.environ.get("DEEPCAGE_VERBOSITY") or Verbosity.warning

    @property
    def verbosity(self) -> Verbosity:
        return self._verbosity

    @verbosity.setter
    def verbosity(self, value) -> None:
        self._verbosity = _verbosity(value)
        if self is globals().get("settings", self):  # a Settings() made in a test does not touch the logger
            _logger.setLevel(_LOG_LEVELS[int(self._verbosity)])

    @property
    def progress(self) -> bool:
        """Whether progress bars show when a function's ``progress`` is ``None`` (verbosity ``'warning'`` or more)."""
        return self._verbosity >= Verbosity.warning

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
        return (
            f"deepcage settings: verbosity={self._verbosity.value} ({self._verbosity.name!r}), "
            f"n_threads={self._n_threads or 'auto'}"
        )


settings = Settings()


def show_progress(progress: bool | None) -> bool:
    """A function's ``progress`` argument: ``None`` follows :attr:`Settings.verbosity` (bars from ``'warning'``)."""
    return settings.progress if progress is None else bool(progress)
