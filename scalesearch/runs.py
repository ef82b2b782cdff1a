"""How one step finds the last one's result: a find-base run leaves ``best_base.yaml``, a grid run
``coefficients.json``; ``scale``, ``grid`` and ``pipeline`` start from them.

The starting point of a step is, in order: what the user gives (a base, coefficients); a run
folder named with ``--from``; the newest find-base run under ``./runs`` with the newest grid run of
that same base; else EfficientNet-B0 with EfficientNet's (1.2, 1.1, 1.15). Every choice says
where it came from, so that outputs can name it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalesearch.arch.io import load_spec, read_data_file, resolve_spec, spec_from_dict, spec_to_dict
from scalesearch.arch.scaling import Coefficients, scale_family
from scalesearch.arch.spec import NetworkSpec, Spec
from scalesearch.errors import SpecError, UsageError
from scalesearch.files import digest

RUNS = Path("runs")
DEFAULT_BASE = "efficientnet-b0"
BEST_BASE = "best_base.yaml"
COEFFICIENTS = "coefficients.json"


def study_dir(study_name: str) -> Path:
    """Where a study's run folder goes unless one is given: ``runs/<study>``."""
    return RUNS / study_name


@dataclass(frozen=True)
class Start:
    """A base network and compound coefficients, with where each came from (in words)."""

    base: NetworkSpec
    coefficients: Coefficients
    base_source: str
    coefficients_source: str

    def record(self) -> dict[str, Any]:
        """The ``--json`` keys every step that starts from it adds: base, coefficients, source."""
        return {"base": self.base.name,
                "coefficients": {"alpha": self.coefficients.alpha, "beta": self.coefficients.beta,
                                 "gamma": self.coefficients.gamma},
                "source": {"base": self.base_source, "coefficients": self.coefficients_source}}

    def describe(self) -> str:
        """One line for stderr."""
        c = self.coefficients
        return (f"base {self.base.name} ({self.base_source}); alpha={c.alpha:g}, beta={c.beta:g}, "
                f"gamma={c.gamma:g} ({self.coefficients_source})")


def spec_digest(spec: NetworkSpec) -> str:
    """A short fingerprint of a network (its whole spec), to match a grid run to its base."""
    return digest(spec_to_dict(spec))[:12]


def _newest(paths: list[Path]) -> list[Path]:
    return sorted(paths, key=lambda p: p.stat().st_mtime, reverse=True)


def find_base_runs(root: Path = RUNS) -> list[Path]:
    """find-base run folders under ``root`` (those holding a ``best_base.yaml``), newest first."""
    return [p.parent for p in _newest(list(root.glob(f"*/{BEST_BASE}")))] if root.is_dir() else []


def grid_runs(root: Path = RUNS) -> list[Path]:
    """grid run folders under ``root`` (those holding a ``coefficients.json``), newest first."""
    return [p.parent for p in _newest(list(root.glob(f"*/{COEFFICIENTS}")))] if root.is_dir() else []


def load_coefficients(path: Path) -> Coefficients:
    """alpha, beta, gamma from a ``coefficients.json`` (what ``grid`` writes) or any JSON/YAML
    file with those three keys."""
    return _coefficients(_read_coefficients_file(path), path)


def given_coefficients(alpha: float | None = None, beta: float | None = None, gamma: float | None = None,
                       path: Path | None = None) -> tuple[Coefficients | None, str]:
    """The coefficients a user gave, and how in words: a file (``path``), or some of ``alpha``,
    ``beta``, ``gamma`` with EfficientNet's for the rest; ``(None, "")`` when none was given."""
    values = {"alpha": alpha, "beta": beta, "gamma": gamma}
    if path is not None:
        if any(v is not None for v in values.values()):
            raise UsageError("give coefficients one way: `coefficients` FILE or `alpha`/`beta`/`gamma`, not both")
        return load_coefficients(path), f"file {path}"
    if all(v is None for v in values.values()):
        return None, ""
    defaults = Coefficients()
    return Coefficients(*(getattr(defaults, k) if v is None else v for k, v in values.items())), "given"


def scaled_family(start: Start, phis: list[float], given: Coefficients | None = None, preset: str | None = None,
                  strategy: str = "compound") -> list[Spec]:
    """``start``'s base at every phi: by its coefficients, the ``preset`` table, or ``strategy``
    sovit's own exponents (which take no coefficients: ``given`` must be None)."""
    if strategy == "sovit" and given is not None:
        raise UsageError("`strategy` sovit has its own exponents: give no `alpha`, `beta`, `gamma` or "
                         "`coefficients`")
    return scale_family(start.base, phis, None if strategy == "sovit" else start.coefficients, preset, strategy)


def _read_coefficients_file(path: Path) -> Any:
    if not path.is_file():
        raise UsageError(f"coefficients file not found: {path}")
    return read_data_file(path)


def _coefficients(data: Any, path: Path) -> Coefficients:
    """alpha, beta, gamma of a coefficients document read from ``path``."""
    if not isinstance(data, dict) or not all(k in data for k in ("alpha", "beta", "gamma")):
        raise UsageError(f"{path}: expected the keys alpha, beta and gamma (as 'scalesearch grid' writes them)")
    try:
        return Coefficients(data["alpha"], data["beta"], data["gamma"])
    except UsageError as err:
        raise UsageError(f"{path}: {err}") from None


def read_grid_run(folder: Path) -> tuple[NetworkSpec, Coefficients]:
    """The base a grid run searched and the coefficients it found."""
    path = folder / COEFFICIENTS
    document = _read_coefficients_file(path)
    coefficients = _coefficients(document, path)
    try:
        base = spec_from_dict(document["base_spec"], source=str(path))
    except (KeyError, TypeError) as err:
        raise UsageError(f"{path}: not a grid result (no base_spec: {type(err).__name__}: {err})") from None
    except SpecError as err:
        raise UsageError(f"{path}: not a grid result ({err})") from None
    return base, coefficients


def _grid_for(base: NetworkSpec, root: Path) -> tuple[Coefficients, str] | None:
    """The coefficients of the newest grid run over exactly ``base``, if any."""
    digest = spec_digest(base)
    for folder in grid_runs(root):
        try:
            grid_base, coefficients = read_grid_run(folder)
        except UsageError:
            continue  # a broken or older grid folder is not this base's
        if spec_digest(grid_base) == digest:
            return coefficients, f"grid run {folder}"
    return None


def from_run(folder: Path, root: Path = RUNS) -> Start:
    """The start a run folder gives: a grid run's base and coefficients, or a find-base run's best
    base (with the newest grid run of that base under ``root``, else the default coefficients)."""
    if not folder.is_dir():
        raise UsageError(f"`source` {folder}: folder not found")
    if (folder / COEFFICIENTS).is_file():
        base, coefficients = read_grid_run(folder)
        return Start(base, coefficients, f"the base of grid run {folder}", f"grid run {folder}")
    if (folder / BEST_BASE).is_file():
        base = load_spec(folder / BEST_BASE)
        found = _grid_for(base, root)
        coefficients, source = found or (Coefficients(), "EfficientNet's defaults: no grid run of this base")
        return Start(base, coefficients, f"find-base run {folder}", source)
    raise UsageError(f"`source` {folder}: not a find-base run ({BEST_BASE}) or a grid run ({COEFFICIENTS})")


def default_start(root: Path = RUNS) -> Start:
    """The newest find-base run under ``root`` and its grid run; else EfficientNet-B0."""
    for folder in find_base_runs(root):
        try:
            return from_run(folder, root)
        except (UsageError, SpecError):
            continue  # an unreadable best_base.yaml: look further back
    return Start(resolve_spec(DEFAULT_BASE), Coefficients(), f"the default: no find-base run under {root}/",
                 "EfficientNet's defaults")


def resolve_start(base: str | None = None, coefficients: Coefficients | None = None, source: Path | None = None,
                  root: Path = RUNS, coefficients_source: str = "given") -> Start:
    """What a step starts from: ``base`` and ``coefficients`` where given; the rest from the run
    folder ``source``, else (no base given) from the runs under ``root`` (:func:`default_start`).
    A given base without a source takes EfficientNet's coefficients unless they are given too."""
    if base is None:
        start = from_run(source, root) if source is not None else default_start(root)
    elif source is not None:
        ran = from_run(source, root)
        start = Start(resolve_spec(base), ran.coefficients, "given", ran.coefficients_source)
    else:
        start = Start(resolve_spec(base), Coefficients(), "given", "EfficientNet's defaults")
    if coefficients is not None:
        start = dataclasses.replace(start, coefficients=coefficients, coefficients_source=coefficients_source)
    return start
