"""Real credential stores to put underneath the helper: Debian's ``pass`` + ``docker-credential-pass`` with a
throwaway GPG key, and ``docker-credential-secretservice`` with a private D-Bus and gnome-keyring.

Every daemon is started here and stopped by its PID. GPG gets ``no-autostart``, so no stray agent can appear
behind the test's back; directories live under /tmp with short names (gpg-agent's socket path limit).
A missing tool skips these tests on a developer machine but fails them under CI (``.ci/install-backend.sh``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from common import GpgHome, gpg_keyring

# The client flows in test_backend_clients.py use the e2e suite's registries and isolated clients: fixtures of
# the plugin e2e.fixtures, which tests/conftest.py registers for every suite.

PASS_TOOLS = ("pass", "gpg", "gpg-agent", "gpg-connect-agent", "docker-credential-pass")
SECRETSERVICE_TOOLS = ("dbus-daemon", "gnome-keyring-daemon", "docker-credential-secretservice")
INSTALL_HINT = "run .ci/install-backend.sh"


def require(tools: tuple[str, ...]) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    message = f"backend tests: missing {', '.join(missing)}; {INSTALL_HINT}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


# --------------------------------------------------------------------------------------------------------------
# pass


@pytest.fixture(scope="session")
def gpg_home() -> Iterator[GpgHome]:
    require(PASS_TOOLS)
    with gpg_keyring("g.") as home:
        yield home


@dataclass
class PassStore:
    """One test's password store; ``env`` is what the helper and docker-credential-pass need to reach it."""

    dir: Path
    env: dict[str, str]

    def raw(self, verb: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """docker-credential-pass itself, bypassing the helper: what is really in the store."""
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": self.env["GNUPGHOME"], **self.env}
        return subprocess.run(
            ["docker-credential-pass", verb], input=stdin, env=env, capture_output=True, text=True, timeout=30
        )

    def raw_list(self) -> dict[str, str]:
        result = self.raw("list", "unused")
        assert result.returncode == 0, result
        return json.loads(result.stdout)

    def raw_store(self, server: str, username: str, secret: str) -> None:
        payload = json.dumps({"ServerURL": server, "Username": username, "Secret": secret})
        result = self.raw("store", payload)
        assert result.returncode == 0, result

    def files(self) -> list[Path]:
        return sorted(p for p in self.dir.rglob("*") if p.is_file() and p.name != ".gpg-id")


@pytest.fixture
def pass_store(gpg_home: GpgHome) -> Iterator[PassStore]:
    store = Path(tempfile.mkdtemp(prefix="p.", dir="/tmp"))
    env = {"GNUPGHOME": str(gpg_home.path), "PASSWORD_STORE_DIR": str(store)}
    base = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(gpg_home.path), **env}
    subprocess.run(["pass", "init", gpg_home.fingerprint], env=base, check=True, capture_output=True, timeout=30)
    yield PassStore(store, env)
    shutil.rmtree(store, ignore_errors=True)


# --------------------------------------------------------------------------------------------------------------
# secretservice


@dataclass
class SecretService:
    env: dict[str, str]


@pytest.fixture
def secret_service() -> Iterator[SecretService]:
    """A private session bus with gnome-keyring's Secret Service on it, its login keyring created unlocked."""
    require(SECRETSERVICE_TOOLS)
    root = Path(tempfile.mkdtemp(prefix="ss.", dir="/tmp"))
    runtime = root / "run"
    runtime.mkdir(mode=0o700)
    env = {
        "HOME": str(root),
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_DATA_HOME": str(root / "data"),
        "XDG_CONFIG_HOME": str(root / "config"),
    }
    base = {"PATH": os.environ.get("PATH", os.defpath), **env}
    daemons: list[subprocess.Popen] = []
    try:
        bus = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address=unix:path={runtime}/bus",
             "--print-address=1"],
            env=base, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        daemons.append(bus)
        assert bus.stdout is not None
        address = bus.stdout.readline().strip()
        if not address:
            pytest.fail("dbus-daemon printed no address")
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        base["DBUS_SESSION_BUS_ADDRESS"] = address
        # --unlock reads the login keyring's password from stdin and creates the keyring, unlocked.
        keyring = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets",
             f"--control-directory={runtime}/keyring"],
            env=base, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        daemons.append(keyring)
        assert keyring.stdin is not None
        keyring.stdin.write(b"test-keyring-password")
        keyring.stdin.close()
        deadline = time.monotonic() + 15
        probe_entry = b'{"ServerURL":"probe.invalid","Username":"probe","Secret":"probe"}'
        while True:  # ready once the login collection takes an entry
            probe = subprocess.run(
                ["docker-credential-secretservice", "store"], input=probe_entry, env=base, capture_output=True,
                timeout=15,
            )  # fmt: skip
            if probe.returncode == 0:
                subprocess.run(
                    ["docker-credential-secretservice", "erase"], input=b"probe.invalid", env=base,
                    capture_output=True, timeout=15, check=True,
                )  # fmt: skip
                break
            if keyring.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gnome-keyring-daemon's Secret Service did not come up: {probe.stdout!r}")
            time.sleep(0.05)
        yield SecretService(env)
    finally:
        for daemon in reversed(daemons):
            daemon.terminate()
            try:
                daemon.wait(10)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        if daemons and daemons[0].stdout is not None:
            daemons[0].stdout.close()
        shutil.rmtree(root, ignore_errors=True)
