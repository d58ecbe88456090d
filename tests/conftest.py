"""Shared fixtures: the program under test, run as a subprocess exactly as clients run it.

``HELPER_BIN=path`` selects the program (the onefile binary, say); otherwise the console script installed
beside the test interpreter. Every run gets an isolated HOME, XDG_CONFIG_HOME and DOCKER_CONFIG and an
environment with nothing inherited but PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest


def program_under_test() -> str:
    chosen = os.environ.get("HELPER_BIN")
    if chosen:
        return os.path.abspath(chosen)
    beside = Path(sys.executable).parent / "docker-credential-imgpkg"
    if beside.exists():
        return str(beside)
    found = shutil.which("docker-credential-imgpkg")
    if not found:
        raise RuntimeError("docker-credential-imgpkg is not installed; run `make install` or set HELPER_BIN")
    return found


PROGRAM = program_under_test()
# The single executable unpacks its bundle once per user cache; with a fresh HOME per test it would unpack
# ~900 times. One cache for the session keeps the suite fast; packaging/tests covers first runs.
BINARY_CACHE = tempfile.mkdtemp(prefix="helper-cache-") if os.environ.get("HELPER_BIN") else ""


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self) -> object:
        return json.loads(self.stdout)


class Helper:
    """Runs the program with an isolated home; ``env`` holds the variables every run gets."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir()
        self.config_home = self.home / ".config"
        self.docker_config_dir = root / "docker"
        self.program = PROGRAM
        self.env: dict[str, str] = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.config_home),
            "DOCKER_CONFIG": str(self.docker_config_dir),
        }
        if BINARY_CACHE:
            self.env["XDG_CACHE_HOME"] = BINARY_CACHE

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
        self, *args: str, stdin: bytes | str = b"", env: dict[str, str] | None = None, timeout: float = 30
    ) -> Result:
        data = stdin.encode() if isinstance(stdin, str) else stdin
        proc = subprocess.run(
            [self.program, *args],
            input=data,
            capture_output=True,
            timeout=timeout,
            env={**self.env, **(env or {})},
        )
        return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))

    def get(self, address: str, env: dict[str, str] | None = None) -> Result:
        return self.run("get", stdin=address, env=env)

    def store(self, server: str, username: str, secret: str, env: dict[str, str] | None = None) -> Result:
        payload = json.dumps({"ServerURL": server, "Username": username, "Secret": secret}, separators=(",", ":"))
        return self.run("store", stdin=payload + "\n", env=env)

    def erase(self, address: str, env: dict[str, str] | None = None) -> Result:
        return self.run("erase", stdin=address, env=env)

    def list(self, env: dict[str, str] | None = None) -> Result:
        return self.run("list", env=env)


@pytest.fixture
def helper(tmp_path: Path) -> Helper:
    return Helper(tmp_path)


NOT_FOUND = "credentials not found in native keychain\n"
