"""Shared by the hardening (fast) and stress (long) suites: process runners, store inspection, outcome checks.

Every check here is one that can fail: it compares what the program did against a stated expectation and
raises with the evidence (exit status, stdout, stderr) when they differ.
"""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

TEMP_MARK = ".tmp-"
# Every secret the suites make starts with the first marker (fuzzed ones also end with the second), and no
# username, address or variable name ever contains one: any marker in error or debug text is a leak, even of
# a secret's first or last few characters.
SECRET_MARKERS = ("S3CR3T", "Z3CR3T")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def auth_entry(username: str, secret: str) -> dict[str, str]:
    return {"auth": b64(f"{username}:{secret}")}


def store_payload(server: str, username: str, secret: str) -> bytes:
    return (
        json.dumps({"ServerURL": server, "Username": username, "Secret": secret}, separators=(",", ":")) + "\n"
    ).encode()


def temp_files(directory: Path) -> list[str]:
    """Temp files a writer of the store leaves behind (``.credentials.json.tmp-<pid>-<rand>``)."""
    try:
        return sorted(n for n in os.listdir(directory) if TEMP_MARK in n)
    except FileNotFoundError:
        return []


def read_auths(path: Path) -> dict[str, object]:
    """The store's ``auths`` map, read the way a second program would; raises if the file does not parse."""
    doc = json.loads(path.read_bytes())
    assert isinstance(doc, dict) and isinstance(doc.get("auths"), dict), doc
    return doc["auths"]


def decode_auth(entry: object) -> tuple[str, str]:
    assert isinstance(entry, dict) and "auth" in entry, entry
    user, _, secret = base64.b64decode(entry["auth"]).decode().partition(":")
    return user, secret


def write_store(path: Path, auths: dict[str, object], mode: int = 0o600) -> None:
    """A store file as the helper writes it (tests that need many entries skip hundreds of ``store`` runs)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.parent.chmod(0o700)
    path.write_text(json.dumps({"auths": auths}, indent="\t") + "\n")
    path.chmod(mode)


@dataclass
class Finished:
    args: tuple[str, ...]
    stdin: bytes
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (
            f"{' '.join(self.args)} <{self.stdin[:80]!r}: exit {self.returncode}, stdout={self.stdout[:300]!r}, "
            f"stderr={self.stderr[:300]!r}"
        )


class Batch:
    """Many helper processes started first and released together: each is blocked reading stdin until
    :meth:`release` writes every stdin in a random order, so the requests really overlap."""

    def __init__(self, program: str, env: dict[str, str]) -> None:
        self.program = program
        self.env = env
        self.pending: list[tuple[subprocess.Popen[bytes], tuple[str, ...], bytes]] = []

    def add(self, *args: str, stdin: bytes = b"") -> None:
        proc = subprocess.Popen(
            [self.program, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
        )
        self.pending.append((proc, args, stdin))

    def release(self, rng: random.Random, timeout: float = 120) -> list[Finished]:
        order = list(self.pending)
        rng.shuffle(order)
        for proc, _, data in order:
            assert proc.stdin is not None
            try:
                proc.stdin.write(data)
                proc.stdin.close()
            except BrokenPipeError:
                pass  # `list` does not read stdin and may already have exited
            proc.stdin = None  # closed: communicate() must not touch it
        done = []
        deadline = time.monotonic() + timeout
        for proc, args, data in self.pending:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            done.append(
                Finished(args, data, proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
            )
        self.pending = []
        return done


# --- running the program with bytes: argv, stdin, environment and output as the wire carries them -----------------


@dataclass
class Raw:
    """A finished run with its output as bytes (the wire) and as text (for messages)."""

    returncode: int
    out: bytes
    err: bytes

    @property
    def stdout(self) -> str:
        return self.out.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self.err.decode("utf-8", "replace")

    def __str__(self) -> str:
        return f"exit {self.returncode}, stdout={self.out[:400]!r}, stderr={self.err[:600]!r}"


def run(
    helper, *args: str | bytes, stdin: bytes | str = b"", env: dict | None = None, timeout: float = 60, **popen
) -> Raw:
    """``helper.program`` with ``args``; ``env`` entries are added to the helper's (``None`` removes one; names,
    values and ``args`` may be bytes: argv and the environment are bytes, and some cases need bytes that are not
    UTF-8)."""
    merged: dict = dict(helper.env)
    for name, value in (env or {}).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run(
        [popen.pop("argv0", helper.program), *args],
        input=data,
        capture_output=True,
        env=merged,
        timeout=timeout,
        **popen,
    )
    return Raw(proc.returncode, proc.stdout, proc.stderr)


def env_entry(host: str, username: str, password: str | bytes, suffix: str = "") -> dict:
    tail = f"_{suffix}" if suffix else ""
    return {
        f"IMGPKG_REGISTRY_HOSTNAME{tail}": host,
        f"IMGPKG_REGISTRY_USERNAME{tail}": username,
        f"IMGPKG_REGISTRY_PASSWORD{tail}": password,
    }


def drop_dac_override() -> None:
    """preexec_fn: run the child as root *without* the capabilities that let root read any file, so a chmod 000
    file is really unreadable. (Tests run as root; the bounding set is what exec gives a root process.)"""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override, cap_dac_read_search = 24, 1, 2
    for cap in (cap_dac_override, cap_dac_read_search):
        if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run_with(program: str, args: list[str], stdin: bytes, env: dict[str, str], **popen) -> Finished:
    proc = subprocess.run([program, *args], input=stdin, capture_output=True, env=env, timeout=30, **popen)
    return Finished(
        tuple(args),
        stdin,
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


# --- the contract every run must keep, whatever its input ------------------------------------------------------


def check_outcome(
    verb: str | None,
    status: int,
    stdout: str,
    stderr: str,
    secrets: tuple[str, ...] = (),
    *,
    describe: str = "",
) -> None:
    """Exit 0 or 1; stdout is the verb's protocol answer or exactly one error line; no traceback, no
    "internal error", and no secret in any error text, in the debug trace or anywhere but a ``get`` answer's
    ``Secret``."""
    where = f"{describe}\nexit {status}\nstdout={stdout[:2000]!r}\nstderr={stderr[:2000]!r}"
    assert status in (0, 1), where
    assert "Traceback" not in stdout and "Traceback" not in stderr, where
    assert "internal error" not in stdout, where
    visible = stderr
    if status == 1:
        assert stdout.endswith("\n") and stdout.count("\n") == 1 and stdout.strip(), where
        assert len(stdout) < 2000, where
        visible += stdout
    elif verb == "get":
        assert stdout.endswith("}\n") and stdout.count("\n") == 1, where
        answer = json.loads(stdout)
        assert isinstance(answer, dict) and list(answer) == ["ServerURL", "Username", "Secret"], where
        assert all(isinstance(v, str) for v in answer.values()), where
        visible += answer["ServerURL"] + "\n" + answer["Username"]
    elif verb == "list":
        assert stdout.endswith("}\n") and stdout.count("\n") == 1, where
        answer = json.loads(stdout)
        assert isinstance(answer, dict) and all(isinstance(v, str) for v in answer.values()), where
        visible += stdout
    elif verb in ("store", "erase"):
        assert stdout == "", where
    else:
        visible += stdout
    for secret in (*secrets, *SECRET_MARKERS):
        assert secret not in visible, f"secret {secret!r} leaked\n{where}"
