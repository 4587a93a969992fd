"""The measurements: the same sequence of operations for every library, timed with
:func:`time.perf_counter`, medians over repetitions, under a time budget per cell.

A *cell* is one operation at one size for one library. Each cell either holds a median
(``ok``), or says why not: ``fails`` (the library raised; the error is kept),
``skipped`` (its predicted time is over the budget, or an earlier step it needs
failed) or ``n/a`` (the library does not offer the operation).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from benches.adapters import Adapter, Unsupported

#: Operation names, shared with the native (criterion) benchmarks and the tables.
KEY_PACKAGE = "key_package"
CREATE_ADD = "create_add"
JOIN = "join"
SELF_UPDATE = "self_update"
PROCESS_UPDATE = "process_update"
REMOVE = "remove"
PROCESS_REMOVE = "process_remove"
ENCRYPT_SMALL = "encrypt_100"
DECRYPT_SMALL = "decrypt_100"
ENCRYPT_LARGE = "encrypt_1mib"
DECRYPT_LARGE = "decrypt_1mib"
WELCOME_SIZE = "welcome_size"
ADD_COMMIT_SIZE = "add_commit_size"
UPDATE_COMMIT_SIZE = "update_commit_size"
SCALE_ADD = "scale_add_one"
SCALE_UPDATE = "scale_self_update"
SCALE_PROCESS = "scale_process_update"

#: Human names for the tables.
TITLES = {
    KEY_PACKAGE: "key package generation",
    CREATE_ADD: "create group + add N members (one commit)",
    JOIN: "join from the Welcome (new member)",
    SELF_UPDATE: "self-update commit",
    PROCESS_UPDATE: "process the self-update (other member)",
    REMOVE: "remove one member (commit)",
    PROCESS_REMOVE: "process the remove (other member)",
    ENCRYPT_SMALL: "encrypt 100 B (per message)",
    DECRYPT_SMALL: "decrypt 100 B (per message)",
    ENCRYPT_LARGE: "encrypt 1 MiB",
    DECRYPT_LARGE: "decrypt 1 MiB",
    WELCOME_SIZE: "Welcome size",
    ADD_COMMIT_SIZE: "add commit size",
    UPDATE_COMMIT_SIZE: "self-update commit size",
    SCALE_ADD: "add one member (commit)",
    SCALE_UPDATE: "self-update commit",
    SCALE_PROCESS: "process the self-update",
}

#: Group operations (overhead target: a ratio) and message operations (a time per call).
GROUP_OPERATIONS = (
    KEY_PACKAGE,
    CREATE_ADD,
    JOIN,
    SELF_UPDATE,
    PROCESS_UPDATE,
    REMOVE,
    PROCESS_REMOVE,
)
MESSAGE_OPERATIONS = (ENCRYPT_SMALL, DECRYPT_SMALL, ENCRYPT_LARGE, DECRYPT_LARGE)
SIZE_OPERATIONS = (WELCOME_SIZE, ADD_COMMIT_SIZE, UPDATE_COMMIT_SIZE)
LARGE_MESSAGE = 1 << 20
SMALL_MESSAGE = 100


@dataclass
class Cell:
    """One operation at one size for one library."""

    operation: str
    size: int
    library: str
    suite: int
    status: str  # ok | fails | skipped | n/a
    #: Median seconds per operation, or bytes for the size rows.
    median: float | None = None
    runs: int = 0
    note: str = ""
    samples: list[float] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.library} 0x{self.suite:04x}"


@dataclass(frozen=True)
class Settings:
    """What to measure and how long to spend on it."""

    add_sizes: Sequence[int] = (10, 100, 1000)
    group_size: int = 100
    scaling_sizes: Sequence[int] = (10, 50, 100, 500, 1000, 2000, 5000)
    #: Repetitions of an operation (fewer at big sizes, see `runs_for`).
    runs: int = 9
    #: Small messages are timed in batches of this many, `runs` batches.
    batch: int = 50
    #: Seconds one cell may take; a cell predicted to take longer is skipped.
    budget: float = 20.0

    def runs_for(self, size: int) -> int:
        if size >= 2000:
            return max(1, min(self.runs, 3))
        if size >= 500:
            return max(1, min(self.runs, 5))
        return self.runs


@contextmanager
def _no_gc() -> Iterator[None]:
    # As timeit does: a collection in the middle of one library's call is noise.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """Seconds one call takes, and what it returned."""
    with _no_gc():
        start = time.perf_counter()
        out = fn(*args)
        elapsed = time.perf_counter() - start
    return elapsed, out


def _repeat(fn: Callable[[Any, bytes], bytes], group: Any, items: list[bytes]) -> list[bytes]:
    return [fn(group, item) for item in items]


def _error(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    text = f"{type(e).__name__}: {text}" if text else type(e).__name__
    return text if len(text) <= 160 else text[:157] + "..."


class Recorder:
    """Collects the cells of one library and enforces the time budget."""

    def __init__(self, adapter: Adapter, settings: Settings, log: Callable[[str], None]) -> None:
        self.adapter = adapter
        self.settings = settings
        self.log = log
        self.cells: dict[tuple[str, int], Cell] = {}

    def cell(self, operation: str, size: int) -> Cell:
        key = (operation, size)
        if key not in self.cells:
            self.cells[key] = Cell(operation, size, self.adapter.library, self.adapter.suite, "ok")
        return self.cells[key]

    def add_sample(self, operation: str, size: int, seconds: float) -> None:
        c = self.cell(operation, size)
        c.samples.append(seconds)
        c.runs = len(c.samples)
        c.median = statistics.median(c.samples)

    def fail(self, operation: str, size: int, e: BaseException) -> None:
        c = self.cell(operation, size)
        if isinstance(e, Unsupported):
            c.status, c.note = "n/a", str(e)
        else:
            c.status, c.note = "fails", _error(e)
        c.median = None
        self.log(f"  {self.adapter.label}: {operation} N={size}: {c.status}: {c.note}")

    def skip(self, operation: str, size: int, why: str) -> None:
        c = self.cell(operation, size)
        if c.status == "ok" and not c.samples:
            c.status, c.note = "skipped", why

    def failed(self, operation: str, size: int) -> bool:
        c = self.cells.get((operation, size))
        return c is not None and c.status != "ok"

    def record_size(self, operation: str, size: int, nbytes: int) -> None:
        c = self.cell(operation, size)
        c.median, c.runs = float(nbytes), 1

    def over_budget(self, predicted: float) -> str | None:
        if predicted > self.settings.budget:
            return f"skipped: > budget (about {predicted:.0f} s for one run)"
        return None


def _predict(previous: tuple[int, float] | None, size: int, exponent: float = 1.0) -> float:
    """Seconds for one run at `size`, from the median at a smaller size."""
    if previous is None:
        return 0.0
    n0, t0 = previous
    return t0 * float((size / n0) ** exponent)


# --- the sections ----------------------------------------------------------------------


def bench_key_package(r: Recorder) -> None:
    a = r.adapter
    client = a.client(b"kp")
    try:
        a.key_package(client)  # warm-up
        for _ in range(r.settings.runs * 3):
            seconds, _ = timed(a.key_package, client)
            r.add_sample(KEY_PACKAGE, 1, seconds)
    except Exception as e:
        r.fail(KEY_PACKAGE, 1, e)


def bench_create_add(r: Recorder) -> None:
    """Create a group and add N members in one commit; a fresh member then joins from
    the Welcome. The first of the N key packages is that member's; the others come from
    one pool (a key package may be added to any number of groups: only joining uses it
    up)."""
    a = r.adapter
    previous: tuple[int, float] | None = None
    for n in r.settings.add_sizes:
        predicted = _predict(previous, n, 1.2)
        why = r.over_budget(predicted)
        if why is not None:
            r.skip(CREATE_ADD, n, why)
            r.skip(JOIN, n, why)
            r.log(f"  {a.label}: create+add N={n}: {why}")
            continue
        try:
            pool = [a.key_package(a.client(b"m%d" % i)) for i in range(n - 1)]
        except Exception as e:
            r.fail(CREATE_ADD, n, e)
            r.skip(JOIN, n, "no group to join")
            continue
        runs = r.settings.runs_for(n)
        if predicted > 0:
            runs = max(1, min(runs, int(r.settings.budget / max(predicted, 1e-9))))
        for _ in range(runs):
            creator, joiner = a.client(b"creator"), a.client(b"joiner")
            try:
                group = a.create_group(creator)
                kps = [a.key_package(joiner), *pool]
            except Exception as e:
                r.fail(CREATE_ADD, n, e)
                break
            try:
                seconds, (commit, welcome) = timed(a.add, group, kps)
                r.add_sample(CREATE_ADD, n, seconds)
            except Exception as e:
                r.fail(CREATE_ADD, n, e)
                r.skip(JOIN, n, "no Welcome")
                break
            if n == r.settings.group_size:
                r.record_size(WELCOME_SIZE, n, len(welcome))
                r.record_size(ADD_COMMIT_SIZE, n, len(commit))
            if r.failed(JOIN, n):
                continue
            try:
                seconds, _ = timed(a.join, joiner, welcome)
                r.add_sample(JOIN, n, seconds)
            except Exception as e:
                r.fail(JOIN, n, e)
        c = r.cells.get((CREATE_ADD, n))
        if c is not None and c.median is not None:
            previous = (n, c.median)


@dataclass
class Pair:
    """A group as seen by its creator (leaf 0) and by the member at leaf 1, with the
    client of every leaf (mls-rs removes by identity)."""

    a: Any
    b: Any
    clients: list[Any]


def build_pair(adapter: Adapter, size: int) -> Pair:
    creator, other = adapter.client(b"creator"), adapter.client(b"other")
    members = [adapter.client(b"m%d" % i) for i in range(size - 2)]
    group = adapter.create_group(creator)
    kps = [adapter.key_package(other)] + [adapter.key_package(m) for m in members]
    try:
        _, welcome = adapter.add(group, kps)
        return Pair(group, adapter.join(other, welcome), [creator, other, *members])
    except Unsupported:
        pass  # one member per commit (pure-mls): leaf 1 joins first, then follows
    _, welcome = adapter.add(group, kps[:1])
    pair = Pair(group, adapter.join(other, welcome), [creator, other, *members])
    grow(adapter, pair, kps[1:], follow=True)
    return pair


def grow(adapter: Adapter, pair: Pair, key_packages: list[Any], follow: bool) -> None:
    """Add these members (untimed): in one commit, or one per commit where the library
    cannot do more; the member at leaf 1 processes the commits when it `follow`s."""
    if not key_packages:
        return
    try:
        commits = [adapter.add(pair.a, key_packages)[0]]
    except Unsupported:
        commits = [adapter.add(pair.a, [kp])[0] for kp in key_packages]
    if follow:
        for commit in commits:
            adapter.process_commit(pair.b, commit)


def bench_messages(r: Recorder) -> None:
    a, s = r.adapter, r.settings
    n = s.group_size
    try:
        pair = build_pair(a, n)
    except Exception as e:
        for op in MESSAGE_OPERATIONS:
            r.fail(op, n, e)
        return
    small = b"x" * SMALL_MESSAGE
    try:
        a.decrypt(pair.b, a.encrypt(pair.a, small))  # warm-up
        for _ in range(s.runs):
            seconds, wire = timed(_repeat, a.encrypt, pair.a, [small] * s.batch)
            r.add_sample(ENCRYPT_SMALL, n, seconds / s.batch)
            seconds, _ = timed(_repeat, a.decrypt, pair.b, wire)
            r.add_sample(DECRYPT_SMALL, n, seconds / s.batch)
    except Exception as e:
        r.fail(DECRYPT_SMALL if r.cells.get((ENCRYPT_SMALL, n)) else ENCRYPT_SMALL, n, e)
    large = b"y" * LARGE_MESSAGE
    try:
        for i in range(s.runs + 1):
            seconds, wire1 = timed(a.encrypt, pair.a, large)
            if i:
                r.add_sample(ENCRYPT_LARGE, n, seconds)
            seconds, out = timed(a.decrypt, pair.b, wire1)
            if i:
                r.add_sample(DECRYPT_LARGE, n, seconds)
            if len(out) != LARGE_MESSAGE:
                raise AssertionError("the 1 MiB message did not round-trip")
    except Exception as e:
        r.fail(DECRYPT_LARGE if r.cells.get((ENCRYPT_LARGE, n)) else ENCRYPT_LARGE, n, e)


def bench_update(r: Recorder) -> None:
    a, s = r.adapter, r.settings
    n = s.group_size
    try:
        pair = build_pair(a, n)
    except Exception as e:
        r.fail(SELF_UPDATE, n, e)
        r.fail(PROCESS_UPDATE, n, e)
        return
    for _ in range(s.runs):
        try:
            seconds, commit = timed(a.self_update, pair.a)
            r.add_sample(SELF_UPDATE, n, seconds)
            r.record_size(UPDATE_COMMIT_SIZE, n, len(commit))
        except Exception as e:
            r.fail(SELF_UPDATE, n, e)
            r.skip(PROCESS_UPDATE, n, "no commit to process")
            return
        try:
            seconds, _ = timed(a.process_commit, pair.b, commit)
            r.add_sample(PROCESS_UPDATE, n, seconds)
        except Exception as e:
            r.fail(PROCESS_UPDATE, n, e)
            return


def bench_remove(r: Recorder) -> None:
    """Remove the member at leaf 2, then add a fresh member back (it takes the blank
    leaf 2, RFC 9420 §12.1.1), untimed, so the group stays at its size."""
    a, s = r.adapter, r.settings
    n = s.group_size
    try:
        pair = build_pair(a, n)
    except Exception as e:
        r.fail(REMOVE, n, e)
        r.fail(PROCESS_REMOVE, n, e)
        return
    for i in range(s.runs):
        try:
            seconds, commit = timed(a.remove, pair.a, 2, pair.clients[2])
            r.add_sample(REMOVE, n, seconds)
        except Exception as e:
            r.fail(REMOVE, n, e)
            r.skip(PROCESS_REMOVE, n, "no commit to process")
            return
        try:
            seconds, _ = timed(a.process_commit, pair.b, commit)
            r.add_sample(PROCESS_REMOVE, n, seconds)
        except Exception as e:
            r.fail(PROCESS_REMOVE, n, e)
            return
        try:
            fresh = a.client(b"again%d" % i)
            readd, _ = a.add(pair.a, [a.key_package(fresh)])
            a.process_commit(pair.b, readd)
            pair.clients[2] = fresh
        except Exception as e:
            r.log(f"  {a.label}: re-adding after a remove failed: {_error(e)}")
            return


def bench_scaling(r: Recorder) -> None:
    """Grow one group through the sizes (one add commit per step, untimed, processed by
    the member at leaf 1) and time at each size: adding one member, a self-update, and
    the other member processing that self-update. Stops for this library at the first
    size whose predicted time is over the budget."""
    a, s = r.adapter, r.settings
    sizes = sorted(s.scaling_sizes)
    if not sizes:
        return
    ops = (SCALE_ADD, SCALE_UPDATE, SCALE_PROCESS)
    try:
        pair = build_pair(a, max(2, sizes[0]))
    except Exception as e:
        for op in ops:
            r.fail(op, sizes[0], e)
        return
    count = max(2, sizes[0])
    follow = True  # the member at leaf 1 still follows the group
    kp_cost = _median_of(r, KEY_PACKAGE, 1)
    add_cost = _per_member_add_cost(r)
    previous: dict[str, tuple[int, float]] = {}
    stopped: str | None = None
    for size in sizes:
        if stopped is not None:
            for op in ops:
                r.skip(op, size, stopped)
            continue
        runs = s.runs_for(size)
        # A library without multi-member commits grows one commit per member.
        per_member = add_cost or _predict(previous.get(SCALE_ADD), size)
        grow_cost = max(0, size - count) * (kp_cost + per_member * (2 if follow else 1))
        predicted = grow_cost + runs * sum(_predict(previous.get(op), size) for op in ops)
        why = r.over_budget(predicted / 3)  # three cells
        if why is not None:
            stopped = why
            r.log(f"  {a.label}: scaling from {size} members: {why}")
            for op in ops:
                r.skip(op, size, why)
            continue
        started = time.perf_counter()
        try:
            if size > count:
                kps = [a.key_package(a.client(b"g%d" % i)) for i in range(count, size)]
                grow(a, pair, kps, follow)
                count = size
        except Exception as e:
            for op in ops:
                r.fail(op, size, e)
            return
        for i in range(runs):
            # The new member's key package is made outside the timed call.
            kp = a.key_package(a.client(b"x%d-%d" % (size, i)))
            for op in (SCALE_ADD, SCALE_UPDATE):
                if r.failed(op, size):
                    continue
                try:
                    if op == SCALE_ADD:
                        seconds, (commit, _) = timed(a.add, pair.a, [kp])
                        count += 1
                    else:
                        seconds, commit = timed(a.self_update, pair.a)
                    r.add_sample(op, size, seconds)
                except Exception as e:
                    r.fail(op, size, e)
                    continue
                if not follow:
                    continue
                try:
                    p_seconds, _ = timed(a.process_commit, pair.b, commit)
                    if op == SCALE_UPDATE:
                        r.add_sample(SCALE_PROCESS, size, p_seconds)
                except Exception as e:
                    r.fail(SCALE_PROCESS, size, e)
                    follow = False  # it is behind now; adds and updates go on without it
        if not follow and not r.failed(SCALE_PROCESS, size):
            r.skip(SCALE_PROCESS, size, "skipped: failed at a smaller size")
        for op in ops:
            c = r.cells.get((op, size))
            if c is not None and c.median is not None:
                previous[op] = (size, c.median)
        r.log(f"  {a.label}: scaling at {size} members: {time.perf_counter() - started:.1f} s")
        if all(r.failed(op, size) for op in ops):
            stopped = "skipped: failed at a smaller size"


def _median_of(r: Recorder, operation: str, size: int) -> float:
    c = r.cells.get((operation, size))
    return c.median if c is not None and c.median is not None else 0.0


def _per_member_add_cost(r: Recorder) -> float:
    """Seconds per member added, from the largest create + add measured."""
    done = [c for c in r.cells.values() if c.operation == CREATE_ADD and c.median is not None]
    if not done:
        return 0.0
    biggest = max(done, key=lambda c: c.size)
    assert biggest.median is not None
    return biggest.median / biggest.size


def run_library(
    adapter: Adapter, settings: Settings, log: Callable[[str], None], scaling: bool
) -> list[Cell]:
    """Every measurement for one library, in a fixed order."""
    r = Recorder(adapter, settings, log)
    sections: list[tuple[str, Callable[[Recorder], None]]] = [
        ("key package", bench_key_package),
        ("create + add / join", bench_create_add),
        ("messages", bench_messages),
        ("self-update", bench_update),
        ("remove", bench_remove),
    ]
    if scaling:
        sections.append(("scaling", bench_scaling))
    for name, section in sections:
        started = time.perf_counter()
        section(r)
        gc.collect()
        log(f"  {adapter.label}: {name}: {time.perf_counter() - started:.1f} s")
    return list(r.cells.values())
