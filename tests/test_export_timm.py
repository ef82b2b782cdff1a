"""``export --format timm``: timm builds the network we build, parameter for parameter, and with our
weights computes what ours computes; what timm cannot express is one line and exit code 1."""

from __future__ import annotations

import dataclasses
import functools
import json
import random
import textwrap
from pathlib import Path

import pytest
import timm
import torch
from torch import nn
from typer.testing import CliRunner

from scalesearch import export_timm
from scalesearch.arch.io import resolve_spec, save_spec
from scalesearch.arch.scaling import scale
from scalesearch.arch.spec import FusedMBConv, Head, MBConv, NetworkSpec, Stem
from scalesearch.cli import app
from scalesearch.errors import ExportError
from scalesearch.export_timm import build_timm, timm_arch, timm_state_dict, to_timm
from scalesearch.nn import build_model
from scalesearch.search.space import load_space

B0 = resolve_spec("efficientnet-b0")
#: Logits (of order 1 to 50) of the two networks on the same input differ by at most ATOL + RTOL * |logit|
#: (float32, 64 px). Measured: 0 with BatchNorm (the same ops in the same order); 2e-5 with frozen
#: BatchNorm, which torchvision computes as one scale and shift.
ATOL, RTOL = 1e-4, 1e-5


@pytest.fixture(autouse=True)
def one_thread():
    """Forwards as small as these gain nothing from a second thread, which on a shared 2-core machine waits
    on other jobs: with one, each network takes under a second instead of up to ten."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def found_base() -> NetworkSpec:
    """A base as find-base returns one: fused and plain MBConv, kernels 3-7, SE and no-skip mixed."""
    return load_space("mnasnet").sample(random.Random(0))[1]


def odd_widths() -> NetworkSpec:
    """Widths that are not multiples of 8 and expansions that round (4.5 * 12 -> 56), so timm gets
    ratios like e4.666666666666667; expansion-1 blocks of both kinds; another eps and activation."""
    return NetworkSpec(
        name="odd-widths", resolution=64, num_classes=10, activation="hardswish", bn_eps=1e-3,
        stem=Stem(out_channels=12), head=Head(out_channels=100), stages=(
            MBConv(out_channels=20, repeats=2, stride=2, kernel=3, expand_ratio=4.5, se_ratio=0.3),
            FusedMBConv(out_channels=36, repeats=2, stride=2, kernel=3, expand_ratio=3, se_ratio=0.25),
            MBConv(out_channels=44, repeats=1, stride=1, kernel=5, expand_ratio=1, se_ratio=0.3),
            FusedMBConv(out_channels=44, repeats=2, stride=2, kernel=3, expand_ratio=1)))


NETWORKS = {
    **{f"b{phi}": functools.partial(scale, B0, phi, preset="official") for phi in (1, 2, 3)},
    "b0": lambda: B0,
    "found": found_base,
    "odd-widths": odd_widths,
    "mnasnet-a1": lambda: resolve_spec("mnasnet-a1"),
    "mobilenet-v2": lambda: resolve_spec("mobilenet-v2"),
    "mobilenet-v1": lambda: resolve_spec("mobilenet-v1"),
    "v2-frozen-bn": lambda: dataclasses.replace(resolve_spec("mobilenet-v2"), norm="frozen_batch"),
}


def trained_like(spec: NetworkSpec) -> nn.Module:
    """``spec`` built from a seed, in eval, as if trained: norm scales no two layers share (a norm
    copied to the wrong layer then shows) and statistics taken from a batch, so that the logits
    depend on the input (a freshly initialised network's are all but constant in eval)."""
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(spec, norm="batch"))
    g = torch.Generator().manual_seed(1)
    for m in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
        m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
        m.momentum = 1.0  # the statistics of the next batch, not a running average
    with torch.no_grad():
        model.train()(torch.randn(4, spec.in_channels, 64, 64, generator=g))
    if spec.norm != "batch":
        state, model = model.state_dict(), build_model(spec)
        model.load_state_dict(state)
    return model.eval()


def params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", list(NETWORKS))
def test_timm_network_has_our_parameters_and_outputs(name: str):
    ours = trained_like(NETWORKS[name]())
    theirs = to_timm(ours)
    assert not theirs.training
    if name != "v2-frozen-bn":  # frozen BatchNorm keeps its scales as buffers; timm's BatchNorm as parameters
        assert params(theirs) == params(ours)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        expected, got = ours(x), theirs(x)
    assert (expected[0] - expected[1]).abs().max() > 0.1  # the logits depend on the input
    torch.testing.assert_close(got, expected, rtol=RTOL, atol=ATOL)


def test_b0_is_written_in_timm_notation():
    assert timm_arch(B0)["arch_def"] == [
        ["ds_r1_k3_s1_c16_se0.25"], ["ir_r2_k3_s2_e6_c24_se0.25"], ["ir_r2_k5_s2_e6_c40_se0.25"],
        ["ir_r3_k3_s2_e6_c80_se0.25"], ["ir_r3_k5_s1_e6_c112_se0.25"], ["ir_r4_k5_s2_e6_c192_se0.25"],
        ["ir_r1_k3_s1_e6_c320_se0.25"]]


@pytest.mark.parametrize("spec, timm_name", [
    *((scale(B0, phi, preset="official"), f"efficientnet_b{phi}") for phi in range(4)),
    (resolve_spec("mobilenet-v2"), "mobilenetv2_100"),
    (resolve_spec("mnasnet-a1"), "semnasnet_100"),
])
def test_export_is_timms_own_network(spec: NetworkSpec, timm_name: str):
    """Layer for layer and name for name timm's registered network: its checkpoints load too."""
    with torch.device("meta"):
        exported, registered = build_timm(timm_arch(spec)), timm.create_model(timm_name)
    timm_state_dict(exported, registered)  # raises on the first layer that differs
    assert exported.state_dict().keys() == registered.state_dict().keys()


def test_a_layer_that_differs_is_refused_by_name():
    with torch.device("meta"):  # B0's first block has squeeze-excite, MnasNet-A1's has not
        ours, other = build_model(B0), build_timm(timm_arch(resolve_spec("mnasnet-a1")))
    with pytest.raises(ExportError, match=r"layer 4 is features\.1\.0\.block\.1\.fc1 \(conv 32->8 .*\) here, "
                                          r"blocks\.0\.0\.conv_pw \(conv 32->16 .*\) in timm"):
        timm_state_dict(ours, other)


@pytest.mark.parametrize("ours, theirs, words", [
    (nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8)),
     nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Linear(8, 2)), "2 layers with weights here, 3 in timm"),
    (nn.Sequential(nn.Conv2d(3, 8, 3), nn.GroupNorm(2, 8)), nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8)),
     r"our layer 1 \(GroupNorm\) has no timm counterpart"),
])
def test_a_layer_without_a_partner_is_refused(ours: nn.Module, theirs: nn.Module, words: str):
    with pytest.raises(ExportError, match=words):
        timm_state_dict(ours, theirs)


def recipe(folder: Path, monkeypatch: pytest.MonkeyPatch) -> nn.Module:
    """What the recipe in export_timm's docstring builds from ``folder/b0.timm.json``, run as written."""
    code = textwrap.dedent(export_timm.__doc__.split("::\n", 1)[1].split("\n\n", 1)[0])
    assert "scalesearch" not in code  # timm, torch and json alone
    monkeypatch.chdir(folder)
    namespace: dict = {}
    exec(compile(code, "export_timm recipe", "exec"), namespace)
    return namespace["model"]


@pytest.mark.parametrize("name", ["b0", "found", "odd-widths"])
def test_cli_export_builds_in_timm_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str):
    spec = NETWORKS[name]()
    model = spec.name if name == "b0" else str(save_spec(spec, tmp_path / "spec.yaml"))
    out = tmp_path / "b0.timm.json"
    result = CliRunner().invoke(app, ["export", model, "--format", "timm", "--out", str(out), "--resolution", "64"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == timm_arch(spec, 64)
    assert params(recipe(tmp_path, monkeypatch)) == params(build_model(spec))


def _fused_se_first(spec: NetworkSpec) -> NetworkSpec:
    stage = FusedMBConv(out_channels=16, repeats=1, stride=1, kernel=3, expand_ratio=1, se_ratio=0.25)
    return dataclasses.replace(spec, stages=(stage, *spec.stages[1:]))


@pytest.mark.parametrize("make, words", [
    (lambda: resolve_spec("resnet18"), "resnet18: stages[0] is a basic block, which timm's EfficientNet lacks"),
    (lambda: resolve_spec("vit-s16"), "vit-s16: it is a ViT"),
    (lambda: resolve_spec("nas-bench-macro"), "its stem has stride 1; timm's EfficientNet stem always has stride 2"),
    (lambda: dataclasses.replace(B0, stem=dataclasses.replace(B0.stem, pool=True)), "its stem ends in a max pool"),
    (lambda: dataclasses.replace(B0, norm="group"), "its norm is group"),
    (lambda: dataclasses.replace(B0, weight_standardization=True), "standardises its convolution weights"),
    (lambda: _fused_se_first(B0), "stages[0] is a fused_mbconv block with expand_ratio 1 and squeeze-excite"),
])
def test_what_timm_cannot_express_is_one_line(tmp_path: Path, make, words: str):
    spec = make()
    path = save_spec(spec, tmp_path / "spec.yaml") if isinstance(spec, NetworkSpec) else None
    out = tmp_path / "net.json"
    result = CliRunner().invoke(app, ["export", str(path or spec.name), "--format", "timm", "--out", str(out)])
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: timm cannot express {spec.name}: ") and words in line, line
    assert not out.exists()
