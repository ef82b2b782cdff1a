"""Results files resume under the same settings and refuse others, never overwriting them."""

from __future__ import annotations

import json

import pytest

from scalesearch.errors import UsageError
from scalesearch.resumable import FIELD_KINDS, ResultsFile


def test_a_new_optional_setting_left_unset_resumes_and_a_changed_one_is_refused(tmp_path):
    path = tmp_path / "r.json"
    first = ResultsFile(path, {"seeds": [0, 1], "recipe": {"lr": 0.1}})
    first.add("a", {"val_top1": 0.5})
    # a field added since (None: unset) is the same settings: the row is kept
    again = ResultsFile(path, {"seeds": [0, 1], "recipe": {"lr": 0.1, "patch": None}})
    assert again.rows == {"a": {"val_top1": 0.5}}
    for other in ({"seeds": [0, 1], "recipe": {"lr": 0.1, "patch": 4}}, {"seeds": [0], "recipe": {"lr": 0.1}}):
        with pytest.raises(UsageError, match="holds results made with another"):
            ResultsFile(path, other)
    assert json.loads(path.read_text())["rows"] == {"a": {"val_top1": 0.5}}  # never overwritten


def _fill(path, prefix: str, rows: int) -> None:
    results = ResultsFile(path, {"seeds": [0]})
    for i in range(rows):
        results.add(f"{prefix}{i}", {"i": i})


def test_processes_filling_one_file_side_by_side_keep_each_others_rows(tmp_path):
    import multiprocessing

    path = tmp_path / "r.json"
    a, b = ResultsFile(path, {"seeds": [0]}), ResultsFile(path, {"seeds": [0]})  # both opened before any row
    a.add("a", {"x": 1})
    b.add("b", {"x": 2})  # b never saw a's row in memory, and keeps it on disk
    a.update(summary="done")
    assert set(json.loads(path.read_text())["rows"]) == {"a", "b"}
    a.change("b", lambda row: row.update(y=3))  # edits b's row as b saved it, not a stale copy
    assert json.loads(path.read_text())["rows"]["b"] == {"x": 2, "y": 3}
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_fill, args=(path, p, 200)) for p in ("p", "q")]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
        assert w.exitcode == 0
    document = json.loads(path.read_text())
    assert len(document["rows"]) == 402 and document["summary"] == "done"


@pytest.mark.parametrize("kind, good, bad", [
    ("a number", [0, 1.5, -2], [None, True, float("nan"), float("inf"), "1"]),
    ("a number or null", [None, 0, 0.25], [True, float("nan"), "x"]),
    ("an integer", [0, 7], [True, 1.0, None]),
    ("a bool", [True, False], [0, None]),
    ("text", ["", "b0"], [0, None]),
    ("a mapping", [{}], [[], None]),
    ("a list", [[]], [{}, None]),
])
def test_each_field_kind_admits_what_it_names(kind, good, bad):
    test = FIELD_KINDS[kind]
    assert all(test(v) for v in good) and not any(test(v) for v in bad)


def test_a_changed_setting_is_named_and_a_new_file_makes_its_folders(tmp_path):
    path = tmp_path / "a/b/results.json"  # folders that do not exist yet
    settings = {"lr": 0.1, "epochs": 2, "data": {"kind": "cifar10", "images": 1000}, "wd": 0.05}
    ResultsFile(path, settings).add("x", {"v": 1})
    # Only the setting that differs is named: equal values read back from the file are other objects.
    with pytest.raises(UsageError, match=r"holds results made with another lr: "):
        ResultsFile(path, {**settings, "lr": 0.2, "data": {"kind": "cifar10", "images": 1000}})


def test_a_long_bad_value_is_cut_in_the_message(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"settings": {}, "rows": {"k": {"name": "n" * 500}}}))
    with pytest.raises(UsageError) as info:
        ResultsFile(path, {}, row_schema={"name": "an integer"})
    assert f"field 'name' must be an integer, got \"{'n' * 59}; remove that row" in str(info.value)


@pytest.mark.parametrize("content, what", [("[]", "its document is not a mapping"),
                                           ('{"settings": {}, "rows": []}', "its rows are not a mapping")])
def test_a_results_file_of_the_wrong_shape_says_which_part(content, what, tmp_path):
    (tmp_path / "r.json").write_text(content)
    with pytest.raises(UsageError, match=f"not a results file \\({what}\\)"):
        ResultsFile(tmp_path / "r.json", {})


def test_a_file_past_its_limit_is_refused_naming_the_limit_in_mib(tmp_path):
    from scalesearch.files import read_regular

    big = tmp_path / "big.json"
    big.write_bytes(b"0" * (2 * 2**20 + 1))
    with pytest.raises(UsageError, match=r"big.json: larger than 2 MiB, more than a results file can be$"):
        read_regular(big, 2 * 2**20, "a results file")
    assert read_regular(big, 2 * 2**20 + 1, "a results file") == b"0" * (2 * 2**20 + 1)  # at the limit: read
    with pytest.raises(UsageError, match="larger than 2 MiB"):  # past an odd limit: refused, never cut, named whole
        read_regular(big, 2 * 2**20 - 1, "a results file")


def test_a_run_lock_makes_its_nested_run_folder(tmp_path):
    from scalesearch.files import RUN_LOCK, run_lock

    with run_lock(tmp_path / "runs" / "first"):
        assert (tmp_path / "runs" / "first" / RUN_LOCK).is_file()


def test_a_new_file_takes_the_umasks_mode_and_a_replaced_one_keeps_its_own(tmp_path):
    import os

    from scalesearch.files import write_atomic

    before = os.umask(0o027)
    try:
        assert write_atomic(tmp_path / "new.txt", "a").stat().st_mode & 0o7777 == 0o640
        (tmp_path / "kept.txt").write_text("old")
        (tmp_path / "kept.txt").chmod(0o604)
        assert write_atomic(tmp_path / "kept.txt", "b").stat().st_mode & 0o7777 == 0o604
    finally:
        os.umask(before)


def test_a_lock_that_cannot_be_opened_is_one_line_naming_the_cause(tmp_path):
    import os
    import resource

    from scalesearch.files import run_lock

    (tmp_path / "run").mkdir()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    fds = [os.open(os.devnull, os.O_RDONLY)]
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (fds[0] + 1, hard))  # no descriptor left for the lock
        with pytest.raises(UsageError, match=r"^cannot use .*/run/\.lock: Too many open files$"):
            with run_lock(tmp_path / "run"):
                pass
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        for fd in fds:
            os.close(fd)
