"""Named training recipes as data (``search_spaces/recipes/*.yaml``), overridable field by field."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalesearch.arch.io import read_data_file, search_spaces_dir
from scalesearch.arch.spec import MAX_RESOLUTION_PX, Spec, ViTSpec
from scalesearch.errors import SpecError, UsageError
from scalesearch.typed_data import check, decode

OPTIMIZERS = ("sgd", "lamb", "adamw")
LOSSES = ("ce", "bce")
#: Training crops (see :class:`scalesearch.train.augment.TrainAugment`).
CROPS = ("resized", "translate")
#: Training arithmetic: ``auto`` is bf16 autocast on CUDA and fp32 on the CPU; ``fp16`` adds loss scaling.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: Below this input side a stride-2 stem (and ResNet's max pool) shrinks the map too early.
LOW_RES_PX = 64


#: The most epochs a recipe trains (ImageNet recipes run 100-600).
MAX_EPOCHS = 10_000
#: The longest schedule multiplier ("Rethinking ImageNet Pre-training" went to 6x).
MAX_SCHEDULE = 64.0


#: The largest learning rate a recipe takes: float32 holds up to 3.4e38, and lr x gradient must fit.
MAX_LR = 1e30


@dataclass(frozen=True)
class Recipe:
    """Everything a training run needs besides the network and the data."""

    name: str
    epochs: int
    resolution: int
    batch_size: int
    optimizer: str
    lr: float
    weight_decay: float
    warmup_epochs: float
    loss: str
    momentum: float = 0.9
    label_smoothing: float = 0.0
    crop: str = "resized"  # one of CROPS
    crop_scale_min: float = 0.35  # with crop "resized"
    flip: bool = True  # random horizontal flips (off for data whose mirror image is another class)
    randaugment_magnitude: int = 0
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    repeated_aug: int = 1
    drop_path_rate: float | None = None  # None: the spec's own
    low_res_stem: bool = True
    precise_bn_images: int = 2048  # training images that re-estimate BatchNorm statistics before evaluation
    eval_every: int = 1  # evaluate every N epochs, and always after the last
    precision: str = "auto"  # one of PRECISIONS
    zero_init_residual: bool = False  # every residual block starts as the identity (see nn.zero_init_residuals)
    grad_clip_norm: float | None = None  # clip the gradients' global norm to this
    patch: int | None = None  # ViTs: the patch size (px), e.g. 4 at 32 px; None: the spec's
    schedule: float | None = None  # the multiplier :meth:`scheduled` applied to epochs and warm-up; None: 1x

    def __post_init__(self) -> None:
        check(isinstance(self.epochs, int) and 1 <= self.epochs <= MAX_EPOCHS, "epochs", self.epochs,
              f"must be an integer in [1, {MAX_EPOCHS:,}]")
        check(isinstance(self.resolution, int) and 16 <= self.resolution <= MAX_RESOLUTION_PX, "resolution",
                 self.resolution, f"must be an integer in [16, {MAX_RESOLUTION_PX}] (pixels)")
        check(isinstance(self.batch_size, int) and self.batch_size >= 1, "batch_size", self.batch_size,
                 "must be a positive integer")
        check(self.optimizer in OPTIMIZERS, "optimizer", self.optimizer, f"must be one of {OPTIMIZERS}")
        check(self.loss in LOSSES, "loss", self.loss, f"must be one of {LOSSES}")
        check(self.precision in PRECISIONS, "precision", self.precision, f"must be one of {PRECISIONS}")
        check(math.isfinite(self.lr) and self.lr > 0, "lr", self.lr, "must be positive")
        check(self.lr <= MAX_LR, "lr", self.lr, f"must be at most {MAX_LR:g} (a larger one overflows the float32 "
                                                "weights' updates)")
        check(math.isfinite(self.weight_decay) and 0 <= self.weight_decay < 1, "weight_decay", self.weight_decay,
                 "must be in [0, 1)")
        check(math.isfinite(self.momentum) and 0 <= self.momentum < 1, "momentum", self.momentum,
                 "must be in [0, 1)")
        check(math.isfinite(self.warmup_epochs) and 0 <= self.warmup_epochs <= self.epochs, "warmup_epochs",
                 self.warmup_epochs, "must be in [0, epochs]")
        check(0 <= self.label_smoothing < 1, "label_smoothing", self.label_smoothing, "must be in [0, 1)")
        check(self.crop in CROPS, "crop", self.crop, f"must be one of {CROPS}")
        check(0 < self.crop_scale_min <= 1, "crop_scale_min", self.crop_scale_min, "must be in (0, 1]")
        check(isinstance(self.flip, bool), "flip", self.flip, "must be true or false")
        check(0 <= self.randaugment_magnitude <= 30, "randaugment_magnitude", self.randaugment_magnitude,
                 "must be in [0, 30]")
        check(math.isfinite(self.mixup_alpha + self.cutmix_alpha) and self.mixup_alpha >= 0
                 and self.cutmix_alpha >= 0, "mixup_alpha", (self.mixup_alpha, self.cutmix_alpha),
                 "mixup_alpha and cutmix_alpha must be >= 0")
        check(isinstance(self.repeated_aug, int) and self.repeated_aug >= 1, "repeated_aug", self.repeated_aug,
                 "must be a positive integer")
        check(isinstance(self.precise_bn_images, int) and self.precise_bn_images >= 0, "precise_bn_images",
                 self.precise_bn_images, "must be an integer >= 0")
        check(isinstance(self.zero_init_residual, bool), "zero_init_residual", self.zero_init_residual,
                 "must be true or false")
        check(isinstance(self.eval_every, int) and self.eval_every >= 1, "eval_every", self.eval_every,
                 "must be a positive integer")
        check(self.drop_path_rate is None or 0 <= self.drop_path_rate < 1, "drop_path_rate", self.drop_path_rate,
                 "must be in [0, 1)")
        check(self.grad_clip_norm is None or math.isfinite(self.grad_clip_norm) and self.grad_clip_norm > 0,
              "grad_clip_norm", self.grad_clip_norm, "must be positive")
        check(self.patch is None or isinstance(self.patch, int) and 1 <= self.patch <= self.resolution, "patch",
              self.patch, "must be an integer in [1, resolution] (pixels)")
        check(self.schedule is None or isinstance(self.schedule, (int, float)) and math.isfinite(self.schedule)
              and self.schedule > 0, "schedule", self.schedule, "must be a positive multiplier")

    def scheduled(self, multiplier: float) -> "Recipe":
        """The recipe over ``multiplier`` times as many epochs, warm-up included ("Rethinking ImageNet
        Pre-training"'s 1x, 2x, 3x, 6x schedules); the cosine decay stretches with them."""
        if multiplier == 1:
            return self
        epochs = max(1, round(self.epochs * multiplier))
        return self.override(epochs=epochs, warmup_epochs=min(epochs, self.warmup_epochs * multiplier),
                             schedule=(self.schedule or 1) * multiplier)

    @property
    def schedule_name(self) -> str:
        """The schedule in the paper's words: ``1x``, ``2x``, ..."""
        return f"{self.schedule or 1:g}x"

    def override(self, **changes: Any) -> "Recipe":
        """A copy with the non-None ``changes`` applied (overrides), validated again; an error names the
        field in backticks, as every parameter error does."""
        try:
            return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})
        except SpecError as err:
            raise UsageError(f"`{err.field}`: {err.reason}") from None

    def scaled_resolution(self, spec: Spec, multiplier: float) -> int:
        """The input side a scaled network trains at: the recipe's resolution times the network's
        resolution multiplier (B3's 1.34 at 32 px: 43 px), so that resolution scaling is kept at
        proxy size; for a ViT, rounded to a multiple of its patch."""
        size = max(16, round(self.resolution * multiplier))
        if isinstance(spec, ViTSpec):
            patch = self.patch or spec.patch
            size = max(patch, round(size / patch) * patch)
        return size

    def network(self, spec: Spec, num_classes: int) -> Spec:
        """The spec as this recipe trains it: the data's classes, the recipe's resolution and
        drop-path rate and, below 64 px, a stem that does not stride (nor max-pool); a ViT takes
        the recipe's patch size where it names one."""
        changes: dict[str, Any] = {"num_classes": num_classes, "resolution": self.resolution}
        if self.drop_path_rate is not None:
            changes["drop_path_rate"] = self.drop_path_rate
        if isinstance(spec, ViTSpec):
            if self.patch is not None:
                changes["patch"] = self.patch
            try:
                return dataclasses.replace(spec, **changes)
            except SpecError as err:
                raise UsageError(f"{spec.name} at {self.resolution} px: `{err.field}` {err.reason} (give the "
                                 f"recipe a `patch` that divides {self.resolution})") from None
        if self.low_res_stem and self.resolution < LOW_RES_PX:
            changes["stem"] = dataclasses.replace(spec.stem, stride=1, pool=False)
        return dataclasses.replace(spec, **changes)


def parse_schedule(text: str) -> float:
    """``2x`` (or ``2``) -> 2.0; a schedule must be a positive multiplier."""
    value = text.strip().lower().removesuffix("x")
    try:
        multiplier = float(value)
    except ValueError:
        multiplier = math.nan
    if not (math.isfinite(multiplier) and multiplier > 0):
        raise UsageError(f"`schedule` must be a positive multiplier such as 1x, 2x, 3x or 6x, got {text!r}")
    if multiplier > MAX_SCHEDULE:
        raise UsageError(f"`schedule` must be at most {MAX_SCHEDULE:g}x (the paper's longest is 6x), got {text!r}")
    return multiplier


def recipe_names() -> list[str]:
    return sorted(p.stem for p in (search_spaces_dir() / "recipes").glob("*.yaml"))


def load_recipe(name_or_path: str) -> Recipe:
    """A built-in recipe by name (``proxy``, ``rsb-a3``, ``rsb-a2``) or a recipe file by path."""
    builtin = search_spaces_dir() / "recipes" / f"{name_or_path}.yaml"
    path = builtin if builtin.is_file() else Path(name_or_path)
    if not path.is_file():
        raise UsageError(f"unknown recipe {name_or_path!r} (known: {', '.join(recipe_names())}; or a .yaml file)")
    try:
        return decode(Recipe, read_data_file(path))
    except SpecError as err:
        raise err.in_file(str(path)) from None
