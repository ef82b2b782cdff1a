"""Accel-NASBench (Ahmad et al., "Accel-NASBench: Sustainable Benchmarking for Accelerator-Aware
NAS"): 5,138 networks of EfficientNet-B0's own block space (``search_spaces/accel-nasbench.yaml``)
trained on ImageNet with the authors' shortened proxy, one seed each.

Its archive ``anb_dataset_jsons.tar.gz`` (or the folder it unpacks to) holds one JSON file per
network: ``architecture`` (``block{i}_e``, ``_k``, ``_l``, ``_se`` for the seven stages),
``metrics.val_top1`` (%), ``model_info.macs`` and ``.params`` (millions) and ``platform_perf``.
The archive is read as data: members are parsed in memory, never extracted to disk.

Its ``macs`` count more than EfficientNet does: :func:`benchmark_macs` reproduces them exactly
from our count (the convolutions and the classifier) plus 4 operations per element leaving a batch
norm, the squeeze-excite rescaling (C x H x W + C per block) and the global pool (C x H x W + C).
"""

from __future__ import annotations

import io
import json
import math
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalesearch.arch.spec import NetworkSpec
from scalesearch.arch.walk import walk
from scalesearch.errors import UsageError, shown
from scalesearch.files import read_regular
from scalesearch.measure.flops import analytic_count

#: The built-in space the networks belong to.
SPACE = "accel-nasbench"
STAGES = 7
#: The archive is 1.2 MB (21 MB unpacked); these bounds only stop a hostile file from exhausting memory.
MAX_ARCHIVE_BYTES = 256 * 2**20
MAX_MEMBER_BYTES = 2**20
MAX_TOTAL_BYTES = 1024 * 2**20
MAX_NETWORKS = 1_000_000
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Measurement:
    """One measured network: its file's name (``result_N``), its choices in the space's terms, its
    ImageNet top-1 (%) and the MACs and params (millions) the benchmark recorded."""

    name: str
    params: dict[str, Any]
    val_top1: float
    macs_m: float
    params_m: float


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def measurement(name: str, record: Any, source: str) -> Measurement:
    """Check one network's record; a UsageError names the file, the network and the field."""
    def bad(reason: str) -> UsageError:
        return UsageError(f"{source}: {name}: {reason}; not an Accel-NASBench result file")

    if not isinstance(record, dict):
        raise bad(f"must be a JSON object, got {shown(record)}")
    arch, metrics, info = record.get("architecture"), record.get("metrics"), record.get("model_info")
    if not all(isinstance(x, dict) for x in (arch, metrics, info)):
        raise bad("needs the objects architecture, metrics and model_info")
    params: dict[str, Any] = {}
    for i in range(STAGES):
        e, k, layers, se = (arch.get(f"block{i}_{f}") for f in ("e", "k", "l", "se"))
        if not (e in (1, 4, 6) and k in (3, 5) and layers in ((1, 2, 3, 4) if i == 5 else (1, 2, 3))
                and isinstance(se, bool)) or any(isinstance(v, bool) for v in (e, k, layers)):
            raise bad(f"architecture block{i} ({shown(e)}, {shown(k)}, {shown(layers)}, {shown(se)}) is outside the "
                      f"space (e in 1, 4, 6; k in 3, 5; l in 1-3, 1-4 for block5; se true or false)")
        params.update({f"s{i}_expand_ratio": e, f"s{i}_kernel": k, f"s{i}_repeats": layers,
                       f"s{i}_se_ratio": 0.25 if se else 0.0})
    top1, macs, size = metrics.get("val_top1"), info.get("macs"), info.get("params")
    if not (_number(top1) and 0 <= top1 <= 100):
        raise bad(f"metrics.val_top1 must be a top-1 accuracy in [0, 100] (%), got {shown(top1)}")
    if not (_number(macs) and macs > 0 and _number(size) and size > 0):
        raise bad("model_info.macs and .params must be positive numbers (millions)")
    return Measurement(name, params, float(top1), float(macs), float(size))


def _json(data: bytes, name: str, source: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as err:
        raise UsageError(f"{source}: {name}: not valid JSON ({str(err).splitlines()[0][:100]})") from None


def load_measurements(path: str | Path) -> list[Measurement]:
    """Every network in the benchmark's archive (``.tar.gz``) or in a folder of its JSON files,
    sorted by name. Only regular ``result_*.json`` members are read; nothing is written to disk."""
    path = Path(path)
    found: dict[str, Any] = {}
    if path.is_dir():
        for file in sorted(path.glob("*.json")):
            if file.stem.startswith("result_"):
                found[file.stem] = _json(read_regular(file, MAX_MEMBER_BYTES, "a result file"), file.name, str(path))
    else:
        data = read_regular(path, MAX_ARCHIVE_BYTES, "an Accel-NASBench archive")
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
                total = 0
                for member in archive:
                    stem = Path(member.name).stem
                    if not (member.isfile() and member.name.endswith(".json") and stem.startswith("result_")):
                        continue
                    if member.size > MAX_MEMBER_BYTES or total + member.size > MAX_TOTAL_BYTES \
                            or len(found) >= MAX_NETWORKS:
                        raise UsageError(f"{path}: {member.name} is larger than any Accel-NASBench result file")
                    total += member.size
                    found[stem] = _json(archive.extractfile(member).read(), member.name, str(path))
        except (tarfile.TarError, EOFError, OSError) as err:
            raise UsageError(f"{path}: not a readable .tar.gz archive ({err}); give the benchmark's "
                             f"anb_dataset_jsons.tar.gz or the folder it unpacks to") from None
    if not found:
        raise UsageError(f"{path}: no result_*.json files: not Accel-NASBench's anb_dataset_jsons")
    return [measurement(name, found[name], str(path)) for name in sorted(found)]


def load_split(folder: str | Path) -> dict[str, set[str]]:
    """The authors' split (``default_split/{train,val,test}_paths.json``): network names per part."""
    folder = Path(folder)
    split = {}
    for part in SPLITS:
        file = folder / f"{part}_paths.json"
        paths = _json(read_regular(file, 16 * 2**20, "a split file"), file.name, str(folder))
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise UsageError(f"{file}: must be a JSON list of result file paths")
        split[part] = {Path(p).stem for p in paths}
    return split


def benchmark_macs(spec: NetworkSpec) -> int:
    """MACs as Accel-NASBench's ``model_info.macs`` counts them (x 1e6), from a spec of its space."""
    route = walk(spec)
    extra, size = 0, route.stem_size
    extra += 4 * spec.stem.out_channels * size * size
    for site in route.sites:
        block, cin, out = site.block, site.in_channels, site.out_size
        hidden = block.hidden_channels(cin)
        normed = (hidden * site.size**2 if hidden != cin else 0) + hidden * out**2 + block.out_channels * out**2
        extra += 4 * normed
        if block.se_ratio > 0:
            extra += hidden * out**2 + hidden
    head = spec.head.out_channels
    extra += 4 * head * route.head_size**2 + head * route.head_size**2 + head
    return analytic_count(spec).macs + extra
