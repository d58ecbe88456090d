"""Running another ``docker-credential-*`` program: input on stdin (never argv), bounded time, clear errors."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from .errors import HelperError

DEFAULT_TIMEOUT = 20.0


class ProgramMissing(HelperError):
    """The external program is not on PATH."""


@dataclass(frozen=True)
class Reply:
    returncode: int
    stdout: str


def timeout_seconds() -> float:
    raw = os.environ.get("DOCKER_CREDENTIAL_IMGPKG_TIMEOUT", "")
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise HelperError(f"DOCKER_CREDENTIAL_IMGPKG_TIMEOUT must be a number of seconds, got {raw!r}") from None
    return value if value > 0 else DEFAULT_TIMEOUT


def run_program(program: str, verb: str, data: bytes, *, role: str) -> Reply:
    """Run ``program verb`` with ``data`` on stdin; its stderr passes through to the user.

    ``role`` names who is asking ("keychain gke", "backend"), for messages that say exactly what failed.
    """
    import subprocess

    path = shutil.which(program)
    if path is None:
        raise ProgramMissing(f"{role}: {program} not found in PATH")
    limit = timeout_seconds()
    try:
        proc = subprocess.run(
            [path, verb], input=data, stdout=subprocess.PIPE, timeout=limit, check=False, close_fds=True
        )
    except subprocess.TimeoutExpired:
        raise HelperError(f"{role}: {program} {verb} did not answer within {limit:g}s") from None
    except OSError as err:
        raise HelperError(f"{role}: cannot run {program}: {err.strerror}") from None
    return Reply(proc.returncode, proc.stdout.decode("utf-8", "replace").strip())


def first_line(text: str, limit: int = 300) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= limit else line[:limit] + "…"
