"""One walk over a network's blocks: where each block sits, what it receives and how it strides.

Only the first block of a stage strides and changes the width; the others repeat it at the stage's
width and map size. The builder, the analytic counter and the latency predictor all take these
facts from here, so the three never disagree about a block's input channels, stride or map size.
"""

from __future__ import annotations

from dataclasses import dataclass

from scalesearch.arch.spec import Block, NetworkSpec


@dataclass(frozen=True)
class Site:
    """One block in place: its stage, its index in the stage and in the network, its spec, the
    channels and map side (px) it receives, and its stride."""

    stage: int
    index: int
    number: int
    block: Block
    in_channels: int
    size: int
    stride: int

    @property
    def out_size(self) -> int:
        """The map side it hands on ("same" padding: ceil(size / stride))."""
        return (self.size - 1) // self.stride + 1


@dataclass(frozen=True)
class Walk:
    """A network at one input side: the map after the stem, every block, and what the head gets."""

    stem_size: int
    sites: tuple[Site, ...]
    head_channels: int
    head_size: int

    def stage(self, i: int) -> tuple[Site, ...]:
        """The blocks of stage ``i``, in order."""
        return tuple(s for s in self.sites if s.stage == i)


def walk(spec: NetworkSpec, resolution: int | None = None) -> Walk:
    """Every block of ``spec`` at ``resolution`` (default: the spec's), in forward order."""
    size = resolution or spec.resolution
    size = (size - 1) // spec.stem.stride + 1
    if spec.stem.pool:  # ResNet's 3x3 stride-2 max pool
        size = (size - 1) // 2 + 1
    stem_size, channels, number, sites = size, spec.stem.out_channels, 0, []
    for i, stage in enumerate(spec.stages):
        for j in range(stage.repeats):
            site = Site(stage=i, index=j, number=number, block=stage, in_channels=channels if j == 0 else
                        stage.out_channels, size=size, stride=stage.stride if j == 0 else 1)
            sites.append(site)
            size, number = site.out_size, number + 1
        channels = stage.out_channels
    return Walk(stem_size=stem_size, sites=tuple(sites), head_channels=channels, head_size=size)
