"""Augmentation on batches of uint8 images already on the training device (no Python workers).

Crops and flips act on the whole batch, every image with its own random parameters: crop boxes
drawn together as ``v2.RandomResizedCrop`` draws them (:func:`resized_crop_boxes`) and resampled
(:func:`resized_crops`: one ``roi_align`` call on CUDA); translations copied out of one padded
batch; flips one ``where``. RandAugment
stays per image (``v2.RandAugment`` on a batch would give every image the same operations);
MixUp / CutMix from ``v2.MixUp`` / ``v2.CutMix`` act on the batch.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torchvision.ops import roi_align
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


#: RandomResizedCrop's aspect-ratio range (torchvision's default) and its tries before the centre crop.
CROP_RATIO = (3 / 4, 4 / 3)
_CROP_TRIES = 10


def resized_crop_boxes(n: int, height: int, width: int, scale: tuple[float, float],
                       ratio: tuple[float, float] = CROP_RATIO, generator: torch.Generator | None = None,
                       device: torch.device | str = "cpu") -> torch.Tensor:
    """``n`` crop boxes (top, left, height, width; int64) for ``height`` x ``width`` images, each drawn
    as ``v2.RandomResizedCrop`` draws one: up to 10 tries of an area fraction uniform in ``scale``
    and an aspect ratio log-uniform in ``ratio``, the first that fits kept at a uniform position;
    where none fits, the largest centred box within ``ratio``."""
    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, _CROP_TRIES, generator=generator, device=device)

    area = height * width
    target = area * uniform(*scale)
    aspect = torch.exp(uniform(math.log(ratio[0]), math.log(ratio[1])))
    w, h = torch.round(torch.sqrt(target * aspect)), torch.round(torch.sqrt(target / aspect))
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.int().argmax(dim=1, keepdim=True)  # the first try that fits (0 where none does)
    w, h = w.gather(1, first).squeeze(1), h.gather(1, first).squeeze(1)
    if width / height < ratio[0]:
        fallback_w, fallback_h = width, round(width / ratio[0])
    elif width / height > ratio[1]:
        fallback_w, fallback_h = round(height * ratio[1]), height
    else:
        fallback_w, fallback_h = width, height
    none = ~fits.any(dim=1)
    w, h = torch.where(none, fallback_w, w).long(), torch.where(none, fallback_h, h).long()
    u = torch.rand(n, 2, generator=generator, device=device)
    top = torch.where(none, (height - h) // 2, (u[:, 0] * (height - h + 1)).long())
    left = torch.where(none, (width - w) // 2, (u[:, 1] * (width - w + 1)).long())
    return torch.stack([top, left, h, w], dim=1)


def roi_align_crops(images: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Each image's box (top, left, height, width) resampled to ``size`` x ``size`` by one
    ``roi_align`` call (bilinear, averaging ceil(box / size) samples per output pixel where the box is
    larger than the output), uint8 in and out."""
    top, left, h, w = boxes.to(images.device, torch.float32).unbind(1)
    rois = torch.stack([torch.arange(len(images), device=images.device, dtype=torch.float32),
                        left, top, left + w, top + h], dim=1)
    out = roi_align(images.float(), rois, output_size=size, spatial_scale=1.0, sampling_ratio=-1, aligned=True)
    return out.round_().clamp_(0, 255).to(torch.uint8)


def resized_crops(images: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Each image's box resized to ``size`` x ``size``: on CUDA :func:`roi_align_crops` (one call for
    the batch); elsewhere torchvision's antialiased resize per image, which on a 2-vCPU VM is 4x
    faster than ``roi_align`` at 224 px (``benchmarks/batched_crop.py``)."""
    if images.device.type == "cuda":
        return roi_align_crops(images, boxes, size)
    return torch.stack([v2.functional.resized_crop(image, *box, [size, size], antialias=True)
                        for image, box in zip(images, boxes.tolist())])


def batched_translate(images: torch.Tensor, size: int, padding: int,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """``v2.Resize`` to ``size``, then ``v2.RandomCrop(size, padding)`` (zero fill) for every image at
    once: each image shifted by its own uniform offset in [-padding, padding] on each axis (views of
    one padded batch, copied out by a single ``stack``)."""
    if images.shape[-2:] != (size, size):
        images = v2.functional.resize(images, [size, size], antialias=True)
    padded = torch.nn.functional.pad(images, [padding] * 4)
    offsets = torch.randint(0, 2 * padding + 1, (len(images), 2), generator=generator, device=images.device)
    return torch.stack([image[:, i:i + size, j:j + size] for image, (i, j) in zip(padded, offsets.tolist())])


class TrainAugment:
    """A recipe's transforms on a batch of uint8 images: a crop and an optional horizontal flip (their
    parameters drawn for the whole batch at once, see :meth:`geometric`), an optional RandAugment
    (per image), normalisation, then MixUp/CutMix per batch (on floats: mixing uint8 pixels would
    truncate).

    Crops (``recipe.crop``): ``resized`` is RandomResizedCrop over ``crop_scale_min``..1 of the
    area (ImageNet's); ``translate`` resizes to the resolution, pads an eighth of it on each side
    and crops back at random, a shift of up to 12.5% with every pixel kept at its scale (CIFAR's)."""

    def __init__(self, normalize: Normalize, recipe: Recipe, num_classes: int) -> None:
        self.normalize = normalize
        self.size, self.crop, self.flip = recipe.resolution, recipe.crop, recipe.flip
        self.scale = (recipe.crop_scale_min, 1.0)
        self.randaugment = (v2.RandAugment(magnitude=recipe.randaugment_magnitude)
                            if recipe.randaugment_magnitude > 0 else None)
        mixers = [mixer(alpha=alpha, num_classes=num_classes)
                  for alpha, mixer in ((recipe.mixup_alpha, v2.MixUp), (recipe.cutmix_alpha, v2.CutMix)) if alpha > 0]
        self.mix = v2.RandomChoice(mixers) if mixers else None

    def geometric(self, images: torch.Tensor) -> torch.Tensor:
        """The crop and the flip of a uint8 batch, each image with its own random parameters."""
        if self.crop == "resized":
            boxes = resized_crop_boxes(len(images), images.shape[-2], images.shape[-1], self.scale,
                                       device=images.device)
            images = resized_crops(images, boxes, self.size)
        else:
            images = batched_translate(images, self.size, max(1, self.size // 8))
        if self.flip:
            flipped = torch.rand(len(images), device=images.device) < 0.5
            images = torch.where(flipped[:, None, None, None], images.flip(-1), images)
        return images

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images = self.geometric(to_channels(images, self.normalize.channels))
        if self.randaugment is not None:
            images = torch.stack([self.randaugment(img) for img in images])
        images = self.normalize(images)
        if self.mix is not None:
            return self.mix(images, labels)
        return images, labels


def eval_resize(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """Evaluation preprocessing: the whole image resized to the training resolution (channels are
    matched to the network by :class:`Normalize`)."""
    if images.shape[-1] == resolution and images.shape[-2] == resolution:
        return images
    return v2.functional.resize(images, [resolution, resolution], antialias=True)
