"""Hypothesis strategies for arbitrary JSON and helpers to splice values into a document by JSON
pointer: shared by the parser fuzz tests and the schema-validator differential tests."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def pointers(doc: Any, prefix: str = "") -> list[str]:
    """Every JSON pointer into ``doc`` (the root excluded)."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += pointers(v, prefix + "/" + k.replace("~", "~0").replace("/", "~1"))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += pointers(v, f"{prefix}/{i}")
    return out


def replace_at(doc: Any, pointer: str, value: Any) -> Any:
    """A copy of ``doc`` with the value at ``pointer`` replaced."""
    doc = copy.deepcopy(doc)
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]
    node = doc
    for t in tokens[:-1]:
        node = node[int(t)] if isinstance(node, list) else node[t]
    last: Any = int(tokens[-1]) if isinstance(node, list) else tokens[-1]
    node[last] = value
    return doc
