"""Property-based fuzzing of the whole program: argv × stdin × environment × config.json × store file.

One generated case = a fresh home directory with a generated docker config.json and store file, a generated
environment, and 1-4 actions run one after another (so a ``store`` can feed a later ``get``/``list``). Each run
must keep the contract in :func:`support.check_outcome`: exit 0 or 1, the verb's protocol answer or exactly one
error line on stdout, no traceback or "internal error", and no secret in any error or debug text.

Every secret drawn is ``S3CR3T`` + 8 hex digits + an awkward middle (quotes, backslashes, non-ASCII, newline)
+ ``Z3CR3T``; the check rejects either marker anywhere in error or debug text, so even a leaked prefix or
suffix of a secret fails.

Two runners: :class:`InProcess` calls ``docker_credential_imgpkg.cli.main`` with stdin, stdout, stderr,
os.environ and the working directory swapped (fast: thousands of cases a minute); :class:`Subprocess` runs the
real program, with fake ``docker-credential-gcr``/``-ecr-login``/``-acr-env`` helpers on PATH that log their
argv and stdin.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .support import check_outcome, temp_files

# Per-case homes on tmpfs where there is one: creating and removing thousands of directories on a journalled
# disk costs more than the cases themselves (the crash tests use the real disk).
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
_drawn: list[str] = []


def _secret(number: int, tail: str) -> str:
    value = f"S3CR3T{number:08x}"
    _drawn.append(value)
    return value + tail + "Z3CR3T"


secrets = st.builds(
    _secret, st.integers(0, 2**32 - 1), st.sampled_from(["", '"q', "\\b", "é€😀", "\n", "<&>", ":x", " sp", "\t"])
)

# Text that can live in an environment variable: no NUL, no lone surrogates.
env_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=16)
usernames = st.sampled_from(["alice", "<token>", "bob:colon", "", "ü", " ", "a" * 300]) | env_text
HOSTS = [
    "example.com",
    "EXAMPLE.com:5000",
    "ghcr.io",
    "gcr.io",
    "eu.gcr.io",
    "us-docker.pkg.dev",
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    "localhost:5000",
    "127.0.0.1:5000",
    "[::1]:5000",
    "[::1",
    "123456789012.dkr.ecr.us-east-1.amazonaws.com",
    "public.ecr.aws",
    "x.azurecr.io",
    "",
    ":",
    "host:notaport",
]
addresses = st.one_of(
    st.builds(
        lambda scheme, host, path: scheme + host + path,
        st.sampled_from(["", "", "https://", "http://", "oci://", "://", "HTTPS://"]),
        st.sampled_from(HOSTS) | env_text,
        st.sampled_from(["", "", "/", "/v2/", "/v1/", "/ns/repo", "/library/ubuntu", "//x", "/v1/access-token"]),
    ),
    st.sampled_from(["https://index.docker.io/v1/", HOSTS[0], "https://index.docker.io/v1/refresh-token"]),
)
host_patterns = addresses | st.sampled_from(
    ["*", "*.io", "*.gcr.io", "gcr.io/ns", "http://*.example.com:5000/p", "*.*"]
)

json_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | env_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(env_text, inner, max_size=3),
    max_leaves=8,
)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


entries = st.one_of(
    st.builds(lambda u, s: {"auth": _b64(f"{u}:{s}")}, usernames, secrets),
    st.builds(lambda u, s: {"Auth": _b64(f"{u}:{s}")}, usernames, secrets),
    st.builds(lambda s: {"auth": _b64(s.replace(":", ""))}, secrets),  # no colon
    st.builds(lambda s, junk: {"auth": junk + _b64(s)}, secrets, st.sampled_from(["!", "=", "é", " ", "a"])),
    st.builds(lambda s: {"auth": _b64(s)[:-1]}, secrets),  # truncated base64
    st.builds(lambda s: {"identitytoken": s}, secrets),
    st.builds(lambda u, s: {"username": u, "password": s}, usernames, secrets),
    st.builds(lambda s: {"registrytoken": s}, secrets),
    st.builds(lambda s, junk: {"auth": junk, "password": s}, secrets, json_junk),
    st.just({}),
    json_junk,
)
documents = st.one_of(
    st.fixed_dictionaries(
        {"auths": st.dictionaries(addresses, entries, max_size=4)},
        optional={
            "credsStore": env_text,
            "credHelpers": st.dictionaries(addresses, env_text, max_size=2),
            "HttpHeaders": json_junk,
        },
    ),
    st.fixed_dictionaries({"AUTHS": st.dictionaries(addresses, entries, max_size=3)}),
    st.fixed_dictionaries({"auths": json_junk}),
    json_junk,
)
file_bytes = st.one_of(
    documents.map(lambda d: json.dumps(d).encode()),
    documents.map(lambda d: json.dumps(d, indent="\t").encode()),
    st.builds(lambda d, cut: json.dumps(d).encode()[:cut], documents, st.integers(0, 200)),  # truncated
    st.binary(max_size=64),
    st.sampled_from(
        [b"", b" \n", b"[" * 50_000, b'{"auths": ' * 3000, b"\xef\xbb\xbf{}", b"\xff{}", b"null", b"1e999"]
    ),
)


@st.composite
def environments(draw: st.DrawFn) -> dict[str, str]:
    env: dict[str, str] = {}
    for _ in range(draw(st.integers(0, 3))):
        suffix = draw(st.sampled_from(["", "_A", "_b_2", "_X", "_", "_A_B"]))
        fields = draw(
            st.sets(st.sampled_from(["HOSTNAME", "USERNAME", "PASSWORD", "IDENTITY_TOKEN", "REGISTRY_TOKEN"]))
        )
        for name in sorted(fields):
            value = {
                "HOSTNAME": host_patterns,
                "USERNAME": usernames,
                "PASSWORD": secrets,
                "IDENTITY_TOKEN": secrets,
                "REGISTRY_TOKEN": secrets,
            }[name]
            env[f"IMGPKG_REGISTRY_{name}{suffix}"] = draw(value)
    optional = {
        "IMGPKG_USERNAME": usernames,
        "IMGPKG_PASSWORD": secrets,
        "IMGPKG_TOKEN": secrets,
        "IMGPKG_ANON": st.sampled_from(["true", "false", "TRUE", "1", ""]),
        "IMGPKG_ACTIVE_KEYCHAINS": st.lists(
            st.sampled_from(["github", "gke", "ecr", "aks", "bogus", "", " gke "]), max_size=3
        ).map(",".join),
        "IMGPKG_ENABLE_IAAS_AUTH": st.sampled_from(["true", "false", "True"]),
        "GITHUB_TOKEN": secrets,
        "GITHUB_ACTOR": usernames,
        "DOCKER_AUTH_CONFIG": file_bytes.map(lambda b: b.decode("utf-8", "replace").replace("\x00", "")),
        "DOCKER_CREDENTIAL_IMGPKG_READONLY": st.sampled_from(["1", "true", "no", ""]),
        "DOCKER_CREDENTIAL_IMGPKG_TIMEOUT": st.sampled_from(["2", "abc", "-1", "nan", "inf", "0", ""]),
        "IMGPKG_REGISTRY_AZURE_CR_CONFIG": env_text,
    }
    for name in draw(st.sets(st.sampled_from(sorted(optional)), max_size=5)):
        env[name] = draw(optional[name])
    if draw(st.integers(0, 19)) == 19:  # an unknown IMGPKG_REGISTRY_* variable fails every get: keep it rare
        env["IMGPKG_REGISTRY_" + draw(st.sampled_from(["BOGUS", "HOSTNAMES", "PASSWORD2"]))] = draw(env_text)
    # The debug trace is where a secret would most likely slip out: have it on most of the time.
    if draw(st.integers(0, 3)):
        env["DOCKER_CREDENTIAL_IMGPKG_DEBUG"] = "1"
    return env


_well_formed_store = st.builds(
    lambda s, u, p, nl: (json.dumps({"ServerURL": s, "Username": u, "Secret": p}) + nl).encode(),
    addresses,
    usernames,
    secrets,
    st.sampled_from(["", "\n", "\r\n", " trailing"]),
)
store_inputs = st.one_of(
    _well_formed_store,
    _well_formed_store,
    st.fixed_dictionaries(
        {},
        optional={
            "ServerURL": addresses | json_junk,
            "serverurl": addresses,
            "SERVERURL": json_junk,
            "Username": usernames | json_junk,
            "username": usernames,
            "Secret": secrets | json_junk,
            "secret": secrets,
            "Other": json_junk,
        },
    ).map(lambda d: json.dumps(d).encode()),
    json_junk.map(lambda j: json.dumps(j).encode()),
    st.binary(max_size=64),
    st.sampled_from([b"", b"[" * 100_000, b'{"ServerURL": ' * 5000]),
)
address_inputs = st.one_of(
    addresses.map(str.encode),
    st.builds(lambda a, nl: (a + nl).encode(), addresses, st.sampled_from(["\n", "\r\n", "\n\n", " \t"])),
    st.binary(min_size=1, max_size=40),
)
good_files = st.fixed_dictionaries({"auths": st.dictionaries(addresses, entries, min_size=1, max_size=4)}).map(
    lambda d: json.dumps(d).encode()
)
ACTIONS = ("get", "store", "erase", "list")
OTHER_ARGV = [[], ["version"], ["--version"], ["-v"], ["-h"], ["--help"], ["get", "x.io"], ["bogus"], [""], ["GET"]]


@st.composite
def operations(draw: st.DrawFn) -> tuple[list[str], bytes]:
    if draw(st.integers(0, 9)) == 9:  # not 0: hypothesis favours the smallest value
        return draw(st.sampled_from(OTHER_ARGV)), draw(st.binary(max_size=20))
    verb = draw(st.sampled_from(ACTIONS))
    if verb == "store":
        return [verb], draw(store_inputs)
    if verb == "list":
        return [verb], draw(st.sampled_from([b"", b"unused", b"\xff"]))
    return [verb], draw(address_inputs)


# --- running one case ----------------------------------------------------------------------------------------


@dataclass
class Counter:
    runs: int = 0
    cases: int = 0
    by_verb: dict[str, int] = field(default_factory=dict)
    exits: dict[int, int] = field(default_factory=dict)


class InProcess:
    """``docker_credential_imgpkg.cli.main`` in this process: stdin from a memfd, stdout/stderr captured,
    os.environ swapped."""

    name = "in-process"

    def __init__(self, search_path: str) -> None:
        self.search_path = search_path

    def __call__(self, argv: list[str], stdin: bytes, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
        from docker_credential_imgpkg import cli

        fd = (
            os.memfd_create("stdin")
            if hasattr(os, "memfd_create")
            else os.open(tempfile.mktemp(), os.O_RDWR | os.O_CREAT)
        )
        view = memoryview(stdin)
        while view:
            view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
        stdin_file = open(fd, "rb", buffering=0)  # noqa: SIM115
        out, err = io.StringIO(), io.StringIO()
        saved_streams = sys.stdin, sys.stdout, sys.stderr
        saved_env = dict(os.environ)
        saved_cwd = os.getcwd()
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        sys.stdin, sys.stdout, sys.stderr = stdin_file, out, err
        try:
            status: object = cli.main(list(argv))
        except BaseException as exc:  # main must never let anything out: that would be a traceback
            status = f"main raised {type(exc).__name__}: {exc}"
        finally:
            sys.stdin, sys.stdout, sys.stderr = saved_streams
            os.environ.clear()
            os.environ.update(saved_env)
            os.chdir(saved_cwd)
            stdin_file.close()
        assert isinstance(status, int), status
        return status, out.getvalue(), err.getvalue()


FAKE_HELPER = """#!/bin/sh
# A stand-in for a cloud provider's credential helper: logs argv and stdin, answers as FAKE_MODE says.
input=$(cat)
{ printf 'ARGV'; for a in "$@"; do printf ' [%s]' "$a"; done; printf '\\nSTDIN [%s]\\n' "$input"; } >> "$FAKE_LOG"
case "$FAKE_MODE" in
  json) printf '{"ServerURL":"%s","Username":"fake","Secret":"%s"}\\n' "$input" "$FAKE_SECRET" ;;
  empty) printf '{"Username":"","Secret":""}\\n' ;;
  notfound) echo "credentials not found in native keychain"; exit 1 ;;
  garbage) echo "this is not json" ;;
  *) echo "fake helper failed"; exit 3 ;;
esac
"""
FAKE_PROGRAMS = ("docker-credential-gcr", "docker-credential-ecr-login", "docker-credential-acr-env")


def install_fakes(directory: Path) -> str:
    """Write the fake provider helpers into ``directory``; return a PATH that finds them first."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in FAKE_PROGRAMS:
        path = directory / name
        path.write_text(FAKE_HELPER)
        path.chmod(0o755)
    return f"{directory}{os.pathsep}/usr/bin{os.pathsep}/bin"


class Subprocess:
    """The real program, as clients run it; fake provider helpers on PATH."""

    name = "subprocess"

    def __init__(self, program: str, search_path: str) -> None:
        self.program = program
        self.search_path = search_path

    def __call__(self, argv: list[str], stdin: bytes, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
        import subprocess

        proc = subprocess.run([self.program, *argv], input=stdin, capture_output=True, env=env, cwd=cwd, timeout=60)
        return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


@st.composite
def cases(draw: st.DrawFn) -> dict[str, object]:
    _drawn.clear()
    case = {
        "env": draw(environments()),
        "config": draw(st.none() | good_files | file_bytes),
        "store": draw(st.none() | good_files | file_bytes),
        "store_mode": draw(st.sampled_from([0o600, 0o644, 0o640, 0o400, 0o600, 0o600, 0o666])),
        "store_var": draw(st.booleans()),
        "fake_mode": draw(st.sampled_from(["json", "empty", "notfound", "garbage", "fail"])),
        "fake_secret": draw(secrets),
        "ops": draw(st.lists(operations(), min_size=1, max_size=4)),
    }
    case["secrets"] = tuple(dict.fromkeys(_drawn))
    return case


def run_case(runner, case: dict[str, object], counter: Counter) -> None:
    """Lay out a home for ``case``, run its operations with ``runner``, check every outcome."""
    root = Path(tempfile.mkdtemp(prefix="fuzz-", dir=SCRATCH))
    try:
        home = root / "home"
        home.mkdir()
        docker_dir = root / "docker"
        docker_dir.mkdir()
        store_path = (
            root / "private" / "creds.json"
            if case["store_var"]
            else home / ".config" / "docker-credential-imgpkg" / "credentials.json"
        )
        log = root / "fake.log"
        env = dict(case["env"])  # type: ignore[arg-type]
        env.update(
            {
                "HOME": str(home),
                "DOCKER_CONFIG": str(docker_dir),
                "PATH": runner.search_path,
                "FAKE_LOG": str(log),
                "FAKE_MODE": str(case["fake_mode"]),
                "FAKE_SECRET": str(case["fake_secret"]),
            }
        )
        if case["store_var"]:
            env["DOCKER_CREDENTIAL_IMGPKG_STORE"] = str(store_path)
        else:
            env["XDG_CONFIG_HOME"] = str(home / ".config")
        if case["config"] is not None:
            (docker_dir / "config.json").write_bytes(case["config"])  # type: ignore[arg-type]
        if case["store"] is not None:
            store_path.parent.mkdir(parents=True, mode=0o700)
            store_path.write_bytes(case["store"])  # type: ignore[arg-type]
            store_path.chmod(case["store_mode"])  # type: ignore[arg-type]
        secret_cores = case["secrets"]
        for argv, stdin in case["ops"]:  # type: ignore[attr-defined]
            status, out, err = runner(argv, stdin, env, root)
            verb = argv[0] if len(argv) == 1 and argv[0] in ACTIONS else None
            check_outcome(
                verb,
                status,
                out,
                err,
                secret_cores,
                describe=f"{runner.name} argv={argv} stdin={stdin[:200]!r}\ncase={case!r}",
            )
            counter.runs += 1
            key = argv[0] if len(argv) == 1 else f"argv{len(argv)}"
            counter.by_verb[key] = counter.by_verb.get(key, 0) + 1
            counter.exits[status] = counter.exits.get(status, 0) + 1
            if store_path.parent.exists():
                assert temp_files(store_path.parent) == [], f"temp file left after {argv}\ncase={case!r}"
        if log.exists():  # delegated helpers: input on stdin, never a secret (or anything but the verb) in argv
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith("ARGV"):
                    assert line == "ARGV [get]", f"fake helper argv: {line!r}\ncase={case!r}"
        counter.cases += 1
    finally:
        shutil.rmtree(root, ignore_errors=True)


def fuzz_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )


def fuzz(runner: InProcess | Subprocess, examples: int, counter: Counter | None = None) -> Counter:
    """Run up to ``examples`` generated cases with ``runner``, each checked by :func:`run_case`; ``counter`` (a
    new one if none) counts what ran, and holds the figures so far when a case fails."""
    counter = Counter() if counter is None else counter

    @fuzz_settings(examples)
    @given(cases())
    def prop(case: dict) -> None:
        run_case(runner, case, counter)

    prop()
    return counter
