"""YAML as Spine reads it: every file (config, sweep) and every ``--set`` value goes through here.

``read_yaml_file(path, what)`` and ``parse_yaml(text, where)`` refuse, each with one
``ConfigError`` naming the file (or flag), the line or key path, the value and what is
expected, before anything is built from the document:

- a file larger than ``MAX_YAML_BYTES``, or not UTF-8 (the byte and its offset);
- YAML that does not parse, or a tag that is not plain data (``!!python/...``);
- aliases that expand to more than ``MAX_YAML_VALUES`` values (an alias bomb is counted
  on the composed node graph, never expanded);
- nesting deeper than ``MAX_YAML_DEPTH`` levels;
- a key written twice in one mapping (YAML would silently keep the last one);
- ``.inf`` or ``.nan`` anywhere: every number Spine reads is finite.

Values in messages are cut short (``shown``), so a message never renders an unbounded object.
"""

from __future__ import annotations

import itertools
import reprlib
from pathlib import Path
from typing import Any

import yaml

from spine.core.errors import ConfigError

MAX_YAML_BYTES = 256 * 1024  # a config or sweep file is a few kilobytes; anything this big is not one
MAX_YAML_VALUES = 10_000  # values after expanding aliases
MAX_YAML_DEPTH = 32  # levels of nested mappings and lists
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _ShortRepr(reprlib.Repr):
    """``reprlib`` with mappings in their written order (``reprlib`` sorts them)."""

    def repr_dict(self, x: dict[Any, Any], level: int) -> str:
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        pairs = [
            f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}"
            for k, v in itertools.islice(x.items(), self.maxdict)
        ]
        return "{" + ", ".join(pairs) + (", ..." if len(x) > self.maxdict else "") + "}"


def shown(value: Any, limit: int = 120) -> str:
    """A value for a message, never longer than ``limit`` characters, however large the value."""
    short = _ShortRepr()
    short.maxstring = short.maxother = limit
    short.maxlevel, short.maxlist, short.maxdict, short.maxset, short.maxtuple = 3, 6, 6, 6, 6
    text = short.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_yaml_file(path: Path, what: str = "YAML file") -> Any:
    """The document in ``path`` (None when empty); ``what`` names the kind of file in messages."""
    if not path.is_file():
        kind = "a folder" if path.is_dir() else "not found"
        raise ConfigError(f"{path}: {what} {kind}; expected a YAML file here")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file: {exc.strerror}") from None
    if len(raw) > MAX_YAML_BYTES:
        raise ConfigError(f"{path}: file is {len(raw):,} bytes; expected a {what} of at most {MAX_YAML_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); expected a UTF-8 {what}"
        ) from None
    return parse_yaml(text, str(path))


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing nesting past ``MAX_YAML_DEPTH`` while it composes (never recursing deep)."""

    def __init__(self, stream: str, where: str) -> None:
        super().__init__(stream)
        self.where, self.depth = where, 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_YAML_DEPTH + 1:
                line = self.peek_event().start_mark.line + 1
                raise ConfigError(
                    f"{self.where} line {line}: YAML nested more than {MAX_YAML_DEPTH} levels deep; "
                    "expected a few levels of sections and lists"
                )
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self.depth -= 1


def parse_yaml(text: str, where: str) -> Any:
    """One YAML document from ``text``; ``where`` (a file, or ``--set KEY``) starts every message."""
    if len(text) > MAX_YAML_BYTES:
        raise ConfigError(f"{where}: {len(text):,} characters of YAML; expected at most {MAX_YAML_BYTES:,}")
    try:
        loader = _Loader(text, where)
    except yaml.reader.ReaderError as exc:
        raise ConfigError(
            f"{where}: not valid YAML: character {exc.character:#06x} at offset {exc.position} is not allowed; "
            "expected printable text"
        ) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node, where)
        _check_tree(node, where)
        return loader.construct_document(node)
    except yaml.reader.ReaderError as exc:
        raise ConfigError(
            f"{where}: not valid YAML: character {exc.character:#06x} at offset {exc.position} is not allowed; "
            "expected printable text"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())[:200]
        raise ConfigError(f"{where}: not valid YAML{at}: {problem}; expected plain YAML data") from None
    except RecursionError:
        raise ConfigError(
            f"{where}: YAML nested too deeply; expected at most {MAX_YAML_DEPTH} levels of sections and lists"
        ) from None
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_size(root: yaml.Node, where: str) -> None:
    """Count the values the document expands to (aliases included) without expanding it."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if not done:
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        sizes[id(node)] = total = 1 + sum(sizes.get(id(child), 1) for child in children)
        if total > MAX_YAML_VALUES:
            raise ConfigError(
                f"{where}: YAML aliases expand to more than {MAX_YAML_VALUES:,} values; "
                "expected plain data (an alias bomb is refused, not expanded)"
            )


def _check_tree(root: yaml.Node, where: str) -> None:
    """Depth, keys written twice, non-finite numbers: walked over at most ``MAX_YAML_VALUES`` nodes."""
    stack: list[tuple[yaml.Node, str, int]] = [(root, "", 0)]
    while stack:
        node, keys, depth = stack.pop()
        line = node.start_mark.line + 1
        if depth > MAX_YAML_DEPTH:
            raise ConfigError(
                f"{where} line {line}: {keys or '(top level)'}: nested more than {MAX_YAML_DEPTH} levels deep; "
                "expected a few levels of sections and lists"
            )
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _FLOAT_TAG and node.value.lower().lstrip("+-") in (".inf", ".nan"):
                raise ConfigError(
                    f"{where} line {line}: {keys or '(top level)'} = {node.value}: expected a finite number"
                )
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((child, f"{keys}[{i}]", depth + 1) for i, child in enumerate(node.value))
        elif isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if key.tag == _MERGE_TAG:
                    stack.append((value, keys, depth + 1))
                    continue
                name = str(key.value) if isinstance(key, yaml.ScalarNode) else shown(key.value, 40)
                path = f"{keys}.{name}" if keys else name
                same = (key.tag, name)
                if same in seen:
                    raise ConfigError(
                        f"{where} line {key.start_mark.line + 1}: {path} is written twice (first at line {seen[same]}); "
                        "expected each key once (YAML would silently keep the last)"
                    )
                seen[same] = key.start_mark.line + 1
                stack.append((value, path, depth + 1))
