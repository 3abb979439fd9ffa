"""Safe YAML reading that keeps line numbers and parses every number as a Decimal."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_STR = "tag:yaml.org,2002:str"


class YamlProblem(Exception):
    """The bytes are not the YAML we accept; carries the path and 1-based line."""

    def __init__(self, path: str, message: str, line: int | None) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.line = line


def read_yaml(text: str | bytes) -> tuple[Any, dict[str, int]]:
    """Parse one YAML document; return its value and a map of dotted path -> line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise YamlProblem("", f"not valid YAML: {exc.problem}", line) from None
    except yaml.YAMLError as exc:
        raise YamlProblem("", f"not valid YAML: {exc}", None) from None
    lines: dict[str, int] = {}
    if node is None:
        return None, lines
    return _value(node, "", lines), lines


def child(path: str, key: str | int) -> str:
    """The dotted path of a key (or list index) under `path`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _value(node: yaml.Node, path: str, lines: dict[str, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                raise YamlProblem(path, "keys must be plain strings", key_node.start_mark.line + 1)
            if key in result:
                raise YamlProblem(child(path, key), "duplicate key", key_node.start_mark.line + 1)
            result[key] = _value(value_node, child(path, key), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_value(item, child(path, i), lines) for i, item in enumerate(node.value)]
    return _scalar(node, path)


def _scalar(node: yaml.Node, path: str) -> Any:
    tag, text = node.tag, node.value
    if tag in (_INT, _FLOAT):
        try:
            number = Decimal(text.replace("_", ""))
        except InvalidOperation:
            return text
        return number if number.is_finite() else text
    if tag == _BOOL:
        return text.lower() in ("true", "yes", "on", "y")
    if tag == _NULL:
        return None
    if tag == _STR:
        return text
    raise YamlProblem(path, f"unsupported YAML tag {tag}", node.start_mark.line + 1)
