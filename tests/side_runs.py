"""Runs beside the other tests (a pytest plugin of conftest.py). Outside the contract run, whose two releases'
containers keep both cores busy, the suite alone keeps one core busy: its whole runs are single-threaded most of
the time, their trainings included (a tiny model's steps are small ops; benchmarks/RESULTS.md, the test suite).
The runs that are processes of their own and read nothing another test makes (registered with `@run`) run one
after another in one thread, started at the first test's set-up when a selected test reads them. The modules that
read them run after the others, in the order the runs were registered; the modules of the runs taking both cores
(BOTH_CORES) run before the readers of the last run, which is then still going: its one load beside their two.
A session that ends early (-x, Ctrl-C) waits for the run in progress: its process is not killed."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any

import pytest

# name -> prepare(request): makes the run's inputs in the main thread (fixtures, folders) and returns the call
# that does the run beside the tests; its result is `side_runs[name].result()`, its error raised there.
RUNS: dict[str, Callable[[pytest.FixtureRequest], Callable[[], Any]]] = {}
BOTH_CORES = ("contract_runs",)


def run(name: str):
    """Registers the decorated `prepare(request)` as the run `name` (a fixture of that name reads it)."""

    def register(prepare):
        RUNS[name] = prepare
        return prepare

    return register


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Whole modules move (a module's fixtures are set up once only while its tests are contiguous)."""
    ranks = {name: rank for rank, name in enumerate(RUNS, start=1)}
    modules: dict[str, float] = {}
    for item in items:
        names = set(item.fixturenames)
        rank = len(RUNS) - 0.5 if names & set(BOTH_CORES) else max((ranks[n] for n in names & set(RUNS)), default=0)
        modules[str(item.path)] = max(rank, modules.get(str(item.path), 0))
    items.sort(key=lambda item: modules[str(item.path)])  # stable: the collection's order within a rank


@pytest.fixture(scope="session", autouse=True)
def side_runs(request: pytest.FixtureRequest):
    wanted = [name for name in RUNS if any(name in item.fixturenames for item in request.session.items)]
    futures: dict[str, concurrent.futures.Future] = {}
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="side-run") as pool:
        for name in wanted:
            try:
                futures[name] = pool.submit(RUNS[name](request))
            except (Exception, pytest.fail.Exception, pytest.skip.Exception) as error:  # noqa: BLE001
                # a run that cannot start fails the tests that read it, not the session's first test
                futures[name] = concurrent.futures.Future()
                futures[name].set_exception(error)
        yield futures
        pool.shutdown(wait=True, cancel_futures=True)
