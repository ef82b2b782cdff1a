"""Plain ViTs as specs: parameters equal timm's, MACs equal fvcore's, big_vision's sin-cos position
embeddings, both heads train, ONNX matches torch, compound scaling, YAML round trip, bad input."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from scalesearch.arch.io import builtin_bases, load_spec, resolve_spec, save_spec
from scalesearch.arch.scaling import Coefficients, scale
from scalesearch.arch.spec import ViTSpec
from scalesearch.cli import app
from scalesearch.export import export_onnx, export_spec
from scalesearch.measure.flops import analytic_count, fvcore_count
from scalesearch.nn import build_model
from scalesearch.nn.vit import posemb_sincos_2d
from scalesearch.train.data import load_data
from scalesearch.train.loop import train
from scalesearch.train.recipes import load_recipe

TIMM = {"vit-ti16": ("vit_tiny_patch16_224", 5_679_400), "vit-s16": ("vit_small_patch16_224", 21_974_632),
        "vit-b16": ("vit_base_patch16_224", 86_415_592)}


def _tiny(**changes) -> ViTSpec:
    spec = ViTSpec(name="vit-tiny", resolution=32, patch=8, width=32, depth=2, heads=2, mlp_dim=64, num_classes=10)
    return dataclasses.replace(spec, **changes)


@pytest.mark.parametrize("name", sorted(TIMM))
def test_parameters_equal_timms_without_class_token_or_learned_position_embeddings(name):
    timm = pytest.importorskip("timm")
    model_name, expected = TIMM[name]
    reference = timm.create_model(model_name, class_token=False, global_pool="avg", fc_norm=False, pos_embed="none")
    ours = build_model(resolve_spec(name))
    assert sum(p.numel() for p in reference.parameters()) == expected
    assert sum(p.numel() for p in ours.parameters()) == expected == analytic_count(resolve_spec(name)).params


@pytest.mark.parametrize("changes", [{}, {"pool": "token"}, {"posemb": "learned"}, {"rep_size": 48},
                                     {"resolution": 64}, {"patch": 4, "depth": 3}])
def test_analytic_macs_equal_fvcores(changes):
    spec = _tiny(**changes)
    analytic, traced = analytic_count(spec), fvcore_count(build_model(spec), spec.resolution)
    assert (analytic.macs, analytic.params) == (traced.macs, traced.params)


def test_vit_s16_is_about_4_6_g_macs_and_counts_at_other_resolutions():
    spec = resolve_spec("vit-s16")
    assert analytic_count(spec).macs == 4_574_026_752
    assert analytic_count(spec, 448).macs == fvcore_count(build_model(spec), 448).macs
    assert analytic_count(spec, 448).params == analytic_count(spec).params


def test_sincos_position_embeddings_follow_big_visions_formula():
    table = posemb_sincos_2d(3, 4, 16)
    assert table.shape == (12, 16)
    quarter = 4
    for index in (0, 5, 11):
        y, x = divmod(index, 4)
        for i in range(quarter):
            omega = 1.0 / 10_000 ** (i / (quarter - 1))
            expected = [math.sin(x * omega), math.cos(x * omega), math.sin(y * omega), math.cos(y * omega)]
            got = [table[index, q * quarter + i].item() for q in range(4)]
            assert got == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("pool", ["gap", "token"])
def test_both_heads_train_one_step(pool):
    spec = _tiny(pool=pool, posemb="learned" if pool == "token" else "sincos2d")
    torch.manual_seed(0)
    model = build_model(spec).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    images, labels = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    before = [p.detach().clone() for p in model.parameters()]
    losses = []
    for _ in range(2):  # the zero head passes no gradient back until its first step
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
        optimizer.step()
        losses.append(loss.item())
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert losses[0] == pytest.approx(math.log(10), abs=1e-5)  # the zero-initialised head starts at chance
    assert losses[1] < losses[0]


def test_a_vit_trains_with_the_bigvision_recipe_through_train(tmp_path):
    """The loop a user runs (`train`, `grid`, `compare-scaling`), not a hand-written step."""
    recipe = load_recipe("bigvision-vit").override(epochs=1, warmup_epochs=0.5, batch_size=16, patch=8)
    result = train(_tiny(), load_data("synthetic", train_images=64), recipe, [0], run_dir=tmp_path / "run")
    assert 0 <= result.val_top1 <= 1 and (tmp_path / "run" / "seed0_last.pt").is_file()


def test_onnx_output_equals_torch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    spec = _tiny(pool="token", rep_size=16)
    assert export_spec(spec, "onnx", tmp_path / "fresh.onnx").is_file()  # the command's path
    model = build_model(spec).eval()
    with torch.no_grad():
        for p in model.head.parameters():  # a non-zero head, so that the comparison sees something
            p.normal_()
    export_onnx(model, torch.zeros(1, 3, 32, 32), tmp_path / "vit.onnx")
    images = torch.randn(2, 3, 32, 32)  # a batch of 2 through the dynamic batch axis
    session = ort.InferenceSession(str(tmp_path / "vit.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: images.numpy()})[0]
    with torch.no_grad():
        expected = model(images).numpy()
    assert np.abs(got - expected).max() < 1e-4


def test_scale_grows_depth_width_and_tokens_as_documented():
    s16 = resolve_spec("vit-s16")
    b1 = scale(s16, 1, Coefficients(1.2, 1.1, 1.15))
    # depth 12 x 1.2 = 14.4 -> 15; width 384 x 1.1 = 422.4 -> 448 (a multiple of 64), heads 7, MLP 4 x 448;
    # 224 px x 1.15 = 257.6 -> 256 (a multiple of the 16 px patch): 256 tokens instead of 196
    assert (b1.depth, b1.width, b1.heads, b1.mlp_dim, b1.resolution, b1.patch) == (15, 448, 7, 1792, 256, 16)
    assert b1.tokens == 256 and s16.tokens == 196
    assert b1.scaling.phi == 1 and analytic_count(b1).macs > 2 * analytic_count(s16).macs
    result = CliRunner().invoke(app, ["scale", "--base", "vit-s16", "--phi", "1", "--json"])
    assert result.exit_code == 0, result.stderr
    assert '"resolution": 256' in result.stdout


def test_sovit_grows_mlp_fastest_then_depth_then_width():
    s16 = resolve_spec("vit-s16")
    so = scale(s16, 1, strategy="sovit")  # compute x 2: depth x 2^0.45, width x 2^0.22, MLP x 2^0.6, 224 px kept
    # depth 12 x 1.366 = 16.4 -> 17; width 384 x 1.165 = 447 -> 448, 7 heads; MLP 1536 x 1.516 = 2328 -> 2304
    assert (so.depth, so.width, so.heads, so.mlp_dim, so.resolution) == (17, 448, 7, 2304, 224)
    r = so.scaling
    assert r.mlp_mult > r.depth_mult > r.width_mult > 1 and r.resolution_mult == 1
    assert so.mlp_dim != 4 * so.width  # the MLP is no longer tied to the width
    assert 2.0 < analytic_count(so).macs / analytic_count(s16).macs < 2.5
    result = CliRunner().invoke(app, ["scale", "--base", "vit-s16", "--phi", "1", "--strategy", "sovit", "--json"])
    assert result.exit_code == 0, result.stderr
    assert '"mlp_dim": 2304' in result.stdout and '"strategy": "sovit"' in result.stdout


def test_compare_scaling_matches_sovit_at_the_macs_asked():
    from scalesearch.search.compare import matched, plan

    (multiplier, v), = plan(resolve_spec("vit-s16"), [4], ["sovit"], epochs=8)
    assert matched(v, multiplier) and v.spec.resolution == 224
    assert v.spec.mlp_dim / 1536 > v.spec.depth / 12 > v.spec.width / 384 > 1


@pytest.mark.parametrize("args, message", [
    (["--base", "efficientnet-b0", "--strategy", "sovit"],
     "efficientnet-b0 is a convolutional network: an MLP multiplier (the sovit rule) scales ViTs only"),
    (["--base", "vit-s16", "--strategy", "sovit", "--alpha", "1.3"],
     "--strategy sovit has its own exponents: give no --alpha, --beta, --gamma or --coefficients"),
    (["--base", "vit-s16", "--strategy", "sovit", "--preset", "official"],
     "the sovit strategy has its own exponents: give no alpha, beta, gamma or preset"),
])
def test_sovit_refuses_what_it_cannot_scale(args, message):
    result = CliRunner().invoke(app, ["scale", "--phi", "1", *args])
    assert (result.exit_code, result.stderr) == (2, f"error: {message}\n")


def test_a_vit_spec_round_trips_through_yaml_and_json(tmp_path):
    for spec in (resolve_spec("vit-s16"), _tiny(pool="token", posemb="learned", rep_size=16, zero_head=False),
                 scale(resolve_spec("vit-ti16"), 2), scale(resolve_spec("vit-ti16"), 2, strategy="sovit")):
        for suffix in (".yaml", ".json"):
            assert load_spec(save_spec(spec, tmp_path / f"v{suffix}")) == spec


def test_a_recipe_patch_makes_small_images_tokens():
    spec = load_recipe("bigvision-vit").network(resolve_spec("vit-s16"), 10)
    assert (spec.resolution, spec.patch, spec.tokens, spec.num_classes) == (32, 4, 64, 10)


@pytest.mark.parametrize("changes, message", [
    ({"width": 100}, "width: must be divisible by heads (6), got 100"),
    ({"resolution": 100}, "resolution: must be divisible by the patch size (16 px), got 100"),
    ({"depth": 0}, "depth: must be a positive integer, got 0"),
    ({"pool": "max"}, "pool: must be one of ('gap', 'token'), got 'max'"),
    ({"posemb": "rope"}, "posemb: must be one of ('sincos2d', 'learned'), got 'rope'"),
])
def test_a_bad_vit_spec_is_one_line_and_exit_2(changes, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = {**yaml.safe_load(builtin_bases()["vit-s16"].read_text()), **changes}
    Path("bad.yaml").write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["flops", "bad.yaml"])
    assert (result.exit_code, result.stderr) == (2, f"error: bad.yaml: {message}\n")


@pytest.mark.parametrize("metric", ["naswot", "synflow", "zen"])
def test_zero_cost_metrics_defined_for_convolutions_refuse_a_vit(metric, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["train", "vit-ti16", "--data", "synthetic", "--eval", "zero-cost",
                                      "--metric", metric, "--recipe", "bigvision-vit"])
    assert (result.exit_code, result.stderr) == (
        2, f"error: --metric {metric} scores convolutional networks; for a ViT use one of params, zico\n")


def test_zico_scores_a_vit():
    from scalesearch.train.zero_cost import zero_cost_score

    assert math.isfinite(zero_cost_score(_tiny(), "zico", batch_size=8))


def test_patch_embedding_is_lecun_normal_over_its_fan_in():
    torch.manual_seed(0)
    model = build_model(_tiny())  # patch 8 over 3 channels: fan-in 192
    weight = model.patch_embed.weight
    assert weight.std().item() == pytest.approx(math.sqrt(1 / (3 * 8 ** 2)), rel=0.05)
    assert weight.mean().abs().item() < 0.01 and not model.patch_embed.bias.any()


@pytest.mark.parametrize("resolution", [True, 32.0, "32"])
def test_a_vits_resolution_is_an_integer_never_a_bool_float_or_string(resolution):
    from scalesearch.errors import SpecError

    with pytest.raises(SpecError, match="resolution"):
        _tiny(resolution=resolution)


def test_learned_position_embeddings_resample_along_their_own_axes_at_another_resolution():
    model = build_model(_tiny(posemb="learned"))  # 32 px, patch 8: a 4 x 4 grid
    with torch.no_grad():
        column = torch.arange(4.0).repeat(4)  # the value of each position is its column
        model.pos_embedding.copy_(column[None, :, None].expand_as(model.pos_embedding))
    assert torch.equal(model._position(4, 4), model.pos_embedding)  # its own grid: unchanged
    grid = model._position(6, 8).reshape(6, 8, -1)  # 48 x 64 px
    assert torch.equal(grid[0], grid[5])  # rows alike: nothing leaked from the column axis into the row axis
    values = grid[0, :, 0]
    assert (values.diff() >= 0).all() and values[0] == 0 and values[-1] == 3
    assert model(torch.randn(2, 3, 48, 64)).shape == (2, 10)


def test_attention_is_torchs_scaled_dot_product_attention():
    from scalesearch.nn.vit import Attention

    torch.manual_seed(0)
    attention, x = Attention(width=32, heads=4), torch.randn(2, 5, 32)
    q, k, v = attention.qkv(x).reshape(2, 5, 3, 4, 8).permute(2, 0, 3, 1, 4)
    attended = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    expected = attention.proj(attended.transpose(1, 2).reshape(2, 5, 32))
    torch.testing.assert_close(attention(x), expected)


def test_a_class_token_adds_one_token_to_any_grid_of_patches():
    s16 = resolve_spec("vit-s16")
    for resolution, patches in ((224, 196), (112, 49), (96, 36)):  # an odd grid, 7 x 7, among them
        gap = dataclasses.replace(s16, resolution=resolution, pool="gap")
        assert (gap.tokens, dataclasses.replace(gap, pool="token").tokens) == (patches, patches + 1)


def test_learned_position_embeddings_start_normal_at_one_over_root_width():
    torch.manual_seed(0)
    spec = dataclasses.replace(resolve_spec("vit-s16"), posemb="learned", pool="token")
    table = build_model(spec).pos_embedding.detach()  # 197 tokens x 384: about 76,000 draws
    assert abs(float(table.mean())) < 0.01 and float(table.std()) == pytest.approx(384 ** -0.5, rel=0.02)
