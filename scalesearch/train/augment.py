"""Augmentation on batches of uint8 images already on the training device (no Python workers).

Per-image geometric and colour transforms come from ``torchvision.transforms.v2`` (each image gets
its own random parameters); MixUp / CutMix from ``v2.MixUp`` / ``v2.CutMix`` act on the batch.
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision.transforms import v2


def to_rgb(images: torch.Tensor) -> torch.Tensor:
    """Grayscale (N, 1, H, W) batches feed 3-channel models by repeating the channel."""
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


#: Training images whose pixels give the normalisation statistics.
STATS_IMAGES = 5000


class Normalize:
    """uint8 -> float in [0, 1], then per-channel standardisation with the training set's statistics."""

    def __init__(self, train_images: torch.Tensor) -> None:
        sample = to_rgb(train_images).float() / 255
        self.mean = sample.mean(dim=(0, 2, 3)).view(1, 3, 1, 1)
        self.std = sample.std(dim=(0, 2, 3)).clamp_min(1e-3).view(1, 3, 1, 1)

    @classmethod
    def of(cls, split: Any) -> "Normalize":
        """Statistics of a seeded sample of ``STATS_IMAGES`` images of a training split."""
        return cls(split.sample_images(STATS_IMAGES))

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float() / 255
        return (x - self.mean.to(x.device)) / self.std.to(x.device)


class TrainAugment:
    """RandomResizedCrop + horizontal flip (+ RandAugment) per uint8 image, normalisation, then
    MixUp/CutMix per batch (on floats: mixing uint8 pixels would truncate)."""

    def __init__(self, normalize: Normalize, resolution: int, num_classes: int, crop_scale_min: float,
                 randaugment_magnitude: int, mixup_alpha: float, cutmix_alpha: float) -> None:
        self.normalize = normalize
        steps: list[v2.Transform] = [v2.RandomResizedCrop(resolution, scale=(crop_scale_min, 1.0), antialias=True),
                                     v2.RandomHorizontalFlip()]
        if randaugment_magnitude > 0:
            steps.append(v2.RandAugment(magnitude=randaugment_magnitude))
        self.per_image = v2.Compose(steps)
        mixers = [mixer(alpha=alpha, num_classes=num_classes)
                  for alpha, mixer in ((mixup_alpha, v2.MixUp), (cutmix_alpha, v2.CutMix)) if alpha > 0]
        self.mix = v2.RandomChoice(mixers) if mixers else None

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images = self.normalize(torch.stack([self.per_image(img) for img in to_rgb(images)]))
        if self.mix is not None:
            return self.mix(images, labels)
        return images, labels


def eval_resize(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """Evaluation preprocessing: the whole image resized to the training resolution."""
    images = to_rgb(images)
    if images.shape[-1] == resolution and images.shape[-2] == resolution:
        return images
    return v2.functional.resize(images, [resolution, resolution], antialias=True)
