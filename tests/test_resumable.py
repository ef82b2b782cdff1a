"""Results files resume under the same settings and refuse others, never overwriting them."""

from __future__ import annotations

import json

import pytest

from scalesearch.errors import UsageError
from scalesearch.resumable import ResultsFile


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
