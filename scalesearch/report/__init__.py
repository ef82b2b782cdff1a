"""Everything users read: :mod:`.terminal` (rich tables, progress, one JSON document with
``--json``, one-line errors), :mod:`.markdown` (reports on disk) and :mod:`.plots` (their PNG
figures), with :mod:`.words` for how numbers are written in both."""

from scalesearch.report.markdown import (
    check_bench_report,
    finalist_lines,
    write_bench_report,
    write_compare_report,
    write_family_report,
    write_search_report,
    write_self_train_report,
)
from scalesearch.report.plots import grid_heatmap as write_grid_heatmap
from scalesearch.report.terminal import (
    count_record,
    emit,
    err_console,
    error_line,
    log,
    print_bases,
    print_bench,
    print_compare,
    print_count,
    print_family,
    print_json,
    print_pipeline,
    print_scale,
    print_search,
    print_self_train,
    progress,
    scale_record,
)
from scalesearch.report.words import norm_words

__all__ = [
    "check_bench_report", "count_record", "emit", "err_console", "error_line", "finalist_lines", "log", "norm_words",
    "print_bases", "print_bench",
    "print_compare", "print_count", "print_family", "print_json", "print_pipeline", "print_scale", "print_search",
    "print_self_train", "progress", "scale_record", "write_bench_report", "write_compare_report",
    "write_family_report", "write_grid_heatmap", "write_search_report", "write_self_train_report",
]
