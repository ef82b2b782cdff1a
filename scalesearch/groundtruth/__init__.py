"""Ground truth for judging a search: public NAS benchmarks, read as data.

* :mod:`.nas_bench_macro`: NAS-Bench-Macro's table (every network of its space trained on CIFAR-10
  with 3 seeds), looked up by network.
* :mod:`.accel_nasbench`: Accel-NASBench's measurements (networks of EfficientNet-B0's space trained
  on ImageNet) and the way it counts MACs.
* :mod:`.trees` and :mod:`.surrogate`: a gradient-boosted model fitted on measured networks, kept as
  plain data (no pickle), that predicts the accuracy of any network of the space.

The search reads them through its evaluators (:mod:`scalesearch.search.evaluators`).
"""
