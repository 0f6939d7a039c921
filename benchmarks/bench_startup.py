"""Start-up time: ``import deepcage`` and ``deepcage --help`` ÷ a bare ``python -c pass``, measured in the same run.

Each command runs ``--repeats`` times in a fresh interpreter, alternating with the baseline, and the median is
kept (other jobs on a shared machine add spikes, not a constant). Target: ``deepcage --help`` and argument
errors answer well under a second, i.e. torch, lightning, scanpy and matplotlib are not imported for them.
The script also checks which heavy modules ``import deepcage`` loads (none should be).

Run: python benchmarks/bench_startup.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

HEAVY = ("torch", "lightning", "scanpy", "matplotlib", "anndata", "numba")


def _time(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    py = sys.executable
    commands = {
        "python -c pass (baseline)": [py, "-c", "pass"],
        "import deepcage": [py, "-c", "import deepcage"],
        "deepcage --help": [py, "-m", "deepcage.cli", "--help"],
        "deepcage fit --help": [py, "-m", "deepcage.cli", "fit", "--help"],
        "deepcage fit (missing file: error)": [
            py,
            "-m",
            "deepcage.cli",
            "fit",
            "/nonexistent.h5ad",
            "/tmp/m",
        ],
    }
    script = shutil.which("deepcage")
    if script:
        commands["deepcage --help (console script)"] = [script, "--help"]
    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeats):
        for name, cmd in commands.items():
            times[name].append(_time(cmd))
    base = statistics.median(times["python -c pass (baseline)"])
    print(f"{'command':40s} {'median s':>9s} {'x baseline':>11s}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:40s} {med:9.3f} {med / base:11.1f}")
    probe = f"import sys, deepcage; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([py, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    print(f"heavy modules loaded by 'import deepcage': {loaded or 'none'}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    help_s = statistics.median(times["deepcage --help"])
    print(
        f"SUMMARY: deepcage --help {help_s:.2f} s = {help_s / base:.1f}x python -c pass ({base:.2f} s); "
        f"import deepcage {statistics.median(times['import deepcage']):.2f} s; heavy imports: {loaded or 'none'}"
    )


if __name__ == "__main__":
    main()
