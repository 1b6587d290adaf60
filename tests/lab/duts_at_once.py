"""Run one independent experiment on several DUTs of a lab at the same time: a thread
per DUT, each with its own console and a peer hearing only that DUT (bench_for), so
timer-bound experiments overlap instead of adding up (hilbench run does the same)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from bench.inventory import Inventory
from tests.lab.judgekit import Bench, bench_for

T = TypeVar("T")


def on_each(lab: Inventory, names: list[str], out: Path,
            check: Callable[[Bench], T]) -> dict[str, T]:
    """check(bench) on every DUT in `names` at once (own folder `out/<name>`); the
    first failure is raised, naming its DUT, after every thread has finished."""
    def one(name: str) -> T:
        with bench_for(lab, name, out / name) as bench:
            return check(bench)

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        futures = {name: pool.submit(one, name) for name in names}
    for name, future in futures.items():
        exc = future.exception()
        if exc is not None:
            exc.add_note(f"on DUT {name}")
            raise exc
    return {name: future.result() for name, future in futures.items()}
