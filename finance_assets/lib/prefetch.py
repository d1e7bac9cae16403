"""Bounded prefetch: fetch the next items on worker threads while the caller processes the current one.

A step that fetches a document and then parses it leaves the rate limiter idle while it parses;
`prefetch` keeps up to `depth` fetches in flight ahead of the caller, so the limiter is busy while the
caller parses, and never more than `depth` fetched-but-unprocessed results are held (bounded memory).
Results come back in input order; an exception is raised when its item is reached.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def prefetch(
    items: Iterable[T], fetch: Callable[[T], R], *, depth: int = 2, thread_name: str = "prefetch"
) -> Iterator[tuple[T, R]]:
    """(item, fetch(item)) in input order, with up to `depth` fetches running ahead on `depth`
    threads; depth 0 fetches in the caller's thread, one at a time."""
    if depth < 0:
        raise ValueError(f"depth must be >= 0, got {depth}")
    if depth == 0:
        for item in items:
            yield item, fetch(item)
        return
    source = iter(items)
    pending: deque[tuple[T, Future]] = deque()
    with ThreadPoolExecutor(max_workers=depth, thread_name_prefix=thread_name) as pool:
        try:
            for item in source:
                pending.append((item, pool.submit(fetch, item)))
                if len(pending) > depth:
                    done_item, future = pending.popleft()
                    yield done_item, future.result()
            while pending:
                done_item, future = pending.popleft()
                yield done_item, future.result()
        finally:
            for _, future in pending:  # the caller stopped early or a fetch failed: drop the rest
                future.cancel()
