"""Build a plain Vision Transformer from a :class:`ViTSpec`, as big_vision's ``vit.py`` lays it out:
patch embedding, 2-D sin-cos (or learned) position embeddings, pre-norm encoder blocks, a final
LayerNorm, global average pooling (or a class token), an optional tanh pre-logits layer and a
(zero-initialised) linear head.

Attention is written as two explicit matrix products (QK^T and AV), so that the analytic counter
and fvcore count the same operations, and the ONNX export needs no fused-attention operator.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torchvision.ops import StochasticDepth

from scalesearch.arch.spec import ViTSpec

#: LayerNorm epsilon of big_vision's and timm's ViTs.
LN_EPS = 1e-6


def posemb_sincos_2d(height: int, width: int, dim: int, temperature: float = 10_000.0) -> torch.Tensor:
    """big_vision's fixed 2-D position embeddings, (height * width, dim): a quarter of the channels
    each for sin(x w), cos(x w), sin(y w), cos(y w), with w_i = temperature^(-i / (dim / 4 - 1))."""
    y, x = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32),
                          indexing="ij")
    quarter = dim // 4
    omega = 1.0 / temperature ** (torch.arange(quarter, dtype=torch.float32) / max(1, quarter - 1))
    y = y.flatten()[:, None] * omega[None, :]
    x = x.flatten()[:, None] * omega[None, :]
    return torch.cat([x.sin(), x.cos(), y.sin(), y.cos()], dim=1)


class Attention(nn.Module):
    """Multi-head self-attention: one QKV projection, softmax(Q K^T / sqrt(d)) V, an output projection."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads, self.scale = heads, (width // heads) ** -0.5
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape
        q, k, v = self.qkv(x).reshape(batch, tokens, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        weights = torch.softmax(torch.matmul(q * self.scale, k.transpose(-2, -1)), dim=-1)
        return self.proj(torch.matmul(weights, v).transpose(1, 2).reshape(batch, tokens, width))


class EncoderBlock(nn.Module):
    """x + Attention(LN(x)), then x + MLP(LN(x)); each branch dropped per sample at ``drop_path``."""

    def __init__(self, width: int, heads: int, mlp_dim: int, drop_path: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width, eps=LN_EPS)
        self.attn = Attention(width, heads)
        self.norm2 = nn.LayerNorm(width, eps=LN_EPS)
        self.mlp = nn.Sequential(nn.Linear(width, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, width))
        self.drop_path = StochasticDepth(drop_path, "row")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class VisionTransformer(nn.Module):
    """``patch_embed`` -> + position embedding -> ``blocks`` -> ``norm`` -> pool -> ``pre_logits`` -> ``head``."""

    def __init__(self, spec: ViTSpec) -> None:
        super().__init__()
        self.spec = spec
        grid = spec.resolution // spec.patch
        self.patch_embed = nn.Conv2d(spec.in_channels, spec.width, spec.patch, stride=spec.patch)
        if spec.posemb == "learned":
            self.pos_embedding = nn.Parameter(torch.empty(1, grid * grid, spec.width))
        else:  # a function of the grid: recomputed, never stored in checkpoints
            self.register_buffer("pos_embedding", posemb_sincos_2d(grid, grid, spec.width)[None], persistent=False)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, spec.width)) if spec.pool == "token" else None
        self.blocks = nn.Sequential(*(EncoderBlock(spec.width, spec.heads, spec.mlp_dim,
                                                   spec.drop_path_rate * i / spec.depth) for i in range(spec.depth)))
        self.norm = nn.LayerNorm(spec.width, eps=LN_EPS)
        self.pre_logits = (nn.Sequential(nn.Linear(spec.width, spec.rep_size), nn.Tanh()) if spec.rep_size
                           else nn.Identity())
        self.dropout = nn.Dropout(spec.dropout)
        self.head = nn.Linear(spec.feature_channels, spec.num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # big_vision: Xavier-uniform dense layers, LeCun-normal patch embedding, learned position
        # embeddings at std 1/sqrt(width), a zero head where asked.
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        fan_in = self.patch_embed.in_channels * self.spec.patch ** 2
        nn.init.trunc_normal_(self.patch_embed.weight, std=math.sqrt(1.0 / fan_in))
        nn.init.zeros_(self.patch_embed.bias)
        if self.spec.posemb == "learned":
            nn.init.normal_(self.pos_embedding, std=1.0 / math.sqrt(self.spec.width))
        if self.spec.zero_head:
            nn.init.zeros_(self.head.weight)

    def _position(self, grid_h: int, grid_w: int) -> torch.Tensor:
        """Position embeddings for a grid of patches; another grid than the spec's is recomputed
        (sin-cos) or bilinearly resampled (learned)."""
        table = self.pos_embedding
        if table.shape[1] == grid_h * grid_w:
            return table
        if self.spec.posemb == "sincos2d":
            return posemb_sincos_2d(grid_h, grid_w, self.spec.width).to(table)[None]
        side = math.isqrt(table.shape[1])
        square = table.reshape(1, side, side, -1).permute(0, 3, 1, 2)
        resized = nn.functional.interpolate(square, size=(grid_h, grid_w), mode="bilinear", align_corners=False)
        return resized.permute(0, 2, 3, 1).reshape(1, grid_h * grid_w, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        grid_h, grid_w = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2) + self._position(grid_h, grid_w)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.norm(self.blocks(x))
        x = x[:, 0] if self.cls_token is not None else x.mean(dim=1)
        return self.head(self.dropout(self.pre_logits(x)))
