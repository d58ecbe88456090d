"""Start-up benchmark: medians and ratios to the CPython floor, for the console script, the single-file binary
and (when installed) Go credential helpers, all measured in one interleaved run. Builds nothing.

    python packaging/bench.py [--console PATH] [--binary PATH] [--python PATH] [--seconds N] [--check]

Every command is run round-robin (one run of each per round, so drift hits all alike) with posix_spawn, stdin
from a file and stdout to /dev/null, in an isolated HOME / XDG_CONFIG_HOME / XDG_CACHE_HOME / DOCKER_CONFIG.
The table is Markdown, ready for the README. Ratios, not milliseconds, are the claim.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HOST = "bench.example.test"
ENV_ENTRIES = 1000
STORED_ENTRIES = 10000
TARGETS = {"binary get": 3.0, "console get": 2.5}  # ratio to the floor
LARGE_OVER_EMPTY = 1.2
PASS_HIT = "get, helper:pass store hit"  # the layer over pass adds no more than the helper's own store hit:
LARGE_ENV = "version, with the large case's environment (control)"
FILE_HIT = "get, file store hit"  # the same lookup, answered from the helper's own file
# Where .ci/install-go-clients.sh puts Go programs (a peer installed with `go install` is looked for there too).
GOBIN = os.environ.get("DOCKER_CREDENTIAL_IMGPKG_GOBIN") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "docker-credential-imgpkg-e2e", "gobin"
)


class Case:
    def __init__(self, label: str, argv: list[str], env: dict[str, str], stdin: str, expect: str | None = None):
        self.label, self.argv, self.env, self.stdin, self.expect = label, argv, env, stdin, expect
        # Encoded once here, not inside the timed spawn: with thousands of variables the encoding is the
        # harness's cost, not the program's.
        self.env_bytes = {os.fsencode(k): os.fsencode(v) for k, v in env.items()}
        self.times: list[float] = []
        self.error = ""

    def run(self) -> float:
        fin = os.open(self.stdin, os.O_RDONLY)
        fout = os.open(os.devnull, os.O_WRONLY)
        try:
            start = time.perf_counter()
            pid = os.posix_spawn(
                self.argv[0],
                self.argv,
                self.env_bytes,
                file_actions=[(os.POSIX_SPAWN_DUP2, fin, 0), (os.POSIX_SPAWN_DUP2, fout, 1)],
            )
            os.waitpid(pid, 0)
            return time.perf_counter() - start
        finally:
            os.close(fin)
            os.close(fout)

    def check(self) -> None:
        """One run with output captured: a benchmark of a failing command would be meaningless."""
        with open(self.stdin, "rb") as f:
            proc = subprocess.run(self.argv, stdin=f, env=self.env, capture_output=True, timeout=60, check=False)
        out = proc.stdout.decode(errors="replace")
        if proc.returncode != 0 or (self.expect is not None and out != self.expect):
            self.error = f"exit {proc.returncode}: {out.strip()[:80]!r}"

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1e3


def write(path: str, text: str) -> str:
    with open(path, "w") as f:
        f.write(text)
    return path


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, "
        f"CPython {platform.python_version()}, load {load:.2f}, {time.strftime('%Y-%m-%d')}"
    )


def main(argv: list[str] | None = None) -> int:
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
    venv_bin = os.path.join(root, ".venv", "bin")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--console", default=os.path.join(venv_bin, "docker-credential-imgpkg"))
    parser.add_argument("--binary", default=os.path.join(root, "dist", "docker-credential-imgpkg"))
    parser.add_argument("--python", default=os.path.join(venv_bin, "python"), help="floor: PYTHON -S -I -c pass")
    parser.add_argument("--seconds", type=float, default=45.0, help="time budget for the timed rounds")
    parser.add_argument("--min-runs", type=int, default=40)
    parser.add_argument("--max-runs", type=int, default=400)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    work = tempfile.mkdtemp(prefix="dci-bench-")
    cleanup: list = []
    try:
        return bench(args, work, cleanup)
    finally:
        for stop in cleanup:
            stop()
        shutil.rmtree(work, ignore_errors=True)


def pass_store(base_env: dict[str, str], cleanup: list) -> dict[str, str] | None:
    """A password store holding HOST's entry (Debian's pass + docker-credential-pass, a throwaway GPG key without
    a passphrase, our own gpg-agent stopped by PID); None when those tools are not installed."""
    if not all(shutil.which(t, path=base_env["PATH"]) for t in ("pass", "gpg", "gpg-agent", "docker-credential-pass")):
        return None
    gnupg = tempfile.mkdtemp(prefix="g.", dir="/tmp")  # short: gpg-agent's socket path must stay under ~100 chars
    cleanup.append(lambda: shutil.rmtree(gnupg, ignore_errors=True))
    write(os.path.join(gnupg, "gpg.conf"), "no-autostart\n")
    env = dict(base_env, GNUPGHOME=gnupg, PASSWORD_STORE_DIR=os.path.join(gnupg, "store"))
    quiet = {
        "env": env,
        "check": True,
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
    }
    subprocess.run(["gpg-agent", "--daemon"], **quiet)
    reply = subprocess.run(["gpg-connect-agent", "--no-autostart", "getinfo pid", "/bye"], env=env, capture_output=True)
    pid = int(reply.stdout.split()[1])
    cleanup.insert(0, lambda: os.kill(pid, 15))
    subprocess.run(
        [
            "gpg",
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "b <b@example.invalid>",
            "default",
            "default",
            "never",
        ],
        **quiet,
    )
    keys = subprocess.run(["gpg", "--list-keys", "--with-colons"], env=env, capture_output=True, text=True).stdout
    subprocess.run(
        ["pass", "init", next(ln.split(":")[9] for ln in keys.splitlines() if ln.startswith("fpr:"))], **quiet
    )
    entry = f'{{"ServerURL":"{HOST}","Username":"bench-user","Secret":"bench-secret"}}'
    subprocess.run(["docker-credential-pass", "store"], input=entry.encode(), **{**quiet, "stdin": None})
    return env


def bench(args: argparse.Namespace, work: str, cleanup: list) -> int:
    home = os.path.join(work, "home")
    for d in ("home/.config", "docker", "cache"):
        os.makedirs(os.path.join(work, d), mode=0o700)
    base_env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": home,
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "XDG_CACHE_HOME": os.path.join(work, "cache"),
        "DOCKER_CONFIG": os.path.join(work, "docker"),
        "DOCKER_CREDENTIAL_IMGPKG_STORE": os.path.join(work, "empty-store.json"),
    }
    write(os.path.join(work, "empty-store.json"), '{"auths": {}}\n')
    small = dict(base_env)
    small.update(
        {
            "IMGPKG_REGISTRY_HOSTNAME_0": HOST,
            "IMGPKG_REGISTRY_USERNAME_0": "bench-user",
            "IMGPKG_REGISTRY_PASSWORD_0": "bench-secret",
        }
    )
    large = dict(small)
    for i in range(1, ENV_ENTRIES):
        large[f"IMGPKG_REGISTRY_HOSTNAME_{i}"] = f"reg{i:04d}.bench.test"
        large[f"IMGPKG_REGISTRY_USERNAME_{i}"] = f"user{i}"
        large[f"IMGPKG_REGISTRY_PASSWORD_{i}"] = f"secret{i}"
    auths = ",".join(
        f'"store{i:05d}.bench.test":{{"auth":"{base64.b64encode(f"user{i}:secret{i}".encode()).decode()}"}}'
        for i in range(STORED_ENTRIES)
    )
    large["DOCKER_CREDENTIAL_IMGPKG_STORE"] = write(os.path.join(work, "store.json"), '{"auths":{' + auths + "}}\n")
    get_in = write(os.path.join(work, "get.in"), HOST)
    empty_in = write(os.path.join(work, "empty.in"), "")
    hit = f'{{"ServerURL":"{HOST}","Username":"bench-user","Secret":"bench-secret"}}\n'
    passed = pass_store(base_env, cleanup)
    file_hit = dict(base_env, DOCKER_CREDENTIAL_IMGPKG_STORE=os.path.join(work, "hit-store.json"))
    entry = base64.b64encode(b"bench-user:bench-secret").decode()
    write(file_hit["DOCKER_CREDENTIAL_IMGPKG_STORE"], f'{{"auths": {{"{HOST}": {{"auth": "{entry}"}}}}}}\n')

    cases = [Case("floor: `python -S -I -c pass`", [args.python, "-S", "-I", "-c", "pass"], base_env, empty_in)]
    skipped = []
    for kind, path in (("console", args.console), ("binary", args.binary)):
        if not os.access(path, os.X_OK):
            skipped.append(f"{kind} ({path}: not found; `make install` / `make binary`)")
            continue
        cases += [
            Case(f"{kind} get", [path, "get"], small, get_in, hit),
            Case(f"{kind} list", [path, "list"], small, empty_in),
            Case(f"{kind} version", [path, "version"], small, empty_in),
            # Control: what the large environment costs the same program when it does not read it (the kernel
            # copies it at every exec, the interpreter and libc scan it at start-up).
            Case(f"{kind} {LARGE_ENV}", [path, "version"], large, empty_in),
            Case(
                f"{kind} get, {ENV_ENTRIES:,} env entries + {STORED_ENTRIES:,} stored",
                [path, "get"],
                large,
                get_in,
                hit,
            ),
        ]
        if passed:
            layered = dict(passed, DOCKER_CREDENTIAL_IMGPKG_BACKEND="helper:pass")
            cases.append(Case(f"{kind} {FILE_HIT}", [path, "get"], file_hit, get_in, hit))
            cases.append(Case(f"{kind} {PASS_HIT}", [path, "get"], layered, get_in, hit))
    go_helpers, ecr = "golang-docker-credential-helpers", "amazon-ecr-credential-helper"
    peers = (  # (label, program, argv, Debian package)
        ("peer `docker-credential-pass version`", "docker-credential-pass", ["version"], go_helpers),
        ("peer `docker-credential-ecr-login get`", "docker-credential-ecr-login", ["get"], ecr),
    )
    if passed:
        cases.append(
            Case(
                "peer `docker-credential-pass get` (hit: runs gpg)",
                [shutil.which("docker-credential-pass", path=base_env["PATH"]), "get"],
                passed,
                get_in,
                hit,
            )
        )
    else:
        skipped.append("pass-backed get (pass, gpg, docker-credential-pass not installed; .ci/install-backend.sh)")
    for label, program, verb, package in peers:
        found = shutil.which(program, path="/usr/local/bin:/usr/bin:/bin")
        if found:
            cases.append(Case(label, [found, *verb], base_env, get_in))
        else:
            skipped.append(f"{label} (not installed; Debian package {package})")
    # isometry's docker-credential-env answers the same lookup from DOCKER_<host>_USR/_PSW.
    env_peer = shutil.which("docker-credential-env", path=os.pathsep.join([GOBIN, "/usr/local/bin", "/usr/bin"]))
    if env_peer:
        host_var = "DOCKER_" + HOST.replace("-", "_").replace(".", "_")
        env_hit = dict(base_env, **{f"{host_var}_USR": "bench", f"{host_var}_PSW": "bench-secret"})
        cases.append(Case("peer `docker-credential-env get` (isometry, env hit)", [env_peer, "get"], env_hit, get_in))
    else:
        skipped.append(
            "peer `docker-credential-env get` (isometry; not installed: `go install "
            "github.com/isometry/docker-credential-env@VERSION` into $GOBIN — the module proxy reachable here serves "
            "no version of it)"
        )

    floor = cases[0]
    for case in cases[1:]:  # peers answer "not found" with exit 1 by design: only the helper's answers are checked
        if case.expect is not None or case.label.startswith(("console", "binary")):
            case.check()
    live = [c for c in cases if not c.error]

    # First runs of the binary: it unpacks into an empty cache (informational, not part of the table's ratios).
    cold = []
    binary = next((c for c in live if c.label == "binary version"), None)
    if binary:
        for i in range(5):
            env = dict(binary.env, XDG_CACHE_HOME=os.path.join(work, f"cold{i}"))
            cold.append(Case("cold", binary.argv, env, empty_in).run())

    for case in live:  # warm-up: page cache, the binary's own cache
        for _ in range(5):
            case.run()
    start = time.perf_counter()
    for case in live:
        case.times.append(case.run())
    per_round = time.perf_counter() - start
    rounds = max(args.min_runs, min(args.max_runs, int(args.seconds / max(per_round, 1e-3))))
    for _ in range(rounds - 1):
        for case in live:
            case.times.append(case.run())

    base = floor.median_ms
    print(f"Machine: {machine()}; {rounds} interleaved runs of each command.\n")
    print("| command | median ms | × floor | target |")
    print("|---|---:|---:|---|")
    missed = []
    by_label = {c.label: c for c in live}
    for case in cases:
        if case.error:
            print(f"| {case.label} | error: {case.error} | | |")
            missed.append(case.label)
            continue
        ratio = case.median_ms / base
        target = ""
        if case.label in TARGETS:
            ok = ratio <= TARGETS[case.label]
            target = f"≤ {TARGETS[case.label]}× floor: {'ok' if ok else 'MISSED'}"
            missed += [] if ok else [case.label]
        elif case.label.endswith(PASS_HIT):
            own = by_label.get(case.label.replace(PASS_HIT, FILE_HIT))
            cheapest = by_label.get(case.label.replace(PASS_HIT, "get"))
            direct = next((c for c in live if c.label.startswith("peer `docker-credential-pass get`")), None)
            if own and cheapest and direct:
                added = case.median_ms - direct.median_ms
                ok = added <= own.median_ms
                target = (
                    f"adds {added:.1f} ms to pass's get; ≤ the same hit from its file ({own.median_ms:.1f}): "
                    f"{'ok' if ok else 'MISSED'}; its env get: {cheapest.median_ms:.1f}"
                )
                missed += [] if ok else [case.label]
        elif "entries" in case.label:
            empty = by_label.get(case.label.split(",")[0])
            if empty:
                rel = case.median_ms / empty.median_ms
                ok = rel <= LARGE_OVER_EMPTY
                target = f"{rel:.2f}× the empty case (≤ {LARGE_OVER_EMPTY}): {'ok' if ok else 'MISSED'}"
                kind = case.label.split(" ")[0]
                control, version = by_label.get(f"{kind} {LARGE_ENV}"), by_label.get(f"{kind} version")
                if control and version:
                    own = case.median_ms - empty.median_ms - (control.median_ms - version.median_ms)
                    target += f"; of the {case.median_ms - empty.median_ms:.1f} ms added, the helper's own: {own:.1f}"
                missed += [] if ok else [case.label]
        print(f"| {case.label} | {case.median_ms:.1f} | {ratio:.2f} | {target} |")
    if cold:
        print(
            f"| binary version, first run (unpacks to an empty cache) | {statistics.median(cold) * 1e3:.1f} | "
            f"{statistics.median(cold) * 1e3 / base:.2f} | once per version and user |"
        )
    for s in skipped:
        print(f"| {s} | skipped | | |")
    if missed:
        print(f"\nMissed: {', '.join(missed)}")
    return 1 if (missed and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
