"""Fixtures for the end-to-end suites (tests/e2e, tests/backend): registries, the test image, the program under
test, isolated clients. A pytest plugin, registered by tests/conftest.py (``pytest_plugins``).

Registries live for the whole session (starting them costs ~0.3 s each, pushing the image once per repository
is cheap); every test gets its own :class:`Clients` world under pytest's ``tmp_path`` (with ``transcript.log``,
every command it ran). On any failure the session's work directory (registry logs and configs, CA, token
signer) is kept and its path printed; failing tests also show the tail of each registry's log and the last
client commands in their report.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from common import program_under_test

from .support import (
    OTHER_PASSWORD,
    OTHER_USER,
    PASSWORD,
    USER,
    Clients,
    Registry,
    TokenServer,
    make_tls,
    write_oci_layout,
)

REQUIRED = ("docker-registry", "htpasswd", "openssl", "skopeo", "podman", "docker")
_KEPT: list[str] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    funcargs = getattr(item, "funcargs", {})
    clients = funcargs.get("clients")
    if isinstance(clients, Clients) and clients.transcript:
        report.sections.append(("client commands (last 25)", clients.describe()))
    for name, value in funcargs.items():
        registries = value.values() if isinstance(value, dict) else [value]
        for registry in registries:
            if isinstance(registry, Registry):
                report.sections.append((f"registry {registry.name} log ({name})", registry.log_tail()))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for path in _KEPT:
        terminalreporter.write_line(f"e2e: kept registry logs, configs and transcripts in {path}")


@pytest.fixture(scope="session")
def e2e_root(request: pytest.FixtureRequest) -> Iterator[Path]:
    missing = [tool for tool in REQUIRED if shutil.which(tool) is None]
    if missing:
        message = f"e2e: missing {', '.join(missing)}; run .ci/install-e2e.sh"
        if os.environ.get("CI"):  # under CI a missing tool is a broken install step, not a reason to go green
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="imgpkg-e2e-", dir=os.environ.get("E2E_TMPDIR")))
    yield root
    if request.session.testsfailed:
        _KEPT.append(str(root))
    else:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def helper_bin() -> Path:
    """The program under test (:func:`common.program_under_test`), resolved once, when a test first needs it; the
    ``helper`` fixture runs it too. Fails the test that needs it when there is none."""
    try:
        return program_under_test()
    except RuntimeError as err:
        pytest.fail(str(err))


@pytest.fixture(scope="session")
def tls(e2e_root: Path):
    return make_tls(e2e_root / "tls")


@pytest.fixture(scope="session")
def http_registry(e2e_root: Path) -> Iterator[Registry]:
    registry = Registry(e2e_root / "registry-http", "http").start()
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def https_registry(e2e_root: Path, tls) -> Iterator[Registry]:
    registry = Registry(e2e_root / "registry-https", "https", tls=tls).start()
    yield registry
    registry.stop()


@pytest.fixture(scope="module")
def other_registry(e2e_root: Path) -> Iterator[Registry]:
    """A second HTTP registry with its own account: copies between registries need different credentials (the
    session's registries all share one account). One per test module that asks for it."""
    workdir = Path(tempfile.mkdtemp(prefix="registry-other-", dir=e2e_root))
    registry = Registry(workdir, "other", users={OTHER_USER: OTHER_PASSWORD}).start()
    yield registry
    registry.stop()


IDENTITY_TOKEN = "e2e-refresh-token-7f3c9a"  # what a registry's OAuth login would have handed out


@pytest.fixture(scope="session")
def token_server(e2e_root: Path) -> Iterator[TokenServer]:
    server = TokenServer(e2e_root / "token-server", {USER: PASSWORD}, {IDENTITY_TOKEN: USER}).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def token_registry(e2e_root: Path, token_server: TokenServer) -> Iterator[Registry]:
    """A registry that only accepts bearer tokens from ``token_server`` (where identity tokens matter)."""
    registry = Registry(e2e_root / "registry-token", "token", token_auth=token_server).start()
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def oci_image(e2e_root: Path) -> Path:
    layout = e2e_root / "oci-image"
    write_oci_layout(layout, "v1")
    return layout


@pytest.fixture
def clients(tmp_path: Path, helper_bin: Path, oci_image: Path) -> Iterator[Clients]:
    world = Clients(tmp_path / "w", helper_bin, oci_image)
    yield world
    world.cleanup()


def seed(registry: Registry, clients_root: Path, image: Path, repo: str, helper: Path) -> str:
    """Push the test image to ``registry`` with explicit credentials (no helper involved); returns the ref."""
    seeder = Clients(clients_root, helper, image)
    args = ["--policy", str(seeder.policy), "copy", "--format", "v2s2", "--dest-creds", f"{USER}:{PASSWORD}"]
    args += ["--dest-cert-dir", str(registry.tls.cert_dir)] if registry.tls else ["--dest-tls-verify=false"]
    result = seeder.skopeo(*args, f"oci:{image}:v1", f"docker://{registry.host}/{repo}:1")
    assert result.returncode == 0, result.describe()
    return f"{registry.host}/{repo}:1"


@pytest.fixture(scope="session")
def http_image(http_registry: Registry, e2e_root: Path, oci_image: Path, helper_bin: Path) -> str:
    """``127.0.0.1:PORT/e2e/seed:1`` on the HTTP registry, pushed without the helper."""
    return seed(http_registry, e2e_root / "seed-http", oci_image, "e2e/seed", helper_bin)


@pytest.fixture(scope="session")
def https_image(https_registry: Registry, e2e_root: Path, oci_image: Path, helper_bin: Path) -> str:
    return seed(https_registry, e2e_root / "seed-https", oci_image, "e2e/seed", helper_bin)


@pytest.fixture(scope="session")
def token_image(token_registry: Registry, e2e_root: Path, oci_image: Path, helper_bin: Path) -> str:
    return seed(token_registry, e2e_root / "seed-token", oci_image, "e2e/seed", helper_bin)
