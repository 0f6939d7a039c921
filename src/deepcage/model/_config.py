"""One training configuration: the network config, the saved ``params`` and the model card all derive from it.

:func:`deepcage.tl.fit` takes its options one by one (the scanpy way) and gathers them into a
:class:`TrainConfig` that starts from a named **recipe**. Options not given come from the recipe; the resolved
configuration is stored with the model (``model.params``) and can be replayed.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["RECIPES", "RECIPE", "TrainConfig", "Task", "Trunk"]

Task = Literal["classification", "regression"]
Trunk = Literal["paper", "small"]
Prior = Literal["knn"]


class _FromRecipe:
    """Default of an option of :func:`deepcage.tl.fit` that the chosen recipe sets."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<from recipe>"

    def __reduce__(self):
        return (_FromRecipe, ())


#: Validation metrics of the no-label mode, logged by networks with the kNN prior only.
NO_LABEL_MONITORS = ("val_auprc_novel", "val_auprc_both")

#: Marker default: the option's value comes from the recipe (see :data:`RECIPES`).
RECIPE: Any = _FromRecipe()


def _check_loss_weight(name: str, value, task: str, what: str) -> None:
    """A classification-only loss weight: a finite number >= 0, and 0 for regression."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    if value > 0 and task != "classification":
        raise ValueError(f"{name} is for classification ({what}); leave it at 0 for regression.")


@dataclass
class TrainConfig:
    """Everything that decides what a training run learns (network, loss, optimisation, sampling).

    Runtime choices that do not change the result on CPU (accelerator, devices, workers, checkpoints,
    progress bars) are not part of it. Build one with :meth:`from_recipe`.
    """

    recipe: str = "default"
    task: Task = "classification"
    preset: Trunk = "paper"
    hidden: int = 512
    dropout: float = 0.5
    max_epochs: int = 30
    batch_loci: int | None = None
    samples_per_batch: int | None = None
    lr: float = 1e-3
    patience: int | None = 5
    monitor: str | None = None
    pos_weight: float | str | None = None
    use_sequence: bool = True
    use_expression: bool = True
    prior: Prior | None = "knn"
    delta_expression: bool = True
    novel_weight: float = 1.0
    knn_temperature: float | None = None
    linear_expression: bool = False
    expression_l2: float = 0.01
    background_fraction: float | None = None
    variable_weight: float = 0.0
    contrast_weight: float = 0.0
    reverse_complement: bool = False
    seed: int = 0
    notes: list[str] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def option_names(cls) -> list[str]:
        """Names of the options a recipe sets (every field but ``recipe`` and ``notes``)."""
        return [f.name for f in dataclasses.fields(cls) if f.name not in ("recipe", "notes")]

    @classmethod
    def from_recipe(cls, recipe: str = "default", **options) -> TrainConfig:
        """The recipe's configuration with ``options`` on top (options left at ``RECIPE`` are skipped).

        Examples
        --------
        >>> from deepcage.model._config import TrainConfig
        >>> cfg = TrainConfig.from_recipe("paper", max_epochs=5)
        >>> cfg.prior, cfg.hidden, cfg.max_epochs
        (None, 256, 5)
        """
        if recipe not in RECIPES:
            raise ValueError(f"recipe={recipe!r}; choose one of {sorted(RECIPES)}.")
        unknown = sorted(set(options) - set(cls.option_names()))
        if unknown:
            raise TypeError(f"Unknown training option(s) {unknown}; known: {cls.option_names()}.")
        given = {k: v for k, v in options.items() if v is not RECIPE}
        cfg = cls(recipe=recipe, **{**RECIPES[recipe], **given})
        cfg.validate()
        return cfg

    @classmethod
    def from_params(cls, params: dict) -> TrainConfig:
        """The configuration a model was trained with, from its saved ``params`` (see :meth:`to_params`)."""
        values = {k: params[k] for k in cls.option_names() if k in params and params[k] is not None}
        if "prior" in params:
            values["prior"] = params["prior"]
        cfg = cls(recipe=str(params.get("recipe", "unrecorded")), **values)
        cfg.notes = list(params.get("notes", []))
        return cfg

    def validate(self) -> None:
        """Check every option's value (a clear error naming the option)."""
        if self.task not in ("classification", "regression"):
            raise ValueError(f"task={self.task!r}; choose 'classification' or 'regression'.")
        if self.preset not in ("paper", "small"):
            raise ValueError(f"preset={self.preset!r}; choose 'paper' or 'small'.")
        if self.prior not in (None, "knn"):
            raise ValueError(f"prior={self.prior!r}; choose 'knn' or None (the published network).")
        bf = self.background_fraction
        if bf is not None and not 0 < bf <= 1:
            raise ValueError(f"background_fraction must be in (0, 1], got {bf!r}.")
        if bf is not None and bf < 1 and self.task != "classification":
            raise ValueError(
                "background_fraction < 1 is for classification (background = closed in every sample)."
            )
        _check_loss_weight(
            "variable_weight",
            self.variable_weight,
            self.task,
            "it weights a locus by the open fraction p of the training samples there, "
            "1 + variable_weight * 4 p (1 - p)",
        )
        _check_loss_weight(
            "contrast_weight",
            self.contrast_weight,
            self.task,
            "at each locus it trains which of the training samples are open",
        )
        if self.novel_weight < 0:
            raise ValueError(f"novel_weight must be >= 0, got {self.novel_weight!r}.")
        if int(self.max_epochs) < 1:
            raise ValueError(f"max_epochs={self.max_epochs!r}: train for at least one epoch.")
        if self.pos_weight is not None and self.pos_weight != "balanced":
            float(self.pos_weight)
        if self.pos_weight == "balanced" and self.task != "classification":
            raise ValueError("pos_weight is for classification.")

    def resolved(self, *, n_train_samples: int, has_val: bool) -> TrainConfig:
        """The configuration with every automatic default filled in for this data.

        Switches the expression-reference options off (with a warning) when there is a single training sample.
        """
        cfg = dataclasses.replace(self, notes=list(self.notes))
        if cfg.background_fraction is None:
            cfg.background_fraction = 0.25 if cfg.task == "classification" else 1.0
        if cfg.batch_loci is None:
            cfg.batch_loci = 32 if cfg.preset == "small" else 128
        if cfg.monitor is None:
            cfg.monitor = "val_auprc" if cfg.task == "classification" else "val_loss"
        if not has_val:
            cfg.monitor = "train_loss_epoch"
        if not cfg.use_expression:
            cfg.prior, cfg.delta_expression, cfg.linear_expression = None, False, False
        elif n_train_samples < 2 and (cfg.prior is not None or cfg.delta_expression):
            warnings.warn(
                f"Only {n_train_samples} training sample: prior='knn' and delta_expression compare a sample "
                "with the other training samples, so they are switched off (the published network is trained). "
                "Train on several samples to use them.",
                UserWarning,
                stacklevel=4,
            )
            cfg.prior, cfg.delta_expression = None, False
            cfg.notes.append("prior and delta_expression off: a single training sample")
        if cfg.prior is None:
            cfg.novel_weight = 0.0
        if cfg.monitor in NO_LABEL_MONITORS and (cfg.prior is None or cfg.task != "classification"):
            # e.g. the sequence-only network of a cross-validation that monitors the no-label mode: it has one mode
            cfg.notes.append(f"monitor {cfg.monitor!r} needs the kNN prior (classification): val_auprc used")
            cfg.monitor = "val_auprc" if cfg.task == "classification" else "val_loss"
        return cfg

    @property
    def uses_reference(self) -> bool:
        """Whether the network compares a sample with the training samples (kNN prior or delta expression)."""
        return self.prior is not None or self.delta_expression

    @property
    def monitor_mode(self) -> str:
        return "min" if "loss" in str(self.monitor) else "max"

    def net_config(self, *, n_tfs: int, seq_len: int, n_ref: int) -> dict:
        """Keyword arguments of :class:`deepcage.model.DeepCAGENet` (as stored in the saved model)."""
        config = {
            "n_tfs": n_tfs,
            "seq_len": seq_len,
            "preset": self.preset,
            "hidden": self.hidden,
            "task": self.task,
            "use_sequence": self.use_sequence,
            "use_expression": self.use_expression,
            "dropout": self.dropout,
        }
        if self.linear_expression:
            config["linear_expression"] = True
        if self.reverse_complement and self.use_sequence:
            config["reverse_complement"] = True
        if self.uses_reference:
            config.update(prior=self.prior is not None, delta_expression=self.delta_expression, n_ref=n_ref)
        return config

    def to_params(self) -> dict:
        """The options as saved in ``model.params`` (JSON types; options that do not apply are None)."""
        params = {name: getattr(self, name) for name in self.option_names()}
        params["recipe"] = self.recipe
        params["variable_weight"] = float(self.variable_weight)
        params["contrast_weight"] = float(self.contrast_weight)
        if self.prior is None:
            params["novel_weight"] = None
        if not self.uses_reference:
            params["knn_temperature"] = None
        elif self.knn_temperature is not None:
            params["knn_temperature"] = float(self.knn_temperature)
        if self.notes:
            params["notes"] = list(self.notes)
        return params

    def differences(self, recipe: str = "paper") -> dict[str, tuple]:
        """Options that differ from another recipe: ``{name: (this value, that recipe's value)}``."""
        other = dataclasses.replace(TrainConfig.from_recipe(recipe), seed=self.seed)
        other = other.resolved(n_train_samples=2, has_val=self.monitor != "train_loss_epoch")
        return {
            name: (getattr(self, name), getattr(other, name))
            for name in self.option_names()
            if name not in ("seed", "knn_temperature") and getattr(self, name) != getattr(other, name)
        }

    def card(self) -> str:
        """A short model card (markdown): recipe, network, training, and what differs from the paper."""
        diff = self.differences("paper")
        temp = f" (temperature {self.knn_temperature:.3g})" if self.knn_temperature is not None else ""
        lines = [
            f"- recipe: `{self.recipe}`; task: {self.task}",
            f"- network: {self.preset} trunk, hidden {self.hidden}, dropout {self.dropout}"
            + (f", kNN prior{temp}" if self.prior else "")
            + (", delta expression" if self.delta_expression else ""),
            f"- training: Adam lr {self.lr:g}, up to {self.max_epochs} epochs, early stopping on {self.monitor} "
            f"(patience {self.patience}), {self.batch_loci} loci per batch, seed {self.seed}",
        ]
        if diff:
            lines.append(
                "- differs from the published network (recipe `paper`): "
                + ", ".join(f"{k}={a!r} (paper {b!r})" for k, (a, b) in diff.items())
            )
        else:
            lines.append("- the published network and training (Liu et al. 2022), as in recipe `paper`")
        lines += [f"- note: {n}" for n in self.notes]
        return "\n".join(lines)


#: Named recipes. ``'paper'`` is the published network and training (Liu et al., GPB 2022; FC width 256 as in
#: the released code, the paper's text says 512): no reference prior, every locus in every epoch, no penalty.
#: ``'default'`` is what cell-type cross-validation on the blood-cell data chose (``benchmarks/heme_cv.py``):
#: the kNN prior with leave-one-out labels, delta expression, an L2 penalty on the expression weights, a
#: quarter of the all-closed background loci per epoch, and FC width 512.
RECIPES: dict[str, dict[str, Any]] = {
    "default": {},
    "paper": {
        "preset": "paper",
        "hidden": 256,
        "dropout": 0.5,
        "lr": 1e-3,
        "prior": None,
        "delta_expression": False,
        "linear_expression": False,
        "expression_l2": 0.0,
        "background_fraction": 1.0,
        "pos_weight": None,
        "samples_per_batch": None,
    },
}
