"""What only the search pages share: the zero-cost scores their tables compare, and how they name a
network a search trained (a hand-designed one by name, any other as a candidate)."""

from __future__ import annotations

from pages.common import network_name

#: zero-cost scores the ground-truth tables compare, in their column order (zero-cost.md and supernet.md).
ZERO_COST_SCORES = ("macs", "params", "naswot", "synflow", "zen", "zico")
#: the hand-designed networks trained beside a search's winners, in table order.
HAND_DESIGNED = ("efficientnet-b0", "mobilenet-v2", "resnet18", "mnasnet-a1")


def candidate_name(name: str) -> str:
    """A hand-designed network by its name (EfficientNet-B0), any other as ``candidate NAME``."""
    return network_name(name) if name in HAND_DESIGNED else f"candidate {name.removeprefix('mnasnet-')}"
