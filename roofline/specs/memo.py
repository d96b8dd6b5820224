"""Caching what is derived from a spec: specs are immutable (frozen pydantic models), so a
figure computed from one (layer counts, parameter counts, a chip's compute dtype) can be
kept for as long as the spec object lives."""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

R = TypeVar("R")

#: Entries kept per cached function before it starts afresh (specs built on the fly, as in
#: property tests, would otherwise accumulate).
MAX_ENTRIES = 1024


def per_spec(fn: Callable[..., R]) -> Callable[..., R]:
    """Cache ``fn(spec, *args)`` by the spec's identity and the (hashable) arguments.

    The cache holds the spec itself, so its ``id`` cannot be reused while cached."""
    cache: dict[tuple[Hashable, ...], tuple[Any, R]] = {}

    @functools.wraps(fn)
    def cached(spec: Any, *args: Hashable) -> R:
        key = (id(spec), *args)
        hit = cache.get(key)
        if hit is not None and hit[0] is spec:
            return hit[1]
        if len(cache) >= MAX_ENTRIES:
            cache.clear()
        value = fn(spec, *args)
        cache[key] = (spec, value)
        return value

    return cached
