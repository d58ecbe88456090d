"""Assertions and fakes shared by the protocol suite. Everything runs the program as a subprocess."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path

from common import NOT_FOUND

NO_SERVER_URL = "no credentials server URL\n"
NO_USERNAME = "no credentials username\n"
HUB = "https://index.docker.io/v1/"
ACCESS_TOKEN = HUB + "access-token"
REFRESH_TOKEN = HUB + "refresh-token"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def answer(result) -> dict:
    """The parsed ``get`` answer; checks the framing: exit 0, one JSON object, keys in protocol case and order."""
    assert result.returncode == 0, f"exit {result.returncode}: stdout={result.stdout!r} stderr={result.stderr!r}"
    assert result.stdout.endswith("}\n") and result.stdout.count("\n") == 1, result.stdout
    obj = json.loads(result.stdout)
    assert list(obj) == ["ServerURL", "Username", "Secret"], result.stdout
    return obj


def assert_creds(result, server: str, username: str, secret: str) -> None:
    assert answer(result) == {"ServerURL": server, "Username": username, "Secret": secret}


def assert_user(result, username: str) -> None:
    assert answer(result)["Username"] == username


def assert_not_found(result) -> None:
    assert (result.returncode, result.stdout) == (1, NOT_FOUND), result


def assert_error(result, *fragments: str, secrets: tuple[str, ...] = ()) -> str:
    """A protocol error: exit 1, one short line on stdout containing every fragment, no traceback, no secret."""
    assert result.returncode == 1, result
    out = result.stdout
    assert out.endswith("\n") and out.count("\n") == 1, out
    assert out != NOT_FOUND, "expected a specific error, got not-found"
    assert len(out) < 400, out
    for fragment in fragments:
        assert fragment in out, f"{fragment!r} not in {out!r}"
    assert "Traceback" not in out + result.stderr
    for secret in secrets:
        assert secret not in out + result.stderr, f"secret {secret!r} leaked: {out!r} {result.stderr!r}"
    return out


def assert_silent_success(result) -> None:
    assert (result.returncode, result.stdout) == (0, ""), result


def store_each(helper, *entries: tuple[str, str, str]) -> None:
    """``store`` each (server, username, secret) through the program, in order; each succeeds silently."""
    for server, username, secret in entries:
        assert_silent_success(helper.store(server, username, secret))


def read_store(helper) -> dict:
    return json.loads(helper.store_path.read_text())


def fake_program(directory: Path, name: str, *, reply: str = "", code: int = 0, sleep: float = 0) -> Path:
    """A stand-in ``docker-credential-*`` program that logs argv and stdin (one JSON line per call) to NAME.log."""
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / f"{name}.log"
    script = directory / name
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys, time\n"
        "data = sys.stdin.read()\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(json.dumps({'argv': sys.argv[1:], 'stdin': data}) + '\\n')\n"
        f"time.sleep({sleep!r})\n"
        f"sys.stdout.write({reply!r})\n"
        f"sys.exit({code!r})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return log


def calls(log: Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def creds_json(username: str, secret: str, server: str = "") -> str:
    return json.dumps({"ServerURL": server, "Username": username, "Secret": secret}) + "\n"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def seed_store(helper, entries: dict[str, tuple[str, str]]) -> None:
    """Write the store file directly (docker config.json format, 0700/0600) where a test is not about ``store``."""
    auths = {
        key: {"identitytoken": secret} if user == "<token>" else {"auth": b64(f"{user}:{secret}")}
        for key, (user, secret) in entries.items()
    }
    helper.store_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    helper.store_path.parent.chmod(0o700)
    helper.store_path.write_text(json.dumps({"auths": auths}))
    helper.store_path.chmod(0o600)
