"""Data sources: real Fashion-MNIST and CIFAR-format files, ImageFolder trees, splits, bad paths."""

from __future__ import annotations

import gzip
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import FASHION, needs_fashion
from PIL import Image

from scalesearch.errors import UsageError
from scalesearch.train.data import load_data, parse_data_arg
from scalesearch.train.imagefolder import FileSplit

SHARED_CIFAR = Path(__file__).resolve().parents[2] / "shared/data/cifar-10"


@pytest.fixture(scope="module")
def fashion():
    return load_data(f"fashion-mnist:{FASHION}")


@needs_fashion
def test_fashion_mnist_real_files_split_and_shapes(fashion):
    assert (len(fashion.train), len(fashion.val), len(fashion.test)) == (54000, 6000, 10000)
    assert fashion.train.images.dtype == torch.uint8 and fashion.train.images.shape[1:] == (1, 28, 28)
    assert fashion.channels == 1 and fashion.num_classes == 10 and not fashion.synthetic
    # Every class present in validation, in roughly its 10% share.
    counts = torch.bincount(fashion.val.labels, minlength=10)
    assert counts.min() > 450 and counts.max() < 750


@needs_fashion
def test_validation_split_is_seeded_and_disjoint(fashion):
    again = load_data(f"fashion-mnist:{FASHION}")
    assert torch.equal(again.val.images, fashion.val.images)
    other = load_data(f"fashion-mnist:{FASHION}", seed=1)
    assert not torch.equal(other.val.labels, fashion.val.labels)
    train_keys = {hash(bytes(x.numpy())) for x in fashion.train.images[:3000]}
    assert not train_keys & {hash(bytes(x.numpy())) for x in fashion.val.images}


def test_idx_files_uncompressed_are_read_too(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, (50, 28, 28), dtype=np.uint8)
    labels = np.arange(50, dtype=np.uint8) % 10
    header_images = bytes([0, 0, 8, 3]) + (50).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    header_labels = bytes([0, 0, 8, 1]) + (50).to_bytes(4, "big")
    (tmp_path / "train-images-idx3-ubyte").write_bytes(header_images + images.tobytes())
    with gzip.open(tmp_path / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write(header_labels + labels.tobytes())
    data = load_data(f"mnist:{tmp_path}")
    assert len(data.train) + len(data.val) == 50 and data.test is None
    merged = torch.cat([data.train.images, data.val.images])
    assert sorted(map(lambda x: bytes(x.numpy()), merged)) == sorted(bytes(x) for x in images[:, None])


def _cifar_batch(path: Path, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 255, (n, 3072), dtype=np.uint8)
    # The official pickles have bytes keys (Python 2); write them that way.
    with path.open("wb") as f:
        pickle.dump({b"data": data, b"labels": list(rng.integers(0, 10, n)), b"batch_label": b"x"}, f)
    return data


def test_cifar_accepts_whichever_batches_are_present(tmp_path):
    inner = tmp_path / "cifar-10-batches-py"
    inner.mkdir()
    first = _cifar_batch(inner / "data_batch_1", 40, 0)
    _cifar_batch(inner / "data_batch_3", 20, 1)
    _cifar_batch(inner / "test_batch", 10, 2)
    data = load_data(f"cifar10:{tmp_path}")
    assert len(data.train) + len(data.val) == 60 and len(data.test) == 10
    all_images = torch.cat([data.train.images, data.val.images]).reshape(60, -1)
    assert any(torch.equal(row, torch.from_numpy(first[0])) for row in all_images)


def test_cifar100_reads_its_train_and_test_files_and_fine_labels(tmp_path):
    rng = np.random.default_rng(0)
    inner = tmp_path / "cifar-100-python"
    inner.mkdir()
    for name, n in (("train", 50), ("test", 10)):
        with (inner / name).open("wb") as f:
            pickle.dump({b"data": rng.integers(0, 255, (n, 3072), dtype=np.uint8), b"coarse_labels": [0] * n,
                         b"fine_labels": [99 - i % 20 for i in range(n)]}, f)
    data = load_data(f"cifar100:{tmp_path}")
    assert len(data.train) + len(data.val) == 50 and len(data.test) == 10
    assert int(torch.cat([data.train.labels, data.val.labels]).min()) == 80  # fine labels, up to 99
    (inner / "train").unlink()
    with pytest.raises(UsageError, match=r"cifar-100-python: no CIFAR-100 training batches \(expected the "
                                         r"python-format files train and test\)"):
        load_data(f"cifar100:{tmp_path}")


@pytest.mark.skipif(not SHARED_CIFAR.is_dir(), reason="the shared CIFAR-10 subset is not beside this checkout")
def test_shared_cifar10_subset():
    data = load_data(f"cifar10:{SHARED_CIFAR}")
    assert (len(data.train), len(data.val), len(data.test)) == (9000, 1000, 5000)
    assert torch.bincount(data.test.labels).tolist() == [500] * 10


def _png(path: Path, colour: int) -> None:
    Image.fromarray(np.full((12, 10, 3), colour, dtype=np.uint8)).save(path)


def test_imagefolder_skips_and_counts_bad_files(tmp_path):
    for split in ("train", "val"):
        for label, name in enumerate(("cat", "dog")):
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            for i in range(3):
                _png(folder / f"{i}.png", 40 + 100 * label)
    (tmp_path / "train/cat/notes.txt").write_text("not an image")
    (tmp_path / "train/dog/broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    data = load_data(f"imagefolder:{tmp_path}")
    assert isinstance(data.train, FileSplit) and data.skipped_files == 2
    assert (len(data.train), len(data.val), data.num_classes) == (6, 6, 2)
    batch, labels = next(data.train.at_size(8).batches(torch.arange(6), 6))
    assert batch.shape == (6, 3, 8, 8) and batch.dtype == torch.uint8
    assert labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert batch[0].float().mean() == pytest.approx(40, abs=1) and batch[5].float().mean() == pytest.approx(140, abs=1)


def test_imagefolder_without_split_folders_gets_a_validation_split(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(10):
            _png(tmp_path / name / f"{i}.png", i)
    data = load_data(f"imagefolder:{tmp_path}", val_fraction=0.2)
    assert (len(data.train), len(data.val), data.test) == (16, 4, None)


def test_empty_class_folder_is_an_error(tmp_path):
    (tmp_path / "a").mkdir()
    _png(tmp_path / "a/0.png", 1)
    (tmp_path / "b").mkdir()
    with pytest.raises(UsageError, match=r"b: class folder has no readable images"):
        load_data(f"imagefolder:{tmp_path}")


@pytest.mark.parametrize("arg, message", [
    ("cifar11:/tmp", "unknown data kind 'cifar11'"),
    ("cifar10", "`data` cifar10 needs a folder"),
    ("cifar10:/no/such/dir", "folder not found: /no/such/dir"),
])
def test_bad_data_arguments(arg, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        parse_data_arg(arg)


def test_missing_files_name_what_was_expected(tmp_path):
    with pytest.raises(UsageError, match=r"expected the python-format files data_batch_1..data_batch_5"):
        load_data(f"cifar10:{tmp_path}")
    with pytest.raises(UsageError, match=r"expected train-images-idx3-ubyte\[.gz\]"):
        load_data(f"fashion-mnist:{tmp_path}")


def test_synthetic_is_labelled_and_learnable():
    data = load_data("synthetic")
    assert data.synthetic and data.name == "synthetic" and data.train.images.shape[1:] == (3, 32, 32)
    # Learnable: the class means of the training images classify the validation images (nearest
    # centroid), far above the 10% of chance; pure noise would not.
    train, val = data.train.images.float().flatten(1), data.val.images.float().flatten(1)
    centroids = torch.stack([train[data.train.labels == c].mean(0) for c in range(10)])
    predicted = torch.cdist(val, centroids).argmin(1)
    assert (predicted == data.val.labels).float().mean() > 0.9


def test_cifar_files_copied_from_shared_subset_load_like_official(tmp_path):
    if not SHARED_CIFAR.is_dir():
        pytest.skip("the shared CIFAR-10 subset is not beside this checkout")
    shutil.copy(SHARED_CIFAR / "cifar-10-batches-py/data_batch_1", tmp_path / "data_batch_1")
    data = load_data(f"cifar10:{tmp_path}")
    assert data.test is None and len(data.train) == 9000


def test_rgb_becomes_luma_for_a_one_channel_network_and_gray_is_repeated_for_three():
    from scalesearch.train.augment import to_channels

    pixels = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [10, 20, 30]]
    rgb = torch.tensor(pixels, dtype=torch.uint8).T.reshape(1, 3, 1, 5)
    luma = to_channels(rgb, 1)  # ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B, rounded
    assert luma.dtype == torch.uint8 and luma.flatten().tolist() == [76, 150, 29, 255, 18]
    assert torch.allclose(to_channels(rgb.float() / 255, 1) * 255, luma.float(), atol=0.5)
    gray = torch.arange(4, dtype=torch.uint8).view(1, 1, 2, 2)
    assert torch.equal(to_channels(gray, 3), gray.repeat(1, 3, 1, 1)) and to_channels(gray, 1) is gray
    for have in (0, 2):
        with pytest.raises(UsageError, match=f"the network takes 3 input channels and the data has {have}"):
            to_channels(torch.zeros(1, have, 2, 2), 3)
