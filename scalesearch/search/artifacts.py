"""A trial's network as Optuna artifacts, so that optuna-dashboard shows what each trial was.

Every trial of ``find-base`` and ``grid`` carries the spec of its network (``spec.yaml``; a
prescreened trial, the network it evaluated), and a latency-target search's trials also its
latency prediction (``latency.json``: predicted, not measured, with the table that predicted it).
The files live in the run folder's ``artifacts/`` (Optuna's file-system artifact store; workers
on other machines write into their own run folder). Open a study with them:

    optuna-dashboard runs/<study>/study.journal --artifact-dir runs/<study>/artifacts
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import optuna
from optuna.artifacts import FileSystemArtifactStore, download_artifact, get_all_artifact_meta, upload_artifact

from scalesearch.arch.io import save_spec
from scalesearch.arch.spec import Spec
from scalesearch.search.storage import redact

ARTIFACTS = "artifacts"


def artifact_store(run_dir: Path) -> FileSystemArtifactStore:
    """The store of ``run_dir``'s trials (made on first use)."""
    folder = Path(run_dir) / ARTIFACTS
    folder.mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(str(folder))


def dashboard_command(run_dir: Path, storage: str | None = None) -> str:
    """The command that opens a run's study, with its artifacts, in optuna-dashboard (the
    ``dashboard`` extra); an RDB storage's password is not shown."""
    where = redact(storage) if storage else str(Path(run_dir) / "study.journal")
    return f"optuna-dashboard {where} --artifact-dir {Path(run_dir) / ARTIFACTS}"


def attach(trial: optuna.Trial, store: FileSystemArtifactStore, spec: Spec,
           latency: dict[str, Any] | None = None) -> None:
    """Upload ``spec`` as the trial's ``spec.yaml`` and, when given, ``latency`` as its ``latency.json``."""
    with tempfile.TemporaryDirectory() as scratch:
        files = [save_spec(spec, Path(scratch) / "spec.yaml")]
        if latency is not None:
            files.append(Path(scratch) / "latency.json")
            files[-1].write_text(json.dumps(latency, indent=2) + "\n")
        for path in files:
            upload_artifact(artifact_store=store, file_path=str(path), study_or_trial=trial,
                            mimetype="application/json" if path.suffix == ".json" else "application/yaml")


def read_artifacts(trial: optuna.trial.FrozenTrial, store: FileSystemArtifactStore,
                   storage: optuna.storages.BaseStorage) -> dict[str, str]:
    """A trial's artifacts read back: file name -> text."""
    found = {}
    with tempfile.TemporaryDirectory() as scratch:
        for meta in get_all_artifact_meta(trial, storage=storage):
            path = Path(scratch) / meta.artifact_id
            download_artifact(artifact_store=store, file_path=str(path), artifact_id=meta.artifact_id)
            found[meta.filename] = path.read_text()
    return found
