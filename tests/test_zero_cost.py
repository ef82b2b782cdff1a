"""Zero-cost scores against hand-computed values on networks small enough to work out on paper,
and their data-free and real-image forms on real candidates."""

from __future__ import annotations

import math
import random

import pytest
import torch
from torch import nn

from scalesearch.arch.spec import Head, MBConv, NetworkSpec, Stem
from scalesearch.errors import UsageError
from scalesearch.nn import build_model
from scalesearch.search.space import load_space
from scalesearch.train.data import load_data
from scalesearch.train.recipes import load_recipe
from scalesearch.train.zero_cost import (
    METRICS,
    ZEN_ALPHA,
    data_batch,
    naswot,
    params,
    synflow,
    zen,
    zero_cost_score,
    zico,
)


def tiny_spec(width: int = 16) -> NetworkSpec:
    return NetworkSpec(name=f"tiny{width}", resolution=16, stem=Stem(out_channels=8),
                       stages=(MBConv(out_channels=width, repeats=1, stride=2, kernel=3, expand_ratio=2,
                                      se_ratio=0.25),
                               MBConv(out_channels=2 * width, repeats=2, stride=2, kernel=3, expand_ratio=3)),
                       head=Head(out_channels=64))


def test_naswot_is_the_log_determinant_of_the_activation_code_kernel():
    # Codes of the two inputs at the ReLU: [1, 0, 1] and [1, 1, 0]. K = [[3, 1], [1, 3]], |K| = 8.
    images = torch.tensor([[1.0, -1.0, 2.0], [0.5, 3.0, -1.0]])
    assert naswot(nn.Sequential(nn.ReLU()), images) == pytest.approx(math.log(8))


def test_synflow_is_the_log_of_the_sum_of_abs_weight_times_gradient():
    # R = sum_i |w_i| * 1 on an all-ones input, so sum |w * dR/dw| = sum |w| = 2 + 3 + 1.
    model = nn.Sequential(nn.Flatten(), nn.Linear(3, 1, bias=False))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[-2.0, 3.0, 1.0]]))
    assert synflow(model, resolution=1) == pytest.approx(math.log(6))


def test_zico_is_the_log_of_summed_gradient_mean_over_std():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3, 2))
    images, labels = torch.randn(4, 3, 1, 1), torch.tensor([0, 1, 1, 0])
    w, b = model[1].weight.detach(), model[1].bias.detach()
    grads = []
    for half in (slice(0, 2), slice(2, 4)):  # d(mean CE)/dW = (softmax - onehot)^T x / n, by hand
        x = images[half].flatten(1)
        p = torch.softmax(x @ w.T + b, dim=1)
        grads.append((p - nn.functional.one_hot(labels[half], 2).float()).T @ x / 2)
    g = torch.stack(grads)
    expected = math.log(float((g.abs().mean(0) / g.std(0, unbiased=False)).sum()))
    assert zico(model, images, labels) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(UsageError, match="at least 2 batches"):
        zico(model, images[:1], labels[:1])


class _Features(nn.Module):
    """The least a Zen-score needs: a ``features`` body. Here a lone BatchNorm."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.BatchNorm2d(channels))


def test_zen_adds_the_batch_norm_scale_to_the_log_of_the_perturbation_response():
    # BN(x + a e) - BN(x) ~ a e (unit-variance inputs), so the mean over the batch of the summed
    # |difference| is a E|e| C H W = a sqrt(2 / pi) C H W; the BN input's std is ~1, log ~ 0.
    gen = torch.Generator().manual_seed(0)
    images, noise = torch.randn(256, 4, 8, 8, generator=gen), torch.randn(256, 4, 8, 8, generator=gen)
    expected = math.log(ZEN_ALPHA * math.sqrt(2 / math.pi) * 4 * 8 * 8)
    assert zen(_Features(4), images, noise) == pytest.approx(expected, abs=0.02)
    # Inputs 10x larger, same perturbation: after BN the response is 10x smaller (log - ln 10), and
    # the BN layer's input std, now 10, adds ln 10 back: the score does not change.
    assert zen(_Features(4), 10 * images, noise) == pytest.approx(expected, abs=0.02)


def test_params_counts_trainable_parameters():
    assert zero_cost_score(tiny_spec(), "params") == sum(p.numel() for p in build_model(tiny_spec()).parameters())
    assert params(nn.Linear(3, 2)) == 8


@pytest.mark.parametrize("metric", METRICS)
def test_every_metric_is_deterministic_finite_and_data_free(metric):
    spec = tiny_spec()
    assert zero_cost_score(spec, metric) == zero_cost_score(spec, metric)
    assert math.isfinite(zero_cost_score(spec, metric))


@pytest.mark.parametrize("metric", ["params", "synflow", "zen"])
def test_size_driven_metrics_grow_with_width(metric):
    assert zero_cost_score(tiny_spec(64), metric) > zero_cost_score(tiny_spec(16), metric)


@pytest.mark.slow
def test_naswot_and_zico_read_real_images_and_labels():
    data = load_data("synthetic")
    images, labels = data_batch(data, 32, size=32)
    assert images.shape == (32, 3, 32, 32) and labels.shape == (32,) and abs(float(images.mean())) < 0.5
    rng = random.Random(0)
    specs = [load_recipe("proxy").network(load_space().sample(rng)[1], 10) for _ in range(3)]
    for metric in ("naswot", "zico"):
        scores = [zero_cost_score(spec, metric, images, labels) for spec in specs]
        assert all(math.isfinite(s) for s in scores) and len(set(scores)) == 3
        assert scores != [zero_cost_score(spec, metric, resolution=32) for spec in specs]  # not the noise form
    with pytest.raises(UsageError, match="zico on real images needs their labels"):
        zero_cost_score(specs[0], "zico", images)


def test_an_unknown_metric_names_the_known_ones():
    with pytest.raises(UsageError, match="unknown zero-cost metric 'grasp' \\(known: params, naswot, synflow"):
        zero_cost_score(tiny_spec(), "grasp")
