"""Reports written to disk for people: Markdown beside its PNG figures (:mod:`.plots`), for a
latency run, a find-base study, a scaling comparison, a trained family and a self-training run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scalesearch.files import check_destination, write_atomic
from scalesearch.report import plots
from scalesearch.report.words import (
    finalist_runs,
    finalist_std,
    millions,
    seeds_and_epochs,
    top1,
    value,
    verdict,
)
from scalesearch.search.compare import paper_figures


def bench_report_files(path: Path) -> tuple[Path, Path, Path]:
    """The files a bench report at ``path`` may write: the Markdown, latency vs MACs, latency vs phi."""
    return path, path.with_name(f"{path.stem}_latency_vs_macs.png"), path.with_name(f"{path.stem}_latency_vs_phi.png")


def check_bench_report(path: Path) -> None:
    """Refuse, before anything is measured, a report path whose files cannot be written."""
    for file in bench_report_files(path):
        check_destination(file, "the latency report")


def write_bench_report(path: Path, records: list[dict[str, Any]], environment: dict[str, Any]) -> list[Path]:
    """Markdown with the latency table and the environment, plus PNG plots beside it: latency vs
    MACs, and latency vs phi when the models are one scaled family. Returns the files written."""
    _, by_macs, by_phi = bench_report_files(path)
    written = [path, plots.latency(by_macs, records, "macs", "multiply-adds (G MACs)", 1e9)]
    phis = {r["phi"] for r in records}
    if None not in phis and len(phis) > 1:
        written.append(plots.latency(by_phi, records, "phi", "compound coefficient phi", 1.0))
    lines = ["# Latency report", "",
             "| model | batch | precision | mode | median ms | p10 ms | p90 ms | min ms | IQR ms | CV | runs "
             "| MACs (M) | params (M) |", "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in records:
        lines.append(f"| {r['model']} | {r['batch']} | {r['precision']} | {r['mode']} | {r['median_ms']:.3f} | "
                     f"{r['p10_ms']:.3f} | {r['p90_ms']:.3f} | {r['min_ms']:.3f} | {r['iqr_ms']:.3f} | {r['cv']:.3f} | "
                     f"{r['runs']} | {millions(r['macs'])} | {millions(r['params'])} |")
    lines += ["", f"![latency vs MACs]({written[1].name})"]
    if len(written) > 2:
        lines += ["", f"![latency vs phi]({written[2].name})"]
    lines += ["", "## Environment", "", *(f"- {k}: {v}" for k, v in environment.items()),
              f"- device/backend: {records[0]['device']}/{records[0]['backend']}",
              f"- threads: {records[0]['threads']}", ""]
    write_atomic(path, "\n".join(lines))
    return written


def finalist_lines(summary: dict[str, Any], accuracy_key: str) -> list[str]:
    """The finalists as a Markdown section: each one's search value, mean and std over the final
    seeds, objective score, and the verdict against the seeded base network."""
    final = summary["finalists"]
    percent = accuracy_key == "val_top1"
    what = "validation top-1" if percent else final["measure"]
    lines = [f"## Finalists: the {final['candidates']} best candidates and the base network, "
             f"re-evaluated with {seeds_and_epochs(final)}", "",
             f"| network | trial | base | MACs (M) | search, 1 run | mean {what} | std | score |",
             "|---|---:|:---:|---:|---:|---:|---:|---:|"]
    for r in final["rows"]:
        lines.append(f"| {r['name']} | {'' if r['trial'] is None else r['trial']} | {'yes' if r['is_base'] else ''} | "
                     f"{millions(r['macs'])} | {value(r['search_value'], percent)} | {value(r['mean'], percent)} "
                     f"({finalist_runs(r)}) | {finalist_std(r, percent)} | {value(r['score'], False)} |")
    failures = [(r["name"], reason) for r in final["rows"] for reason in r.get("failures", [])]
    if failures:
        lines += ["", *(f"- {name} failed on a final seed: {reason}" for name, reason in failures)]
    return [*lines, "", verdict(final, percent)]


def write_search_report(run_dir: Path, summary: dict[str, Any], rows: list[dict[str, Any]]) -> list[Path]:
    """``report.md`` for a find-base study with two PNG plots: the optimisation history (score per
    evaluated trial and best so far) and accuracy against MACs with the Pareto front."""
    accuracy_key = "zero_cost" if summary["accuracy_is_zero_cost"] else "val_top1"
    percent = accuracy_key == "val_top1"
    accuracy_label = "zero-cost score (not accuracy)" if accuracy_key == "zero_cost" else "validation top-1"
    scored = [r for r in rows if r["state"] == "complete" and r["score"] is not None]
    history_png = plots.search_history(run_dir / "history.png", scored, summary["target_unit"])
    scatter_png = plots.search_scatter(
        run_dir / "accuracy_vs_macs.png", [r for r in rows if r["state"] == "complete" and r[accuracy_key] is not None],
        set(summary["pareto_front"]), accuracy_key, accuracy_label,
        summary["target"] if summary["target_unit"] == "MACs" else None)
    best = summary["best"]
    target = (f"{summary['target'] / 1e6:.1f}M MACs" if summary["target_unit"] == "MACs"
              else f"{summary['target']:.2f} ms")
    lines = [f"# find-base: {summary['study']}", "",
             f"- target: {target}, constraint {summary['constraint']}", f"- evaluator: {summary['evaluator']}"
             + (" — scores are training-free stand-ins, not accuracies" if summary["accuracy_is_zero_cost"] else ""),
             f"- trials: {summary['n_trials']} evaluated ({summary['n_complete']} complete, {summary['n_pruned']} "
             f"pruned, {summary['n_failed']} failed), {summary['n_rejected']} rejected untrained, "
             f"{summary['n_died']} lost with their worker and retried",
             f"- sampler: {summary['sampler']}, pruner: {summary['pruner']}",
             f"- storage: `{summary['storage']}`", ""]
    if summary["failures"]:
        lines += ["## Failures by reason", "", *(f"- {n} x {reason}" for reason, n in summary["failures"].items()), ""]
    if summary["latency_failures"]:
        lines += ["## Leaders whose latency could not be measured (the predicted figure stands)", "",
                  *(f"- trial {n}: {reason}" for n, reason in summary["latency_failures"].items()), ""]
    if summary.get("finalists"):
        lines += [*finalist_lines(summary, accuracy_key), ""]
    if best:
        acc = best.get("final_mean") if best.get("final_mean") is not None else best[accuracy_key]
        trial = "" if best["trial"] is None else best["trial"]
        lines += ["## Best base", "", f"| network | trial | MACs (M) | params (M) | {accuracy_label} | score | spec |",
                  "|---|---:|---:|---:|---:|---:|---|",
                  f"| {best['name']} | {trial} | {millions(best['macs'])} | {millions(best['params'])} | "
                  f"{value(acc, percent)} | {value(best['score'], False)} | `{Path(best['spec_path']).name}` |", ""]
    if summary.get("baselines"):
        lines += ["## Known networks, same evaluator", "", f"| network | MACs (M) | {accuracy_label} | score |",
                  "|---|---:|---:|---:|"]
        for b in summary["baselines"]:
            lines.append(f"| {b['name']} | {millions(b['macs'])} | {value(b[accuracy_key], percent)} | "
                         f"{b['score']:.4g} |")
        lines.append("")
    lines += ["## Top trials", "", f"| trial | MACs (M) | {accuracy_label} | score | s |", "|---:|---:|---:|---:|---:|"]
    for r in sorted(scored, key=lambda r: -r["score"])[:10]:
        lines.append(f"| {r['number']} | {millions(r['macs'])} | {value(r[accuracy_key], percent)} "
                     f"| {r['score']:.4g} | {r['duration_s'] or 0:.1f} |")
    lines += ["", f"![optimisation history]({history_png.name})", "", f"![accuracy vs MACs]({scatter_png.name})", ""]
    return [write_atomic(run_dir / "report.md", "\n".join(lines)), history_png, scatter_png]


def write_compare_report(run_dir: Path, document: dict[str, Any]) -> list[Path]:
    """``compare_scaling.md`` and ``compare_scaling.png`` (accuracy against MACs per strategy)."""
    rows = document["rows"]
    png = plots.scaling_strategies(run_dir / "compare_scaling.png", document)
    lines = [f"# Scaling strategies for {document['base']}", "", f"Data `{document['data']}`, recipe "
             f"`{document['recipe']}` ({document['epochs']} epochs), seeds {document['seeds']}. Variants more than 5% "
             f"from the requested MACs after rounding are not trained.", "",
             "| strategy | x MACs | d | w | r | train px | MACs (M) | val top-1 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['strategy']} | {r['macs_ratio']:.2f} | {r['depth_mult']:.2f} | {r['width_mult']:.2f} | "
                     f"{r['resolution_mult']:.2f} | {r['train_resolution']} | {millions(r['macs'])} | {top1(r)} |")
    source, paper = paper_figures(document["base"])
    if paper:
        lines += ["", f"{source}, for this base (G MACs where given):", "",
                  *(f"- {r.strategy}: {'' if r.gmacs is None else f'{r.gmacs} G, '}{r.top1}%" for r in paper)]
    lines += ["", f"![accuracy vs MACs]({png.name})", ""]
    return [write_atomic(run_dir / "compare_scaling.md", "\n".join(lines)), png]


def _latency_of(key: str):
    return lambda row: row["latency_ms"].get(key)


def _data_kind(data: str) -> str:
    """A data set named portably, by its kind: ``cifar10:/data/cifar`` -> ``cifar10``."""
    return data.partition(":")[0]


def write_family_report(run_dir: Path, document: dict[str, Any], title: str = "Trained family") -> list[Path]:
    """``family.md`` and PNG plots of validation top-1 against MACs, parameters and each measured
    batch-1 latency, one line per family (EfficientNet's Figure 1 layout)."""
    rows = list(document["rows"].values())
    settings = document["settings"]
    recipe = settings["recipe"]
    # The data set by its kind alone (``cifar10:/data/cifar`` -> ``cifar10``): the figures' titles
    # are committed with results, and a folder would name the machine that made them.
    about = (f"{recipe['name']} recipe, {recipe['epochs']} epochs, seeds {settings['seeds']}, "
             f"{settings['train_images']:,} training images of {_data_kind(settings['data'])}")
    figures = [plots.family_accuracy(run_dir / "accuracy_vs_macs.png", rows, lambda r: r["macs"] / 1e6,
                                     "multiply-adds at the nominal resolution (M MACs)", about),
               plots.family_accuracy(run_dir / "accuracy_vs_params.png", rows, lambda r: r["params"] / 1e6,
                                     "parameters (M)", about)]
    latency_keys = sorted({k for r in rows for k in r["latency_ms"]})
    for key in latency_keys:
        figures.append(plots.family_accuracy(run_dir / f"accuracy_vs_latency_{key}.png", rows, _latency_of(key),
                                             f"batch-1 latency, {key.replace('-', ' / ')} (ms)", about))
    lines = [f"# {title}", "", f"Every network trained alike: {about}. Scaled networks train at the recipe's "
             f"resolution times their own resolution multiplier (`train px`); latency is measured at each "
             f"network's own resolution, batch 1.", "",
             "| family | network | MACs (M) | params (M) | px | train px | val top-1 (mean +- std) | seeds | "
             + " | ".join(f"{k} ms" for k in latency_keys) + (" |" if latency_keys else "|"),
             "|---|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(latency_keys)]
    for r in sorted(rows, key=lambda r: (r["family"], r["macs"])):
        latency = "".join(f" {value(r['latency_ms'].get(k), False)} |" for k in latency_keys)
        lines.append(f"| {r['family']} | {r['name']} | {millions(r['macs'])} | {millions(r['params'])} | "
                     f"{r['resolution']} | {r['train_resolution']} | {top1(r, 'not trained yet')} | "
                     f"{len(r['per_seed'])} |{latency}")
    lines += ["", *(f"![{f.stem.replace('_', ' ')}]({f.name})" for f in figures), ""]
    return [write_atomic(run_dir / "family.md", "\n".join(lines)), *figures]


def write_self_train_report(run_dir: Path, document: dict[str, Any]) -> list[Path]:
    """``report.md`` of a self-training run: the per-round table and its plot."""
    settings = document["settings"]
    figure = plots.self_training(run_dir / "rounds.png", list(document["rows"].values()))
    kept = "filtered at confidence {threshold:g}, {cap}, {balance}".format(
        threshold=settings["threshold"],
        cap=f"at most {document['per_class']:,} per class" if document["per_class"] else "no cap per class",
        balance="classes below the cap repeated up to it" if settings["balance"] else "no repeating")
    c = document["coefficients"]
    lines = ["# Self-training (Noisy Student)", "",
             f"`{document['data']}`: {document['labeled_images']:,} labelled and {document['unlabeled_images']:,} "
             f"unlabelled training images, {document['val_images']:,} validation images. Teacher "
             f"{document['teacher']}; {settings['labels']} pseudo-labels at temperature {settings['temperature']:g}, "
             f"{kept}; {settings['unlabeled_ratio']:g} pseudo-labelled images per labelled image in a batch; "
             f"student noise {'on' if settings['noise'] else 'off'}. Students are scaled with alpha={c['alpha']:g}, "
             f"beta={c['beta']:g}, gamma={c['gamma']:g} ({document['coefficients_source']}). "
             f"Recipe {settings['recipe']['name']}, {settings['recipe']['epochs']} epochs; seeds {settings['seeds']}.",
             "",
             "| round | network | teacher val top-1 | val top-1 (mean +- std) | seeds | images kept per class | "
             "mean confidence | pseudo-label accuracy (kept / all) |",
             "|---:|---|---:|---:|---:|---|---:|---:|"]
    for r in document.get("summary", []):
        kept_counts = ", ".join(f"{k:.0f}" for k in r["kept_per_class"]) if r.get("kept_per_class") else "-"
        accuracy = (f"{value(r['pseudo_label_accuracy'], True)} / {value(r['pseudo_label_accuracy_all'], True)}"
                    if r["pseudo_label_accuracy"] is not None else "-")
        lines.append(f"| {'teacher' if r['round'] == 0 else r['round']} | {r['network']} | "
                     f"{value(r['teacher_val_top1'], True)} | {top1(r, '-')} | {r['seeds']} | {kept_counts} | "
                     f"{value(r['mean_confidence'], True)} | {accuracy} |")
    lines += ["", f"![{figure.stem}]({figure.name})", ""]
    return [write_atomic(run_dir / "report.md", "\n".join(lines)), figure]
