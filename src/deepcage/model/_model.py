"""The user-facing DeepCAGE model object: network + TF list + normalisation reference + genome, save/load."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import secrets
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .._files import swap_in
from .._runtime import torch_threads
from ._network import DeepCAGENet, codes_to_onehot

__all__ = ["MAX_STORED_LOCI_BYTES", "DeepCAGE", "MissingGenomeError"]

#: Training loci are saved with their sequence codes (1 byte per base) and motif scores (4 bytes per TF)
#: when these take at most this many bytes (512 MB: e.g. 200,000 loci x 1 kb + 500 TFs). Then prediction on the
#: training loci needs neither the genome FASTA nor a motif database. Above it only coordinates are saved.
MAX_STORED_LOCI_BYTES = 512 * 2**20

_FORMAT_VERSION = 1
_WEIGHTS = "weights.pt"
_META = "model.json"
_LOCI = "loci.csv.gz"
_MANIFEST = "manifest.json"  # written last at save: every file's size and SHA-256


class MissingGenomeError(FileNotFoundError, ValueError):
    """A call needs the genome's sequence, and the FASTA the model records is not on this machine (also a
    ValueError, which callers caught before it had a class of its own)."""


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, os.PathLike):
        return str(obj)
    return repr(obj)


class DeepCAGE:
    """A trained DeepCAGE model: the network plus everything needed to apply it to new data.

    Created by :func:`deepcage.tl.fit`; applied with :func:`deepcage.tl.predict` and
    :func:`deepcage.tl.variant_effect`; stored with :meth:`save` / :meth:`load`.

    Attributes
    ----------
    network
        The :class:`~deepcage.model.DeepCAGENet` (PyTorch module).
    tfs
        TF symbols in the network's input order.
    tf_reference
        The TF-expression quantile reference (``uns['deepcage']['tf_reference']``) used to normalise new samples
        with :func:`deepcage.pp.apply_tf_reference`.
    genome
        ``{'name', 'fasta', 'chrom_sizes'}`` of the training genome. The FASTA path is only a record: a model
        loads and predicts its stored training loci without it (:meth:`load` warns when it does not exist on this
        machine); other loci and variant alleles read their sequences from it, or from the ``genome=`` a call is
        given.
    loci
        DataFrame (index ``chr:start-end``) with ``chrom``, ``start``, ``end`` (and ``split``) of the training loci.
    loci_codes, loci_motif
        ``(n_loci, seq_len)`` uint8 base codes and loci x TFs motif scores of the training loci, kept when they
        fit :data:`~deepcage.model.MAX_STORED_LOCI_BYTES` (else None): prediction on these loci then needs no
        genome.
    motif_scan
        How the training loci's motif scores were made (motifs, window, background, threshold rule), recorded by
        :func:`deepcage.pp.motif_scores` and stored by :func:`deepcage.tl.fit`: new loci and variant alleles are
        scored with exactly these settings. None when the scores were made outside the package.
    motifs
        The motifs of :attr:`motif_scan` (settable; a motif list without a recorded scan cannot score new loci,
        see :meth:`set_motif_scan`).
    motif_db
        Name of the motif database the motif scores came from.
    sample_expr
        Normalised TF expression (samples x TFs) of the samples of the training AnnData (training and held-out),
        so that :func:`deepcage.tl.variant_effect` can use them by name.
    ref_labels
        Models with the reference prior (``fit(prior='knn')``): loci x training samples DataFrame of the training
        samples' observed values at the loci they were trained or validated on (NaN rows: loci without labels,
        e.g. held-out test loci). New samples are predicted at a locus together with what these samples show
        there; loci not in it are predicted from sequence and expression alone.
    reference_samples
        Names of the training samples the reference prior reads (the columns of ``ref_labels``; empty without
        it). Read-only.
    seq_len
        Sequence window of the network (bp). Read-only.
    task
        ``'classification'`` or ``'regression'``.
    params
        Training parameters.
    history
        DataFrame of the training curves, one row per epoch (index ``epoch``; ``train_loss``, ``val_loss``,
        ``val_auprc`` / ``val_pearson``), as scvi-tools' ``model.history``; drawn by :func:`deepcage.pl.history`.
        (``history_``, its former name, still works with a ``FutureWarning``.)
    """

    def __init__(
        self,
        network: DeepCAGENet,
        *,
        tfs,
        tf_reference: dict | None = None,
        genome: dict | None = None,
        loci: pd.DataFrame | None = None,
        loci_codes: np.ndarray | None = None,
        loci_motif: pd.DataFrame | None = None,
        motifs: list | None = None,
        motif_scan=None,
        motif_db: str | None = None,
        sample_expr: pd.DataFrame | None = None,
        ref_labels: pd.DataFrame | None = None,
        params: dict | None = None,
        history: pd.DataFrame | None = None,
        version: str | None = None,
    ):
        self.network = network
        self.tfs = [str(t) for t in tfs]
        if len(self.tfs) != network.n_tfs:
            raise ValueError(f"{len(self.tfs)} TF names for a network with {network.n_tfs} TF inputs.")
        self.tf_reference = tf_reference
        self.genome = dict(genome or {})
        self.loci = loci
        self.loci_codes = loci_codes
        self.loci_motif = loci_motif
        self.motif_scan = motif_scan
        self._motifs = None
        if motif_scan is None and motifs is not None:
            self._motifs = list(motifs)
        self.motif_db = motif_db
        self.sample_expr = sample_expr
        if getattr(network, "prior", False) and ref_labels is None:
            raise ValueError("This network reads reference labels (prior=True): pass ref_labels.")
        if ref_labels is not None and ref_labels.shape[1] != network.n_ref:
            raise ValueError(
                f"ref_labels has {ref_labels.shape[1]} reference samples; the network has {network.n_ref}."
            )
        self.ref_labels = ref_labels
        self.task = network.task
        self.params = dict(params or {})
        self.history = history if history is not None else pd.DataFrame()
        if version is None:
            from .. import __version__ as version
        self.version = version

    def __repr__(self) -> str:
        n_loci = 0 if self.loci is None else len(self.loci)
        seq = "stored" if self.loci_codes is not None else "coordinates only"
        return (
            f"DeepCAGE(task={self.task!r}, tfs={len(self.tfs)}, preset={self.network.config['preset']!r}, "
            f"parameters={self.network.n_parameters():,}, genome={self.genome.get('name', '')!r}, "
            f"loci={n_loci:,} ({seq}), epochs={len(self.history)})"
        )

    @property
    def history_(self) -> pd.DataFrame:
        """Deprecated spelling of :attr:`history`."""
        warnings.warn(
            "DeepCAGE.history_ is deprecated and will be removed; use model.history (same DataFrame).",
            FutureWarning,
            stacklevel=2,
        )
        return self.history

    @history_.setter
    def history_(self, value: pd.DataFrame) -> None:
        warnings.warn(
            "DeepCAGE.history_ is deprecated and will be removed; use model.history (same DataFrame).",
            FutureWarning,
            stacklevel=2,
        )
        self.history = value

    def missing_fasta(self) -> list[str]:
        """The recorded genome FASTA files that do not exist on this machine (``[]``: all there, or none
        recorded)."""
        from .._utils import fasta_list

        return [f for f in fasta_list(self.genome) if not Path(f).exists()]

    def genome_needed(self, why: str) -> MissingGenomeError:
        """The error for a call that needs the genome (``why``: what for) when its recorded FASTA is not here:
        names the missing file and how to pass another."""
        from .._utils import fasta_list

        name = self.genome.get("name") or ""
        missing = self.missing_fasta()
        recorded = fasta_list(self.genome)
        example = Path(recorded[0]).name if recorded else "genome.fa"
        if missing:
            what = (
                f"the genome FASTA the model records{f' ({name})' if name else ''} is {missing[0]}, which does "
                "not exist here (the model was saved on another machine, or the file moved)"
            )
        else:
            what = f"the model records no genome FASTA{f' (genome {name})' if name else ''}"
        return MissingGenomeError(
            f"{why}, but {what}. Pass genome=dc.Genome('path/to/{example}'{f', name={name!r}' if name else ''}) "
            "(command line: --genome FASTA)."
        )

    def card(self) -> str:
        """A model card (markdown): how the model was trained and how that differs from the published network.

        Written as ``README.md`` into the folder by :meth:`save`.

        Examples
        --------
        >>> print(model.card())  # doctest: +SKIP
        """
        from ._config import TrainConfig

        n_loci = 0 if self.loci is None else len(self.loci)
        p = self.params
        lines = [
            "# DeepCAGE model",
            "",
            f"- deepcage {self.version}; {self.network.n_parameters():,} parameters; {len(self.tfs)} TFs; "
            f"genome {self.genome.get('name', '') or 'unrecorded'}",
            f"- trained on {len(p.get('train_samples', []))} samples x {p.get('n_train_loci', n_loci):,} loci "
            f"(best epoch {p.get('best_epoch', '?')} of {len(self.history)})",
        ]
        if p:
            lines.append(TrainConfig.from_params(p).card())
        if self.motif_scan is not None:
            lines.append(f"- new loci are scored as the training loci were: {self.motif_scan.describe()}")
        return "\n".join(lines) + "\n"

    @property
    def motifs(self) -> list | None:
        """Motifs that score new loci (those of :attr:`motif_scan` when recorded)."""
        return self.motif_scan.motifs if self.motif_scan is not None else self._motifs

    @motifs.setter
    def motifs(self, motifs) -> None:
        if motifs is None:
            self.motif_scan, self._motifs = None, None
        elif self.motif_scan is not None:  # same scan settings, another motif list
            self.motif_scan = self.motif_scan.with_motifs(motifs)
        else:
            self._motifs = list(motifs)

    def set_motif_scan(self, motifs, *, window: int = 1000, background=(0.25,) * 4, min_score=None) -> None:
        """Record how the training loci's motif scores were made, for a model whose scores came from outside.

        New loci are then scored with ``motifs`` and these settings (the arguments of
        :func:`deepcage.pp.motif_scores`); they must be the settings the training scores were made with, or the
        predictions on new loci will not match those on training loci.
        """
        from .._scan_record import MotifScan

        self.motif_scan = MotifScan(list(motifs), window=window, background=background, min_score=min_score)
        self._motifs = None

    @property
    def seq_len(self) -> int:
        """Sequence window of the network (bp)."""
        return self.network.seq_len

    # ------------------------------------------------------------------ prediction
    def predict_arrays(
        self,
        codes_or_onehot,
        motif,
        expr,
        *,
        batch_size: int = 256,
        device: str | torch.device | None = None,
        loci=None,
        samples=None,
    ) -> np.ndarray:
        """Predictions for every (locus, sample) pair from plain arrays.

        Parameters
        ----------
        codes_or_onehot
            ``(n_loci, L)`` uint8 base codes (``A,C,G,T,N = 0..4``) or ``(n_loci, 4, L)`` one-hot. May be None
            for a model without the sequence branch.
        motif
            ``(n_loci, T)`` motif scores, TFs in :attr:`tfs` order.
        expr
            ``(n_samples, T)`` normalised TF expression, TFs in :attr:`tfs` order.
        batch_size
            Loci per forward pass (each with all samples).
        device
            Torch device; default: where the network is.
        loci
            Names (``chr:start-end``) of the loci, for models with the reference prior: loci found in
            :attr:`ref_labels` are predicted with the training samples' labels there, others (or all, when
            None) from sequence and expression alone.
        samples
            Names of the samples: a training sample is left out of its own reference (as in training).

        Returns
        -------
        ``(n_loci, n_samples)`` float32 array of probabilities (classification) or values (regression).
        """
        net = self.network
        motif = np.asarray(motif, dtype=np.float32)
        expr = np.asarray(expr, dtype=np.float32)
        if motif.ndim != 2 or motif.shape[1] != net.n_tfs:
            raise ValueError(f"motif must be (n_loci, {net.n_tfs}), got {motif.shape}.")
        if expr.ndim != 2 or expr.shape[1] != net.n_tfs:
            raise ValueError(f"expr must be (n_samples, {net.n_tfs}), got {expr.shape}.")
        for arr, what in ((motif, "motif scores"), (expr, "expression")):
            if not np.isfinite(arr).all():
                raise ValueError(f"The {what} contain NaN or infinite values; predictions would be NaN.")
        seq = None
        if net.use_sequence:
            if codes_or_onehot is None:
                raise ValueError("This model uses the sequence: pass the loci's codes or one-hot.")
            seq = np.asarray(codes_or_onehot)
            if seq.shape[0] != motif.shape[0]:
                raise ValueError(f"{seq.shape[0]} sequences but {motif.shape[0]} rows of motif scores.")
            if seq.shape[-1] != net.seq_len:
                raise ValueError(f"Sequences are {seq.shape[-1]} bp; the model needs {net.seq_len} bp.")
        device = torch.device(device) if device is not None else next(net.parameters()).device
        was_training = net.training
        net.eval()
        out = np.empty((motif.shape[0], expr.shape[0]), dtype=np.float32)
        x_expr = torch.from_numpy(expr).to(device)
        ref_y, has_ref, self_index = self.reference_inputs(loci, samples, motif.shape[0], expr.shape[0])
        ref = {}
        if self_index is not None:
            ref["self_index"] = torch.from_numpy(self_index).to(device)
        try:
            with torch.inference_mode(), torch_threads():
                for lo in range(0, motif.shape[0], batch_size):
                    hi = min(lo + batch_size, motif.shape[0])
                    x_seq = None
                    if seq is not None:
                        chunk = torch.from_numpy(np.ascontiguousarray(seq[lo:hi])).to(device)
                        x_seq = codes_to_onehot(chunk) if chunk.dim() == 2 else chunk.float()
                    if ref_y is not None:
                        ref["ref_y"] = torch.from_numpy(ref_y[lo:hi]).to(device)
                        ref["has_ref"] = torch.from_numpy(has_ref[lo:hi]).to(device)
                    y = net(x_seq, torch.from_numpy(motif[lo:hi]).to(device), x_expr, **ref).float()
                    if self.task == "classification":
                        y = torch.sigmoid(y)
                    out[lo:hi] = y.cpu().numpy()
        finally:
            net.train(was_training)
        return out

    @property
    def reference_samples(self) -> list[str]:
        """Names of the training samples the reference prior reads (empty without it)."""
        if self.ref_labels is None:
            return []
        return [str(c) for c in self.ref_labels.columns]

    def reference_inputs(self, loci, samples, n_loci: int, n_samples: int):
        """Reference labels ``(n_loci, n_ref)``, which loci have them, and each sample's own reference index.

        ``(None, None, None)`` for the published network. Loci are matched by name to :attr:`ref_labels`;
        samples by name to :attr:`reference_samples` (-1: not a training sample).
        """
        net = self.network
        if not (getattr(net, "prior", False) or getattr(net, "delta_expression", False)):
            return None, None, None
        self_index = np.full(n_samples, -1, dtype=np.int64)
        if samples is not None:
            if len(samples) != n_samples:
                raise ValueError(f"{len(samples)} sample names for {n_samples} rows of expression.")
            self_index = pd.Index(self.reference_samples).get_indexer(pd.Index(list(map(str, samples))))
            self_index = self_index.astype(np.int64)
        if not net.prior:
            return None, None, self_index
        ref_y = np.zeros((n_loci, net.n_ref), dtype=np.float32)
        has_ref = np.zeros(n_loci, dtype=bool)
        if loci is not None:
            if len(loci) != n_loci:
                raise ValueError(f"{len(loci)} locus names for {n_loci} rows of motif scores.")
            pos = self.ref_labels.index.get_indexer(pd.Index(list(map(str, loci))))
            found = pos >= 0
            # rows gathered first: no float32 copy of the whole table (n_loci x n_ref) per chunk of loci
            values = np.asarray(self.ref_labels.to_numpy()[pos[found]], dtype=np.float32)
            ok = np.isfinite(values).all(axis=1)
            rows = np.flatnonzero(found)[ok]
            ref_y[rows] = values[ok]
            has_ref[rows] = True
        return ref_y, has_ref, self_index

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the model to a directory (weights, TFs, reference, genome, loci, history, version).

        The files are written to a temporary directory next to ``path`` which is then renamed, so an interrupted
        save never leaves a half-written model. A manifest (``manifest.json``: size and SHA-256 of every file) is
        written last; :meth:`load` checks it and names any file that is missing or damaged. The folder gets the
        usual permissions of new files (the umask), so colleagues can read a model saved on a shared disk.

        Parameters
        ----------
        path
            Output directory.
        overwrite
            Replace an existing directory.

        Returns
        -------
        The directory path.

        Examples
        --------
        >>> model.save("my_model")  # doctest: +SKIP
        >>> model = dc.DeepCAGE.load("my_model")  # doctest: +SKIP
        """
        path = Path(path)
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it.")
        if path.exists() and not path.is_dir():
            raise FileExistsError(f"{path} is a file, not a saved model folder; choose another name.")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        tmp.mkdir()  # unlike tempfile.mkdtemp (mode 0700), a plain mkdir follows the umask
        try:
            self._write_files(tmp)
            _write_manifest(tmp)
            swap_in(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path

    def _write_files(self, folder: Path) -> None:
        state = {k: v.detach().cpu() for k, v in self.network.state_dict().items()}
        torch.save({"config": self.network.config, "state_dict": state}, folder / _WEIGHTS)
        meta = {
            "format_version": _FORMAT_VERSION,
            "deepcage_version": self.version,
            "task": self.task,
            "tfs": self.tfs,
            "genome": self.genome,
            "motif_db": self.motif_db,
            "motif_scan": self.motif_scan.settings() if self.motif_scan is not None else None,
            "params": self.params,
            "n_parameters": self.network.n_parameters(),
            "tf_reference": self.tf_reference,
        }
        relative = _relative_fasta(self.genome, folder)
        if relative:
            meta["fasta_relative"] = relative  # found again when the model and the genome move together
        (folder / _META).write_text(json.dumps(_jsonable(meta), indent=1))
        if self.loci is not None:
            self.loci.to_csv(folder / _LOCI, index_label="locus")
        if self.loci_codes is not None:
            np.save(folder / "loci_codes.npy", np.asarray(self.loci_codes, dtype=np.uint8))
        if self.loci_motif is not None:
            np.save(folder / "loci_motif.npy", np.asarray(self.loci_motif, dtype=np.float32))
        if self.motifs:
            rows = [
                {"name": m.name, "tf": m.tf, "threshold": m.threshold, "pwm": np.asarray(m.pwm).tolist()}
                for m in self.motifs
            ]
            (folder / "motifs.json").write_text(json.dumps(_jsonable(rows)))
        self.history.to_csv(folder / "history.csv", index_label="epoch")
        (folder / "README.md").write_text(self.card())
        if self.sample_expr is not None:
            self.sample_expr.to_csv(folder / "sample_expr.csv", index_label="sample")
        if self.ref_labels is not None:
            np.save(folder / "ref_labels.npy", self.ref_labels.to_numpy(dtype=np.float32))
            pd.Series(self.reference_samples).to_csv(
                folder / "ref_samples.csv", index=False, header=["sample"]
            )

    @classmethod
    def load(cls, path: str | os.PathLike, *, map_location: str | torch.device = "cpu") -> DeepCAGE:
        """Load a model written by :meth:`save`; needs no training data.

        The folder is checked against its manifest first: a missing or damaged file (e.g. a truncated copy) is
        named in the error instead of failing deep inside torch or pandas.

        Parameters
        ----------
        path
            Model directory.
        map_location
            Device for the weights (``'cpu'``, the default, loads a GPU-trained model on any machine). A device
            this machine does not have (``'cuda'`` without a GPU, ``'cuda:3'`` with two) is an error that says
            so, as scvi-tools' ``accelerator='gpu'``; the model is not silently put elsewhere.

        Returns
        -------
        The :class:`DeepCAGE` model (network in eval mode).

        Raises
        ------
        RuntimeError
            When ``map_location`` names a device this machine does not have.
        """
        if isinstance(map_location, str | torch.device):  # dicts and functions go to torch.load as they are
            try:
                device = torch.device(map_location)
            except (RuntimeError, ValueError) as err:
                raise ValueError(
                    f"map_location={map_location!r} is not a device ({err}); use 'cpu', 'cuda', 'cuda:1' or 'mps'."
                ) from None
            where = f"DeepCAGE.load(map_location={str(map_location)!r})"
            if device.type == "cuda" and not torch.cuda.is_available():
                build = (
                    "a CPU-only build" if torch.version.cuda is None else "a CUDA build, but it sees no GPU"
                )
                raise RuntimeError(
                    f"{where}: this machine has no CUDA GPU (torch {torch.__version__} is {build}). Load with "
                    "map_location='cpu' (the default): a model trained on a GPU runs on any CPU."
                )
            if (
                device.type == "cuda"
                and device.index is not None
                and device.index >= torch.cuda.device_count()
            ):
                raise RuntimeError(
                    f"{where}: this machine has {torch.cuda.device_count()} GPU(s) (cuda:0 ... "
                    f"cuda:{torch.cuda.device_count() - 1}). Pick one of them, or 'cpu'."
                )
            if device.type == "mps" and not torch.backends.mps.is_available():
                raise RuntimeError(f"{where}: Apple's MPS is not available on this machine. Load with 'cpu'.")
        path = Path(path)
        _check_folder(path)
        meta = _read_json(path / _META)
        if not isinstance(meta, dict) or "tfs" not in meta:
            raise ValueError(f"{path / _META}: not a deepcage model description (no 'tfs').")
        if meta.get("format_version", 0) > _FORMAT_VERSION:
            raise ValueError(
                f"{path} was saved by a newer deepcage ({meta.get('deepcage_version')}); upgrade to load it."
            )
        net = _load_network(path / _WEIGHTS, map_location)
        ref = meta.get("tf_reference")
        if ref is not None and "quantiles" in ref:
            ref = dict(ref, quantiles=np.asarray(ref["quantiles"], dtype=np.float64))
        loci = None
        if (path / _LOCI).is_file():
            loci = _read_table(path / _LOCI, "locus", dtype={"chrom": "category", "split": "category"})
        codes = _read_npy(path / "loci_codes.npy", loci)
        motif = _read_npy(path / "loci_motif.npy", loci)
        if motif is not None:
            motif = pd.DataFrame(motif, index=loci.index, columns=meta["tfs"])
        motifs = None
        if (path / "motifs.json").is_file():
            from ..io._motifs import Motif

            motifs = [
                Motif(name=r["name"], pwm=np.asarray(r["pwm"]), tf=r["tf"], threshold=r.get("threshold"))
                for r in _read_json(path / "motifs.json")
            ]
        motif_scan = None
        if motifs is not None and meta.get("motif_scan"):
            from .._scan_record import MotifScan

            try:
                motif_scan = MotifScan.from_settings(motifs, meta["motif_scan"])
            except ValueError as err:
                raise _damaged(path / "motifs.json", str(err)) from None
        history = None
        if (path / "history.csv").is_file():
            history = _read_table(path / "history.csv", "epoch", names=False)
        sample_expr = None
        if (path / "sample_expr.csv").is_file():
            sample_expr = _read_table(path / "sample_expr.csv", "sample")
        ref_labels = _read_npy(path / "ref_labels.npy", loci)
        if ref_labels is not None:
            ref_samples = _read_table(path / "ref_samples.csv", "sample").index
            ref_labels = pd.DataFrame(ref_labels, index=loci.index, columns=list(ref_samples))
        model = cls(
            net,
            sample_expr=sample_expr,
            ref_labels=ref_labels,
            tfs=meta["tfs"],
            tf_reference=ref,
            genome=_found_fasta(meta.get("genome"), meta.get("fasta_relative"), path),
            loci=loci,
            loci_codes=codes,
            loci_motif=motif,
            motifs=motifs,
            motif_scan=motif_scan,
            motif_db=meta.get("motif_db"),
            params=meta.get("params"),
            history=history,
            version=meta.get("deepcage_version"),
        )
        _warn_missing_fasta(model, path)
        return model


# ---------------------------------------------------------------------- the genome FASTA: a record, not a need
def _relative_fasta(genome: dict | None, folder: Path) -> list[str] | None:
    """The recorded FASTA paths relative to the model folder (``folder`` is a sibling of it, so the same), for
    the files that exist now; None when there are none."""
    from .._utils import fasta_list

    paths = fasta_list(genome)
    if not paths or not all(Path(p).exists() for p in paths):
        return None
    try:
        return [os.path.relpath(Path(p).absolute(), folder.absolute()) for p in paths]
    except ValueError:  # another drive (Windows)
        return None


def _found_fasta(genome: dict | None, relative, folder: Path) -> dict | None:
    """The genome record of a loaded model: the recorded FASTA paths, or, where they do not exist here, the
    files at the same place relative to the model folder (a project folder copied elsewhere)."""
    from .._utils import fasta_list

    paths = fasta_list(genome)
    if not genome or not paths or all(Path(p).exists() for p in paths):
        return genome
    if relative and len(relative) == len(paths):
        moved = [(folder / r).resolve() for r in relative]
        if all(p.exists() for p in moved):
            return dict(genome, fasta=[str(p) for p in moved])
    return genome


def _warn_missing_fasta(model: DeepCAGE, path: Path) -> None:
    """A recorded FASTA that is not here is a warning at load, not an error: it is needed only for loci the
    model does not store, and then the error says so (:meth:`DeepCAGE.genome_needed`)."""
    missing = model.missing_fasta()
    if not missing:
        return
    name = model.genome.get("name") or "unnamed"
    stored = model.loci_codes is not None or (not model.network.use_sequence and model.loci_motif is not None)
    if model.loci is not None and stored:
        can = (
            f"the model predicts its {len(model.loci):,} stored training loci without it; other loci and "
            "variant effects need the genome"
        )
    else:
        can = "the model does not store its training loci's sequences, so predictions need the genome"
    warnings.warn(
        f"Model {path}: the genome FASTA it records ({name}) is {missing[0]}, which does not exist on this "
        f"machine; {can}: pass genome=dc.Genome('path/to/{Path(missing[0]).name}') to those calls (command "
        "line: --genome).",
        UserWarning,
        stacklevel=3,
    )


# ---------------------------------------------------------------------- the model folder: manifest and readers
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_manifest(folder: Path) -> None:
    files = {
        p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != _MANIFEST
    }
    (folder / _MANIFEST).write_text(json.dumps({"format_version": _FORMAT_VERSION, "files": files}, indent=1))


def _damaged(path: Path, why: str) -> ValueError:
    return ValueError(
        f"{path}: damaged model file ({why}). Copy the model folder again, or re-save the model."
    )


def _check_folder(path: Path) -> None:
    """Raise naming the first missing or damaged file of a saved model folder."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: model folder not found.")
    if not path.is_dir():
        raise NotADirectoryError(
            f"{path} is a file; a saved model is a folder (written by DeepCAGE.save or 'deepcage fit')."
        )
    manifest = path / _MANIFEST
    if not manifest.is_file():  # saved by deepcage < 0.2, or assembled by hand: check what is there
        for name in (_META, _WEIGHTS):
            if not (path / name).is_file():
                raise FileNotFoundError(
                    f"{path} is not a saved DeepCAGE model: {name} is missing (a model folder holds {_META}, "
                    f"{_WEIGHTS}, ... as written by DeepCAGE.save)."
                )
        return
    listed = _read_json(manifest).get("files", {})
    for name, rec in listed.items():
        f = path / name
        if not f.is_file():
            raise FileNotFoundError(
                f"{f}: missing from the model folder (listed in its manifest). Copy the whole folder again."
            )
        size = f.stat().st_size
        if size != rec["bytes"]:
            raise _damaged(f, f"{size:,} bytes instead of {rec['bytes']:,}: a truncated or partial copy?")
        if _sha256(f) != rec["sha256"]:
            raise _damaged(f, "its content changed since the model was saved")


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _damaged(path, f"not valid JSON: {err}") from None


def _load_network(path: Path, map_location) -> DeepCAGENet:
    try:
        blob = torch.load(path, map_location=map_location, weights_only=True)
        net = DeepCAGENet(**blob["config"])
        state = dict(blob["state_dict"])
        if "novel_calibration" in net.state_dict() and "novel_calibration" not in state:
            state["novel_calibration"] = net.novel_calibration  # saved before novel-mode calibration existed
        net.load_state_dict(state)
    except (OSError, RuntimeError, EOFError, KeyError, TypeError, ValueError, pickle.UnpicklingError) as err:
        raise _damaged(path, f"the weights cannot be read: {type(err).__name__}: {err}") from None
    net.to(map_location)
    net.eval()
    return net


def _read_table(path: Path, index: str, *, names: bool = True, **kwargs) -> pd.DataFrame:
    """A CSV of the model folder; ``names``: its index holds names (str, unnamed), else it is kept as read."""
    try:
        df = pd.read_csv(path, index_col=index, **kwargs)
    except (ValueError, OSError, EOFError, pd.errors.ParserError) as err:
        raise _damaged(path, f"{type(err).__name__}: {err}") from None
    if names:
        df.index = df.index.astype(str)
        df.index.name = None
    return df


def _read_npy(path: Path, loci: pd.DataFrame | None) -> np.ndarray | None:
    if not path.is_file():
        return None
    if loci is None:
        raise FileNotFoundError(
            f"{path.parent / _LOCI}: missing, but {path.name} needs it (the loci's names)."
        )
    try:
        arr = np.load(path)
    except (ValueError, OSError, EOFError) as err:
        raise _damaged(path, f"{type(err).__name__}: {err}") from None
    if len(arr) != len(loci):
        raise _damaged(path, f"{len(arr)} rows for the {len(loci)} loci of {_LOCI}")
    return arr
