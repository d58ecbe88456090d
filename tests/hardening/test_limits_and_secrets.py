"""Limits (1 MiB of stdin, 64 KiB secrets) and where secrets must never go (argv of children, exception text,
the debug trace), plus odd standard streams (closed, full, non-blocking) — all through the real program."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from common import NOT_FOUND

from .support import auth_entry, check_outcome, store_payload

LIMIT = 1 << 20
SECRET = "S3CR3T-limits-51a7"


def feed_endless(
    helper, verb: str, env: dict[str, str] | None = None, total: int = 256 << 20
) -> tuple[int, str, int, float, int]:
    """Run ``verb`` with ``total`` bytes on stdin (default: far more than the helper may ever read); return
    (exit, stdout, bytes the helper accepted, seconds, max RSS KiB)."""
    proc = helper.spawn(verb, env=env)
    sent = 0
    chunk = b"x" * (1 << 16)

    def writer() -> None:
        nonlocal sent
        try:
            assert proc.stdin is not None
            while sent < total:
                proc.stdin.write(chunk[: total - sent])
                sent += min(len(chunk), total - sent)
            proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass

    started = time.monotonic()
    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - started
    thread.join(5)
    assert "Traceback" not in err.decode(), err
    return proc.returncode, out.decode(), sent, elapsed, usage.ru_maxrss


@pytest.mark.parametrize("verb", ["get", "store", "erase"])
def test_endless_stdin_is_refused_quickly_without_reading_it(helper, verb):
    *_, baseline_rss_kib = feed_endless(helper, verb, total=100)
    status, out, sent, elapsed, max_rss_kib = feed_endless(helper, verb)
    assert (status, out) == (1, "input larger than 1 MiB refused\n")
    assert elapsed < 5, elapsed
    # The helper stopped reading at 1 MiB + 1 byte: the writer got EPIPE long before its 256 MiB.
    assert sent < 4 * LIMIT, sent
    # ru_maxrss also counts the forked test process before exec, hence the comparison with a tiny input.
    assert max_rss_kib < baseline_rss_kib + 16 * 1024, (max_rss_kib, baseline_rss_kib)


def test_list_never_reads_stdin(helper):
    status, out, _, elapsed, _ = feed_endless(helper, "list")
    assert (status, out) == (0, "{}\n") and elapsed < 5


def test_exactly_one_mebibyte_is_accepted(helper):
    padding = b" " * (LIMIT - len(b"example.com"))
    assert helper.run("get", stdin=padding + b"example.com").stdout == NOT_FOUND
    over = helper.run("get", stdin=b" " + padding + b"example.com")
    assert (over.returncode, over.stdout) == (1, "input larger than 1 MiB refused\n")


def secret_of(size: int) -> str:
    """A secret of ``size`` characters with everything JSON and base64 make awkward."""
    pattern = 'aZ09+/="\\\n\té€😀<&>:'
    return (pattern * (size // len(pattern) + 1))[:size]


@pytest.mark.parametrize("size", [64 << 10, 300 << 10])
def test_large_secrets_round_trip_through_the_store(helper, size):
    secret = secret_of(size)
    stored = helper.store("big.example", "alice", secret)
    assert stored.returncode == 0, stored
    got = helper.get("big.example")
    assert got.returncode == 0 and json.loads(got.stdout)["Secret"] == secret
    token = helper.store("tok.example", "<token>", secret)
    assert token.returncode == 0 and json.loads(helper.get("tok.example").stdout)["Secret"] == secret
    assert helper.list().json == {"big.example": "alice", "tok.example": "<token>"}


def test_64k_secrets_from_the_environment_and_config(helper):
    secret = secret_of(64 << 10).replace("\x00", "")
    env = {
        "IMGPKG_REGISTRY_HOSTNAME": "env.example",
        "IMGPKG_REGISTRY_PASSWORD": secret,
        "IMGPKG_REGISTRY_USERNAME": "u",
    }
    assert json.loads(helper.get("env.example", env=env).stdout)["Secret"] == secret
    helper.write_docker_config({"auths": {"cfg.example": auth_entry("carol", secret)}})
    assert json.loads(helper.get("cfg.example").stdout)["Secret"] == secret


# --- secrets never in argv, exception text or the trace -----------------------------------------------------

FAKE = """#!/bin/sh
input=$(cat)
{ printf 'ARGV'; for a in "$@"; do printf ' [%s]' "$a"; done; printf '\\nSTDIN [%s]\\n' "$input"; } >>"$FAKE_LOG"
printf '{"ServerURL":"%s","Username":"fake","Secret":"%s"}\\n' "$input" "$FAKE_SECRET"
"""


@pytest.fixture
def fake_provider(helper, tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("docker-credential-gcr", "docker-credential-ecr-login", "docker-credential-acr-env"):
        (bin_dir / name).write_text(FAKE)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "fake.log"
    helper.env.update(
        {"PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE_LOG": str(log), "FAKE_SECRET": SECRET + "-from-provider"}
    )
    return log


def test_delegated_helpers_get_input_on_stdin_never_in_argv(helper, fake_provider):
    env = {
        "IMGPKG_ACTIVE_KEYCHAINS": "gke,ecr,aks",
        "IMGPKG_PASSWORD": SECRET,
        "DOCKER_CREDENTIAL_IMGPKG_DEBUG": "1",
    }
    for host in ("gcr.io", "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "x.azurecr.io"):
        result = helper.get(host, env=env)
        assert json.loads(result.stdout)["Secret"] == SECRET + "-from-provider", result
        assert SECRET not in result.stderr, result
    lines = fake_provider.read_text().splitlines()
    assert [line for line in lines if line.startswith("ARGV")] == ["ARGV [get]"] * 3
    assert [line for line in lines if line.startswith("STDIN")] == [
        "STDIN [gcr.io]",
        "STDIN [123456789012.dkr.ecr.eu-west-1.amazonaws.com]",
        "STDIN [x.azurecr.io]",
    ]


def test_run_program_passes_secrets_on_stdin_only(fake_provider, helper, monkeypatch):
    """The one function that runs other helpers (keychains, backends): a ``store`` payload goes on stdin."""
    from docker_credential_imgpkg.client import run_program

    monkeypatch.setenv("PATH", helper.env["PATH"])
    monkeypatch.setenv("FAKE_LOG", helper.env["FAKE_LOG"])
    monkeypatch.setenv("FAKE_SECRET", "x")
    payload = store_payload("gcr.io", "u", SECRET)
    run_program("docker-credential-gcr", "store", payload, role="backend", environ=os.environ)
    lines = fake_provider.read_text().splitlines()
    assert lines[0] == "ARGV [store]"
    assert SECRET in lines[1] and SECRET not in lines[0]


def test_unexpected_exceptions_print_type_and_place_never_their_text(monkeypatch, capsys):
    from docker_credential_imgpkg.commands import protocol_verbs

    def explode(action: str, data: bytes, environ: object) -> str:
        raise ValueError(f"boom with {SECRET}")

    monkeypatch.setattr(protocol_verbs, "run", explode)
    assert protocol_verbs.main("list", {}) == 1
    out, err = capsys.readouterr()
    assert out.startswith("docker-credential-imgpkg: internal error (ValueError at ")
    assert SECRET not in out + err and "Traceback" not in out + err


def test_credentials_repr_hides_the_secret():
    from docker_credential_imgpkg.protocol import Credentials

    assert SECRET not in repr(Credentials("a.io", "u", SECRET))


def test_debug_trace_of_every_source_hides_secrets(helper, fake_provider):
    helper.write_docker_config({"auths": {"cfg.example": auth_entry("carol", SECRET + "cfg")}})
    assert helper.store("store.example", "alice", SECRET + "store").returncode == 0
    env = {
        "DOCKER_CREDENTIAL_IMGPKG_DEBUG": "1",
        "IMGPKG_REGISTRY_HOSTNAME_A": "env.example",
        "IMGPKG_REGISTRY_USERNAME_A": "u",
        "IMGPKG_REGISTRY_PASSWORD_A": SECRET + "env",
        "IMGPKG_REGISTRY_HOSTNAME_B": "tok.example",
        "IMGPKG_REGISTRY_IDENTITY_TOKEN_B": SECRET + "idtok",
        "IMGPKG_ACTIVE_KEYCHAINS": "github,gke",
        "GITHUB_TOKEN": SECRET + "gh",
        "DOCKER_AUTH_CONFIG": json.dumps({"auths": {"inline.example": auth_entry("dan", SECRET + "inline")}}),
    }
    hosts = ["env.example", "tok.example", "ghcr.io", "gcr.io", "store.example", "cfg.example", "inline.example"]
    for host in [*hosts, "missing.example"]:
        result = helper.get(host, env=env)
        assert "debug:" in result.stderr
        check_outcome("get", result.returncode, result.stdout, result.stderr, (SECRET,), describe=str(result))
        assert (result.returncode == 0) == (host != "missing.example"), result
    listed = helper.list(env=env)
    check_outcome("list", listed.returncode, listed.stdout, listed.stderr, (SECRET,), describe=str(listed))
    stored = helper.run("store", stdin=store_payload("new.example", "u", SECRET + "new"), env=env)
    erased = helper.erase("new.example", env=env)
    for verb, result in (("store", stored), ("erase", erased)):
        assert result.returncode == 0 and "debug:" in result.stderr, result
        check_outcome(verb, result.returncode, result.stdout, result.stderr, (SECRET,), describe=str(result))


# --- standard streams a client might hand over ------------------------------------------------------------


def test_closed_stdout_is_no_traceback(helper):
    proc = subprocess.run(
        f"exec {helper.program} version >&-", shell=True, capture_output=True, env=helper.env, timeout=30
    )
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr, proc


def test_full_stdout_is_a_message_not_a_traceback(helper):
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [helper.program, "version"], stdout=full, stderr=subprocess.PIPE, env=helper.env, timeout=30
        )
    assert proc.returncode == 1, proc
    assert proc.stderr.decode().strip() == "docker-credential-imgpkg: cannot write the answer: No space left on device"


def test_closed_stderr_keeps_the_trace_off_stdout(helper):
    proc = subprocess.run(
        f"exec {helper.program} get 2>&-",
        shell=True,
        input=b"example.com",
        capture_output=True,
        env={**helper.env, "DOCKER_CREDENTIAL_IMGPKG_DEBUG": "1"},
        timeout=30,
    )
    assert (proc.returncode, proc.stdout.decode()) == (1, NOT_FOUND)


def test_closed_stdin_is_empty_input(helper):
    proc = subprocess.run(f"exec {helper.program} get <&-", shell=True, capture_output=True, env=helper.env, timeout=30)
    assert (proc.returncode, proc.stdout) == (1, b"no credentials server URL\n"), proc


def test_non_blocking_stdin_is_waited_for(helper):
    """A caller that left O_NONBLOCK on the pipe: the helper waits for the data instead of failing."""
    read_end, write_end = os.pipe()
    flags = fcntl.fcntl(read_end, fcntl.F_GETFL)
    fcntl.fcntl(read_end, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    proc = helper.spawn("get", stdin=read_end)
    os.close(read_end)
    time.sleep(0.3)
    os.write(write_end, b"example.com")
    os.close(write_end)
    out, _ = proc.communicate(timeout=30)
    assert (proc.returncode, out.decode()) == (1, NOT_FOUND)


def test_directory_as_stdin_is_an_error(helper):
    """Python itself refuses a directory on fd 0 before our code runs; whatever happens, exit 1 and no hang."""
    root = os.open("/", os.O_RDONLY)
    try:
        proc = subprocess.run([helper.program, "get"], stdin=root, capture_output=True, env=helper.env, timeout=30)
    finally:
        os.close(root)
    assert proc.returncode != 0 and b"Traceback" not in proc.stderr, proc


def test_in_process_main_reads_a_directory_stdin_as_an_error(monkeypatch, capsys):
    from docker_credential_imgpkg import cli

    fd = os.open("/", os.O_RDONLY)
    try:
        monkeypatch.setattr(sys, "stdin", DirectoryStdin(fd))
        assert cli.main(["get"]) == 1
    finally:
        os.close(fd)
    assert capsys.readouterr().out == "cannot read standard input: Is a directory\n"


class DirectoryStdin:
    """Stands in for ``sys.stdin`` when fd 0 is a directory (Python's own io refuses to wrap one)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd


@pytest.mark.parametrize("value", ["inf", "1e300"])
def test_huge_delegation_timeout_is_no_crash(helper, fake_provider, value):
    """DOCKER_CREDENTIAL_IMGPKG_TIMEOUT=inf once reached poll() as inf*1000 and died with OverflowError."""
    result = helper.get("gcr.io", env={"IMGPKG_ACTIVE_KEYCHAINS": "gke", "DOCKER_CREDENTIAL_IMGPKG_TIMEOUT": value})
    check_outcome("get", result.returncode, result.stdout, result.stderr, describe=str(result))
