"""Concurrency and crash-safety drivers, sized by the caller: the fast suite runs them small, the stress
suite runs them at the sizes the README quotes. Each returns figures for the report and asserts as it goes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common import NOT_FOUND

from .support import (
    Batch,
    Finished,
    auth_entry,
    check_outcome,
    decode_auth,
    read_auths,
    store_payload,
    temp_files,
    write_store,
)


@dataclass
class Figures:
    rounds: int = 0
    processes: int = 0
    seconds: float = 0.0
    snapshots: int = 0
    details: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, n: int = 1) -> None:
        self.details[key] = self.details.get(key, 0) + n


def _creds(result) -> tuple[str, str]:
    answer = json.loads(result.stdout)
    return answer["Username"], answer["Secret"]


class Watcher:
    """Reads the store file in a loop while writers run: every snapshot must parse and pass ``check``."""

    def __init__(self, path: Path, check) -> None:
        self.path, self.check = path, check
        self.snapshots = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    data = self.path.read_bytes()
                except FileNotFoundError:
                    continue
                doc = json.loads(data)  # a torn or partial file fails here
                self.check(doc["auths"])
                self.snapshots += 1
                time.sleep(0.0005)  # leave the CPU to the writers
        except BaseException as err:
            self.error = err


def release_watched(
    batch: Batch, rng: random.Random, store_path: Path, snapshot_ok: Callable[[dict], None], figures: Figures
) -> list[Finished]:
    """Start the batch's processes at once while a :class:`Watcher` checks every snapshot of the store with
    ``snapshot_ok``; add them to ``figures``. Every outcome passes ``check_outcome``."""
    started = time.monotonic()
    with Watcher(store_path, snapshot_ok) as watcher:
        results = batch.release(rng)
    figures.seconds += time.monotonic() - started
    figures.snapshots += watcher.snapshots
    figures.processes += len(results)
    for result in results:
        check_outcome(result.args[0], result.returncode, result.stdout, result.stderr, describe=str(result))
    return results


def distinct_hosts(helper, rng: random.Random, figures: Figures, *, stores: int, erases: int, gets: int) -> None:
    """``stores`` processes store distinct hosts at once while ``erases`` processes erase other entries and
    ``gets`` processes read; afterwards ``list`` holds exactly the expected set (no lost update)."""
    n = figures.rounds
    keep = {f"keep{i}.r{n}.example": (f"keeper{i}", f"S3CR3T-keep-{i}") for i in range(5)}
    doomed = {f"gone{i}.r{n}.example": (f"doomed{i}", f"S3CR3T-gone-{i}") for i in range(erases)}
    fresh = {f"host{i}.r{n}.example": (f"user{i}", f"S3CR3T-new-{n}-{i}") for i in range(stores)}
    write_store(helper.store_path, {h: auth_entry(u, s) for h, (u, s) in {**keep, **doomed}.items()})
    batch = Batch(helper.program, helper.env)
    for host, (user, secret) in fresh.items():
        batch.add("store", stdin=store_payload(host, user, secret))
    for host in doomed:
        batch.add("erase", stdin=host.encode())
    keep_hosts, fresh_hosts = sorted(keep), sorted(fresh)
    for i in range(gets):
        host = keep_hosts[i % len(keep_hosts)] if i % 2 else fresh_hosts[i % len(fresh_hosts)]
        batch.add("get", stdin=host.encode())
    batch.add("list")

    def snapshot_ok(auths: dict) -> None:
        assert set(keep) <= set(auths), "a stable entry vanished mid-run"
        assert set(auths) <= set(keep) | set(doomed) | set(fresh), set(auths)

    for result in release_watched(batch, rng, helper.store_path, snapshot_ok, figures):
        verb = result.args[0]
        host = result.stdin.decode()
        if verb in ("store", "erase"):
            assert result.returncode == 0, result
        elif verb == "get" and host in keep:
            assert result.returncode == 0 and _creds(result) == keep[host], result
        elif verb == "get":  # stored concurrently: either not there yet or exactly what was written
            assert (result.returncode == 0 and _creds(result) == fresh[host]) or result.stdout == NOT_FOUND, result
            figures.add("get saw the new entry" if result.returncode == 0 else "get ran before the store")
    expected = {h: u for h, (u, _) in {**keep, **fresh}.items()}
    listed = helper.list()
    assert listed.returncode == 0 and listed.json == expected, (listed, expected)
    stored = {key: decode_auth(entry) for key, entry in read_auths(helper.store_path).items()}
    assert stored == {**keep, **fresh}
    assert temp_files(helper.store_path.parent) == []
    figures.rounds += 1


def same_host(helper, rng: random.Random, figures: Figures, *, stores: int, gets: int) -> None:
    """``stores`` processes store the same host with different secrets while readers run: the file always
    parses, always holds one of the written values, and other entries survive."""
    n = figures.rounds
    host = f"same.r{n}.example"
    initial = ("first", "S3CR3T-initial")
    written = {(f"writer{i}", f"S3CR3T-same-{n}-{i}") for i in range(stores)}
    allowed = written | {initial}
    write_store(helper.store_path, {host: auth_entry(*initial), "bystander.example": auth_entry("b", "S3CR3T-b")})
    batch = Batch(helper.program, helper.env)
    for user, secret in sorted(written):
        batch.add("store", stdin=store_payload(host, user, secret))
    for _ in range(gets):
        batch.add("get", stdin=host.encode())

    def snapshot_ok(auths: dict) -> None:
        assert decode_auth(auths[host]) in allowed
        assert decode_auth(auths["bystander.example"]) == ("b", "S3CR3T-b")

    for result in release_watched(batch, rng, helper.store_path, snapshot_ok, figures):
        assert result.returncode == 0, result
        if result.args[0] == "get":
            assert _creds(result) in allowed, result
    final = _creds(helper.get(host))
    assert final in written, final
    assert helper.list().json == {host: final[0], "bystander.example": "b"}
    assert temp_files(helper.store_path.parent) == []
    figures.rounds += 1


def kill_writers(
    helper, rng: random.Random, figures: Figures, *, kills: int, entries: int, symlinked: bool = False
) -> None:
    """SIGKILL ``store`` at random moments until ``kills`` signals have hit a running writer (runs that finished
    before their signal are counted apart), over a store of ``entries`` entries. After every kill the file
    parses and holds exactly the old or the new content; temp files never pile up (at most the killed writer's
    one, removed by the next write); a full ``store`` always succeeds afterwards (no stuck lock). With
    ``symlinked``, the store path is a symlink into another directory: it stays a symlink and nothing is ever
    written beside it."""
    link_dir = helper.store_path.parent
    if symlinked:
        target = helper.root / "dotfiles" / "creds.json"
        link_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
        write_store(target, {f"base{i}.example": auth_entry(f"u{i}", f"S3CR3T-base-{i}") for i in range(entries)})
        target.parent.chmod(0o755)
        helper.store_path.symlink_to(target)
        real = target
    else:
        write_store(
            helper.store_path, {f"base{i}.example": auth_entry(f"u{i}", f"S3CR3T-base-{i}") for i in range(entries)}
        )
        real = helper.store_path
    real_dir = real.parent

    # How long a whole store takes here, so the kills land all over it: start-up, read, write, rename.
    durations = []
    for i in range(5):
        started = time.monotonic()
        assert helper.store(f"warm{i}.example", "w", "S3CR3T-warm").returncode == 0
        durations.append(time.monotonic() - started)
    typical = statistics.median(durations)
    figures.details["typical store ms"] = round(typical * 1000)

    current = read_auths(real)
    started_all = time.monotonic()
    landed = attempts = 0
    while landed < kills:
        assert attempts < 4 * kills, f"only {landed} of {attempts} kills hit a running writer"
        i = attempts
        attempts += 1
        host = f"crash{i}.example"
        payload = store_payload(host, f"k{i}", f"S3CR3T-crash-{i}")
        new = {**current, host: auth_entry(f"k{i}", f"S3CR3T-crash-{i}")}
        proc = helper.spawn("store", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert proc.stdin is not None
        proc.stdin.write(payload)
        proc.stdin.close()
        # Mostly in the second half of the run, where the file is read, written and renamed; sometimes anywhere.
        delay = typical * (rng.uniform(0.4, 1.0) if rng.random() < 0.8 else rng.uniform(0, 1.2))
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed = proc.returncode == -signal.SIGKILL
        # The machine's speed changes under load: aim earlier after a run that finished first, a little later
        # after one that was hit, so the kills keep landing inside runs however busy the machine is.
        typical *= 1.02 if killed else 0.85
        landed += killed
        figures.processes += killed
        auths = read_auths(real)  # must parse
        if auths == new:
            figures.add("kill after rename: new content" if killed else "finished before its kill (not counted)")
            current = new
        else:
            assert auths == current, f"kill {i}: neither old nor new content"
            figures.add("kill before rename: old content")
        leftovers = temp_files(real_dir)
        if leftovers:
            figures.add("kill left a temp file (until the next write)")
        assert len(leftovers) <= 1, leftovers
        if symlinked:
            assert helper.store_path.is_symlink() and temp_files(link_dir) == []
        if i % 10 == 9:  # a write that completes removes the leftovers and proves the lock is free
            result = helper.store(f"ok{i}.example", "ok", "S3CR3T-ok")
            assert result.returncode == 0, result
            current = read_auths(real)
            assert temp_files(real_dir) == [], temp_files(real_dir)
    figures.seconds += time.monotonic() - started_all
    result = helper.store("final.example", "f", "S3CR3T-final")
    assert result.returncode == 0, result
    assert temp_files(real_dir) == [] and temp_files(link_dir) == []
    assert os.stat(real).st_mode & 0o777 == 0o600
    listed = helper.list()
    assert listed.returncode == 0 and set(listed.json) == set(read_auths(real))
    figures.rounds += 1
