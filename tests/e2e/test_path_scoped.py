"""Path-scoped ``IMGPKG_REGISTRY_*`` entries through real clients (issue 9, "Path-scoped credentials for clients
that send only the host").

Every flow runs against the session's HTTP registry (htpasswd account ``testuser``) with credentials from
``IMGPKG_REGISTRY_HOSTNAME_<n>=127.0.0.1:PORT/<path>`` variables only: nothing is stored, no host-level entry.

* crane (``credsStore``) asks ``host/repository`` first: imgpkg's rules pick the entry scoped to the repository,
  even when another path-scoped entry of the same host carries other credentials.
* skopeo (``credHelpers``) and the docker CLI (``credsStore``) send only the host: the host's path-scoped entries
  answer when they all carry the same credentials; when they differ the helper answers not-found (its debug trace
  says they "carry different credentials"), the client goes anonymous and the registry refuses it.
* regctl (``credsStore``) asks ``get`` only for registries that ``list`` names: ``list`` names the registry of a
  path-scoped entry exactly when a host-only ``get`` answers it.

Each flow has its negative control (no config names the helper: refused, the helper never runs). The helper's
stderr (``DOCKER_CREDENTIAL_IMGPKG_DEBUG=1``) is appended to a log by a wrapper between the client and the
program under test, and :class:`HelperLog` records what each client sent.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from common import NOT_FOUND

from .fixtures import seed
from .goclients import CLIENT_TIMEOUT, HelperLog, assert_refused_without_helper, go_client, helper_config, refused
from .support import PASSWORD, USER, Clients, Registry, Result, denied, tls_args

pytestmark = pytest.mark.e2e

REPO = "team/app"
WRONG_PASSWORD = "wrong-password-for-other"

# (path, username, password) per IMGPKG_REGISTRY_*_<n> entry, all on the registry's host
ONE = (("team", USER, PASSWORD),)
SAME = (("team", USER, PASSWORD), ("other", USER, PASSWORD))
DIFFERENT = (("team", USER, PASSWORD), ("other", USER, WRONG_PASSWORD))
AGREEING = {"one": ONE, "same": SAME}


@pytest.fixture(scope="module")
def team_image(http_registry: Registry, e2e_root: Path, oci_image: Path, helper_bin: Path) -> str:
    """``127.0.0.1:PORT/team/app:1``, pushed with explicit credentials (no helper involved)."""
    return seed(http_registry, e2e_root / "seed-path-scoped", oci_image, REPO, helper_bin)


def scoped_env(registry: Registry, entries: Sequence[tuple[str, str, str]]) -> dict[str, str]:
    """``IMGPKG_REGISTRY_{HOSTNAME,USERNAME,PASSWORD}_<n>`` (n from 1), each hostname ``HOST/<path>``."""
    env = {}
    for n, (path, user, password) in enumerate(entries, start=1):
        env[f"IMGPKG_REGISTRY_HOSTNAME_{n}"] = f"{registry.host}/{path}"
        env[f"IMGPKG_REGISTRY_USERNAME_{n}"] = user
        env[f"IMGPKG_REGISTRY_PASSWORD_{n}"] = password
    return env


def labels(registry: Registry, entries: Sequence[tuple[str, str, str]]) -> list[str]:
    """How the debug trace names each entry."""
    return [f"IMGPKG_REGISTRY_HOSTNAME_{n}={registry.host}/{e[0]}" for n, e in enumerate(entries, start=1)]


_TRACE_WRAPPER = """#!/bin/sh
# made by tests/e2e/test_path_scoped.py: run the program under test, its stderr (the debug trace) into a log
exec {real} "$@" 2>>{log}
"""


class World:
    """One test's clients with the env entries set, the helper traced, and what each client sent recorded.

    The chain on PATH: HelperLog's recorder -> a shell wrapper sending stderr to ``trace.log`` -> the program
    under test. ``direct`` runs the program under test itself (stderr captured), with the same environment.
    """

    def __init__(self, clients: Clients, registry: Registry, entries: Sequence[tuple[str, str, str]]):
        self.clients, self.registry, self.entries = clients, registry, entries
        self.program = clients.helper_path
        self.trace_path = clients.root / "trace.log"
        traced = clients.root / "traced-helper"
        traced.write_text(
            _TRACE_WRAPPER.format(real=shlex.quote(str(self.program)), log=shlex.quote(str(self.trace_path)))
        )
        traced.chmod(0o755)
        clients.helper_path = traced  # what HelperLog's recorder execs
        self.log = HelperLog(clients)
        clients.extra_env.update(scoped_env(registry, entries))
        clients.extra_env["DOCKER_CREDENTIAL_IMGPKG_DEBUG"] = "1"

    @property
    def host(self) -> str:
        return self.registry.host

    @property
    def image(self) -> str:
        return f"{self.host}/{REPO}:1"

    def trace(self, since: int = 0) -> str:
        if not self.trace_path.exists():
            return ""
        with open(self.trace_path, encoding="utf-8", errors="replace") as log:
            log.seek(since)
            return log.read()

    def trace_mark(self) -> int:
        return self.trace_path.stat().st_size if self.trace_path.exists() else 0

    def sent(self, since: int = 0) -> list[tuple[str, str]]:
        """Distinct (verb, stdin) pairs the clients sent since ``since``, in first-seen order."""
        return list(dict.fromkeys((c.verb, c.stdin.strip()) for c in self.log.calls(since)))

    def direct(self, verb: str, stdin: str = ""):
        return self.clients.run([str(self.program), verb], input=stdin, timeout=30)

    def assert_host_only_answers(self) -> None:
        """The program under test, asked as docker and skopeo ask, answers with the scoped entries' account."""
        result = self.direct("get", self.host)
        assert result.returncode == 0, result.describe()
        assert json.loads(result.stdout) == {"ServerURL": self.host, "Username": USER, "Secret": PASSWORD}
        assert "sent only the host" in result.stderr and "carries the same credentials" in result.stderr
        for label in labels(self.registry, self.entries):
            assert label in result.stderr, result.describe()
        assert PASSWORD not in result.stderr, result.describe()

    def assert_host_only_declines(self) -> None:
        """Asked as docker and skopeo ask, the program under test answers not-found and its trace says why."""
        result = self.direct("get", self.host)
        assert (result.returncode, result.stdout) == (1, NOT_FOUND), result.describe()
        assert "sent only the host" in result.stderr and "carry different credentials" in result.stderr
        for label in labels(self.registry, self.entries):
            assert label in result.stderr, result.describe()
        assert PASSWORD not in result.stderr and WRONG_PASSWORD not in result.stderr, result.describe()

    def assert_refused_without_helper(
        self, *attempts: Callable[[], Result], refusal: Callable[[Result], bool] = refused
    ) -> None:
        """The negative control, run while no client config names the helper: each attempt is refused, anonymously."""
        assert_refused_without_helper(
            self.log, self.registry, *attempts, refusal=refusal, check_registry=self.assert_went_anonymous
        )

    def assert_went_anonymous(self, since: int) -> None:
        """The registry refused the client, and no request named a user: no password was tried (skopeo sends an
        empty basic credential when it has none, which the registry logs as user "")."""
        self.registry.assert_denied(since)
        assert not tried_users(self.registry, since), f"a password was tried for {tried_users(self.registry, since)}"

    def assert_authorized(self, since: int, uri_part: str) -> None:
        """Authenticated and served (the htpasswd file holds one account: only its password passes), and no
        request carried a password the registry refused (the other entry's)."""
        self.registry.assert_authorized(since, uri_part)
        assert not tried_users(self.registry, since), f"a password was refused for {tried_users(self.registry, since)}"


def tried_users(registry: Registry, since: int) -> list[str]:
    """Non-empty user names whose password the registry refused after ``since`` (distribution logs the user on
    failures only)."""
    found = []
    for event in registry.events(since):
        match = re.match(r'error authenticating user "([^"]*)"', str(event.get("msg", "")))
        if match and match.group(1):
            found.append(match.group(1))
    return found


@pytest.fixture
def world_factory(clients: Clients, http_registry: Registry, team_image: str) -> Callable[..., World]:
    def make(entries: Sequence[tuple[str, str, str]]) -> World:
        return World(clients, http_registry, entries)

    return make


# --------------------------------------------------------------------------------------------------------------
# crane: sends host/repository first (credsStore)


def crane(world: World, *args: str):
    return world.clients.run([str(go_client("crane")), *args], timeout=CLIENT_TIMEOUT)


@pytest.mark.parametrize("entries", ["one", "different"])
def test_crane_pull_and_push_pick_the_entry_scoped_to_the_repository(
    entries: str, world_factory, tmp_path: Path
) -> None:
    chosen = ONE if entries == "one" else DIFFERENT
    world = world_factory(chosen)
    clients, registry = world.clients, world.registry
    layout = str(clients.image)
    pushed = f"{world.host}/{REPO}:crane-{entries}"

    # negative control: the same variables while no config names the helper
    clients.write_json(clients.docker_config, {})
    world.assert_refused_without_helper(
        lambda: crane(world, "pull", "--format", "oci", world.image, str(tmp_path / "denied")),
        lambda: crane(world, "push", layout, pushed),
    )

    clients.write_json(clients.docker_config, helper_config("credsStore", []))
    since, mark, trace = world.log.mark(), registry.mark(), world.trace_mark()
    result = crane(world, "pull", "--format", "oci", world.image, str(tmp_path / "pulled"))
    assert result.returncode == 0, result.describe()
    assert (tmp_path / "pulled" / "index.json").is_file()
    world.assert_authorized(mark, f"/v2/{REPO}/manifests/1")
    assert world.sent(since) == [("get", f"{world.host}/{REPO}")]  # the repository form, answered at once
    assert f"{labels(registry, chosen)[0]} matches (username {USER!r}" in world.trace(trace)

    since, mark = world.log.mark(), registry.mark()
    result = crane(world, "push", layout, pushed)
    assert result.returncode == 0, result.describe()
    world.assert_authorized(mark, f"/v2/{REPO}/manifests/crane-{entries}")
    assert world.sent(since) == [("get", f"{world.host}/{REPO}")]


def test_crane_outside_the_scoped_paths_with_different_credentials_is_refused(world_factory, tmp_path: Path) -> None:
    """No entry covers ``elsewhere/app``; crane then asks the host, which the differing entries leave unanswered."""
    world = world_factory(DIFFERENT)
    clients, registry = world.clients, world.registry
    clients.write_json(clients.docker_config, helper_config("credsStore", []))
    since, mark, trace = world.log.mark(), registry.mark(), world.trace_mark()
    result = crane(world, "push", str(clients.image), f"{world.host}/elsewhere/app:1")
    assert refused(result), result.describe()
    world.assert_went_anonymous(mark)
    assert world.sent(since) == [("get", f"{world.host}/elsewhere/app"), ("get", world.host)]
    assert "carry different credentials" in world.trace(trace)


def test_crane_outside_the_scoped_path_falls_back_to_the_host_form(world_factory) -> None:
    """A consequence of the decided rule, pinned so that it is a choice: crane (go-containerregistry) asks the
    host after a not-found for ``host/repository``, and a host-only request is answered by the host's path-scoped
    entries when they agree. So one entry scoped to ``/team`` also authenticates crane on ``elsewhere/app``
    (imgpkg, reading the same variables itself, finds no entry for that repository)."""
    world = world_factory(ONE)
    clients, registry = world.clients, world.registry
    clients.write_json(clients.docker_config, helper_config("credsStore", []))
    since, mark = world.log.mark(), registry.mark()
    result = crane(world, "push", str(clients.image), f"{world.host}/elsewhere/app:1")
    assert result.returncode == 0, result.describe()
    world.assert_authorized(mark, "/v2/elsewhere/app/manifests/1")
    assert world.sent(since) == [("get", f"{world.host}/elsewhere/app"), ("get", world.host)]


# --------------------------------------------------------------------------------------------------------------
# skopeo: sends only the host (credHelpers)


def skopeo_inspect(world: World):
    return world.clients.skopeo("inspect", *tls_args(world.registry), f"docker://{world.image}")


def skopeo_copy(world: World, tag: str):
    clients = world.clients
    args = ["--policy", str(clients.policy), "copy", "--format", "v2s2", *tls_args(world.registry, "dest")]
    return clients.skopeo(*args, f"oci:{clients.image}:v1", f"docker://{world.host}/{REPO}:{tag}")


@pytest.mark.parametrize("entries", sorted(AGREEING))
def test_skopeo_inspect_and_copy_with_agreeing_path_scoped_entries(entries: str, world_factory) -> None:
    world = world_factory(AGREEING[entries])
    clients, registry = world.clients, world.registry

    # negative control: nothing names the helper for skopeo
    world.assert_refused_without_helper(lambda: skopeo_inspect(world), refusal=denied)

    assert clients.configure("containers", "--registry", world.host).returncode == 0
    since, mark, trace = world.log.mark(), registry.mark(), world.trace_mark()
    result = skopeo_inspect(world)
    assert result.returncode == 0, result.describe()
    assert json.loads(result.stdout)["Name"] == f"{world.host}/{REPO}"
    world.assert_authorized(mark, f"/v2/{REPO}/manifests/1")
    assert world.sent(since) == [("get", world.host)]  # only the host: the host-only rule answered
    assert "carries the same credentials" in world.trace(trace)

    since, mark = world.log.mark(), registry.mark()
    result = skopeo_copy(world, f"skopeo-{entries}")
    assert result.returncode == 0, result.describe()
    world.assert_authorized(mark, f"/v2/{REPO}/manifests/skopeo-{entries}")
    assert world.sent(since) == [("get", world.host)]
    world.assert_host_only_answers()
    assert not clients.store_path.exists()


def test_skopeo_is_refused_when_path_scoped_entries_carry_different_credentials(world_factory) -> None:
    world = world_factory(DIFFERENT)
    clients, registry = world.clients, world.registry

    # negative control: nothing names the helper for skopeo
    world.assert_refused_without_helper(lambda: skopeo_inspect(world), refusal=denied)

    assert clients.configure("containers", "--registry", world.host).returncode == 0
    since, mark, trace = world.log.mark(), registry.mark(), world.trace_mark()
    result = skopeo_inspect(world)
    assert denied(result), result.describe()
    assert "error getting credentials" not in result.output, result.describe()  # a clean not-found
    world.assert_went_anonymous(mark)  # anonymous: neither entry's password was tried
    assert world.sent(since) == [("get", world.host)]
    text = world.trace(trace)
    assert "carry different credentials" in text, text
    assert all(label in text for label in labels(registry, DIFFERENT)), text

    mark = registry.mark()
    result = skopeo_copy(world, "skopeo-different")
    assert denied(result), result.describe()
    world.assert_went_anonymous(mark)
    world.assert_host_only_declines()


# --------------------------------------------------------------------------------------------------------------
# docker CLI (no daemon): sends only the host (credsStore)


def docker_inspect(world: World):
    return world.clients.docker("manifest", "inspect", "--insecure", world.image)


@pytest.mark.parametrize("entries", sorted(AGREEING))
def test_docker_manifest_inspect_with_agreeing_path_scoped_entries(entries: str, world_factory) -> None:
    world = world_factory(AGREEING[entries])
    clients, registry = world.clients, world.registry

    # negative control: a docker config that names no helper
    clients.write_json(clients.docker_config, {})
    world.assert_refused_without_helper(lambda: docker_inspect(world), refusal=denied)

    assert clients.configure("docker").returncode == 0
    assert clients.read_json(clients.docker_config) == {"credsStore": "imgpkg"}
    since, mark, trace = world.log.mark(), registry.mark(), world.trace_mark()
    result = docker_inspect(world)
    assert result.returncode == 0, result.describe()
    assert json.loads(result.stdout)["schemaVersion"] == 2
    world.assert_authorized(mark, f"/v2/{REPO}/manifests/1")
    assert world.sent(since) == [("get", world.host)]
    assert "carries the same credentials" in world.trace(trace)
    world.assert_host_only_answers()


def test_docker_manifest_inspect_is_refused_when_path_scoped_entries_carry_different_credentials(
    world_factory,
) -> None:
    world = world_factory(DIFFERENT)
    clients, registry = world.clients, world.registry

    clients.write_json(clients.docker_config, {})
    world.assert_refused_without_helper(lambda: docker_inspect(world), refusal=denied)

    assert clients.configure("docker").returncode == 0
    since, mark, trace = world.log.mark(), registry.mark(), world.trace_mark()
    result = docker_inspect(world)
    assert denied(result), result.describe()
    world.assert_went_anonymous(mark)
    assert world.sent(since) == [("get", world.host)]
    assert "carry different credentials" in world.trace(trace)
    world.assert_host_only_declines()


# --------------------------------------------------------------------------------------------------------------
# regctl: asks get only for registries that list names (credsStore)


def regctl(world: World, *args: str):
    return world.clients.run([str(go_client("regctl")), *args], timeout=CLIENT_TIMEOUT)


def regctl_tag_ls(world: World):
    return regctl(world, "tag", "ls", f"{world.host}/{REPO}")


def regctl_plain_http(world: World) -> None:
    """regctl's own setting for the HTTP registry (its config file; no credentials in it)."""
    result = regctl(world, "registry", "set", world.host, "--tls", "disabled", "--skip-check")
    assert result.returncode == 0, result.describe()


@pytest.mark.parametrize("entries", sorted(AGREEING))
def test_regctl_tag_ls_with_agreeing_path_scoped_entries(entries: str, world_factory) -> None:
    world = world_factory(AGREEING[entries])
    clients, registry = world.clients, world.registry
    regctl_plain_http(world)

    # negative control: a docker config that names no helper
    clients.write_json(clients.docker_config, {})
    world.assert_refused_without_helper(lambda: regctl_tag_ls(world))

    # list names the registry of the path-scoped entries: that is what makes regctl ask get for it
    listed = world.direct("list")
    assert listed.returncode == 0 and json.loads(listed.stdout) == {world.host: USER}, listed.describe()

    clients.write_json(clients.docker_config, helper_config("credsStore", []))
    since, mark = world.log.mark(), registry.mark()
    result = regctl_tag_ls(world)
    assert result.returncode == 0, result.describe()
    assert "1" in result.stdout.split()
    world.assert_authorized(mark, f"/v2/{REPO}/tags/list")
    assert world.sent(since) == [("list", ""), ("get", world.host)]


def test_regctl_is_refused_when_path_scoped_entries_carry_different_credentials(world_factory) -> None:
    world = world_factory(DIFFERENT)
    clients, registry = world.clients, world.registry
    regctl_plain_http(world)

    clients.write_json(clients.docker_config, {})
    world.assert_refused_without_helper(lambda: regctl_tag_ls(world))

    listed = world.direct("list")
    assert listed.returncode == 0 and json.loads(listed.stdout) == {}, listed.describe()

    clients.write_json(clients.docker_config, helper_config("credsStore", []))
    since, mark = world.log.mark(), registry.mark()
    assert refused(regctl_tag_ls(world)), clients.describe()
    world.assert_went_anonymous(mark)
    assert world.sent(since) == [("list", "")]  # list did not name the registry: regctl never asked get
    world.assert_host_only_declines()
