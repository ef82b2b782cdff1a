"""A gradient-boosted tree ensemble as plain data: what a surrogate file holds, and how it predicts.

A fitted model is kept as numbers only (per tree: split feature, threshold, children, leaf value),
never as a pickle: loading one parses JSON and checks every index, so a crafted file can neither run
code nor send the prediction loop out of bounds or round in circles (a child always comes after its
parent, so every walk ends). LightGBM, XGBoost and scikit-learn models convert to it through their
public dump formats; the conversion is exact (the tests compare predictions with the library's).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from scalesearch.errors import UsageError, shown

FORMAT = "scalesearch-trees"
VERSION = 1
#: How a split sends a sample left: LightGBM and scikit-learn test ``x <= t``, XGBoost ``x < t``.
RULES = ("<=", "<")
MAX_TREES = 100_000
MAX_NODES = 1_000_000


@dataclass(frozen=True)
class Tree:
    """Nodes in arrays; ``feature[i] == -1`` marks a leaf, whose prediction is ``value[i]``."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray

    def to_dict(self) -> dict[str, list]:
        return {"feature": self.feature.tolist(), "threshold": self.threshold.tolist(), "left": self.left.tolist(),
                "right": self.right.tolist(), "value": self.value.tolist()}


@dataclass(frozen=True)
class TreeEnsemble:
    """``base`` plus the sum of every tree's leaf for a sample of ``features``."""

    features: tuple[str, ...]
    base: float
    rule: str
    trees: tuple[Tree, ...]

    @cached_property
    def _packed(self) -> tuple[np.ndarray, ...]:
        """Every tree's arrays side by side (trees x nodes, padded with leaves of value 0) and the
        longest root-to-leaf walk: all trees then walk together, one level per step."""
        width = max(len(t.feature) for t in self.trees)
        packed = [np.full((len(self.trees), width), fill, dtype=dtype) for fill, dtype in
                  ((-1, np.int64), (0.0, np.float64), (0, np.int64), (0, np.int64), (0.0, np.float64))]
        depth = 0
        for i, tree in enumerate(self.trees):
            for array, values in zip(packed, (tree.feature, tree.threshold, tree.left, tree.right, tree.value)):
                array[i, :len(values)] = values
            level = np.zeros(len(tree.feature), dtype=np.int64)
            for node in range(len(tree.feature)):  # children come after their parent
                if tree.feature[node] >= 0:
                    level[tree.left[node]] = level[tree.right[node]] = level[node] + 1
            depth = max(depth, int(level.max()))
        return (*packed, depth)

    def predict(self, rows: np.ndarray, chunk: int = 2048) -> np.ndarray:
        """Predictions for a (samples x features) array."""
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != len(self.features):
            raise ValueError(f"expected samples x {len(self.features)} features, got shape {rows.shape}")
        feature, threshold, left, right, value, depth = self._packed
        trees = np.arange(len(self.trees))[None, :]
        out = np.empty(len(rows))
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            node = np.zeros((len(part), len(self.trees)), dtype=np.int64)
            for _ in range(depth):
                split = feature[trees, node]
                x = np.take_along_axis(part, np.maximum(split, 0), axis=1)
                limit = threshold[trees, node]
                goes_left = x <= limit if self.rule == "<=" else x < limit
                node = np.where(split >= 0, np.where(goes_left, left[trees, node], right[trees, node]), node)
            out[start:start + chunk] = self.base + value[trees, node].sum(axis=1)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "features": list(self.features), "base": self.base,
                "rule": self.rule, "trees": [t.to_dict() for t in self.trees]}

    @classmethod
    def from_dict(cls, data: Any, source: str) -> TreeEnsemble:
        """Check a decoded file field by field; a UsageError names the file and the first problem."""
        def bad(reason: str) -> UsageError:
            return UsageError(f"{source}: {reason}; not a surrogate model file (format {FORMAT!r})")

        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise bad(f"format must be {FORMAT!r}, got {shown(data.get('format') if isinstance(data, dict) else data)}")
        if data.get("version") != VERSION:
            raise bad(f"version must be {VERSION}, got {shown(data.get('version'))}")
        features = data.get("features")
        if not isinstance(features, list) or not features or not all(isinstance(f, str) for f in features):
            raise bad("features must be a non-empty list of names")
        base, rule, trees = data.get("base"), data.get("rule"), data.get("trees")
        if not (isinstance(base, (int, float)) and not isinstance(base, bool) and math.isfinite(base)):
            raise bad(f"base must be a finite number, got {shown(base)}")
        if rule not in RULES:
            raise bad(f"rule must be one of {RULES}, got {shown(rule)}")
        if not isinstance(trees, list) or not 1 <= len(trees) <= MAX_TREES:
            raise bad(f"trees must be a list of 1 to {MAX_TREES:,} trees")
        checked, nodes = [], 0
        for i, tree in enumerate(trees):
            try:
                checked.append(_tree(tree, len(features)))
            except ValueError as err:
                raise bad(f"trees[{i}]: {err}") from None
            nodes += len(checked[-1].feature)
            if nodes > MAX_NODES:
                raise bad(f"more than {MAX_NODES:,} nodes")
        return cls(tuple(features), float(base), rule, tuple(checked))


def _array(tree: dict[str, Any], name: str, kind: type, length: int | None) -> np.ndarray:
    values = tree.get(name)
    if not isinstance(values, list) or not values or (length is not None and len(values) != length):
        raise ValueError(f"{name} must be a list of {length or 'one or more'} numbers")
    if kind is int:
        ok = all(isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31 for v in values)
    else:
        ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)
    if not ok:
        raise ValueError(f"{name} must hold {'integers' if kind is int else 'finite numbers'} only")
    return np.asarray(values, dtype=np.int64 if kind is int else np.float64)


def _tree(tree: Any, features: int) -> Tree:
    if not isinstance(tree, dict) or set(tree) != {"feature", "threshold", "left", "right", "value"}:
        raise ValueError("must be a mapping of feature, threshold, left, right and value")
    feature = _array(tree, "feature", int, None)
    n = len(feature)
    threshold, value = _array(tree, "threshold", float, n), _array(tree, "value", float, n)
    left, right = _array(tree, "left", int, n), _array(tree, "right", int, n)
    inner = feature >= 0
    if (feature < -1).any() or (feature >= features).any():
        raise ValueError(f"a split feature is outside 0..{features - 1}")
    index = np.arange(n)
    # Children come after their parent and inside the tree: every walk from the root ends at a leaf.
    children = np.concatenate([left[inner], right[inner]])
    parents = np.concatenate([index[inner], index[inner]])
    if ((children <= parents) | (children >= n)).any():
        raise ValueError("a child index does not point forward inside the tree")
    return Tree(feature, threshold, left, right, value)


def _renumber(nodes: dict[Any, dict[str, Any]], root: Any) -> Tree:
    """A tree from ``{id: {"feature", "threshold", "left", "right"} or {"value"}}``, numbered
    breadth-first from ``root`` so that children follow their parent."""
    order, position = [root], {root: 0}
    for node_id in order:
        node = nodes[node_id]
        if "value" not in node:
            for child in (node["left"], node["right"]):
                position[child] = len(order)
                order.append(child)
    feature, threshold, left, right, value = [], [], [], [], []
    for node_id in order:
        node = nodes[node_id]
        leaf = "value" in node
        feature.append(-1 if leaf else int(node["feature"]))
        threshold.append(0.0 if leaf else float(node["threshold"]))
        left.append(-1 if leaf else position[node["left"]])
        right.append(-1 if leaf else position[node["right"]])
        value.append(float(node["value"]) if leaf else 0.0)
    return Tree(*(np.asarray(a) for a in (feature, threshold, left, right, value)))


def _lightgbm_nodes(node: dict[str, Any], nodes: dict[Any, dict[str, Any]]) -> int:
    """Number ``node`` and its subtree (LightGBM's nested dump) into ``nodes``; returns its id."""
    me = len(nodes)
    if "leaf_value" in node:
        nodes[me] = {"value": node["leaf_value"]}
        return me
    if node["decision_type"] != "<=":
        raise UsageError(f"LightGBM split {node['decision_type']!r} is not supported (numerical only)")
    nodes[me] = {}
    left, right = _lightgbm_nodes(node["left_child"], nodes), _lightgbm_nodes(node["right_child"], nodes)
    nodes[me] = {"feature": node["split_feature"], "threshold": node["threshold"], "left": left, "right": right}
    return me


def from_lightgbm(booster: Any, features: list[str]) -> TreeEnsemble:
    """A LightGBM ``Booster`` (numerical splits, no missing values) via ``dump_model()``."""
    trees = []
    for info in booster.dump_model()["tree_info"]:
        nodes: dict[Any, dict[str, Any]] = {}
        trees.append(_renumber(nodes, _lightgbm_nodes(info["tree_structure"], nodes)))
    return TreeEnsemble(tuple(features), 0.0, "<=", tuple(trees))


def _xgboost_nodes(node: dict[str, Any], nodes: dict[Any, dict[str, Any]]) -> None:
    """``node`` and its subtree (XGBoost's nested JSON dump) into ``nodes`` by node id."""
    if "leaf" in node:
        nodes[node["nodeid"]] = {"value": node["leaf"]}
        return
    nodes[node["nodeid"]] = {"feature": int(str(node["split"]).lstrip("f")), "threshold": node["split_condition"],
                             "left": node["yes"], "right": node["no"]}
    for child in node["children"]:
        _xgboost_nodes(child, nodes)


def from_xgboost(booster: Any, features: list[str]) -> TreeEnsemble:
    """An XGBoost ``Booster`` (feature names f0, f1, ...) via its JSON dump and its base score."""
    trees = []
    for text in booster.get_dump(dump_format="json"):
        nodes: dict[Any, dict[str, Any]] = {}
        _xgboost_nodes(json.loads(text), nodes)
        trees.append(_renumber(nodes, 0))
    base = json.loads(booster.save_config())["learner"]["learner_model_param"]["base_score"]
    return TreeEnsemble(tuple(features), float(str(base).strip("[]")), "<", tuple(trees))


def from_sklearn(model: Any, features: list[str]) -> TreeEnsemble:
    """A fitted scikit-learn ``GradientBoostingRegressor`` (squared error, constant initial guess)."""
    trees = []
    for (estimator,) in model.estimators_:
        t = estimator.tree_
        nodes = {i: ({"value": model.learning_rate * float(t.value[i].ravel()[0])} if t.children_left[i] == -1 else
                     {"feature": int(t.feature[i]), "threshold": float(t.threshold[i]),
                      "left": int(t.children_left[i]), "right": int(t.children_right[i])})
                 for i in range(t.node_count)}
        trees.append(_renumber(nodes, 0))
    return TreeEnsemble(tuple(features), float(np.ravel(model.init_.constant_)[0]), "<=", tuple(trees))
