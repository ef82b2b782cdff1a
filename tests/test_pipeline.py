"""One flow from a search to a trained family: steps that find each other's results, a family
trained alike with its report, and the whole pipeline, resumable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from typer.testing import CliRunner

from scalesearch.arch.io import load_spec, resolve_spec
from scalesearch.arch.scaling import Coefficients, scale
from scalesearch.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def space32(tmp_path_factory, tiny_base) -> Path:
    """A space over ``tiny_base`` (32 px, so that it scales), and the base's MACs as a target."""
    folder = tmp_path_factory.mktemp("space32")
    (folder / "space.yaml").write_text(yaml.safe_dump({
        "name": "tiny32", "base": str(tiny_base),
        "choices": {"expand_ratio": [1, 3], "kernel": [3, 5], "se_ratio": [0.0], "width_mult": [0.75, 1.0],
                    "repeats_delta": [0, 1]}}))
    return folder / "space.yaml"


def test_scale_with_no_base_in_an_empty_folder_is_b0_by_formula(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("scale", "--phi", "3", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    expected = scale(resolve_spec("efficientnet-b0"), 3, Coefficients(1.2, 1.1, 1.15))
    assert document["base"] == "efficientnet-b0" and document["networks"][0]["name"] == expected.name
    assert document["networks"][0]["resolution"] == expected.resolution == 341
    assert document["coefficients"] == {"alpha": 1.2, "beta": 1.1, "gamma": 1.15}
    assert document["source"] == {"base": "the default: no find-base run under runs/",
                                  "coefficients": "EfficientNet's defaults"}
    assert "base efficientnet-b0 (the default: no find-base run under runs/)" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_scale_and_grid_find_the_newest_find_base_and_grid_runs(tmp_path, monkeypatch, space32):
    monkeypatch.chdir(tmp_path)
    found = invoke("find-base", "--flops", "0.31M", "--space", str(space32), "--reject-outside", "0.5",
                   "--n-trials", "2", "--run-dir", "runs/search", "--json")
    assert found.exit_code == 0, found.output
    best = load_spec("runs/search/best_base.yaml")
    # scale with no base: the found base, and EfficientNet's coefficients (no grid run yet).
    before = json.loads(invoke("scale", "--phi", "1", "--json").stdout)
    assert before["base"] == best.name and before["source"]["base"] == "find-base run runs/search"
    assert before["coefficients"] == {"alpha": 1.2, "beta": 1.1, "gamma": 1.15}
    # grid with no base: the found base too.
    grid = invoke("grid", "--data", "synthetic", "--step", "0.5", "--tolerance", "0.3", "--epochs", "1",
                  "--resolution", "16",
                  "--run-dir", "runs/grid", "--json")
    assert grid.exit_code == 0, grid.output
    assert json.loads(grid.stdout)["base"] == best.name
    coefficients = json.loads(Path("runs/grid/coefficients.json").read_text())
    after = invoke("scale", "--phi", "1", "--json")
    document = json.loads(after.stdout)
    assert document["coefficients"] == {k: coefficients[k] for k in ("alpha", "beta", "gamma")}
    assert document["source"] == {"base": "find-base run runs/search", "coefficients": "grid run runs/grid"}
    assert "grid run runs/grid" in after.stderr
    # --from names either run explicitly; the grid run carries its base.
    from_grid = json.loads(invoke("scale", "--phi", "1", "--from", "runs/grid", "--json").stdout)
    assert from_grid["base"] == best.name and from_grid["source"]["base"] == "the base of grid run runs/grid"
    # Given coefficients win over found ones, and say so.
    given = json.loads(invoke("scale", "--phi", "1", "--alpha", "1.3", "--json").stdout)
    assert given["coefficients"]["alpha"] == 1.3 and given["source"]["coefficients"] == "given"


@pytest.mark.parametrize("args, message", [
    (["--from", "nowhere"], "error: --from nowhere: folder not found\n"),
    (["--from", "."], "error: --from .: not a find-base run (best_base.yaml) or a grid run (coefficients.json)\n"),
    (["--alpha", "1.3", "--coefficients", "c.json"],
     "error: give coefficients one way: --coefficients FILE or --alpha/--beta/--gamma, not both\n"),
])
def test_bad_from_or_coefficients_is_one_line(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("scale", "--phi", "1", *args)
    assert (result.exit_code, result.stderr) == (2, message)


def family_specs(tmp_path: Path, tiny_base: Path) -> Path:
    folder = tmp_path / "specs"
    invoke("scale", "--base", str(tiny_base), "--phi", "0-2", "--out", str(folder))
    assert len(list(folder.glob("*.yaml"))) == 3
    return folder


def test_train_on_a_folder_trains_each_network_alike_and_writes_the_family_report(tmp_path, tiny_base):
    specs = family_specs(tmp_path, tiny_base)
    run = tmp_path / "family"
    result = invoke("train", str(specs), "--data", "synthetic", "--epochs", "1", "--resolution", "16", "--seeds", "2",
                    "--train-images", "256", "--latency-budget", "0.2", "--run-dir", str(run), "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [r["name"] for r in rows] == [f"tiny-base-phi{p}" for p in range(3)]
    for r in rows:
        assert r["family"] == "tiny-base" and sorted(r["per_seed"]) == ["0", "1"] and 0 <= r["val_top1"] <= 1
        assert r["latency_ms"]["cpu-onnxruntime"] > 0
    # The resolution rule: phi 2 trains at 16 px x its resolution multiplier.
    assert [r["train_resolution"] for r in rows] == [16, round(16 * 1.15), round(16 * 1.15 ** 2)]
    for name in ("family.md", "family.json", "accuracy_vs_macs.png", "accuracy_vs_params.png",
                 "accuracy_vs_latency_cpu-onnxruntime.png"):
        assert (run / name).stat().st_size > 0
    assert "| tiny-base | tiny-base-phi2 |" in (run / "family.md").read_text()


def test_a_family_report_names_its_data_by_kind_never_by_folder(tmp_path, monkeypatch):
    # The figures' titles are committed with results (benchmarks/results/pipeline_cifar_figures/):
    # the data set's folder would name the machine that made them.
    from scalesearch.report import markdown, plots

    titles = []
    monkeypatch.setattr(plots, "family_accuracy", lambda path, rows, x_of, x_label, title: titles.append(title) or path)
    row = {"family": "tiny-base", "name": "tiny-base-phi0", "macs": 1e6, "params": 1e5, "resolution": 32,
           "train_resolution": 32, "per_seed": {"0": 0.5}, "val_top1": 0.5, "val_top1_std": 0.0,
           "latency_ms": {"cpu-onnxruntime": 1.0}}
    document = {"settings": {"recipe": {"name": "proxy", "epochs": 8}, "seeds": [0], "train_images": 1000,
                             "data": "cifar10:/work/shared/data/cifar-10"}, "rows": {"tiny-base-phi0": row}}
    markdown.write_family_report(tmp_path, document)
    assert titles == ["proxy recipe, 8 epochs, seeds [0], 1,000 training images of cifar10"] * 3
    assert "/work" not in (tmp_path / "family.md").read_text()


@pytest.mark.slow
def test_a_killed_family_run_trains_only_what_is_missing(tmp_path, tiny_base):
    specs = family_specs(tmp_path, tiny_base)
    run = tmp_path / "family"
    args = ["train", str(specs), "--data", "synthetic", "--epochs", "2", "--resolution", "16", "--train-images", "512",
            "--latency-budget", "0", "--run-dir", str(run), "--json"]
    process = subprocess.Popen([sys.executable, "-m", "scalesearch", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline, done = time.time() + 240, {}
    while time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
        if (run / "family.json").exists():
            rows = json.loads((run / "family.json").read_text())["rows"]
            done = {n: r["per_seed"] for n, r in rows.items() if r["per_seed"]}
            if done:
                break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert len(done) == 1, f"killed with {len(done)} networks trained"
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)["rows"]}
    assert all(rows[n]["per_seed"] == v for n, v in done.items())
    # Each network trained once: its metrics.csv holds one header and one row per epoch.
    for name in rows:
        assert len((run / name / "metrics.csv").read_text().splitlines()) == 1 + 2


def test_baselines_are_trained_alike_and_cut_at_the_familys_macs(tmp_path, tiny_base):
    from scalesearch.train.family import baselines

    efficientnets = [m.spec.name for m in baselines(["efficientnet"], 1.1e9)]
    assert efficientnets == ["efficientnet-b0", "efficientnet-b1", "efficientnet-b2"]  # B3 is 1.8G MACs
    names = [m.spec.name for m in baselines(["resnet", "mobilenet-v2"], 1e6)]
    assert names == ["resnet18", "resnet34", "resnet50", "mobilenet-v2-w0.5", "mobilenet-v2-w0.75",
                     "mobilenet-v2-w1", "mobilenet-v2-w1.4"]
    result = invoke("train", str(tiny_base), "--data", "synthetic", "--baselines", "nope", "--run-dir",
                    str(tmp_path / "r"))
    assert result.exit_code == 2 and result.stderr == (
        "error: unknown baseline family 'nope' (known: efficientnet, resnet, mobilenet-v2)\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke("train", str(empty), "--data", "synthetic")
    assert result.exit_code == 2 and result.stderr == f"error: {empty}: no .yaml/.json spec files in this folder\n"


def pipeline_args(space32: Path, run: Path, *more: str) -> list[str]:
    return ["pipeline", "--flops", "0.31M", "--data", "synthetic", "--phi", "0-1", "--space", str(space32),
            "--n-trials", "2", "--finalists", "1", "--final-seeds", "1", "--seeds", "1", "--epochs", "1",
            "--train-images", "256", "--step", "0.5", "--tolerance", "0.3", "--baselines", "",
            "--latency-budget", "0.1", "--run-dir", str(run), *more]


@pytest.mark.slow
def test_a_tiny_pipeline_runs_every_stage(tmp_path, space32):
    run = tmp_path / "pipe"
    result = invoke(*pipeline_args(space32, run, "--json"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert list(summary["stages"]) == ["find-base", "grid", "scale", "train", "bench", "report"]
    assert [r["phi"] for r in summary["family"]] == [0, 1] and all(r["val_top1"] is not None for r in summary["family"])
    best = load_spec(run / "find-base/best_base.yaml")
    assert summary["family"][0]["name"] == f"{best.name}-phi0"
    saved = sorted(load_spec(p).name for p in (run / "scale").iterdir())  # each member's spec, for reuse
    assert saved == sorted(r["name"] for r in summary["family"])
    coefficients = json.loads((run / "grid/coefficients.json").read_text())
    assert summary["coefficients"]["alpha"] == coefficients["alpha"]
    report = (run / "report.md").read_text()
    assert report.startswith("# Pipeline: 0.3M MACs on `synthetic`\n")  # the target, in millions
    found = summary["found"]["best"]  # the base: its MACs and parameters, in millions
    assert f"`{found['name']}`: {found['macs'] / 1e6:,.1f}M MACs, {found['params'] / 1e6:.2f}M parameters" in report
    for part in ("## Found base", "## Compound coefficients", "grid/grid_heatmap.png", "## The family",
                 "family/accuracy_vs_macs.png", "## Wall time per stage"):
        assert part in report
    grid = summary["coefficients"]
    assert f"x gamma^2 = {grid['alpha'] * grid['beta'] ** 2 * grid['gamma'] ** 2:.2f} (" in report
    for r in summary["family"]:  # the family table: its units are millions of parameters and of MACs
        assert f"| {r['resolution']} | {r['params'] / 1e6:.2f} | {r['macs'] / 1e6:,.1f} |" in report
    # Another setting in the same folder is refused, and nothing there changes.
    before = (run / "pipeline.json").read_text()
    other = invoke(*pipeline_args(space32, run, "--seeds", "2"))
    assert other.exit_code == 2 and "holds a pipeline started with other settings" in other.stderr
    assert (run / "pipeline.json").read_text() == before


@pytest.mark.slow
def test_a_pipeline_killed_in_its_grid_stage_resumes_without_searching_again(tmp_path, space32):
    run = tmp_path / "pipe"
    args = pipeline_args(space32, run, "--json")
    process = subprocess.Popen([sys.executable, "-m", "scalesearch", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None and not (run / "grid/study.journal").exists():
        time.sleep(0.1)
    time.sleep(0.3)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (run / "grid/coefficients.json").exists(), "the grid stage finished before the kill"

    def search_trials() -> list:
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(run / "find-base/study.journal")))
        study = optuna.load_study(study_name="find-base", storage=storage)
        return [(t.number, t.state.name, t.value) for t in study.trials], study.user_attrs

    searched = search_trials()
    before = json.loads((run / "pipeline.json").read_text())["rows"]["find-base"]["wall_s"]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert search_trials() == searched  # nothing searched or re-evaluated
    # a stage's wall time is summed over the runs that worked on it
    assert json.loads((run / "pipeline.json").read_text())["rows"]["find-base"]["wall_s"] >= before > 0
    assert (run / "grid/coefficients.json").exists() and (run / "report.md").exists()


@pytest.mark.slow
def test_a_pipeline_whose_search_trains_nothing_stops_naming_the_search_report(tmp_path, space32):
    recipe = yaml.safe_load((ROOT / "search_spaces/recipes/proxy.yaml").read_text())
    recipe.update(name="explode", lr=1.0e30)  # every candidate's loss overflows
    (tmp_path / "explode.yaml").write_text(yaml.safe_dump(recipe))
    run = tmp_path / "pipe"
    result = invoke(*pipeline_args(space32, run, "--recipe", str(tmp_path / "explode.yaml")))
    assert result.exit_code == 1, result.output
    assert result.stderr == (f"error: find-base evaluated no candidate to the end: nothing to scale; see "
                             f"{run / 'find-base' / 'report.md'}\n")
    assert (run / "find-base" / "report.md").exists() and not (run / "grid" / "coefficients.json").exists()


def test_a_pipeline_with_nothing_to_scale_is_refused(tmp_path):
    result = invoke("pipeline", "--flops", "400M", "--data", "synthetic", "--phi", "0", "--run-dir",
                    str(tmp_path / "p"))
    assert result.exit_code == 2
    assert result.stderr == ("error: --phi 0 has no phi above the found base's own (0): nothing to scale; "
                             "e.g. --phi 0-3\n")
    assert not (tmp_path / "p").exists()


def test_family_training_counts_its_progress_over_every_network_and_seed(tmp_path, tiny_base):
    import dataclasses

    import torch

    from scalesearch.train.data import load_data
    from scalesearch.train.family import members_of, open_results, train_members
    from scalesearch.train.recipes import load_recipe

    spec = load_spec(tiny_base)
    members = members_of([spec, dataclasses.replace(spec, name="tiny-other")])
    data = load_data("synthetic")
    data = dataclasses.replace(data, train=data.train.subset(torch.arange(128)), val=data.val.subset(torch.arange(64)))
    recipe = load_recipe("proxy").override(epochs=1, resolution=16, batch_size=64, warmup_epochs=0)
    results = open_results(tmp_path / "family.json", members, data, recipe, [0])
    seen: list[tuple[int, int]] = []
    train_members(members[:1], data, recipe, [0], results, on_done=lambda done, total: seen.append((done, total)))
    train_members(members, data, recipe, [0], results, on_done=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 1), (2, 2)]  # resumed: the finished network counts as done


def test_a_pipeline_config_without_a_phi_above_zero_names_its_whole_range(tmp_path):
    from scalesearch.errors import UsageError
    from scalesearch.pipeline import PipelineConfig

    with pytest.raises(UsageError, match=r"^`phi` -2-0 has no phi above the found base's own \(0\)"):
        PipelineConfig(target_macs=400e6, data="synthetic", phis=[-2, -1, 0], run_dir=tmp_path)
