"""A surrogate: a tree ensemble fitted on measured networks of a search space, predicting the
accuracy of any network of that space (Siems et al., NAS-Bench-301; Accel-NASBench does the same).

Its features are the space's own choices (:meth:`SearchSpace.dimensions`, numbers as they are,
booleans as 0/1, names by their option index), so a network is recognised by
:meth:`~scalesearch.search.space.SearchSpace.params_of` and a file fitted for one space refuses
networks of another. A surrogate file is JSON: the space, the target, how it was fitted and judged,
and the trees (:mod:`.trees`). Built-in surrogates live in ``search_spaces/surrogates/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from scalesearch.arch.io import search_spaces_dir
from scalesearch.errors import UsageError, shown
from scalesearch.files import read_json_object, write_json
from scalesearch.groundtruth.trees import TreeEnsemble
from scalesearch.search.space import SearchSpace

MAX_BYTES = 256 * 2**20
#: Libraries a surrogate can be fitted with (each converts exactly to the plain-data trees).
LIBRARIES = ("lightgbm", "xgboost", "sklearn")


def surrogate_names() -> list[str]:
    """The built-in surrogates."""
    return sorted(p.stem for p in (search_spaces_dir() / "surrogates").glob("*.json"))


def encode(space: SearchSpace, params: dict[str, Any]) -> list[float]:
    """A candidate's choices as the surrogate's feature vector (the space's dimensions in order)."""
    out = []
    for key, options in space.dimensions().items():
        value = params[key]
        out.append(float(value) if isinstance(value, (int, float)) else float(options.index(value)))
    return out


@dataclass(frozen=True)
class Surrogate:
    """A fitted model of one space's accuracy (``target``, in %), with how it was made (``fit``)."""

    space: str
    target: str
    ensemble: TreeEnsemble
    fit: dict[str, Any]
    digest: str = ""
    source: str = ""

    @classmethod
    def load(cls, name_or_path: str | Path) -> Surrogate:
        """A built-in surrogate by name or a surrogate file by path; a missing, truncated, crafted or
        foreign file is one line (exit 2), and nothing in it runs."""
        builtin = search_spaces_dir() / "surrogates" / f"{name_or_path}.json"
        path = builtin if str(name_or_path) in surrogate_names() else Path(name_or_path)
        if not path.exists():
            raise UsageError(f"surrogate not found: {name_or_path} (built-in: {', '.join(surrogate_names())}; or a "
                             f"file written by benchmarks/fit_surrogate.py)")
        document, sha256 = read_json_object(path, MAX_BYTES, "a surrogate model file",
                                    " (built-in, or written by benchmarks/fit_surrogate.py)")
        space, target, fit = document.get("space"), document.get("target"), document.get("fit", {})
        if not isinstance(space, str) or not isinstance(target, str) or not isinstance(fit, dict):
            raise UsageError(f"{path}: needs the names space and target (got {shown(space)}, {shown(target)}); "
                             f"not a surrogate model file")
        ensemble = TreeEnsemble.from_dict(document.get("model"), str(path))
        return cls(space, target, ensemble, fit, sha256, str(path))

    def save(self, path: str | Path) -> Path:
        return write_json(Path(path), {"space": self.space, "target": self.target, "fit": self.fit,
                                       "model": self.ensemble.to_dict()})

    def check_space(self, space: SearchSpace) -> None:
        """Fail before a search if ``space``'s choices are not the features this model was fitted on."""
        if list(space.dimensions()) != list(self.ensemble.features):
            raise UsageError(f"the surrogate was fitted on search space {self.space!r}, whose choices search space "
                             f"{space.name!r} does not share: search with --space {self.space}")

    def predict(self, space: SearchSpace, params: Sequence[dict[str, Any]]) -> np.ndarray:
        """The predicted ``target`` of each candidate (its choices in ``space``)."""
        return self.ensemble.predict(np.array([encode(space, p) for p in params], dtype=np.float64))

    def predict_spec(self, space: SearchSpace, spec: Any) -> float:
        """The prediction for one network; UsageError if the space cannot build it."""
        params = space.params_of(spec)
        if params is None:
            raise UsageError(f"network {getattr(spec, 'name', spec)!r} is not in search space {space.name!r}, "
                             f"the surrogate's")
        return float(self.predict(space, [params])[0])


def fit_ensemble(library: str, features: list[str], rows: np.ndarray, targets: np.ndarray,
                 settings: dict[str, Any], seed: int = 0) -> TreeEnsemble:
    """Fit a gradient-boosted regressor with ``library`` and ``settings`` (its own keyword names)
    and return it as plain-data trees."""
    from scalesearch.groundtruth import trees

    if library == "lightgbm":
        import lightgbm

        model = lightgbm.LGBMRegressor(random_state=seed, verbose=-1, **settings).fit(rows, targets)
        return trees.from_lightgbm(model.booster_, features)
    if library == "xgboost":
        import xgboost

        model = xgboost.XGBRegressor(random_state=seed, **settings).fit(rows, targets)
        return trees.from_xgboost(model.get_booster(), features)
    if library == "sklearn":
        from sklearn.ensemble import GradientBoostingRegressor

        return trees.from_sklearn(GradientBoostingRegressor(random_state=seed, **settings).fit(rows, targets),
                                  features)
    raise UsageError(f"`library` must be one of {', '.join(LIBRARIES)}, got {library!r}")
