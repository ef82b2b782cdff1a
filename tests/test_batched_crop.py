"""The batched crops draw and cut what torchvision's per-image transforms do."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import ks_2samp
from torchvision import transforms
from torchvision.transforms import v2

from scalesearch.train.augment import (
    CROP_RATIO,
    batched_translate,
    resized_crop_boxes,
    resized_crops,
    roi_align_crops,
)

DRAWS = 4000


def _shape_of(boxes: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Area fraction, log aspect ratio, and the box centre's horizontal place in its free range."""
    top, left, h, w = boxes.T.astype(float)
    free = np.maximum(width - w, 1)
    return h * w / (height * width), np.log(w / h), left / free


@pytest.mark.parametrize("height, width, scale",
                         [(32, 32, (0.35, 1.0)), (224, 224, (0.08, 1.0)), (48, 160, (0.5, 1.0))])
def test_batched_boxes_have_the_per_image_distribution_of_scale_ratio_and_place(height, width, scale):
    ours = resized_crop_boxes(DRAWS, height, width, scale, generator=torch.Generator().manual_seed(0)).numpy()
    torch.manual_seed(1)
    image = torch.zeros(3, height, width)
    theirs = np.array([transforms.RandomResizedCrop.get_params(image, list(scale), list(CROP_RATIO))
                       for _ in range(DRAWS)])
    assert (ours[:, 0] + ours[:, 2] <= height).all() and (ours[:, 1] + ours[:, 3] <= width).all()
    assert (ours >= 0).all() and (ours[:, 2:] > 0).all()
    for a, b in zip(_shape_of(ours, height, width), _shape_of(theirs, height, width)):
        assert ks_2samp(a, b).pvalue > 0.001
    # histograms agree bin by bin too (the 48 x 160 images fall back to the centred crop often)
    for a, b in zip(_shape_of(ours, height, width)[:2], _shape_of(theirs, height, width)[:2]):
        edges = np.histogram_bin_edges(np.concatenate([a, b]), bins=10)
        ha, hb = np.histogram(a, edges)[0], np.histogram(b, edges)[0]
        assert np.abs(ha - hb).max() < 5 * math.sqrt(DRAWS / 10)


def _smooth(n: int, side: int) -> torch.Tensor:
    """Photo-like uint8 images: low-frequency waves, a different one per image and channel."""
    y, x = torch.meshgrid(torch.linspace(0, 1, side), torch.linspace(0, 1, side), indexing="ij")
    k = torch.arange(n * 3, dtype=torch.float32).view(n, 3, 1, 1)
    return (127.5 + 120 * torch.sin(2 * math.pi * ((1 + k % 3) * x + (1 + k % 2) * y) + k)).round().to(torch.uint8)


@pytest.mark.parametrize("side, size", [(32, 32), (64, 24)])
def test_the_one_call_crop_cuts_what_the_per_image_crop_cuts(side, size):
    """roi_align (CUDA's path, run here on the CPU) against torchvision's per-image resize (the CPU's)."""
    images = _smooth(64, side)
    boxes = resized_crop_boxes(64, side, side, (0.2, 1.0), generator=torch.Generator().manual_seed(2))
    ours = roi_align_crops(images, boxes, size)
    theirs = torch.stack([v2.functional.resized_crop(img, *box.tolist(), [size, size], antialias=True)
                          for img, box in zip(images, boxes)])
    assert torch.equal(resized_crops(images, boxes, size), theirs)  # the CPU's own path is torchvision's
    assert ours.dtype == torch.uint8 and ours.shape == (64, 3, size, size)
    assert (ours.float() - theirs.float()).abs().mean() < 1.5  # grey levels of 255: resampling filters differ


def test_a_batched_translation_is_the_per_image_padded_crop():
    images = torch.randint(0, 256, (16, 3, 12, 12), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    ours = batched_translate(images, 12, 2, generator=torch.Generator().manual_seed(4))
    offsets = torch.randint(0, 5, (16, 2), generator=torch.Generator().manual_seed(4))
    padded = torch.nn.functional.pad(images, [2] * 4)
    theirs = torch.stack([p[:, i:i + 12, j:j + 12] for p, (i, j) in zip(padded, offsets.tolist())])
    assert torch.equal(ours, theirs)


def test_crops_keep_black_black_and_white_white():
    images = torch.zeros(2, 3, 16, 16, dtype=torch.uint8)
    images[1] = 255
    boxes = torch.tensor([[2.0, 3.0, 9.0, 7.0], [0.0, 0.0, 16.0, 16.0]])
    crops = roi_align_crops(images, boxes, 8)
    assert crops.dtype == torch.uint8 and int(crops[0].max()) == 0 and int(crops[1].min()) == 255
