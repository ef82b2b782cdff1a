"""Load and save specs as YAML or JSON, and find the built-in bases in ``search_spaces/``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from scalesearch.arch.spec import NetworkSpec, Spec, ViTSpec
from scalesearch.errors import SpecError, UsageError, shown
from scalesearch.files import digest, write_atomic
from scalesearch.typed_data import decode, encode

SPEC_SUFFIXES = (".yaml", ".yml", ".json")


def search_spaces_dir() -> Path:
    """The folder of built-in data files: inside the installed package, else the source checkout's."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "search_spaces", here.parent / "search_spaces"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("search_spaces/ not found beside the scalesearch package")  # a broken install


def builtin_bases() -> dict[str, Path]:
    """Built-in base networks by name (the file stem)."""
    return {p.stem: p for p in sorted((search_spaces_dir() / "bases").glob("*.yaml"))}


class _DuplicateKey(ValueError):
    pass


def _unique(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    """A mapping from key-value pairs, refusing a key given twice (YAML and JSON would keep the last
    silently, so a typo'd copy of a field would win without a word)."""
    mapping: dict[Any, Any] = {}
    for key, value in pairs:
        if key in mapping:
            raise _DuplicateKey(f"the key {shown(key)} appears twice in one mapping")
        mapping[key] = value
    return mapping


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader (no Python objects), refusing duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        return _unique([(self.construct_object(k, deep=deep), self.construct_object(v, deep=deep))
                        for k, v in node.value])


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _StrictLoader.construct_mapping)


def read_data_file(path: Path) -> Any:
    """Parse a YAML or JSON file; a missing file or a syntax error is a one-line UsageError."""
    if path.suffix not in SPEC_SUFFIXES:
        raise UsageError(f"{path}: unsupported file type {path.suffix!r} (use one of {', '.join(SPEC_SUFFIXES)})")
    try:
        text = path.read_text()
    except OSError as err:
        raise UsageError(f"{path}: cannot read ({err.strerror or err})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a text file (a spec is YAML or JSON text)") from None
    try:
        if path.suffix == ".json":
            return json.loads(text, object_pairs_hook=_unique)
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except (json.JSONDecodeError, yaml.YAMLError, ValueError, RecursionError) as err:
        # ValueError: a 5,000-digit integer (Python's int/str limit); RecursionError: deep nesting.
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UsageError(f"{path}: not valid {path.suffix.lstrip('.').upper()}: {first_line[:200]}") from None


def spec_from_dict(data: Any, source: str | None = None) -> Spec:
    """Validate a plain mapping as a :class:`NetworkSpec`, or with ``kind: vit`` a :class:`ViTSpec`."""
    kind = ViTSpec if isinstance(data, dict) and data.get("kind") == "vit" else NetworkSpec
    try:
        return decode(kind, data)
    except SpecError as err:
        raise err.in_file(source) if source else err from None


def spec_to_dict(spec: NetworkSpec) -> dict[str, Any]:
    """A plain mapping that :func:`spec_from_dict` turns back into an equal spec."""
    return encode(spec)


def network_digest(spec: Spec) -> str:
    """A fingerprint of the network a spec builds, whatever its name and however it was derived: two
    choices of a search space that build the same network share it."""
    data = spec_to_dict(spec)
    return digest({k: v for k, v in data.items() if k not in ("name", "scaling")})[:16]


def load_spec(path: str | Path) -> NetworkSpec:
    """Load and validate a spec file (``.yaml``, ``.yml`` or ``.json``)."""
    path = Path(path)
    return spec_from_dict(read_data_file(path), source=str(path))


def save_spec(spec: NetworkSpec, path: str | Path) -> Path:
    """Write ``spec`` as YAML or JSON (by suffix); loading the file gives back an equal spec."""
    path = Path(path)
    data = spec_to_dict(spec)
    if path.suffix == ".json":
        text = json.dumps(data, indent=2) + "\n"
    elif path.suffix in (".yaml", ".yml"):
        text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)
    else:
        raise UsageError(f"{path}: unsupported file type {path.suffix!r} (use one of {', '.join(SPEC_SUFFIXES)})")
    return write_atomic(path, text)


def spec_file_name(spec: NetworkSpec, suffix: str = ".yaml", prefix: str = "") -> str:
    """A file name for ``spec`` that stays inside the folder it is joined to: its name reduced to
    letters, digits, '.', '_' and '-' (no path separators, no leading dot), at most 100 characters."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", spec.name).lstrip(".")[:100] or "network"
    return prefix + safe + suffix


def resolve_spec(name_or_path: str) -> NetworkSpec:
    """A built-in base by name, or a spec file by path."""
    bases = builtin_bases()
    if name_or_path in bases:
        return load_spec(bases[name_or_path])
    path = Path(name_or_path)
    if path.suffix in SPEC_SUFFIXES or path.exists():
        if not path.is_file():
            raise UsageError(f"spec file not found: {path}")
        return load_spec(path)
    raise UsageError(f"unknown base {name_or_path!r}: known bases are {', '.join(bases)}; "
                     f"or give a path to a .yaml/.json spec")


def resolve_specs(names: list[str]) -> list[NetworkSpec]:
    """Built-in names, spec files and folders of spec files (a folder's specs sorted by phi, then name)."""
    specs: list[NetworkSpec] = []
    for name in names:
        folder = Path(name)
        if folder.is_dir():
            found = [load_spec(p) for p in sorted(folder.iterdir()) if p.suffix in SPEC_SUFFIXES]
            if not found:
                raise UsageError(f"{folder}: no .yaml/.json spec files in this folder")
            specs += sorted(found, key=lambda s: (s.scaling.phi if s.scaling and s.scaling.phi is not None else 0.0,
                                                  s.name))
        else:
            specs.append(resolve_spec(name))
    return specs
