"""Every registered base and every block kind builds, runs forward and backward, without NaN."""

from __future__ import annotations

import pytest
import torch

from scalesearch.arch.io import builtin_bases, resolve_spec
from scalesearch.arch.spec import BLOCK_KINDS, NetworkSpec
from scalesearch.nn import build_model, zero_init_residuals
from scalesearch.nn.blocks import BLOCK_BUILDERS


def _forward_backward(spec: NetworkSpec, size: int, batch: int = 2) -> torch.Tensor:
    torch.manual_seed(0)
    model = build_model(spec).train()
    x = torch.randn(batch, spec.in_channels, size, size)
    logits = model(x)
    loss = torch.nn.functional.cross_entropy(logits, torch.arange(batch) % spec.num_classes)
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    return logits


@pytest.mark.parametrize("name", sorted(builtin_bases()))
@pytest.mark.slow
def test_every_builtin_base_trains_one_step(name: str):
    spec = resolve_spec(name)
    logits = _forward_backward(spec, size=64)
    assert logits.shape == (2, spec.num_classes)
    assert torch.isfinite(logits).all()


def test_every_block_kind_has_exactly_one_builder():
    assert set(BLOCK_BUILDERS) == set(BLOCK_KINDS.values())


def test_random_specs_run_forward_and_backward(random_specs: list[NetworkSpec]):
    for spec in random_specs[:40]:
        logits = _forward_backward(spec, size=spec.resolution)
        assert logits.shape == (2, spec.num_classes)


def test_drop_path_grows_linearly_and_only_trains():
    spec = resolve_spec("efficientnet-b0")
    model = build_model(spec)
    probs = [m.p for m in model.modules() if type(m).__name__ == "StochasticDepth"]
    assert len(probs) == spec.num_blocks
    assert probs[0] == 0 and probs[-1] == pytest.approx(0.2 * 15 / 16)
    model.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))  # no randomness at inference


def test_skip_false_removes_the_shortcut():
    spec = resolve_spec("efficientnet-b0")
    stages = tuple(s if i != 1 else type(s)(**{**s.__dict__, "skip": False}) for i, s in enumerate(spec.stages))
    model = build_model(NetworkSpec(**{**spec.__dict__, "stages": stages}))
    second_block = model.features[2][1]
    assert second_block.use_res_connect is False
    assert build_model(spec).features[2][1].use_res_connect is True


@pytest.mark.parametrize("name", sorted(builtin_bases()))
@pytest.mark.slow
def test_zero_init_residuals_makes_every_residual_block_start_as_the_identity(name: str):
    model = build_model(resolve_spec(name))
    norms = [m.residual_norm() for m in model.modules() if hasattr(m, "residual_norm")]
    norms = [n for n in norms if n is not None]
    has_norms = name != "mobilenet-v1" and not name.startswith("vit")  # MobileNetV1 has no shortcut; ViTs no BN
    assert (len(norms) > 0) == has_norms
    assert all(n.weight.detach().all() for n in norms)  # unit scale as built
    assert zero_init_residuals(model) == len(norms)
    assert not any(n.weight.detach().any() for n in norms)
    # A block whose shortcut is the identity now passes its input through, in training and in
    # evaluation (inputs positive, so that a ResNet block's closing ReLU changes nothing either).
    identity_shortcut = [m for m in model.modules() if hasattr(m, "residual_norm") and m.residual_norm() is not None
                         and getattr(m, "downsample", None) is None]
    assert identity_shortcut or not has_norms
    for block in identity_shortcut:
        inputs = torch.rand(2, block.residual_norm().num_features, 8, 8) + 0.1
        for training in (True, False):
            with torch.no_grad():
                assert torch.equal(block.train(training)(inputs), inputs), type(block).__name__
