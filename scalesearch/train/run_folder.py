"""A ``train`` run folder: where a run's files go by default, and whether a folder may take a run.

A new folder gets the network as the recipe trains it (``spec.yaml``), the recipe
(``recipe.json``) and where the starting weights came from (``init.json``); a folder holding a
run of the same settings is resumed, one holding any other run is refused. The files that grow
epoch by epoch are :mod:`.metrics_file`'s and the seeds' checkpoints (:mod:`.loop`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from scalesearch.arch.io import load_spec, save_spec, spec_file_name, spec_to_dict
from scalesearch.arch.spec import Spec
from scalesearch.errors import ScalesearchError, UsageError
from scalesearch.files import digest, refuse_special_entries, write_json
from scalesearch.train.checkpoints import InitialWeights
from scalesearch.train.data import DataSet
from scalesearch.train.recipes import Recipe


def open_run_dir(run_dir: Path, spec: Spec, recipe: Recipe, init: InitialWeights | None = None) -> None:
    """Prepare a folder to train ``spec`` (as the recipe trains it) into: a new one gets
    ``spec.yaml``, ``recipe.json`` (and ``init.json``); one holding a run of the same network,
    recipe and starting weights is resumed; one holding any other run is refused, since its metrics
    and checkpoints would mix with the new ones."""
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"run folder {run_dir} is a file")
    refuse_special_entries(run_dir)
    held = [name for name in ("metrics.csv", "spec.yaml") if (run_dir / name).exists()]
    if held:
        try:
            saved = load_spec(run_dir / "spec.yaml")
        except ScalesearchError:
            saved = None
        recorded = {name: _read_json(run_dir / name) for name in ("recipe.json", "init.json")}
        differs = [what for what, same in (
            ("network", saved == spec), ("recipe", recorded["recipe.json"] == _as_json(dataclasses.asdict(recipe))),
            ("init", recorded["init.json"] == (init.record if init else None))) if not same]
        if differs:
            network = f" of {saved.name}" if saved is not None else ""
            raise UsageError(f"run folder {run_dir} already holds a run{network} with other settings "
                             f"({', '.join(differs)}): use another run folder, or remove that one")
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    # spec.yaml last: it marks the folder as holding a run, so a process killed between these writes
    # leaves a folder the same command prepares again, not one whose recipe seems to differ.
    write_json(run_dir / "recipe.json", dataclasses.asdict(recipe))
    if init is not None:
        write_json(run_dir / "init.json", init.record)
    else:  # another command's, killed before its spec.yaml
        (run_dir / "init.json").unlink(missing_ok=True)
    save_spec(spec, run_dir / "spec.yaml")


def _as_json(value: object) -> object:
    return json.loads(json.dumps(value))


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text()) if path.exists() else None
    except (OSError, ValueError, RecursionError):
        return "unreadable"


def default_run_dir(spec: Spec, data: DataSet, recipe: Recipe, seeds: list[int],
                    init: InitialWeights | None = None) -> Path:
    """``runs/train/<network>-<recipe>-<digest of the settings>``: the same command finds its own
    run again, and resumes it."""
    settings = {"spec": spec_to_dict(spec), "recipe": dataclasses.asdict(recipe), "seeds": seeds,
                "data": [data.name, len(data.train), len(data.val)], "init": init.record if init else None}
    return Path("runs/train") / spec_file_name(spec, f"-{recipe.name}-{digest(settings)[:10]}")
