"""Issues 12 and 15: every verb's work is linear in its input. A 1 MiB input with half a million path segments
(the most stdin may carry) is answered well under a second, in under 100 MB, by get, store, erase and list, with
a big store, docker config and environment behind it; and list over N keys grows like N, not N².

Peak memory is the helper's own: each run is started by a small wrapper that reports the child's ``ru_maxrss``
(a child spawned straight from pytest would be charged pytest's memory: vfork, then exec, keeps the parent's
high-water mark). Figures go to the stress summary (``record``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hardening.every_verb import config_entries, file_at, groups, isolate, kubelet_request
from hardening.support import auth_entry, write_store

pytestmark = pytest.mark.stress

MIB = 1 << 20
SECONDS = 1.0
PEAK_MB = 100
SECRET = "S3CR3T-size-bound"

# python -c MEASURE FD PROGRAM ARGS...: runs PROGRAM ARGS on the wrapper's stdin/stdout/stderr, then writes
# "status maxrss_kib wall_s cpu_s" on descriptor FD.
MEASURE = """
import os, sys, time
report = int(sys.argv[1])
started = time.monotonic()
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.monotonic() - started
cpu = usage.ru_utime + usage.ru_stime
os.write(report, f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss} {wall} {cpu}".encode())
"""


def measured(helper, verb: str | list[str], stdin: bytes = b"", env: dict[str, str] | None = None) -> dict:
    """Run ``verb`` (or the whole argument list) once; exit status, stdout, wall and CPU seconds, peak RSS in MB."""
    args = [verb] if isinstance(verb, str) else verb
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", MEASURE, str(write_end), helper.program, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**helper.env, **(env or {})},
            pass_fds=(write_end,),
        )
        os.close(write_end)
        write_end = -1
        out, err = proc.communicate(stdin, timeout=120)
        report = os.read(read_end, 200).decode().split()
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
    assert proc.returncode == 0 and len(report) == 4, (proc.returncode, report, err[:500])
    status, maxrss_kib, wall, cpu = int(report[0]), int(report[1]), float(report[2]), float(report[3])
    return {
        "status": status,
        "stdout": out,
        "stderr": err.decode("utf-8", "replace"),
        "seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "peak_mb": round(maxrss_kib / 1024, 1),
    }


def address(host: str, size: int = MIB) -> str:
    """``host/a/a/…``: ``size`` characters, (size - len(host)) / 2 path segments."""
    return host + "/a" * ((size - len(host)) // 2)


def within_bounds(run: dict, what: str) -> None:
    assert "Traceback" not in run["stderr"], run["stderr"][:2000]
    assert run["seconds"] < SECONDS, f"{what}: {run['seconds']} s"
    assert run["peak_mb"] < PEAK_MB, f"{what}: {run['peak_mb']} MB"


@pytest.fixture
def warm(helper):
    """The single executable unpacks its bundle on a first run: never count that."""
    assert subprocess.run([helper.program, "version"], env=helper.env, capture_output=True).returncode == 0
    return helper


def big_backing(helper) -> str:
    """A store, docker config and environment that all hold entries on the registry asked about: a 1 MiB key
    among many namespaces, and IMGPKG_REGISTRY_HOSTNAME paths of 100 KiB. Returns the env-answered address."""
    long_key = address("cfg.io", MIB - 64)
    namespaces = {address("cfg.io", 8 + 2 * depth): auth_entry(f"ns{depth}", SECRET) for depth in range(1, 2001, 7)}
    helper.write_docker_config({"auths": {long_key + "/x": auth_entry("long", SECRET), **namespaces}})
    write_store(helper.store_path, {address("st.io", 4 + 2 * d): auth_entry(f"st{d}", SECRET) for d in (3, 300, 3000)})
    return long_key


def env_entries() -> dict[str, str]:
    """Eight IMGPKG_REGISTRY_* groups on env.io, paths of up to 100 KiB (a variable may hold 128 KiB)."""
    env = {}
    for i in range(8):
        env[f"IMGPKG_REGISTRY_HOSTNAME_{i}"] = address("env.io", 100_000 - 997 * i)
        env[f"IMGPKG_REGISTRY_USERNAME_{i}"] = f"env{i}"
        env[f"IMGPKG_REGISTRY_PASSWORD_{i}"] = SECRET
    return env


def test_get_of_a_one_mebibyte_address(warm, record):
    helper = warm
    big_backing(helper)
    env = env_entries()
    figures = {}
    deepest = max(range(1, 2001, 7))
    cases = {
        "miss": (address("none.io"), None),
        "store-namespace": (address("st.io"), "st3000"),
        "config-namespace": (address("cfg.io"), f"ns{deepest}"),
        "env-path": (address("env.io"), "env0"),
    }
    for name, (asked, username) in cases.items():
        run = measured(helper, "get", asked.encode(), env)
        figures[name] = {k: run[k] for k in ("seconds", "cpu_seconds", "peak_mb")}
        if username is None:
            assert run["status"] == 1 and run["stdout"].startswith(b"credentials not found"), run["stdout"][:200]
        else:
            assert run["status"] == 0 and json.loads(run["stdout"])["Username"] == username
        within_bounds(run, f"get ({name})")
    record(**figures)


def test_store_erase_and_list_of_a_one_mebibyte_key(warm, record):
    helper = warm
    server = address("big.io", MIB - 100)
    payload = json.dumps({"ServerURL": server, "Username": "u", "Secret": SECRET}).encode()
    assert len(payload) <= MIB
    figures = {}
    store = measured(helper, "store", payload)
    assert (store["status"], store["stdout"]) == (0, b""), store["stderr"]
    within_bounds(store, "store")
    listed = measured(helper, "list")
    assert listed["status"] == 0 and json.loads(listed["stdout"]) == {server: "u"}
    within_bounds(listed, "list")
    got = measured(helper, "get", (server + "/deeper/still").encode())
    assert got["status"] == 0 and json.loads(got["stdout"])["Secret"] == SECRET
    within_bounds(got, "get (stored 1 MiB namespace)")
    erased = measured(helper, "erase", server.encode())
    assert (erased["status"], erased["stdout"]) == (0, b""), erased["stderr"]
    within_bounds(erased, "erase")
    absent = measured(helper, "erase", address("big.io").encode())
    assert absent["status"] == 0
    within_bounds(absent, "erase (absent)")
    for name, run in (("store", store), ("list", listed), ("get", got), ("erase", erased), ("erase-absent", absent)):
        figures[name] = {k: run[k] for k in ("seconds", "cpu_seconds", "peak_mb")}
    assert json.loads(helper.store_path.read_text())["auths"] == {}
    record(**figures)


def test_store_input_of_one_mebibyte_in_every_shape(warm, record):
    """Deep nesting, many members, one long string: each refused or accepted within the bounds."""
    helper = warm
    shapes = {
        "deep": b"[" * (MIB // 2) + b"]" * (MIB // 2),
        "members": b"{" + b",".join(b'"k%d":"%d"' % (i, i) for i in range(60_000)) + b"}",
        "repeated-names": b"{" + b",".join(b'"ServerURL":"x%d.io"' % i for i in range(42_000)) + b',"Username":"u"}',
        "escapes": json.dumps({"ServerURL": "e.io", "Username": "u", "Secret": '\u2028\\"\n' * 80_000}).encode(),
    }
    figures = {}
    for name, data in shapes.items():
        assert len(data) <= MIB, (name, len(data))
        run = measured(helper, "store", data)
        assert run["status"] in (0, 1) and "internal error" not in run["stdout"].decode(), run
        within_bounds(run, f"store ({name})")
        figures[name] = {k: run[k] for k in ("status", "seconds", "peak_mb")}
    assert json.loads(measured(helper, "get", b"x41999.io")["stdout"])["Username"] == "u"  # the last name won
    record(**figures)


def many_keys(helper, count: int) -> None:
    """``count`` store entries and ``count`` docker config entries, all on one registry (the worst case)."""
    write_store(helper.store_path, {f"one.io/s{i}/r{i}": auth_entry("u", SECRET) for i in range(count)})
    helper.write_docker_config({"auths": {f"one.io/c{i}/r{i}": auth_entry("c", SECRET) for i in range(count)}})


def test_list_grows_linearly_with_the_number_of_keys(warm, record):
    """Each listed key is looked up; that must not rescan the store for each (list over N keys was N²)."""
    helper = warm
    cpu = {}
    for count in (2_000, 8_000):
        many_keys(helper, count)
        run = measured(helper, "list")
        assert run["status"] == 0 and len(json.loads(run["stdout"])) == 2 * count
        assert run["peak_mb"] < PEAK_MB
        cpu[count] = run["cpu_seconds"]
    record(cpu_seconds=cpu, ratio=round(cpu[8_000] / cpu[2_000], 2))
    # Four times the keys: linear work costs about four times as much (plus start-up); quadratic, sixteen.
    assert cpu[8_000] < 8 * cpu[2_000], cpu


# --- issue 15: every verb linear in every input: env groups, config entries, address length -----------------------


def _groups(helper, count: int) -> dict[str, str]:
    return groups(count)


def _entries(helper, count: int) -> dict[str, str]:
    config_entries(helper, count)
    return {}


def _kubelet(helper) -> list[str]:
    return ["configure", "kubelet", "--dry-run", "--config", str(file_at(helper, "kubelet-config"))]


# (name, how the input grows, the two sizes, argv, stdin): each case runs at both sizes, 4x apart. Groups: 2,000
# and 8,000 (below that, start-up hides a quadratic term; 8,000 groups are 1.1 MB of environment, under ARG_MAX).
GROWTH = [
    ("list-groups", _groups, (2_000, 8_000), lambda h: ["list"], b""),
    ("get-groups", _groups, (2_000, 8_000), lambda h: ["get"], b"host0.example"),
    ("explain-groups", _groups, (2_000, 8_000), lambda h: ["explain", "--json", "host0.example"], b""),
    ("explain-all-groups", _groups, (2_000, 8_000), lambda h: ["explain", "--json"], b""),
    ("configure-kubelet-groups", _groups, (2_000, 8_000), lambda h: [*_kubelet(h), "--match-image", "x.example"], b""),
    ("kubelet-groups", _groups, (2_000, 8_000), lambda h: ["kubelet"], kubelet_request(b"host0.example/app")),
    ("list-config", _entries, (5_000, 20_000), lambda h: ["list"], b""),
    ("get-config", _entries, (5_000, 20_000), lambda h: ["get"], b"r0.example"),
    ("explain-config", _entries, (5_000, 20_000), lambda h: ["explain", "--json", "r0.example"], b""),
    ("explain-all-config", _entries, (5_000, 20_000), lambda h: ["explain", "--json"], b""),
    ("configure-kubelet-config", _entries, (5_000, 20_000), lambda h: _kubelet(h), b""),
    ("kubelet-config", _entries, (5_000, 20_000), lambda h: ["kubelet"], kubelet_request(b"r0.example/app")),
]


@pytest.mark.parametrize(("name", "grow", "sizes", "argv", "stdin"), GROWTH, ids=[g[0] for g in GROWTH])
def test_four_times_the_input_costs_about_four_times_the_cpu(warm, record, name, grow, sizes, argv, stdin):
    """CPU time of the helper alone (its rusage; the lesser of two runs), at two sizes 4x apart, less what the same
    command costs with no input at all (start-up, which would hide a quadratic term): linear work grows about 4x,
    quadratic 16x. The start-up cost is also the floor of the smaller figure, so a command that does next to no
    extra work cannot make a ratio out of noise. Only the ratio is asserted, never a duration."""
    helper = warm
    isolate(helper)

    def cpu_at(size: int) -> float:
        env = grow(helper, size)
        runs = [measured(helper, argv(helper), stdin, env) for _ in range(2)]
        for run in runs:
            assert size == 0 or run["status"] == 0, (name, size, run["stdout"][:300], run["stderr"][:300])
        return min(run["cpu_seconds"] for run in runs)

    base = cpu_at(0)
    small, large = sizes
    cpu = {size: cpu_at(size) for size in sizes}
    ratio = (cpu[large] - base) / max(cpu[small] - base, base)
    record(start_up_cpu_seconds=base, cpu_seconds=cpu, ratio=round(ratio, 2))
    assert ratio < 8, (base, cpu)


def test_explain_grows_linearly_with_the_address_length(warm, record):
    """argv carries at most 128 KiB per argument: 32 KiB against 128 KiB, with entries on that registry."""
    helper = warm
    isolate(helper)
    big_backing(helper)
    cpu = {}
    for size in (32 << 10, 128 << 10):
        run = measured(helper, ["explain", "--json", address("cfg.io", size - 1)])
        assert run["status"] == 0, run["stderr"][:300]
        cpu[size] = run["cpu_seconds"]
    record(cpu_seconds=cpu, ratio=round(cpu[128 << 10] / cpu[32 << 10], 2))
    assert cpu[128 << 10] < 8 * cpu[32 << 10], cpu
