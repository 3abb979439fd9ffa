"""All of a policy's rule conditions in one generated function, for the engine's hot path.

One call per decision instead of one per rule: `rules(v)` gives (matched, aside) as bit masks
(rule i is bit i). A rule is in `matched` when its native evaluation (cel_native) gave true;
it is in `aside` when that evaluation raised Delegate, gave something other than a bool, or
the expression is outside the native subset. The caller decides the `aside` rules exactly as
before, one by one (the native function, then the CEL library), so nothing changes but the
calls saved. The variables are read once at the top; each rule's statements are then
cel_native's, one level deeper inside its own `try`: a Delegate abandons that rule only.
The generated source holds only our own names and bit values; the expressions' literals and
field names go in as cel_native puts them (repr()).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from api.policy.cel_native import native_block, runtime

Rules = Callable[[Mapping[str, Any]], tuple[int, int]]


def compile_rules(sources: Sequence[str], raw: frozenset[str] = frozenset()) -> Rules:
    """One function deciding every condition in `sources` natively (see the module doc)."""
    lines = []
    shared: dict[str, str] = {}  # variable name -> its local, read once at the top
    for position, source in enumerate(sources):
        bit = 1 << position
        block = native_block(source, raw, shared)
        if block is None:  # outside the subset: always the library's
            lines.append(f"    aside |= {bit}")
            continue
        statements, result = block
        lines.append("    try:")
        lines.extend("    " + statement for statement in statements)
        lines.append(f"        r = {result}")  # a name: `is` with a literal would warn
        lines.append(f"        if r is True: matched |= {bit}")
        lines.append(f"        elif r is not False: aside |= {bit}")
        lines.append("    except Delegate:")
        lines.append(f"        aside |= {bit}")
    lines.append("    return matched, aside")
    reads = [f"    {local} = v.get({name!r}, MISSING)" for name, local in shared.items()]
    source = "\n".join(["def rules(v):", "    matched = 0", "    aside = 0", *reads, *lines])
    namespace = runtime()
    exec(compile(source + "\n", "<cel-rules>", "exec"), namespace)  # noqa: S102
    function: Rules = namespace["rules"]
    return function
