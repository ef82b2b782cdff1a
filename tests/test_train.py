"""Training: real runs of tiny networks on real (Fashion-MNIST) and generated data, recipes, seeds,
determinism, failures and the ``train`` command."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import FASHION, needs_fashion, require_fashion
from PIL import Image
from timm.optim import Lamb
from torch import nn
from typer.testing import CliRunner

from scalesearch.arch.io import load_spec, resolve_spec, save_spec
from scalesearch.arch.spec import Head, MBConv, NetworkSpec, Stem
from scalesearch.cli import app
from scalesearch.errors import SpecError, TrainingError, UsageError
from scalesearch.nn import build_model
from scalesearch.train.augment import Normalize, TrainAugment
from scalesearch.train.data import DataSet, load_data
from scalesearch.train.loop import epoch_order, train
from scalesearch.train.optim import make_loss, make_optimizer
from scalesearch.train.recipes import load_recipe, recipe_names

runner = CliRunner()


def tiny_spec(width: int = 16) -> NetworkSpec:
    return NetworkSpec(name=f"tiny{width}", resolution=16, stem=Stem(out_channels=8),
                       stages=(MBConv(out_channels=width, repeats=1, stride=2, kernel=3, expand_ratio=2,
                                      se_ratio=0.25),
                               MBConv(out_channels=2 * width, repeats=2, stride=2, kernel=3, expand_ratio=3)),
                       head=Head(out_channels=64), dropout=0.1, drop_path_rate=0.1)


def small(data: DataSet, train: int, val: int) -> DataSet:
    return dataclasses.replace(data, train=data.train.subset(torch.arange(train)),
                               val=data.val.subset(torch.arange(val)))


@pytest.fixture(scope="module")
def fashion_small() -> DataSet:
    require_fashion()
    return small(load_data(f"fashion-mnist:{FASHION}"), 1536, 500)


QUICK = load_recipe("proxy").override(epochs=3, resolution=16, batch_size=64, warmup_epochs=0.5)


def test_builtin_recipes_load_and_validate():
    assert {"proxy", "rsb-a2", "rsb-a3"} <= set(recipe_names())
    a3 = load_recipe("rsb-a3")
    assert (a3.optimizer, a3.loss) == ("lamb", "bce") and a3.mixup_alpha > 0 and a3.randaugment_magnitude > 0
    a2 = load_recipe("rsb-a2")
    assert a2.repeated_aug == 3 and a2.drop_path_rate > 0
    assert all(load_recipe(n).zero_init_residual for n in ("proxy", "rsb-a2", "rsb-a3"))
    # train's default is the search's proxy with torch's own initialisation (benchmarks/train_defaults.py).
    assert load_recipe("standard") == dataclasses.replace(load_recipe("proxy"), name="standard",
                                                          zero_init_residual=False)
    with pytest.raises(UsageError, match="`batch_size`: must be a positive integer, got 0"):
        load_recipe("proxy").override(batch_size=0)
    with pytest.raises(UsageError, match=r"`crop`: must be one of \('resized', 'translate'\), got 'zoom'"):
        load_recipe("proxy").override(crop="zoom")
    with pytest.raises(UsageError, match="unknown recipe 'fast'"):
        load_recipe("fast")


def test_recipe_file_errors_name_the_field(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text((Path(__file__).parents[1] / "search_spaces/recipes/proxy.yaml").read_text()
                    .replace("optimizer: sgd", "optimizer: adam"))
    with pytest.raises(SpecError, match=r"r.yaml: optimizer: must be one of \('sgd', 'lamb', 'adamw'\), got 'adam'"):
        load_recipe(str(path))
    path.write_text((Path(__file__).parents[1] / "search_spaces/recipes/proxy.yaml").read_text()
                    .replace("zero_init_residual: true", "zero_init_residual: 1"))
    with pytest.raises(SpecError, match=r"r.yaml: zero_init_residual: must be true or false, got 1"):
        load_recipe(str(path))


def test_low_resolution_stem_does_not_stride():
    b0 = resolve_spec("efficientnet-b0")
    proxy = load_recipe("proxy")
    assert proxy.network(b0, 10).stem.stride == 1 and proxy.network(b0, 10).num_classes == 10
    assert proxy.override(resolution=96).network(b0, 10).stem.stride == 2
    resnet = proxy.network(resolve_spec("resnet18"), 10)
    assert resnet.stem.stride == 1 and not resnet.stem.pool


@needs_fashion
def test_tiny_network_learns_fashion_mnist(fashion_small, tmp_path):
    result = train(tiny_spec(), fashion_small, QUICK, seeds=[0], run_dir=tmp_path)
    assert result.val_top1 > 0.5  # chance is 0.1
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    saved = torch.load(tmp_path / "seed0_last.pt", weights_only=True)
    assert saved["epoch"] == 3 and (tmp_path / "spec.yaml").is_file() and (tmp_path / "recipe.json").is_file()


@needs_fashion
def test_same_seed_same_run_other_seed_other_run(fashion_small):
    recipe = QUICK.override(epochs=1)
    first, again, other = (train(tiny_spec(), fashion_small, recipe, seeds=[s]) for s in (3, 3, 4))
    assert first.runs[0].epochs[0].train_loss == again.runs[0].epochs[0].train_loss
    assert first.val_top1 == again.val_top1
    assert other.runs[0].epochs[0].train_loss != first.runs[0].epochs[0].train_loss


@needs_fashion
@pytest.mark.slow
def test_bf16_and_fp16_autocast_train_on_the_cpu_too(fashion_small):
    # The same code path CUDA takes (autocast; fp16 with a GradScaler), exercised where CI can run it.
    runs = {p: train(tiny_spec(), fashion_small, QUICK.override(epochs=1, precision=p), seeds=[0]) for p in
            ("fp32", "bf16", "fp16")}
    assert QUICK.precision == "auto" and runs["fp32"].val_top1 == train(tiny_spec(), fashion_small,
                                                                         QUICK.override(epochs=1), seeds=[0]).val_top1
    losses = {p: r.runs[0].epochs[0].train_loss for p, r in runs.items()}
    assert all(math.isfinite(v) for v in losses.values()) and len(set(losses.values())) == 3  # each really differs
    assert all(r.val_top1 > 0.3 for r in runs.values())  # chance is 0.1: reduced precision still learns


@needs_fashion
@pytest.mark.slow
def test_seeds_give_mean_and_std(fashion_small):
    result = train(tiny_spec(), fashion_small, QUICK.override(epochs=1), seeds=[0, 1, 2], test=True)
    vals = [r.val_top1 for r in result.runs]
    assert result.val_top1 == pytest.approx(sum(vals) / 3)
    assert result.val_top1_std == pytest.approx(float(np.std(vals, ddof=1)))
    assert result.test_top1 is not None and 0 <= result.test_top1 <= 1


@pytest.mark.parametrize("name", ["rsb-a3", "rsb-a2"])
def test_rsb_recipes_run_with_lamb_bce_mixup_cutmix_randaugment(name):
    data = small(load_data("synthetic"), 256, 64)
    recipe = load_recipe(name).override(epochs=1, resolution=16, batch_size=64, warmup_epochs=0)
    result = train(tiny_spec(), data, recipe, seeds=[0])
    epoch = result.runs[0].epochs[0]
    assert math.isfinite(epoch.train_loss) and 0 <= result.val_top1 <= 1
    assert epoch.img_per_s > 0
    # Each ingredient, on the code path training uses:
    recipe = load_recipe(name)
    assert isinstance(make_optimizer(build_model(tiny_spec()), recipe), Lamb)  # LAMB, from timm
    logits, labels = torch.randn(4, 10), torch.tensor([1, 2, 3, 9])
    bce = nn.functional.binary_cross_entropy_with_logits(logits, nn.functional.one_hot(labels, 10).float())
    assert torch.isclose(make_loss(recipe, 10)(logits, labels), bce)  # BCE on one-hot targets
    images = data.train.images[:64]
    augment = TrainAugment(Normalize(images), recipe.override(resolution=16), 10)
    assert augment.randaugment.magnitude == recipe.randaugment_magnitude
    torch.manual_seed(0)
    x, targets = augment(images, data.train.labels[:64])
    assert x.shape == (64, 3, 16, 16) and targets.shape == (64, 10)
    assert torch.allclose(targets.sum(1), torch.ones(64)) and ((targets > 0).sum(1) > 1).any()  # mixed labels


def _placement(original: np.ndarray, seen: np.ndarray) -> tuple[int, int, bool] | None:
    """The shift (and mirroring) under which every pixel of ``seen`` that came from the image equals
    the original's exactly; None when there is none (the image was rescaled or changed)."""
    side = original.shape[-1]
    for mirrored in (False, True):
        source = original[..., ::-1] if mirrored else original
        for dy in range(-side // 8, side // 8 + 1):
            for dx in range(-side // 8, side // 8 + 1):
                ys, xs = slice(max(0, dy), side + min(0, dy)), slice(max(0, dx), side + min(0, dx))
                yo, xo = slice(max(0, -dy), side + min(0, -dy)), slice(max(0, -dx), side + min(0, -dx))
                if np.array_equal(seen[:, ys, xs], source[:, yo, xo]):
                    return dy, dx, mirrored
    return None


@pytest.mark.parametrize("flip", [False, True])
def test_translate_crop_shifts_whole_pixels_and_flip_false_never_mirrors(flip):
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (48, 3, 16, 16), dtype=torch.uint8, generator=generator)
    normalize = Normalize(images)
    recipe = load_recipe("proxy").override(resolution=16, crop="translate", flip=flip)
    torch.manual_seed(0)
    x, _ = TrainAugment(normalize, recipe, 10)(images, torch.zeros(48, dtype=torch.long))
    pixels = ((x * normalize.std + normalize.mean) * 255).round().to(torch.uint8).numpy()
    placed = [_placement(image.numpy(), seen) for image, seen in zip(images, pixels)]
    assert all(p is not None for p in placed)  # shifted by whole pixels, never rescaled
    assert any(p[:2] != (0, 0) for p in placed)  # and shifted at all
    assert any(p[2] for p in placed) == flip  # mirrored only when asked
    # The ImageNet crop rescales: its images are not shifted copies.
    torch.manual_seed(0)
    x, _ = TrainAugment(normalize, recipe.override(crop="resized"), 10)(images, torch.zeros(48, dtype=torch.long))
    pixels = ((x * normalize.std + normalize.mean) * 255).round().clamp(0, 255).to(torch.uint8).numpy()
    assert sum(_placement(image.numpy(), seen) is None for image, seen in zip(images, pixels)) > 24


def test_repeated_augmentation_keeps_the_copies_together_and_the_epoch_length():
    order = epoch_order(100, 96, 3, torch.Generator().manual_seed(0))
    assert len(order) == 96 and len(set(order.tolist())) == 32
    assert all(order[i] == order[i + 1] == order[i + 2] for i in range(0, 96, 3))
    assert torch.equal(epoch_order(100, 96, 1, torch.Generator().manual_seed(0)).sort().values,
                       torch.randperm(100, generator=torch.Generator().manual_seed(0))[:96].sort().values)


def test_nan_loss_stops_the_run_with_the_reason():
    """Checked every 20 steps and at an epoch's end (each check would synchronise a GPU), not each
    step: the loss turns early in an epoch of 8 steps (512 images, batches of 64) and is found at its 8th."""
    data = small(load_data("synthetic"), 512, 64)
    with pytest.raises(TrainingError, match=r"loss became (nan|inf) by epoch 1, step 8 "):
        train(tiny_spec(), data, QUICK.override(lr=1e12, epochs=2), seeds=[0])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the address-space size from /proc")
@pytest.mark.slow
def test_running_out_of_memory_ends_the_run_with_one_line(tmp_path):
    # The child loads the libraries, then caps its address space 3 GiB above what they take: B0 at
    # 224 px with 512 images a batch needs far more, so a forward pass cannot allocate.
    code = ("import re, resource\n"
            "import scalesearch.cli\n"
            "size = int(re.search(r'VmSize:\\s+(\\d+)', open('/proc/self/status').read())[1]) * 1024\n"
            "resource.setrlimit(resource.RLIMIT_AS, (size + 3 * 2**30, resource.RLIM_INFINITY))\n"
            "scalesearch.cli.main()\n")
    args = ["train", "efficientnet-b0", "--data", "synthetic", "--batch", "512", "--resolution", "224",
            "--epochs", "1", "--run-dir", str(tmp_path / "run")]
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert re.fullmatch(r"error: out of memory on cpu at batch size 512 "
                        r"\(an allocation of [\d,]+ MiB failed; try a smaller --batch\)\n", proc.stderr)


def test_test_split_required_for_test():
    data = dataclasses.replace(small(load_data("synthetic"), 128, 32), test=None)
    with pytest.raises(UsageError, match="has no test split"):
        train(tiny_spec(), data, QUICK, seeds=[0], test=True)


@pytest.mark.slow
def test_imagefolder_trains_through_dataloader_workers(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 24), ("val", 8)):
        for label in range(2):
            folder = tmp_path / split / f"c{label}"
            folder.mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 60, (20, 20, 3)) + 150 * label
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i}.png")
    data = load_data(f"imagefolder:{tmp_path}")
    result = train(tiny_spec(), data, QUICK.override(epochs=4, batch_size=16, lr=0.05), seeds=[0])
    assert result.val_top1 >= 0.9  # bright vs dark images


def test_train_command_json(tmp_path):
    spec_path = save_spec(tiny_spec(), tmp_path / "tiny.yaml")
    result = runner.invoke(app, ["train", str(spec_path), "--data", "synthetic", "--epochs", "1", "--resolution",
                                 "16", "--batch", "64", "--seeds", "2", "--test", "--run-dir",
                                 str(tmp_path / "run"), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert {"val_top1", "val_top1_std", "seeds", "epochs", "img_per_s", "test_top1"} <= set(record)
    assert record["seeds"] == [0, 1] and record["synthetic_data"] is True and record["epochs"] == 1
    assert len(list(csv.DictReader((tmp_path / "run/metrics.csv").open()))) == 2
    assert json.loads((tmp_path / "run/recipe.json").read_text())["name"] == "standard"  # the default recipe


def test_eval_every_skips_evaluation_but_never_after_the_last_epoch(tmp_path):
    spec_path = save_spec(tiny_spec(), tmp_path / "tiny.yaml")
    result = runner.invoke(app, ["train", str(spec_path), "--data", "synthetic", "--epochs", "5", "--eval-every", "2",
                                 "--resolution", "16", "--batch", "64", "--run-dir", str(tmp_path / "run"), "--json"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "run/metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert [r["val_top1"] == "" for r in rows] == [True, False, True, False, False]
    assert json.loads(result.stdout)["val_top1"] == float(rows[-1]["val_top1"])


def test_train_command_zero_cost(tmp_path):
    result = runner.invoke(app, ["train", "mobilenet-v2", "--data", "synthetic", "--eval", "zero-cost",
                                 "--metric", "synflow", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["eval"] == "zero-cost" and record["metric"] == "synflow" and math.isfinite(record["score"])


@pytest.mark.parametrize("args, code, message", [
    (["--data", "cifar10:/nonexistent-scalesearch-dir"], 2,
     "error: --data cifar10:/nonexistent-scalesearch-dir: folder not found"),
    (["--data", "synthetic", "--batch", "0"], 2, "error: --batch: must be a positive integer, got 0"),
    (["--data", "synthetic", "--seeds", "0"], 2, "error: --seeds must be in [1, 1000], got 0"),
    (["--data", "synthetic", "--device", "cuda"], 2, "error: --device cuda: no CUDA device"),
    (["--data", "synthetic", "--recipe", "nope"], 2, "error: unknown recipe 'nope'"),
    (["--data", "synthetic", "--lr", "1e12", "--epochs", "2", "--resolution", "16"], 1, "error: loss became"),
])
@pytest.mark.slow
def test_train_command_bad_input_one_line(args, code, message, tmp_path):
    if "cuda" in args and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = runner.invoke(app, ["train", "mobilenet-v2", "--run-dir", str(tmp_path / "r"), *args])
    assert result.exit_code == code
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr


def test_spearman_matches_definition_with_ties():
    from scalesearch.measure.ranking import ranks, spearman
    assert ranks([10, 20, 20, 5]) == [2, 3.5, 3.5, 1]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1)
    # Without ties: 1 - 6 sum d^2 / (n (n^2 - 1)); here d = (0, 1, -1, 0, 0)
    assert spearman([1, 2, 3, 4, 5], [1, 3, 2, 4, 5]) == pytest.approx(1 - 6 * 2 / (5 * 24))
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    for x, y in (([1, 2], [1, 2, 3]), ([1, 2, 3], [1, 2]), ([1], [1])):
        with pytest.raises(ValueError, match="two sequences of equal length >= 2"):
            spearman(x, y)


def test_gradient_clipping_bounds_every_step(tmp_path, tiny_base):
    """With `grad_clip_norm` the weights move by at most lr x the clip norm a step (SGD, no decay;
    momentum 0.5 carries half of the first clipped step into the second)."""
    data = load_data("synthetic", train_images=128)
    moved = {}
    for clip in (None, 1e-6):
        recipe = load_recipe("standard").override(epochs=1, batch_size=64, weight_decay=0.0, warmup_epochs=0.0,
                                                  momentum=0.5, grad_clip_norm=clip, precise_bn_images=0)
        run_dir = tmp_path / f"clip-{clip}"
        train(load_spec(tiny_base), data, recipe, [0], run_dir=run_dir)
        torch.manual_seed(0)
        start = build_model(recipe.network(load_spec(tiny_base), data.num_classes)).state_dict()
        end = torch.load(run_dir / "seed0_last.pt", weights_only=True)["state_dict"]
        moved[clip] = math.sqrt(sum(float(((end[k] - start[k]).float() ** 2).sum()) for k in start
                                    if start[k].is_floating_point() and "running" not in k))
    assert moved[None] > 1e-2
    assert moved[1e-6] <= 0.1 * (1 + 1.5) * 1e-6 * 1.0001  # two steps at lr <= 0.1, gradients clipped to 1e-6


def test_one_rule_tells_an_allocation_failure_from_other_errors():
    from scalesearch.errors import is_out_of_memory
    for err in (MemoryError(), torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 822083584 bytes"),
                RuntimeError("CUDA error: out of memory")):
        assert is_out_of_memory(err), err
    for err in (RuntimeError("size mismatch"), ValueError("out of memory"), OSError(12, "Cannot allocate memory")):
        assert not is_out_of_memory(err), err


def test_one_seed_reports_test_accuracy_only_when_asked(tiny_base):
    from scalesearch.train.loop import train_seed

    data = load_data("synthetic")
    data = dataclasses.replace(data, train=data.train.subset(torch.arange(128)), val=data.val.subset(torch.arange(64)),
                               test=data.test.subset(torch.arange(64)))
    recipe = QUICK.override(epochs=1)
    normalize = Normalize.of(data.train, 3)
    assert train_seed(load_spec(tiny_base), data, recipe, 0, normalize).test_top1 is None
    assert train_seed(load_spec(tiny_base), data, recipe, 0, normalize, test=True).test_top1 is not None


def test_a_user_recipe_that_leaves_out_the_low_res_stem_keeps_it(tmp_path):
    import yaml

    recipe = yaml.safe_load((Path(__file__).resolve().parents[1] / "search_spaces/recipes/proxy.yaml").read_text())
    del recipe["low_res_stem"]
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump({**recipe, "name": "mine"}))
    assert load_recipe(str(tmp_path / "mine.yaml")).low_res_stem is True  # 32 px images keep their detail


def test_the_schedule_warms_up_linearly_then_decays_to_zero_at_the_last_step():
    from scalesearch.train.optim import make_schedule

    recipe = QUICK.override(epochs=3, warmup_epochs=1, lr=0.1)
    optimizer = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=recipe.lr)
    schedule = make_schedule(optimizer, recipe, steps_per_epoch=4)  # 4 warm-up steps of 12
    rates = []
    for _ in range(12):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[:5] == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1])
    assert rates[8] == pytest.approx(0.05)  # halfway through the decay: half the peak
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)  # after the last step


def test_linear_layers_start_uniform_and_symmetric_within_one_over_root_fan_in(tiny_base):
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(load_spec(tiny_base), num_classes=100))
    linear = next(m for m in model.modules() if isinstance(m, nn.Linear))
    bound = 1 / math.sqrt(linear.in_features)
    assert linear.weight.abs().max() <= bound and linear.weight.min() < -0.9 * bound
    assert abs(linear.weight.mean().item()) < 0.05 * bound and not linear.bias.any()


def test_resumed_metrics_drop_only_the_rows_past_the_checkpoint_and_leave_a_whole_file_alone(tmp_path):
    from scalesearch.train.metrics_file import EpochMetrics, append_epoch, keep_epochs

    for seed in (0, 1):
        for epoch in (1, 2, 3):
            append_epoch(tmp_path, EpochMetrics(seed, epoch, 1.0 / epoch, None if epoch == 2 else 0.5, 100.0, 0.1))
    path = tmp_path / "metrics.csv"
    inode = path.stat().st_ino
    assert [m.epoch for m in keep_epochs(tmp_path, 0, 3, rewrite=True)] == [1, 2, 3]
    assert path.stat().st_ino == inode  # nothing to drop: the file is not written again
    assert [m.epoch for m in keep_epochs(tmp_path, 1, 2, rewrite=False)] == [1, 2]
    assert path.stat().st_ino == inode and len(list(csv.DictReader(path.open()))) == 6  # a reader never writes
    assert [m.epoch for m in keep_epochs(tmp_path, 1, 2, rewrite=True)] == [1, 2]
    rows = [(int(r["seed"]), int(r["epoch"])) for r in csv.DictReader(path.open())]
    assert rows == [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2)]  # only seed 1's epoch past its checkpoint


def test_an_out_of_memory_error_names_the_failed_allocation():
    from scalesearch.train.failures import out_of_memory_ends_the_run

    for error, amount in ((RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate "
                                        "822083584 bytes. Error code 12 (Cannot allocate memory)"), "784 MiB"),
                          (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a "
                                                  "total capacity of 79.1 GiB"), "2.00 GiB")):
        with pytest.raises(TrainingError) as caught:
            with out_of_memory_ends_the_run(torch.device("cpu"), 64):
                raise error
        assert str(caught.value) == (f"out of memory on cpu at batch size 64 (an allocation of {amount} failed; "
                                     "try a smaller `batch_size`)")


def test_a_run_folder_whose_preparation_was_killed_is_prepared_again_by_the_same_command(tmp_path, monkeypatch):
    """A family run killed as it began its next network (seen once in the suite): the folder must not
    then seem to hold a run of other settings. spec.yaml, which marks a run, is written last."""
    from scalesearch.train import run_folder

    def killed(*_args, **_kwargs):
        raise SystemExit("killed")

    run = tmp_path / "run"
    for write in ("write_json", "save_spec"):  # killed at either write of the preparation
        with monkeypatch.context() as patch:
            patch.setattr(run_folder, write, killed)
            with pytest.raises(SystemExit):
                run_folder.open_run_dir(run, tiny_spec(), QUICK)
        run_folder.open_run_dir(run, tiny_spec(), QUICK)  # the same command: prepared again, not refused
        assert load_spec(run / "spec.yaml") == tiny_spec()
        assert json.loads((run / "recipe.json").read_text()) == json.loads(json.dumps(dataclasses.asdict(QUICK)))
        run_folder.open_run_dir(run, tiny_spec(), QUICK)  # and then resumed
        with pytest.raises(UsageError, match=r"other settings \(recipe\)"):
            run_folder.open_run_dir(run, tiny_spec(), QUICK.override(epochs=4))
        for name in ("spec.yaml", "recipe.json"):
            (run / name).unlink()
