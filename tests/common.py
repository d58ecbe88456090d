"""What every suite shares: the program under test and how to run it, its not-found answer, stopping a process.

Imported as ``from common import ...``: tests/ has no ``__init__.py`` and holds the top conftest.py, so pytest
(rootdir-based "prepend" import mode) puts tests/ on ``sys.path`` before it imports any test module. The suites'
own helpers stay beside them (``protocol/support.py``, ``hardening/support.py``, ``e2e/support.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROGRAM_NAME = "docker-credential-imgpkg"
NOT_FOUND = "credentials not found in native keychain\n"  # the whole stdout of a miss (exit status 1)


# --------------------------------------------------------------------------------------------------------------
# the program under test


def program_under_test() -> Path:
    """``$HELPER_BIN`` if set (the single executable, say), else the console script installed beside the test
    interpreter (``make`` does not activate .venv), else the one on PATH. Raises RuntimeError if there is none."""
    chosen = os.environ.get("HELPER_BIN")
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_absolute():
            path = (Path.cwd() / path).resolve()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise RuntimeError(f"HELPER_BIN={chosen!r} is not an executable file")
        return path
    beside = Path(sys.executable).parent / PROGRAM_NAME
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which(PROGRAM_NAME)
    if found:
        return Path(found).absolute()
    raise RuntimeError(
        f"{PROGRAM_NAME} is not installed beside {sys.executable} nor on PATH; run `make install` or set HELPER_BIN"
    )


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self) -> object:
        return json.loads(self.stdout)


class Helper:
    """Runs ``program`` as clients do, with an isolated home; ``env`` holds the variables every run gets
    (nothing inherited but PATH). ``cache``: the XDG_CACHE_HOME the single executable unpacks into, if any."""

    def __init__(self, root: Path, program: str, cache: str = "") -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir()
        self.config_home = self.home / ".config"
        self.docker_config_dir = root / "docker"
        self.program = program
        self.env: dict[str, str] = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.config_home),
            "DOCKER_CONFIG": str(self.docker_config_dir),
        }
        if cache:
            self.env["XDG_CACHE_HOME"] = cache

    @property
    def store_path(self) -> Path:
        return self.config_home / "docker-credential-imgpkg" / "credentials.json"

    @property
    def docker_config_path(self) -> Path:
        return self.docker_config_dir / "config.json"

    def write_docker_config(self, doc: object) -> Path:
        self.docker_config_dir.mkdir(exist_ok=True)
        text = doc if isinstance(doc, str) else json.dumps(doc)
        self.docker_config_path.write_text(text)
        return self.docker_config_path

    def run(
        self,
        *args: str,
        stdin: bytes | str = b"",
        env: dict[str, str] | None = None,
        timeout: float = 30,
        cwd: Path | None = None,
    ) -> Result:
        data = stdin.encode() if isinstance(stdin, str) else stdin
        proc = subprocess.run(
            [self.program, *args],
            input=data,
            capture_output=True,
            timeout=timeout,
            env={**self.env, **(env or {})},
            cwd=cwd,
        )
        return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))

    def spawn(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        stdin: int = subprocess.PIPE,
        stdout: int = subprocess.PIPE,
        stderr: int = subprocess.PIPE,
    ) -> subprocess.Popen[bytes]:
        """Start the program as :meth:`run` does, without waiting for it (concurrent runs, signals, streams);
        stdin, stdout and stderr are pipes unless given (a descriptor or a ``subprocess`` constant)."""
        return subprocess.Popen(
            [self.program, *args], stdin=stdin, stdout=stdout, stderr=stderr, env={**self.env, **(env or {})}
        )

    def get(self, address: str, env: dict[str, str] | None = None) -> Result:
        return self.run("get", stdin=address, env=env)

    def store(self, server: str, username: str, secret: str, env: dict[str, str] | None = None) -> Result:
        payload = json.dumps({"ServerURL": server, "Username": username, "Secret": secret}, separators=(",", ":"))
        return self.run("store", stdin=payload + "\n", env=env)

    def erase(self, address: str, env: dict[str, str] | None = None) -> Result:
        return self.run("erase", stdin=address, env=env)

    def list(self, env: dict[str, str] | None = None) -> Result:
        return self.run("list", env=env)


# --------------------------------------------------------------------------------------------------------------
# stand-in programs


def write_program(directory: Path, name: str, body: str, shell: str = "/bin/sh") -> Path:
    """An executable ``directory/name``: ``#!shell`` and then ``body``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!{shell}\n{body}")
    path.chmod(0o755)
    return path


def backend_program(
    bin_dir: Path, name: str, body: str, *, path: str = "/usr/bin:/bin", shell: str = "/bin/sh"
) -> dict[str, str]:
    """``docker-credential-NAME`` in ``bin_dir`` (see :func:`write_program`) as the helper's backend: returns the
    variables that select it (``helper:NAME``) and find it, ``bin_dir`` first on ``path``."""
    write_program(bin_dir, f"docker-credential-{name}", body, shell)
    return {"PATH": f"{bin_dir}:{path}", "DOCKER_CREDENTIAL_IMGPKG_BACKEND": f"helper:{name}"}


# --------------------------------------------------------------------------------------------------------------
# processes


def _exited(pid: int) -> bool:
    """Whether ``pid`` has exited: our child is reaped here; a daemon that detached from us (gpg-agent) counts as
    exited once it is gone or a zombie left for init to reap."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done != 0
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    return state in ("Z", "X")


def stop_pid(pid: int, timeout: float = 10) -> None:
    """SIGTERM one process we started (by its id) and wait until it has exited; SIGKILL if it lingers."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _exited(pid):
            return
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


# --------------------------------------------------------------------------------------------------------------
# a GPG keyring for pass


@dataclass
class GpgHome:
    path: Path
    fingerprint: str
    agent_pid: int


@contextmanager
def gpg_keyring(prefix: str) -> Iterator[GpgHome]:
    """A GNUPGHOME under /tmp (short: gpg-agent's socket path limit) with a passphrase-less key and our own
    gpg-agent, stopped by PID at the end."""
    home = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    pid = None
    try:
        home.chmod(0o700)
        (home / "gpg.conf").write_text("no-autostart\n")
        env = {"PATH": os.environ.get("PATH", os.defpath), "GNUPGHOME": str(home), "HOME": str(home)}
        # The daemon keeps whatever it inherits open: give it nothing a pipe reader would wait on.
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "stdin": subprocess.DEVNULL}
        subprocess.run(["gpg-agent", "--daemon"], env=env, check=True, timeout=30, **quiet)
        reply = subprocess.run(
            ["gpg-connect-agent", "--no-autostart", "getinfo pid", "/bye"],
            env=env, check=True, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        pid = int(next(line.split()[1] for line in reply.stdout.splitlines() if line.startswith("D ")))
        subprocess.run(
            ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "test <t@example.invalid>",
             "default", "default", "never"],
            env=env, check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        listing = subprocess.run(
            ["gpg", "--list-keys", "--with-colons"], env=env, check=True, capture_output=True, text=True, timeout=30
        ).stdout
        fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
        yield GpgHome(home, fingerprint, pid)
    finally:
        if pid is not None:
            stop_pid(pid)
        shutil.rmtree(home, ignore_errors=True)
