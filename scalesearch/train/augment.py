"""Augmentation on batches of uint8 images already on the training device (no Python workers).

Per-image geometric and colour transforms come from ``torchvision.transforms.v2`` (each image gets
its own random parameters); MixUp / CutMix from ``v2.MixUp`` / ``v2.CutMix`` act on the batch.
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision.transforms import v2

from scalesearch.errors import UsageError
from scalesearch.train.recipes import Recipe

#: ITU-R BT.601 luma weights: RGB images feeding a one-channel network.
_LUMA = (0.299, 0.587, 0.114)


def to_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """A batch (N, C, H, W) as a network of ``channels`` inputs takes it: grayscale repeated for
    three-channel networks, RGB reduced to luma for one-channel networks."""
    have = images.shape[1]
    if have == channels:
        return images
    if have == 1 and channels == 3:
        return images.expand(-1, 3, -1, -1)
    if have == 3 and channels == 1:
        weights = torch.tensor(_LUMA, device=images.device).view(1, 3, 1, 1)
        luma = (images.float() * weights).sum(1, keepdim=True)
        return luma.round().to(images.dtype) if not images.is_floating_point() else luma
    raise UsageError(f"the network takes {channels} input channels and the data has {have}: give the spec "
                     f"in_channels: {have}")


#: Training images whose pixels give the normalisation statistics.
STATS_IMAGES = 5000


class Normalize:
    """uint8 -> float in [0, 1], then per-channel standardisation with the training set's statistics."""

    def __init__(self, train_images: torch.Tensor, channels: int = 3) -> None:
        self.channels = channels
        sample = to_channels(train_images, channels).float() / 255
        self.mean = sample.mean(dim=(0, 2, 3)).view(1, channels, 1, 1)
        self.std = sample.std(dim=(0, 2, 3)).clamp_min(1e-3).view(1, channels, 1, 1)

    @classmethod
    def of(cls, split: Any, channels: int = 3) -> Normalize:
        """Statistics of a seeded sample of ``STATS_IMAGES`` images of a training split, for a
        network of ``channels`` inputs."""
        return cls(split.sample_images(STATS_IMAGES), channels)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = to_channels(images, self.channels).float() / 255
        return (x - self.mean.to(x.device)) / self.std.to(x.device)


class TrainAugment:
    """A recipe's per-image transforms on uint8 images (a crop, an optional horizontal flip, an
    optional RandAugment), normalisation, then MixUp/CutMix per batch (on floats: mixing uint8
    pixels would truncate).

    Crops (``recipe.crop``): ``resized`` is RandomResizedCrop over ``crop_scale_min``..1 of the
    area (ImageNet's); ``translate`` resizes to the resolution, pads an eighth of it on each side
    and crops back at random, a shift of up to 12.5% with every pixel kept at its scale (CIFAR's)."""

    def __init__(self, normalize: Normalize, recipe: Recipe, num_classes: int) -> None:
        self.normalize = normalize
        size = recipe.resolution
        steps: list[v2.Transform] = (
            [v2.RandomResizedCrop(size, scale=(recipe.crop_scale_min, 1.0), antialias=True)]
            if recipe.crop == "resized" else
            [v2.Resize([size, size], antialias=True), v2.RandomCrop(size, padding=max(1, size // 8))])
        if recipe.flip:
            steps.append(v2.RandomHorizontalFlip())
        if recipe.randaugment_magnitude > 0:
            steps.append(v2.RandAugment(magnitude=recipe.randaugment_magnitude))
        self.per_image = v2.Compose(steps)
        mixers = [mixer(alpha=alpha, num_classes=num_classes)
                  for alpha, mixer in ((recipe.mixup_alpha, v2.MixUp), (recipe.cutmix_alpha, v2.CutMix)) if alpha > 0]
        self.mix = v2.RandomChoice(mixers) if mixers else None

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images = to_channels(images, self.normalize.channels)
        images = self.normalize(torch.stack([self.per_image(img) for img in images]))
        if self.mix is not None:
            return self.mix(images, labels)
        return images, labels


def eval_resize(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """Evaluation preprocessing: the whole image resized to the training resolution (channels are
    matched to the network by :class:`Normalize`)."""
    if images.shape[-1] == resolution and images.shape[-2] == resolution:
        return images
    return v2.functional.resize(images, [resolution, resolution], antialias=True)
