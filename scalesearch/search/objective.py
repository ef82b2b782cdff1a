"""The search objective as pure functions: ACC(m) x (TARGET(m) / T)^w (MnasNet, EfficientNet).

``soft`` (EfficientNet): w = -0.07 on both sides of the target, so a network 2x over the target
pays 4.7% of its accuracy. ``hard``: the target is a limit no candidate may pass (MnasNet's
w = 0 at or below it); a candidate above it is never evaluated, so the search only returns networks
within it.

Candidates far from the target are not evaluated at all (``reject_outside``): the window is
target x (1 +- reject_outside) for ``soft``, [target x (1 - reject_outside), target] for ``hard``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scalesearch.errors import UsageError
from scalesearch.quantities import parse_latency, parse_macs

CONSTRAINTS = ("soft", "hard")
UNITS = ("MACs", "ms")
DEFAULT_W = -0.07
#: The widest window a search may take: candidates up to 11x the target (a wider one is no window).
MAX_REJECT_OUTSIDE = 10.0


@dataclass(frozen=True)
class Objective:
    """What a trial is scored against: ``target`` (MACs, or latency in ms) and the constraint."""

    target: float
    unit: str  # "MACs" or "ms"
    constraint: str = "soft"
    w: float = DEFAULT_W
    reject_outside: float = 0.1  # candidates beyond target x (1 +- this) are rejected untrained

    def __post_init__(self) -> None:
        if not (math.isfinite(self.target) and self.target > 0):
            raise UsageError(f"the target must be positive, got {self.target:g} {self.unit}")
        if self.unit not in UNITS:
            raise UsageError(f"`unit` must be one of {', '.join(UNITS)}, got {self.unit!r}")
        if self.constraint not in CONSTRAINTS:
            raise UsageError(f"`constraint` must be one of {', '.join(CONSTRAINTS)}, got {self.constraint!r}")
        if not self.w < 0:
            raise UsageError(f"the exponent w must be negative (EfficientNet: -0.07), got {self.w:g}")
        if not 0 < self.reject_outside <= MAX_REJECT_OUTSIDE:
            raise UsageError(f"`reject_outside` must be > 0 and at most {MAX_REJECT_OUTSIDE:g} (a fraction of the "
                             f"target), got {self.reject_outside:g}")

    def exponent(self, value: float) -> float:
        """w on the value's side of the target."""
        if self.constraint == "soft":
            return self.w
        return 0.0 if value <= self.target else -1.0

    def score(self, accuracy: float, value: float) -> float:
        """ACC x (value / target)^w."""
        return accuracy * (value / self.target) ** self.exponent(value)

    def window(self) -> tuple[float, float]:
        """The costs of the candidates worth evaluating: (lowest, highest)."""
        low = self.target * (1 - self.reject_outside)
        return low, self.target if self.constraint == "hard" else self.target * (1 + self.reject_outside)

    def violation(self, value: float) -> float:
        """How far outside the window ``value`` lies, relative to the target (<= 0: inside), which
        Optuna's samplers read as a constraint (feasible at <= 0)."""
        low, high = self.window()
        return max(low - value, value - high) / self.target

    def rejects(self, value: float) -> str | None:
        """Why a candidate of this cost is not worth evaluating, or None."""
        low, high = self.window()
        if value < low or value > high:
            return (f"{self.unit} {_fmt(value, self.unit)} outside the window "
                    f"[{_fmt(low, self.unit)}, {_fmt(high, self.unit)}]")
        return None


def target_objective(flops: str | None = None, latency: str | None = None, constraint: str = "soft",
                     reject_outside: float = 0.1) -> Objective:
    """The objective of exactly one target as a user types it: MACs (``flops``, e.g. ``400M``) or
    a latency (e.g. ``15ms``)."""
    if (flops is None) == (latency is None):
        raise UsageError("give exactly one target: `flops` 400M or `latency` 15ms")
    if flops is not None:
        return Objective(float(parse_macs(flops)), "MACs", constraint, reject_outside=reject_outside)
    return Objective(parse_latency(latency or ""), "ms", constraint, reject_outside=reject_outside)


def _fmt(value: float, unit: str) -> str:
    return f"{value / 1e6:.1f}M" if unit == "MACs" else f"{value:.2f}"
