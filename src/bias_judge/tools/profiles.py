"""Profiles: named sets of params values (profiles/NAME.yaml) merged onto params.yaml.

Every value stays an ordinary tracked param in params.yaml, so `dvc repro`, `dvc params diff`
and `dvc exp` see a profile switch as the param changes it is. The merge edits params.yaml in
place, keeping its comments and layout, and validates the result before writing anything.
"""

from __future__ import annotations

import os
from pathlib import Path

from bias_judge.core.errors import InputError
from bias_judge.core.jsonio import atomic_open, read_text
from bias_judge.core.params import load_yaml


def available(profiles_dir: str | os.PathLike) -> list[str]:
    d = Path(profiles_dir)
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def _read_yaml(path: Path) -> tuple[str, object]:
    """(text, data). The text keeps its line endings (CRLF too): params.yaml is rewritten
    from it, and a rewrite must change the values it changes and nothing else."""
    import yaml
    text = read_text(path)
    try:
        return text, load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"not valid YAML ({getattr(exc, 'problem', exc)})", file=str(path),
                         line=None if mark is None else mark.line + 1) from None


def profile_path(name: str, profiles_dir: str | os.PathLike) -> Path:
    """profiles/NAME.yaml for a profile that exists. NAME is a name, never a path: one like
    `../x` must not read a file from outside the profiles folder."""
    known = available(profiles_dir)
    if name not in known:
        raise InputError(f"no profile '{name}' (available: {', '.join(known) or 'none'})",
                         file=str(Path(profiles_dir) / f"{name}.yaml"))
    return Path(profiles_dir) / f"{name}.yaml"


def load_profile(name: str, profiles_dir: str | os.PathLike) -> dict:
    path = profile_path(name, profiles_dir)
    data = _read_yaml(path)[1] or {}
    if not isinstance(data, dict):
        raise InputError("a profile is a mapping of params sections", file=str(path))
    return data


def leaf_keys(tree: dict, prefix: str = "") -> set[str]:
    """Dotted paths of the non-mapping values of `tree`."""
    out = set()
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v and not _open_mapping(key.split(".")):
            out |= leaf_keys(v, key + ".")
        else:
            out.add(key)
    return out


def _node(root, path: list[str]):
    """The YAML node at `path` (keys) below a composed mapping node."""
    return _entry(root, path)[1]


def _entry(root, path: list[str]):
    """(key node, value node) at `path` below a composed mapping node; (None, None) if absent."""
    key_node, node = None, root
    for key in path:
        key_node, node = next(((k, v) for k, v in node.value if k.value == key), (None, None))
        if node is None:
            return None, None
    return key_node, node


def _span(text: str, key_node, node) -> tuple[int, int, str]:
    """Where to write a new value for `node`, and the separator before it. A block collection
    starts on the line below its key and its end mark includes the line break, so it is
    replaced from just after the key's colon up to its last character, keeping the break."""
    import yaml

    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and not node.flow_style:
        start = text.index(":", key_node.end_mark.index) + 1
        end = start + len(text[start:node.end_mark.index].rstrip())
        return start, end, " "
    return node.start_mark.index, node.end_mark.index, ""


def _flow(value) -> str:
    import yaml
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 30).strip()
    return text[:-3].strip() if text.endswith("...") else text


def _open_mapping(path: list[str]) -> bool:
    """True when the params schema makes the mapping at `path` a free name -> value table
    (like `eval.human_sets`): a profile replaces such a table whole instead of merging keys."""
    from bias_judge.core.schema import load_schema

    node = load_schema("params")
    for key in path:
        node = (node.get("properties") or {}).get(key)
        if not isinstance(node, dict):
            return False
    return isinstance(node.get("additionalProperties"), dict)


def _merge(target: dict, overlay: dict, path: list[str], found: list, source: str) -> None:
    for key, value in overlay.items():
        dotted = ".".join(path + [key])
        if not isinstance(target, dict) or key not in target:
            raise InputError(f"profile sets '{dotted}', which params.yaml does not have",
                             file=source, field=dotted)
        if (isinstance(value, dict) and value and isinstance(target[key], dict)
                and not _open_mapping(path + [key])):
            _merge(target[key], value, path + [key], found, source)
        elif target[key] != value:
            target[key] = value
            found.append(path + [key])


def apply_profile(name: str, params_path: str | os.PathLike, profiles_dir: str | os.PathLike,
                  write: bool = True) -> list[str]:
    """Merge profiles/NAME.yaml onto params.yaml; returns the dotted keys that changed.

    Only the changed values are rewritten, in place, each in the profile file's own spelling,
    so comments and layout stay and switching back restores the file byte for byte. The
    merged params are validated whole first: an invalid result leaves params.yaml untouched."""
    import yaml

    from bias_judge.core.params import validate_params

    path = profile_path(name, profiles_dir)
    profile = load_profile(name, profiles_dir)
    profile_text = read_text(path)
    params_path = Path(params_path)
    if not params_path.is_file():
        raise InputError("params file not found", file=str(params_path))
    text, params = _read_yaml(params_path)
    changed: list[list[str]] = []
    _merge(params, profile, [], changed, str(path))
    validate_params(params, source=f"{params_path} + profile {name}")
    if not changed:
        return []
    params_root, profile_root = yaml.compose(text), yaml.compose(profile_text)
    edits = []
    for path in changed:
        old_key, old = _entry(params_root, path)
        new = _node(profile_root, path)
        spelled = profile_text[new.start_mark.index:new.end_mark.index]
        value = _value_at(profile, path)
        replacement = spelled if isinstance(new, yaml.ScalarNode) and "\n" not in spelled else _flow(value)
        start, end, sep = _span(text, old_key, old)
        edits.append((start, end, sep + replacement))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    try:
        reread = load_yaml(text)
    except yaml.YAMLError:
        reread = None
    if reread != params:  # an edit that YAML reads differently: refuse, write nothing
        raise InputError("cannot rewrite these values in place; edit params.yaml by hand",
                         file=str(params_path))
    if write:
        with atomic_open(params_path) as fh:
            fh.write(text)
    return [".".join(p) for p in changed]


def _value_at(tree: dict, path: list[str]):
    for key in path:
        tree = tree[key]
    return tree


def matching(params_path: str | os.PathLike, profiles_dir: str | os.PathLike) -> list[str]:
    """The profiles whose every value params.yaml already has."""
    return [n for n in available(profiles_dir)
            if not apply_profile(n, params_path, profiles_dir, write=False)]
