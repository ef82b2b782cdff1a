"""Do the benchmark spaces build the benchmarks' networks? MACs and params of every network, ours
against the benchmarks' own records.

Run:  python benchmarks/benchmark_macs.py --table PATH/nas-bench-macro_cifar10.json
          --anb PATH/anb_dataset_jsons.tar.gz
* NAS-Bench-Macro: all 6,561 keys built from search_spaces/nas-bench-macro.yaml; our analytic MACs
  against the table's `flops` (a count of convolution and linear multiply-adds, what
  scalesearch counts) and our params against its `params`.
* Accel-NASBench: all 5,138 measured networks built from search_spaces/accel-nasbench.yaml; our
  params against `model_info.params`, and its `model_info.macs` against our count plus what it adds
  (scalesearch.groundtruth.accel_nasbench.benchmark_macs: 4 operations per batch-norm output,
  the squeeze-excite rescaling and the global pool); also how far EfficientNet's count (ours) lies
  below the benchmark's, and EfficientNet-B0's point of the space against our efficientnet-b0.
Cost: about 30 s. Writes benchmarks/results/benchmark_macs.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scalesearch.arch.io import resolve_spec  # noqa: E402
from scalesearch.files import write_json  # noqa: E402
from scalesearch.groundtruth.accel_nasbench import benchmark_macs, load_measurements  # noqa: E402
from scalesearch.groundtruth.nas_bench_macro import MacroTable  # noqa: E402
from scalesearch.measure.flops import analytic_count  # noqa: E402
from scalesearch.search.space import load_space  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", required=True)
    parser.add_argument("--anb", required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/benchmark_macs.json")
    args = parser.parse_args()
    table = MacroTable.load(args.table)
    space = load_space("nas-bench-macro")
    dims = list(space.dimensions())
    macs_diff, params_diff = [], []
    for key, record in table.records.items():
        count = analytic_count(space.candidate({d: int(c) for d, c in zip(dims, key)}))
        macs_diff.append(abs(count.macs / record.macs - 1))
        params_diff.append(abs(count.params / record.params - 1))
    macro = {"networks": len(table.records), "table_sha256": table.digest,
             "max_relative_difference_macs": max(macs_diff), "max_relative_difference_params": max(params_diff),
             "equal_macs": sum(d == 0 for d in macs_diff), "equal_params": sum(d == 0 for d in params_diff)}
    space = load_space("accel-nasbench")
    measured = load_measurements(args.anb)
    theirs, params, below = [], [], []
    for m in measured:
        spec = space.candidate(m.params)
        count = analytic_count(spec)
        theirs.append(abs(benchmark_macs(spec) / (m.macs_m * 1e6) - 1))
        params.append(abs(count.params / (m.params_m * 1e6) - 1))
        below.append(1 - count.macs / (m.macs_m * 1e6))
    b0 = resolve_spec("efficientnet-b0")
    point = space.candidate(space.params_of(b0))
    accel = {"networks": len(measured), "max_relative_difference_params": max(params),
             "max_relative_difference_benchmark_macs": max(theirs),
             "efficientnet_count_below_benchmark": {"min": min(below), "median": statistics.median(below),
                                                    "max": max(below)},
             "b0_point": {"macs": analytic_count(point).macs, "params": analytic_count(point).params,
                          "equals_efficientnet_b0": analytic_count(point) == analytic_count(b0)
                          and point.stages == b0.stages, "benchmark_macs": benchmark_macs(point)}}
    write_json(args.out, {"benchmark": "benchmark_macs", "measured": time.strftime("%Y-%m-%d"),
                          "nas_bench_macro": macro, "accel_nasbench": accel})
    print(macro, accel, sep="\n")


if __name__ == "__main__":
    main()
