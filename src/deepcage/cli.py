"""Command line: ``deepcage demo | prepare | fit | predict``, from peak files and an RNA table to predictions.

Errors print one line, ``deepcage <command>: error: <what and what to do>``, without a traceback: exit code 2
for usage errors (missing or wrong arguments), 1 for errors in the data or files. ``--debug`` shows the
traceback. Messages raised in Python name the command's flags instead of the Python spellings
(``pass fill_missing=True`` reads ``pass --fill-missing``; see :func:`cli_spelling`). Results go to stdout;
progress bars, warnings and messages to stderr (``-q`` errors only, ``-v`` more). Heavy libraries (torch,
lightning, anndata) load only once the arguments are checked.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import shlex
import shutil
import signal
import sys
import warnings
from pathlib import Path

PROG = "deepcage"
_PKG_DIR = Path(__file__).resolve().parent
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


class UsageError(Exception):
    """Wrong or missing command-line arguments (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors raised (one line, exit 2) instead of printing the usage block and exiting."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


# ----------------------------------------------------------------------------------------------- errors
def _raised_by_deepcage(err: BaseException) -> bool:
    tb = err.__traceback__
    if tb is None:
        return True
    while tb.tb_next is not None:
        tb = tb.tb_next
    return Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(_PKG_DIR)


def one_line(err: BaseException) -> str:
    """The message of ``err`` on one line; errors from deep inside a library say so and point to ``--debug``."""
    msg = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    msg = " ".join(str(msg).split()) or type(err).__name__
    if isinstance(err, UsageError) or _raised_by_deepcage(err):
        return msg
    return f"{type(err).__name__}: {msg} (raised inside a library; run with --debug for the traceback)"


# ----------------------------------------------------------------------------------------------- Python -> flags
def python_flags(sub: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """The options of a subcommand by their Python spelling: ``{'fill_missing': <--fill-missing>, ...}`` (an
    option stored under another name, as ``--out``'s ``out_option``, also under the Python one)."""
    flags = {}
    for action in sub._actions:
        long = [o for o in action.option_strings if o.startswith("--")]
        if not long or action.dest in ("help", "debug"):
            continue
        flags[action.dest] = action
        flags.setdefault(long[0][2:].replace("-", "_"), action)
        if action.dest.endswith("_option"):
            flags.setdefault(action.dest[: -len("_option")], action)
    return flags


_GENOME_CALL = re.compile(r"\bgenome=dc\.Genome\(\s*(?:(['\"])(?P<path>[^'\"]*)\1)?(?:[^()]|\([^()]*\))*\)")
_PY_ARG = re.compile(
    r"(?<![\w.\-])(?P<name>[a-z][a-z0-9_]*)=(?P<value>True\b|False\b|None\b|'[^']*'|\"[^\"]*\"|-?\d[\d.e+-]*|(?=[\s,.;:)]|$))"
)
_CLI_NOTE = re.compile(r"\s*\(command line: [^)]*\)")
_CLI_HINT = re.compile(r"\((--[\w-]+)[^()]* on the command line\)")


def cli_spelling(message: str, flags: dict[str, argparse.Action]) -> str:
    """A message written for Python with the command's flags: ``fill_missing=True`` -> ``--fill-missing``,
    ``genome=dc.Genome('hg38.fa', name='hg38')`` -> ``--genome hg38.fa``, ``samples=`` -> ``--samples``,
    ``batch_size=128`` -> ``--batch-size 128``; ``(command line: ...)`` notes are dropped (the message now says
    it). Names the command has no flag for (Python-only options) are left as they are, and so are those the
    message already gives the flag of (``... (--gene-names on the command line)``)."""
    hinted = {m.group(1) for m in _CLI_HINT.finditer(message)}

    def flag(name: str):
        action = flags.get(name)
        if action is None:
            return None
        long = next(o for o in action.option_strings if o.startswith("--"))
        return None if long in hinted else (action, long)

    def genome(m: re.Match) -> str:
        found = flag("genome")
        if found is None:
            return m.group(0)
        return f"{found[1]} {m.group('path') or 'FASTA'}"

    def arg(m: re.Match) -> str:
        found = flag(m.group("name"))
        if found is None:
            return m.group(0)
        action, long = found
        value = m.group("value")
        if value in ("True", "False"):
            negated = f"--no-{long[2:]}"
            if isinstance(action, argparse.BooleanOptionalAction):
                return long if value == "True" else negated
            if action.nargs == 0:  # store_true: --overwrite; store_true --no-x stands for x=False
                want = value == "True" if not long.startswith("--no-") else value == "False"
                return long if want else m.group(0)
            return f"{long} {value.lower()}"
        if value == "None":
            return m.group(0)
        if value:
            return f"{long} {value.strip(chr(39) + chr(34))}"
        return long

    text = _CLI_NOTE.sub("", message)
    text = _GENOME_CALL.sub(genome, text)
    text = _PY_ARG.sub(arg, text)
    # the Python parameter progress is --no-progress on the command line
    if "no_progress" in flags:
        text = re.sub(r"(?<![\w.\-])progress=False\b", "--no-progress", text)
    return text


def _rank() -> int:
    """This process's rank in a multi-process run (Lightning DDP re-runs the command once per device), from the
    variables Lightning, torchrun and SLURM set; 0 for a single process."""
    for key in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        value = os.environ.get(key)
        if value is not None and value.strip().lstrip("-").isdigit():
            return int(value)
    return 0


@contextlib.contextmanager
def _one_line_warnings(command: str, flags: dict | None = None):
    """Warnings as one ``deepcage <command>: warning: ...`` line each, without the source line, whoever raised
    them (Lightning's own formatting included), with the command's flags for Python spellings
    (:func:`cli_spelling`); the other ranks of a multi-process run stay quiet (rank 0 prints the same warnings),
    and so does ``--quiet``. deepcage's log messages get the same prefix."""
    from ._settings import Verbosity, _Formatter, settings

    original = warnings.showwarning
    prefix = f"{PROG} {command}"

    def show(message, category, filename, lineno, file=None, line=None):
        if _rank() != 0 or settings.verbosity < Verbosity.warning:
            return
        text = cli_spelling(" ".join(str(message).split()), flags or {})
        print(f"{prefix}: warning: {text}", file=file or sys.stderr)

    warnings.showwarning = show
    before = _Formatter.prefix, _Formatter.translate
    _Formatter.prefix, _Formatter.translate = prefix, lambda text: cli_spelling(text, flags or {})
    try:
        yield
    finally:
        warnings.showwarning = original
        _Formatter.prefix, _Formatter.translate = before


class _FoldLightningLines(logging.Filter):
    """Lightning's console lines, one line each: its multi-line banners folded, and its Ctrl-C notice left to
    deepcage's own 'interrupted' line."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "Detected KeyboardInterrupt" in text:
            return False
        if "\n" in text.strip():
            record.msg = " ".join(w for w in text.split() if set(w) != {"-"})
            record.args = ()
        return True


@contextlib.contextmanager
def _one_line_lightning():
    """Fold Lightning's log lines (see :class:`_FoldLightningLines`) while a command trains or predicts."""
    import lightning.pytorch  # noqa: F401  (sets up Lightning's console handlers)

    fold = _FoldLightningLines()
    handlers = {
        h
        for name in ("lightning", "lightning.pytorch", "lightning.fabric")
        for h in logging.getLogger(name).handlers
    }
    for h in handlers:
        h.addFilter(fold)
    try:
        yield
    finally:
        for h in handlers:
            h.removeFilter(fold)


# ----------------------------------------------------------------------------------------------- files
def _input_file(path: str | os.PathLike, what: str, *, allow_empty: bool = False) -> Path:
    """An existing, non-empty, readable file (clear error naming it otherwise)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} {p}: file not found.")
    if p.is_dir():
        raise IsADirectoryError(f"{what} {p} is a folder; expected a file.")
    if not os.access(p, os.R_OK):
        raise PermissionError(f"{what} {p}: no permission to read it.")
    if p.stat().st_size == 0 and not allow_empty:
        raise ValueError(f"{what} {p} is empty (0 bytes).")
    return p


def _output_path(
    path: str | os.PathLike, what: str, *, overwrite: bool, suffixes=None, folder=False, model=False
) -> Path:
    """Check an output before any work: suffix, existing folder, existing file (needs --overwrite; a folder is
    replaced only when it holds what the command writes, a model with ``model=True``, else bigWig tracks)."""
    p = Path(path)
    if suffixes and p.suffix not in suffixes:
        raise UsageError(f"{what} {p} must end in {' or '.join(suffixes)}.")
    if (
        p.exists() and _rank() == 0
    ):  # the other ranks of a multi-process run re-run the command; rank 0 writes
        if folder and not p.is_dir():
            raise UsageError(f"{what} {p} is an existing file; give a folder name.")
        if not folder and p.is_dir():
            raise UsageError(f"{what} {p} is an existing folder; give a file name.")
        if not overwrite:
            raise UsageError(f"{what} {p} exists; pass --overwrite to replace it.")
        if folder:
            _replaceable_folder(p, what, model=model)
    parent = p.absolute().parent
    if not parent.is_dir():
        raise FileNotFoundError(f"{what} {p}: the folder {parent} does not exist; create it first.")
    if not os.access(parent, os.W_OK):
        raise PermissionError(f"{what} {p}: the folder {parent} is not writable.")
    return p


_MODEL_FILES = ("manifest.json", "model.json", "weights.pt")


def _holds_model(folder: Path) -> bool:
    return any((folder / name).is_file() for name in _MODEL_FILES)


def _replaceable_folder(p: Path, what: str, *, model: bool) -> None:
    """With --overwrite, an existing folder output is replaced only when it is what this command writes: a model
    folder for 'fit', a folder of bigWig tracks for 'predict'; any other folder (a project, a data folder) is
    refused by name, so --overwrite never deletes files it did not write."""
    entries = sorted(e.name for e in p.iterdir())
    if not entries:
        return
    if model:
        if _holds_model(p):
            return
        raise UsageError(
            f"{what} {p} exists and is not a deepcage model folder (it holds {len(entries)} entries, e.g. "
            f"{entries[:3]}); --overwrite replaces only a saved model. Give a new folder name."
        )
    if _holds_model(p):
        raise UsageError(
            f"{what} {p} holds a saved deepcage model; --overwrite does not replace a model with predictions. "
            "Give another folder for the bigWig tracks."
        )
    other = [e for e in entries if not e.lower().endswith((".bw", ".bigwig"))]
    if other:
        raise UsageError(
            f"{what} {p} holds files other than bigWig tracks (e.g. {other[:3]}); --overwrite replaces only a "
            "folder of tracks. Give a new folder name."
        )


def read_data(path: str | os.PathLike, what: str = "input"):
    """An AnnData (``.h5ad``) or MuData (``.h5mu``) file, with errors that name the file and say what it is."""
    p = Path(path)
    if p.is_dir() and ((p / ".zattrs").exists() or (p / "zarr.json").exists()):
        import anndata

        return anndata.read_zarr(p)
    p = _input_file(p, what)
    with open(p, "rb") as fh:
        head = fh.read(4096 + len(_HDF5_MAGIC))
    # the HDF5 signature sits at offset 0 or after a user block of 512 * 2**k bytes (.h5mu files have one)
    if not any(head[o : o + len(_HDF5_MAGIC)] == _HDF5_MAGIC for o in (0, 512, 1024, 2048, 4096)):
        head = head[:512]
        if head[:2] == b"\x1f\x8b":
            kind = "gzip-compressed: decompress it first (gunzip)"
        elif b"\0" not in head:
            first = head.split(b"\n")[0].decode("utf-8", errors="replace")[:60]
            kind = f"a text file (it starts with {first!r})"
        else:
            kind = "not an HDF5 file"
        raise ValueError(
            f"{what} {p} is {kind}; expected an AnnData .h5ad or MuData .h5mu file. Build one from peak files and an "
            "RNA table with 'deepcage prepare'."
        )
    import h5py

    try:
        with h5py.File(p, "r") as fh:
            is_mudata = "mod" in fh
        if is_mudata:
            import mudata

            with mudata.set_options(pull_on_update=False):
                return mudata.read_h5mu(p)
        import anndata

        return anndata.read_h5ad(p)
    except Exception as err:  # h5py/anndata raise many kinds for damaged or foreign HDF5 files
        raise ValueError(
            f"{what} {p}: not a readable AnnData/MuData file ({type(err).__name__}: {one_line(err)})."
        ) from err


def _check_layout(data, path: Path, *, need: dict[str, str]) -> None:
    """The slots a command needs (``{'varm:motif_scores': 'motif scores', ...}``), named with the file if missing."""
    from ._utils import get_modality

    adata = get_modality(data, "atac")
    for slot, meaning in need.items():
        kind, _, key = slot.partition(":")
        container = {"varm": adata.varm, "obsm": adata.obsm, "var": adata.var, "layers": adata.layers}[kind]
        if key not in container:
            raise ValueError(
                f"{path} has no {kind}[{key!r}] ({meaning}). Build the file with 'deepcage prepare', or add it in "
                "Python (dc.pp.motif_scores, dc.pp.tf_expression, dc.pp.split_loci)."
            )


def read_expression(path: str | os.PathLike, args):
    """Samples x genes expression: the 'rna' modality of .h5ad/.h5mu, or a table read like the Python API."""
    p = Path(path)
    if p.suffix in (".h5ad", ".h5mu"):
        from ._utils import get_modality
        from .pp._tf import loci_instead_of_genes

        data = read_data(p, "expression")
        if hasattr(data, "mod") and "rna" not in data.mod:
            raise ValueError(
                f"expression {p} has no 'rna' modality (it has {list(data.mod)}): the RNA of the samples is needed "
                f"(a genes x samples table, or an .h5ad/.h5mu with genes as var). To predict the samples of a "
                f"prepared file, give it as --data {p}."
            )
        rna = get_modality(data, "rna")
        example = loci_instead_of_genes(rna)
        if example is not None:
            raise ValueError(
                f"expression {p} holds accessibility, not RNA: its {rna.n_vars:,} var are genomic loci (e.g. "
                f"{example!r}), not genes. --expr takes the RNA of new samples (a genes x samples table, or an "
                f".h5ad/.h5mu with genes as var); to predict the samples of a prepared file, give it as --data {p}."
            )
        return rna
    from .io import read_expression_table

    _input_file(p, "expression table")
    if args.gene_names is not None:
        _input_file(args.gene_names, "gene names table")
    return read_expression_table(
        p, orient=args.orient, units=args.units, gene_names=args.gene_names, duplicates=args.duplicates
    )


def _add_expression_options(p, what: str) -> None:
    p.add_argument(
        "--orient",
        choices=["genes_by_samples", "samples_by_genes"],
        default="genes_by_samples",
        help=f"orientation of the {what} table (default: genes x samples, as dc.io.read_expression_table)",
    )
    p.add_argument(
        "--units",
        choices=["auto", "counts", "tpm", "cpm", "fpkm", "rpkm"],
        default="auto",
        help="expression units (default auto: integers are counts, else TPM)",
    )
    p.add_argument(
        "--gene-names", default=None, help="2-column file gene id -> symbol, for tables of gene ids"
    )
    p.add_argument(
        "--duplicates",
        choices=["auto", "sum", "first", "raise"],
        default="auto",
        help="genes listed twice: auto (identical copies kept once, others summed), sum, first, raise",
    )


def _devices(text):
    """``--devices`` as Lightning takes it: 'auto', an int (also -1: all GPUs), or a string of GPU indices."""
    if text is None:
        return None
    text = str(text).strip()
    return int(text) if text.lstrip("-").isdigit() else text


def _check_trainer_options(accelerator, devices, strategy="auto", precision=None, num_nodes=1) -> None:
    """Lightning's checks of --accelerator/--devices/--strategy/--precision, run before any data is read, as
    one-line usage errors that say what to do (Lightning raises several kinds, some many lines long)."""
    try:
        from lightning.pytorch.trainer.connectors.accelerator_connector import _AcceleratorConnector
    except ImportError:  # another Lightning layout: Lightning's own errors are still made one line by main
        return
    kw = {"accelerator": accelerator, "devices": devices, "strategy": strategy, "num_nodes": num_nodes}
    if precision is not None:
        kw["precision"] = precision
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _AcceleratorConnector(**kw)
    except Exception as err:  # MisconfigurationException, ValueError, TypeError, ModuleNotFoundError, ...
        raise UsageError(_device_advice(err, accelerator, devices, strategy, precision)) from None


def _device_advice(err: BaseException, accelerator, devices, strategy, precision) -> str:
    import torch

    msg = " ".join(str(err).split()) or type(err).__name__
    msg = msg if msg.endswith((".", "!", "?")) else f"{msg}."
    low = msg.lower()
    gpu_words = ("gpu", "cuda")
    if str(accelerator).lower() in gpu_words and not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else "a CUDA build, but it sees no GPU"
        return (
            f"--accelerator {accelerator}: no GPU is available on this machine (torch {torch.__version__} is "
            f"{build}). Use --accelerator cpu, or auto (a GPU when there is one); on a GPU machine check "
            "nvidia-smi and install a CUDA build of torch."
        )
    if str(accelerator).lower() == "mps" and not torch.backends.mps.is_available():
        return (
            "--accelerator mps: Apple's MPS is not available on this machine. Use --accelerator cpu or auto."
        )
    if "precision" in low:
        return (
            f"--precision {precision}: {msg} Leave it out for the default (16-mixed on GPU, 32-true on CPU)."
        )
    if "strategy" in low:
        return f"--strategy {strategy}: {msg} Use auto, ddp or ddp_spawn."
    if "devices" in low or "requested" in low or "device" in low:
        if torch.cuda.is_available() and str(accelerator).lower() != "cpu":
            n = torch.cuda.device_count()
            what = f"a number of GPUs up to {n}, 'auto', or GPU indices such as 0,1 (this machine has {n})"
        else:
            what = "a positive number of CPU processes (e.g. 1 or 2) or 'auto' (this machine has no GPU)"
        return f"--devices {devices}: {msg} Give {what}."
    return f"--accelerator {accelerator}: {msg} Use cpu, gpu, mps or auto."


def _progress(args) -> bool | None:
    """``--no-progress``: False; else None (progress bars unless ``--quiet``, as ``dc.settings.verbosity``)."""
    return False if getattr(args, "no_progress", False) else None


def _verbosity(args):
    """``-q`` (errors only, no progress bars), ``-v`` (info: deepcage's messages, Lightning's device lines and
    model summary), ``-vv`` (debug), for the command's run."""
    from ._settings import Verbosity, settings

    verbose, quiet = getattr(args, "verbose", 0) or 0, getattr(args, "quiet", False)
    if verbose and quiet:
        raise UsageError("-q/--quiet and -v/--verbose contradict each other; give one.")
    if quiet:
        return settings.verbosity.override(Verbosity.error)
    if verbose:
        return settings.verbosity.override(Verbosity.info if verbose == 1 else Verbosity.debug)
    return contextlib.nullcontext()


def _threads(args) -> None:
    if getattr(args, "threads", None) is not None:
        from ._settings import settings

        settings.n_threads = args.threads


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def _common(p, *, progress: bool = True, threads: bool = True) -> None:
    if threads:
        p.add_argument(
            "--threads",
            type=_positive_int,
            default=None,
            help="CPU threads for torch (default: the CPUs not busy with other jobs; dc.settings.n_threads)",
        )
    if progress:
        p.add_argument("--no-progress", action="store_true", help="hide progress bars (they go to stderr)")
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more messages on stderr: -v info (also Lightning's device lines and model summary), -vv debug "
        "(dc.settings.verbosity)",
    )
    p.add_argument(
        "-q", "--quiet", action="store_true", help="errors only: no warnings, no messages, no progress bars"
    )
    p.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks of errors"
    )


# ----------------------------------------------------------------------------------------------- prepare
_PEAK_SUFFIXES = (".narrowpeak", ".broadpeak", ".bed", ".txt", ".tsv")


def _sample_of_peak_file(path: Path) -> str:
    """``CD4.narrowPeak.gz`` -> ``CD4``; ``GMP-A.bed`` -> ``GMP-A``."""
    name = path.name
    for comp in (".gz", ".bgz", ".bz2"):
        if name.lower().endswith(comp):
            name = name[: -len(comp)]
    for suffix in _PEAK_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _peaks_from_files(files: list[str]) -> dict[str, list[Path]]:
    peaks: dict[str, list[Path]] = {}
    for f in files:
        path = _input_file(f, "peak file", allow_empty=True)  # a sample without peaks is warned about later
        sample = _sample_of_peak_file(path)
        if sample in peaks:
            raise UsageError(
                f"peak files {peaks[sample][0]} and {path} both give sample name {sample!r}; for replicates of one "
                "sample use --sample-sheet (one row per file)."
            )
        peaks[sample] = [path]
    return peaks


def _peaks_from_sheet(sheet: str) -> dict[str, list[Path]]:
    """``sample`` and ``peaks`` columns (CSV or TSV); rows sharing a sample are replicates; relative paths are
    relative to the sheet."""
    import pandas as pd

    path = _input_file(sheet, "sample sheet")
    try:
        table = pd.read_csv(path, sep=None, engine="python", dtype=str, encoding="utf-8-sig", comment="#")
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"sample sheet {path}: not a readable CSV/TSV table ({one_line(err)}).") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    peak_col = next((c for c in ("peaks", "peak_file", "file", "path") if c in table.columns), None)
    if "sample" not in table.columns or peak_col is None:
        raise ValueError(
            f"sample sheet {path} needs the columns 'sample' and 'peaks' (one row per peak file; replicates share "
            f"a sample name); it has {list(table.columns)}."
        )
    peaks: dict[str, list[Path]] = {}
    for i, row in enumerate(table.itertuples(index=False), start=2):  # line 1 is the header
        sample, file = row.sample, getattr(row, peak_col)
        if not isinstance(sample, str) or not sample.strip() or not isinstance(file, str) or not file.strip():
            raise ValueError(f"sample sheet {path}, line {i}: empty sample name or peak file.")
        f = Path(file.strip())
        f = f if f.is_absolute() else path.parent / f
        if not f.is_file():
            raise FileNotFoundError(
                f"sample sheet {path}, line {i}: peak file {f} not found (relative paths are relative to the sheet)."
            )
        peaks.setdefault(sample.strip(), []).append(f)
    if not peaks:
        raise ValueError(f"sample sheet {path} lists no peak files.")
    return peaks


def _add_prepare(sub) -> None:
    p = sub.add_parser(
        "prepare",
        help="build the training file (.h5ad/.h5mu) from peak files, an RNA table, a genome and motifs",
        description=(
            "Peak files -> bins labelled open/closed (the replicate rule), TF expression (log1p, quantile-normalised "
            "on the training samples), motif scores per bin and TF, and the sample and locus splits: the same steps "
            "as the Python pipeline (dc.pp.bin_genome, binarize_peaks, motif_scores, split_samples, tf_expression, "
            "split_loci). OUT ending in .h5mu also keeps the RNA of every sample, including those without peaks."
        ),
    )
    p.add_argument("out", help="output .h5ad (samples x loci) or .h5mu ('atac' + 'rna')")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--peaks", nargs="+", help="one peak file (narrowPeak/BED, gz or plain) per sample, named by file"
    )
    src.add_argument(
        "--sample-sheet",
        help="CSV/TSV with columns 'sample' and 'peaks' (one row per file; replicates share a sample)",
    )
    p.add_argument(
        "--rna", required=True, help="expression table: genes x samples (as RSEM/featureCounts tables)"
    )
    _add_expression_options(p, "--rna")
    p.add_argument("--genome", nargs="+", required=True, help="genome FASTA file(s), plain or bgzip")
    p.add_argument(
        "--genome-name", default=None, help="assembly name stored with the data and models, e.g. hg38"
    )
    p.add_argument("--motifs", required=True, help="motif database: HOMER .motif, MEME .meme, or 'jaspar'")
    p.add_argument("--motif-tf-table", default=None, help="motif id -> TF symbol table (e.g. HOCOMOCO's)")
    p.add_argument(
        "--min-score",
        default=None,
        help="motif score floor: a number, or 'motif' for each motif's own threshold (faster; default: exact best)",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--regions", default=None, help="BED file of the regions to bin (default: whole genome)"
    )
    where.add_argument("--chroms", nargs="+", default=None, help="contigs to bin (default: all)")
    p.add_argument(
        "--bin-size", type=_positive_int, default=200, help="bin width in bp (default 200, the paper's)"
    )
    p.add_argument("--blacklist", default=None, help="BED file of regions to drop (e.g. ENCODE blacklist)")
    p.add_argument(
        "--min-samples",
        type=int,
        default=1,
        help="keep bins open in >= N samples (default 1: the union of peaks, as the paper; 0 keeps every bin)",
    )
    p.add_argument("--test", nargs="+", default=None, help="held-out samples (cell types) for evaluation")
    p.add_argument("--test-chroms", nargs="+", default=None, help="contigs held out as test loci")
    p.add_argument(
        "--test-regions", nargs="+", default=None, help="regions held out as test loci (chr:start-end)"
    )
    p.add_argument("--val-chroms", nargs="+", default=None, help="contigs of the validation loci")
    p.add_argument(
        "--val-frac", type=_fraction, default=0.1, help="random fraction of loci for validation (default 0.1)"
    )
    p.add_argument(
        "--val-block",
        type=int,
        default=None,
        help="draw the validation loci as whole blocks of N bp, not single loci (for data on one or few contigs)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    _common(p, threads=False)


def _say(msg: str) -> None:
    print(msg, flush=True)


def _run_prepare(args) -> int:
    out = _output_path(args.out, "output", overwrite=args.overwrite, suffixes=(".h5ad", ".h5mu"))
    peaks = _peaks_from_files(args.peaks) if args.peaks else _peaks_from_sheet(args.sample_sheet)
    fastas = [_input_file(f, "genome FASTA") for f in args.genome]
    rna_path = _input_file(args.rna, "RNA table")
    if args.motifs.lower() not in ("jaspar",) and not args.motifs.lower().startswith("jaspar20"):
        _input_file(args.motifs, "motif database")
    for opt, what in ((args.regions, "regions BED"), (args.blacklist, "blacklist BED")):
        if opt is not None:
            _input_file(opt, what)
    min_score = args.min_score
    if min_score not in (None, "motif"):
        try:
            min_score = float(min_score)
        except ValueError:
            raise UsageError(f"--min-score must be a number or 'motif', got {min_score!r}.") from None

    from . import io, pp
    from ._genome import Genome

    genome = Genome(fastas, name=args.genome_name)
    rna = read_expression(rna_path, args)
    no_rna = [s for s in peaks if s not in set(rna.obs_names)]
    if no_rna:
        raise ValueError(
            f"{len(no_rna)} sample(s) with peaks have no column in the RNA table {rna_path}: {no_rna[:10]} (its "
            f"samples: {list(rna.obs_names)[:10]}{' ...' if rna.n_obs > 10 else ''}). Sample names must match."
        )
    if args.test:
        unknown = [t for t in args.test if t not in peaks]
        if unknown:
            raise UsageError(
                f"--test names sample(s) without peak files {unknown}: held-out samples need peaks to be evaluated "
                f"(samples with peaks: {list(peaks)[:20]}). Samples with RNA only are predicted with "
                "'deepcage predict --expr'."
            )
    motifs = io.read_motifs(args.motifs, tf_table=args.motif_tf_table)
    motif_tfs = {m.tf for m in motifs if m.tf}
    tfs = sorted(motif_tfs & set(rna.var_names))
    if not tfs:
        raise ValueError(
            f"No TF of the motif database {args.motifs} ({len(motif_tfs)} TFs, e.g. {sorted(motif_tfs)[:5]}) is a "
            f"gene of the RNA table {rna_path} (genes e.g. {list(rna.var_names[:5])}). If the table has gene ids "
            "(e.g. Ensembl), give --gene-names (id -> symbol); for motif ids give --motif-tf-table."
        )
    _say(
        f"prepare: {len(peaks)} samples, {rna.n_obs} RNA samples, {len(tfs)} TFs with a motif and expression"
    )

    bins = pp.bin_genome(
        genome,
        regions=args.regions,
        chroms=args.chroms,
        bin_size=args.bin_size,
        blacklist=args.blacklist,
    )
    adata = pp.binarize_peaks(bins, peaks, genome=genome, min_samples=args.min_samples)
    _say(f"prepare: {adata.n_obs} samples x {adata.n_vars:,} loci, {100 * float(adata.X.mean()):.1f} % open")
    pp.motif_scores(adata, motifs, genome=genome, tfs=tfs, min_score=min_score, progress=_progress(args))
    if args.test:
        pp.split_samples(adata, test=args.test)
    pp.tf_expression(adata, rna, tfs=tfs, units=None if args.units == "auto" else args.units)
    pp.split_loci(
        adata,
        val_frac=args.val_frac,
        val_block=args.val_block,
        val_chroms=args.val_chroms,
        test_chroms=args.test_chroms,
        test_regions=args.test_regions,
        seed=args.seed,
    )
    counts = adata.uns["deepcage"]["split"]["loci"]
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        if out.suffix == ".h5mu":
            import mudata

            from ._utils import make_mudata

            with mudata.set_options(pull_on_update=False):
                make_mudata({"atac": adata, "rna": rna}).write(tmp)
        else:
            adata.write_h5ad(tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    _say(f"prepare: loci split {counts}; wrote {out}")
    return 0


# ----------------------------------------------------------------------------------------------- fit
def _add_fit(sub) -> None:
    p = sub.add_parser(
        "fit",
        help="train a model on a samples x loci .h5ad/.h5mu and save it to a folder",
        description="Train DeepCAGE (dc.tl.fit) and save the model folder (dc.DeepCAGE.save). Defaults are "
        "dc.tl.fit's.",
    )
    p.add_argument("data", help="input .h5ad (samples x loci, deepcage layout) or .h5mu ('atac' + 'rna')")
    p.add_argument("model_dir", help="output model folder")
    p.add_argument("--task", choices=["classification", "regression"], default="classification")
    p.add_argument("--layer", default=None, help="target layer (default: binary / log_norm)")
    p.add_argument(
        "--recipe",
        choices=["default", "paper"],
        default="default",
        help="'default': what cell-type cross-validation chose; 'paper': the published network and training. "
        "Options marked (recipe) take the recipe's value unless given",
    )
    p.add_argument("--preset", choices=["paper", "small"], default="paper")
    p.add_argument(
        "--hidden", type=_positive_int, default=None, help="width of the fully connected layer (recipe)"
    )
    p.add_argument("--max-epochs", type=_positive_int, default=30)
    p.add_argument("--batch-loci", type=_positive_int, default=None, help="default 128 (paper) / 32 (small)")
    p.add_argument("--samples-per-batch", type=_positive_int, default=None)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--patience", type=_positive_int, default=5)
    p.add_argument(
        "--monitor",
        choices=["val_auprc", "val_auprc_novel", "val_auprc_both", "val_loss", "train_loss_epoch"],
        default=None,
        help="metric of early stopping and the best checkpoint (default: val_auprc, val_loss for regression); "
        "val_auprc_novel / val_auprc_both also score the validation loci without reference labels, as new "
        "loci are (kNN prior; honest with `prepare --val-block`)",
    )
    p.add_argument("--pos-weight", default=None, help="a number or 'balanced'")
    p.add_argument("--accelerator", default="auto")
    p.add_argument("--devices", default="auto", help="'auto' or a number of devices")
    p.add_argument("--strategy", default="auto", help="e.g. ddp for several GPUs")
    p.add_argument("--precision", default=None)
    p.add_argument("--num-workers", type=int, default=0)
    p.add_argument(
        "--genome", nargs="+", default=None, help="FASTA file(s) (default: the one recorded in DATA)"
    )
    p.add_argument("--checkpoint-dir", default=None)
    p.add_argument("--resume-from", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-sequence", action="store_true", help="ablation: expression branch only")
    p.add_argument("--no-expression", action="store_true", help="ablation: sequence branch only")
    p.add_argument(
        "--prior",
        choices=["knn", "none"],
        default=None,
        help="'knn': learn a residual over the expression-kNN of the training samples' labels; 'none': the "
        "published network (recipe)",
    )
    p.add_argument(
        "--delta-expression",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the motif x (g - kNN g) input (recipe)",
    )
    p.add_argument("--linear-expression", action="store_true", help="add a linear expression-to-output path")
    p.add_argument(
        "--reverse-complement",
        action="store_true",
        help="train on both strands and average them at prediction (dc.tl.fit(reverse_complement=True))",
    )
    p.add_argument(
        "--expression-l2", type=float, default=None, help="L2 penalty on the expression weights (recipe)"
    )
    p.add_argument("--novel-weight", type=float, default=1.0, help="loss weight of the no-label (novel) mode")
    p.add_argument("--knn-temperature", type=float, default=None, help="default: chosen by leave-one-out")
    p.add_argument(
        "--background-fraction",
        type=float,
        default=None,
        help="fraction of all-closed loci per epoch (recipe; default recipe: 0.25 classification, 1 regression)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    _common(p)


def _from_recipe(value, *, given: bool | None = None):
    """An option's value for dc.tl.fit: the recipe's when the flag was not given."""
    from .model._config import RECIPE

    return value if (value is not None if given is None else given) else RECIPE


def _resume_command(args, last: Path) -> str:
    """The command line of this run with ``--resume-from LAST`` (replacing a --resume-from given)."""
    argv, out, skip = list(getattr(args, "argv", []) or []), [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--resume-from":
            skip = True
            continue
        if a.startswith("--resume-from="):
            continue
        out.append(a)
    return " ".join(shlex.quote(a) for a in [PROG, *out, "--resume-from", str(last)])


def _run_fit(args) -> int:
    out = _output_path(args.model_dir, "model folder", overwrite=args.overwrite, folder=True, model=True)
    pos_weight = args.pos_weight
    if pos_weight not in (None, "balanced"):
        try:
            pos_weight = float(pos_weight)
        except ValueError:
            raise UsageError(f"--pos-weight must be a number or 'balanced', got {pos_weight!r}.") from None
    devices = _devices(args.devices)
    _check_trainer_options(args.accelerator, devices, args.strategy, args.precision)
    if args.resume_from is not None:
        _input_file(args.resume_from, "checkpoint")
    # checkpoints go next to the model folder (kept when the run is interrupted, to resume from; removed once
    # the model is saved), unless --checkpoint-dir names a folder of the user's
    own_ckpt = args.checkpoint_dir is None
    ckpt_dir = out.with_name(f"{out.name}.checkpoints") if own_ckpt else Path(args.checkpoint_dir)
    if own_ckpt and ckpt_dir.exists() and args.resume_from is None and _rank() == 0:
        if not args.overwrite:
            last = ckpt_dir / "last.ckpt"
            resume = f"resume it with '{_resume_command(args, last)}', " if last.is_file() else ""
            raise UsageError(
                f"{ckpt_dir} holds the checkpoints of an earlier, interrupted run: {resume}or pass --overwrite "
                "to start again (or delete the folder)."
            )
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    for f in args.genome or []:
        _input_file(f, "genome FASTA")
    data_path = Path(args.data)
    data = read_data(data_path)
    _check_layout(
        data,
        data_path,
        need={
            "varm:motif_scores": "motif scores per locus and TF",
            "obsm:tf_expr": "normalised TF expression per sample",
            "var:split": "the train/val/test split of the loci",
        },
    )

    def interrupted() -> str:
        last = ckpt_dir / "last.ckpt"
        if last.is_file():
            return f"checkpoints kept in {ckpt_dir}; resume with: {_resume_command(args, last)}"
        if own_ckpt:
            shutil.rmtree(ckpt_dir, ignore_errors=True)
        return "before the first epoch ended, so there is no checkpoint to resume from"

    args.on_interrupt = interrupted
    _threads(args)
    from .tl import fit

    try:
        with _one_line_lightning():
            model = fit(
                data,
                layer=args.layer,
                task=args.task,
                genome=args.genome,
                recipe=args.recipe,
                preset=args.preset,
                hidden=_from_recipe(args.hidden),
                max_epochs=args.max_epochs,
                batch_loci=args.batch_loci,
                samples_per_batch=args.samples_per_batch,
                lr=args.lr,
                patience=args.patience,
                pos_weight=pos_weight,
                accelerator=args.accelerator,
                devices=devices,
                strategy=args.strategy,
                precision=args.precision,
                num_workers=args.num_workers,
                checkpoint_dir=ckpt_dir,
                resume_from=args.resume_from,
                seed=args.seed,
                progress=_progress(args),
                use_sequence=not args.no_sequence,
                use_expression=not args.no_expression,
                prior=_from_recipe(
                    None if args.prior == "none" else args.prior, given=args.prior is not None
                ),
                delta_expression=_from_recipe(args.delta_expression),
                linear_expression=args.linear_expression,
                reverse_complement=args.reverse_complement,
                expression_l2=_from_recipe(args.expression_l2),
                novel_weight=args.novel_weight,
                monitor=args.monitor,
                knn_temperature=args.knn_temperature,
                background_fraction=_from_recipe(args.background_fraction),
            )
    except Exception:
        if own_ckpt and _rank() == 0 and not (ckpt_dir / "last.ckpt").is_file():
            shutil.rmtree(ckpt_dir, ignore_errors=True)  # nothing to resume from
        raise
    args.on_interrupt = None
    if _rank() != 0:  # Lightning DDP re-runs the command once per device; rank 0 saves the model, once
        return 0
    model.save(out, overwrite=args.overwrite)
    if own_ckpt:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    print(f"{model}\nsaved to {out}")
    return 0


# ----------------------------------------------------------------------------------------------- predict
def _add_predict(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="predict with a saved model, for an .h5ad's samples or for new RNA (expression table)",
        description=(
            "Predict accessibility (dc.tl.predict). Give --data to predict its samples, or --expr for new samples "
            "from RNA alone. OUT ending in .h5ad receives an AnnData; any other OUT is a folder (or a .bw file "
            "for one sample) of bigWig tracks, written in chunks."
        ),
    )
    p.add_argument("model_dir")
    p.add_argument("out", nargs="?", default=None, help="output .h5ad, or a folder / .bw for bigWig tracks")
    p.add_argument("--out", dest="out_option", default=None, help="the output, as an option (same as OUT)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", default=None, help=".h5ad/.h5mu whose samples (and loci) are predicted")
    src.add_argument("--expr", default=None, help="new samples' expression: a table, or .h5ad/.h5mu ('rna')")
    _add_expression_options(p, "--expr")
    p.add_argument(
        "--loci", default=None, help="BED file of loci to predict (with --expr; default: the model's)"
    )
    p.add_argument("--genome", nargs="+", default=None, help="FASTA file(s) for loci not stored in the model")
    p.add_argument(
        "--bin-size",
        type=_positive_int,
        default=None,
        help="with --expr and --genome: predict every bin of this size over the genome (or --chroms), streamed "
        "to OUT (.h5ad, .bw or a folder of bigWigs) with the motifs scanned chunk by chunk",
    )
    p.add_argument("--chroms", nargs="+", default=None, help="contigs to bin with --bin-size (default: all)")
    p.add_argument(
        "--regions", default=None, help="BED of the regions to bin with --bin-size (default: whole contigs)"
    )
    p.add_argument("--blacklist", default=None, help="BED of regions whose bins are left out (--bin-size)")
    p.add_argument(
        "--devices",
        default=None,
        help="processes for the prediction, e.g. 4 GPUs (Lightning DDP; default: this process)",
    )
    p.add_argument("--num-nodes", type=_positive_int, default=1, help="machines (with --devices; e.g. SLURM)")
    p.add_argument("--accelerator", default="auto", help="with --devices: 'gpu', 'cpu' or 'auto'")
    p.add_argument("--strategy", default="auto", help="with --devices: Lightning strategy (auto: DDP)")
    p.add_argument(
        "--samples",
        nargs="+",
        default=None,
        help="predict only these samples of --data / --expr (default: all)",
    )
    p.add_argument(
        "--exclude-self",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="leave a training sample out of its own reference labels (kNN prior), as in training. Default: "
        "yes for --data samples, no for --expr samples (new RNA); --exclude-self for --expr RNA of a training "
        "sample (its own labels would otherwise be copied)",
    )
    p.add_argument("--key-added", default="deepcage")
    p.add_argument("--fill-missing", action="store_true", help="TFs missing from --expr count as 0")
    p.add_argument("--batch-size", type=_positive_int, default=256)
    p.add_argument("--chunk-size", type=_positive_int, default=10000)
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    _common(p)


def _other_rank(kw: dict) -> bool:
    """Whether this process is a rank other than 0 of a multi-process prediction (``--devices``)."""
    if kw.get("devices") is None and kw.get("num_nodes", 1) == 1:
        return False
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    return getattr(rank_zero_only, "rank", 0) != 0


def _predict_output(args) -> Path:
    if args.out is not None and args.out_option is not None and args.out != args.out_option:
        raise UsageError(f"Two outputs given: OUT {args.out} and --out {args.out_option}; give one.")
    if (args.out or args.out_option) is None:
        raise UsageError(
            "Give the output: OUT (or --out), an .h5ad file or a folder / .bw for bigWig tracks."
        )
    out = Path(args.out or args.out_option)
    is_file = out.suffix == ".h5ad" or out.suffix.lower() in (".bw", ".bigwig")
    return _output_path(out, "output", overwrite=args.overwrite, folder=not is_file)


def _predict_inputs(args):
    """The data (or expression) and the loci of ``deepcage predict``, checked before the model loads."""
    if args.loci is not None and args.expr is None:
        raise UsageError("--loci goes with --expr; with --data the loci are those of the data file.")
    if not Path(args.model_dir).exists():
        raise FileNotFoundError(f"model folder {args.model_dir}: not found.")
    for f in args.genome or []:
        _input_file(f, "genome FASTA")
    data = read_data(args.data) if args.data else None
    if data is not None:
        _check_layout(
            data,
            Path(args.data),
            need={
                "varm:motif_scores": "motif scores per locus and TF",
                "obsm:tf_expr": "normalised TF expression",
            },
        )
    expr = read_expression(args.expr, args) if args.expr else None
    loci = None
    if args.loci:
        from .io import read_bed

        loci = read_bed(_input_file(args.loci, "loci BED"))
    if args.regions is not None and args.bin_size is None:
        raise UsageError("--regions goes with --bin-size: it restricts the bins of a genome-wide prediction.")
    if args.bin_size is not None:
        if args.expr is None or args.loci or not args.genome:
            raise UsageError("--bin-size needs --expr and --genome (and no --loci): it bins the genome.")
        from ._genome import Genome
        from .pp import bin_genome

        # a compact table (no locus names): streamed genome-wide prediction in flat memory
        loci = bin_genome(
            Genome(args.genome),
            regions=_input_file(args.regions, "regions BED") if args.regions else None,
            chroms=args.chroms,
            bin_size=args.bin_size,
            blacklist=_input_file(args.blacklist, "blacklist BED") if args.blacklist else None,
            names=False,
        )
    return data, expr, loci


def _run_predict(args) -> int:
    out = _predict_output(args)
    devices = _devices(args.devices)
    if devices is not None or args.num_nodes > 1 or args.accelerator != "auto":
        _check_trainer_options(args.accelerator, devices or "auto", args.strategy, num_nodes=args.num_nodes)
    data, expr, loci = _predict_inputs(args)
    _threads(args)
    from .model import DeepCAGE

    model = DeepCAGE.load(Path(args.model_dir))
    if devices is not None or args.num_nodes > 1:  # Lightning runs the prediction
        args.stack.enter_context(_one_line_lightning())
    kw = {
        "genome": args.genome,
        "samples": args.samples,
        "exclude_self": args.exclude_self,
        "key_added": args.key_added,
        "devices": devices,
        "num_nodes": args.num_nodes,
        "accelerator": args.accelerator,
        "strategy": args.strategy,
        "batch_size": args.batch_size,
        "chunk_size": args.chunk_size,
        "progress": _progress(args),
    }
    if data is None:
        kw.update(expr=expr, fill_missing=args.fill_missing, loci=loci)
    if out.suffix == ".h5ad" and args.bin_size is None:
        return _predict_in_memory(model, data, out, kw, args.key_added)
    return _predict_streamed(model, data, out, kw, n_loci=None if loci is None else len(loci))


def _predict_in_memory(model, data, out: Path, kw: dict, key: str) -> int:
    from .tl import predict

    if data is not None:
        from ._utils import get_modality

        predict(model, data, **kw)
        if _other_rank(kw):
            return 0
        get_modality(data, "atac").write_h5ad(out)
    else:
        new = predict(model, **kw)
        if _other_rank(kw):
            return 0
        new.write_h5ad(out)
    print(f"predictions written to {out} (layer {key!r})")
    return 0


def _predict_streamed(model, data, out: Path, kw: dict, *, n_loci: int | None) -> int:
    """bigWig tracks or a genome-wide .h5ad written chunk by chunk (dc.tl.predict_genome)."""
    from .tl import predict_genome

    # an existing folder of tracks (--overwrite) is replaced once the new tracks are written, not before
    target = out.with_name(f".{out.name}.partial") if out.is_dir() else out
    if target != out and not _other_rank(kw):
        shutil.rmtree(target, ignore_errors=True)  # left by an interrupted run
    try:
        paths = predict_genome(model, out=target, adata=data, **kw)
    except BaseException:
        if target != out and not _other_rank(kw):
            shutil.rmtree(target, ignore_errors=True)
        raise
    if _other_rank(kw):  # rank 0 writes OUT
        return 0
    if target != out:
        from ._files import swap_in

        swap_in(target, out)
        paths = [out / Path(p).name for p in (paths if isinstance(paths, list) else [paths])]
    if out.suffix == ".h5ad":
        size = f"{n_loci:,} bins" if n_loci is not None else "the loci"
        print(f"predictions of {size} written to {out} (X; open with anndata.read_h5ad(backed='r'))")
        return 0
    paths = paths if isinstance(paths, list) else [paths]
    print(f"{len(paths)} bigWig track(s) written to {out}")
    return 0


# ----------------------------------------------------------------------------------------------- demo
def _add_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="train, predict held-out samples from RNA alone, compare with the locus mean, rank TFs, plot",
        description="Runs deepcage end to end on a CPU: synthetic data with planted TF -> motif rules by default, "
        "or the real blood-cell data with --real.",
    )
    p.add_argument("--out", default="deepcage_demo", help="output folder (default: deepcage_demo)")
    p.add_argument("--real", action="store_true", help="use the blood-cell data in shared/data (hg19 chr20)")
    p.add_argument("--data", default=None, help="the shared/data folder (with --real)")
    p.add_argument("--epochs", type=_positive_int, default=None, help="training epochs")
    p.add_argument("--seed", type=int, default=0)
    _common(p)


def _run_demo(args) -> int:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is an existing file; give a folder name.")
    _threads(args)
    from ._demo import run_demo

    run_demo(
        args.out,
        real=args.real,
        data=args.data,
        max_epochs=args.epochs,
        seed=args.seed,
        progress=_progress(args),
    )
    return 0


# ----------------------------------------------------------------------------------------------- main
_COMMANDS = {"demo": _run_demo, "prepare": _run_prepare, "fit": _run_fit, "predict": _run_predict}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="deepcage: chromatin accessibility from DNA sequence and TF expression (DeepCAGE). From files: "
        "'deepcage prepare' (peaks + RNA + genome + motifs -> .h5ad), 'deepcage fit' (-> model folder), "
        "'deepcage predict' (new RNA -> .h5ad or bigWig). Errors print one line (exit 2: usage, 1: data); "
        "--debug shows the traceback.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", metavar="{demo,prepare,fit,predict}")
    _add_demo(sub)
    _add_prepare(sub)
    _add_fit(sub)
    _add_predict(sub)
    return parser


def _interrupted(prefix: str, args) -> int:
    hint = getattr(args, "on_interrupt", None)
    detail = ""
    if callable(hint):
        try:
            detail = f"; {hint()}"
        except Exception:  # the message must come out whatever state the run was left in
            detail = ""
    print(f"{prefix}: interrupted{detail}", file=sys.stderr)
    return 130


def _is_lightning_usage_error(err: BaseException) -> bool:
    """Lightning's MisconfigurationException: a wrong Trainer option (devices, strategy, ...), not bad data."""
    return type(err).__name__ == "MisconfigurationException" and type(err).__module__.startswith("lightning")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if a in _COMMANDS), None)
    prefix = f"{PROG} {command}" if command else PROG
    try:
        args = parser.parse_args(argv)
    except UsageError as err:
        print(f"{prefix}: error: {one_line(err)}", file=sys.stderr)
        return 2
    if args.version:
        from . import __version__

        print(f"{PROG} {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 0
    args.argv = argv
    args.stack = contextlib.ExitStack()  # contexts a command keeps open until it returns
    sigint = signal.getsignal(signal.SIGINT)  # Lightning ignores Ctrl-C from its first one on; restored below
    flags = python_flags(parser._subparsers._group_actions[0].choices[args.command])
    try:
        with _one_line_warnings(args.command, flags), _verbosity(args):
            return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return _interrupted(prefix, args)
    except SystemExit as err:
        # Lightning catches Ctrl-C inside Trainer.fit/predict, tears down and calls sys.exit(1)
        if isinstance(err.__context__, KeyboardInterrupt):
            return _interrupted(prefix, args)
        raise
    except Exception as err:
        if getattr(args, "debug", False):
            raise
        if _is_lightning_usage_error(err):
            print(
                f"{prefix}: error: {' '.join(str(err).split())} (a Lightning option: see --help)",
                file=sys.stderr,
            )
            return 2
        print(f"{prefix}: error: {cli_spelling(one_line(err), flags)}", file=sys.stderr)
        return 2 if isinstance(err, UsageError) else 1
    finally:
        args.stack.close()
        if sigint is not None and signal.getsignal(signal.SIGINT) != sigint:
            with contextlib.suppress(ValueError):  # only the main thread may set handlers
                signal.signal(signal.SIGINT, sigint)


if __name__ == "__main__":
    sys.exit(main())
