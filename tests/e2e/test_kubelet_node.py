"""A real kubelet pulls a private image through the image credential provider (issue 17).

Each case starts its own node (:mod:`e2e.kubelet_node`: Debian's containerd and a kubelet v1.37 built by
.ci/install-kubelet.sh, standalone, static pods with ``imagePullPolicy: Always``), so no case sees another's
kubelet credential cache. The registries are real ``docker-registry`` processes with htpasswd accounts on
loopback (HTTP, and HTTPS with the suite's private CA); the images are pushed with explicit credentials before the
node starts. The only credentials the node has are the ``IMGPKG_REGISTRY_*`` variables in the kubelet's
environment, reaching the registry only through the provider: the program under test (console script or
``HELPER_BIN``), installed in the kubelet's ``--image-credential-provider-bin-dir``, with the
``--image-credential-provider-config`` its own ``configure kubelet`` wrote from the same variables.

Every positive case is checked in containerd (``ctr tasks ls``: the container is RUNNING; its CRI log holds the
marker it printed) and in the registry's log (the manifest was served to the expected account). The negative
controls: the same pod without the provider flags, and with a wrong password, does not run (the kubelet reports
the 401; the registry saw no credentials, or refused the provider's). No password appears in any log.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from .fixtures import seed
from .goclients import env_credentials
from .kubelet_node import Node, NodeTools, Pod, busybox_layout, node_tools
from .support import PASSWORD, USER, Registry, TLSFiles, TokenServer

pytestmark = pytest.mark.e2e

# The accounts the node pulls with (the session's USER/PASSWORD account only pushes the images).
PULLER = "node-puller"
TEAM_A = "team-a-robot"
TEAM_B = "team-b-robot"
PASSWORDS = {name: "kn-" + secrets.token_urlsafe(18) for name in (PULLER, TEAM_A, TEAM_B)}
WRONG = "kn-wrong-" + secrets.token_urlsafe(12)


@pytest.fixture(scope="module")
def tools() -> NodeTools:
    return node_tools()


@pytest.fixture(scope="module")
def busybox(e2e_root: Path, tools: NodeTools) -> Path:  # tools: skip first when the node cannot run
    return busybox_layout(e2e_root / "kubelet-node-busybox")


def _registry(root: Path, name: str, users: Sequence[str], tls: TLSFiles | None = None) -> Registry:
    accounts = {USER: PASSWORD, **{user: PASSWORDS[user] for user in users}}
    return Registry(Path(tempfile.mkdtemp(prefix=f"registry-{name}-", dir=root)), name, accounts, tls=tls).start()


@pytest.fixture(scope="module")
def plain(e2e_root: Path) -> Iterator[Registry]:
    """HTTP, one account for the node."""
    registry = _registry(e2e_root, "kn-plain", [PULLER])
    yield registry
    registry.stop()


@pytest.fixture(scope="module")
def team_tokens(e2e_root: Path) -> Iterator[TokenServer]:
    """Token auth in which each team's account may pull only its own repositories."""
    users = {USER: PASSWORD, TEAM_A: PASSWORDS[TEAM_A], TEAM_B: PASSWORDS[TEAM_B]}
    acl = {TEAM_A: ["team-a"], TEAM_B: ["team-b"]}
    server = TokenServer(Path(tempfile.mkdtemp(prefix="kn-tokens-", dir=e2e_root)), users, {}, acl).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def scoped(e2e_root: Path, team_tokens: TokenServer) -> Iterator[Registry]:
    """HTTP, token auth: team-a/... for team-a's account only, team-b/... for team-b's."""
    workdir = Path(tempfile.mkdtemp(prefix="registry-kn-scoped-", dir=e2e_root))
    registry = Registry(workdir, "kn-scoped", token_auth=team_tokens).start()
    yield registry
    registry.stop()


@pytest.fixture(scope="module")
def private_ca(e2e_root: Path, tls: TLSFiles) -> Iterator[Registry]:
    """HTTPS with a certificate of the suite's private CA."""
    registry = _registry(e2e_root, "kn-tls", [PULLER], tls=tls)
    yield registry
    registry.stop()


def push(registry: Registry, repo: str, e2e_root: Path, layout: Path, helper_bin: Path) -> str:
    """Push the busybox image to ``registry/repo:1`` with the pushing account (no helper involved)."""
    return seed(registry, Path(tempfile.mkdtemp(prefix="kn-seed-", dir=e2e_root)), layout, repo, helper_bin)


@pytest.fixture
def node(e2e_root: Path, tools: NodeTools, helper_bin: Path) -> Iterator[Node]:
    # Short paths: containerd's sockets live under the node's directory (unix socket paths are short).
    node = Node(Path(tempfile.mkdtemp(prefix="kn-", dir=e2e_root)), tools, helper_bin)
    try:
        yield node
    finally:
        node.stop()
    assert not node.leftovers, f"the node left behind: {node.leftovers}"


def repo_of(image: str) -> str:
    return image.split("/", 1)[1].rsplit(":", 1)[0]


def assert_served(registry: Registry, since: int, image: str) -> None:
    """The registry served ``image``'s manifest to an authenticated client (containerd, with the provider's
    credentials: nothing else on the node has any)."""
    registry.assert_authorized(since, f"/v2/{repo_of(image)}/manifests/")


def assert_pull_refused(node: Node, registry: Registry, since: int, pod: Pod) -> None:
    """The kubelet reports the pull of ``pod``'s image failed with a 401, and the pod has no container."""
    failures = node.wait_pull_failure(pod)
    assert any("401 Unauthorized" in line for line in failures), "\n".join(failures)
    registry.assert_denied(since, f"/v2/{repo_of(pod.image)}/manifests/")
    assert node.app_container(pod) is None


def password_refusals(registry: Registry, since: int) -> list[str]:
    """The registry's (htpasswd) reports of a rejected password, naming the account."""
    return [
        str(e.get("msg", ""))
        for e in registry.events(since)
        if str(e.get("msg", "")).startswith("error authenticating user")
    ]


def assert_no_secret(node: Node, registries: Sequence[Registry], passwords: Sequence[str]) -> None:
    logs = dict(node.logs())
    logs.update({f"registry {r.name}": r.log_path.read_text(errors="replace") for r in registries})
    for name, text in logs.items():
        for password in passwords:
            assert password not in text, f"a password appears in the {name} log"


def run_pods(node: Node, env: Mapping[str, str], *pods: Pod, registries: Sequence[Registry]) -> None:
    """Configure the provider from ``env``, trust ``registries``, start the node with ``pods``."""
    for registry in registries:
        node.trust(registry)
    node.configure(env)
    node.start(pods, env)


# --------------------------------------------------------------------------------------------------------------


def test_host_entry(node: Node, plain: Registry, busybox: Path, e2e_root: Path, helper_bin: Path) -> None:
    image = push(plain, "apps/host-entry", e2e_root, busybox, helper_bin)
    pod = Pod("host-entry", image)
    since = plain.mark()
    run_pods(node, env_credentials([(plain.host, PULLER, PASSWORDS[PULLER])]), pod, registries=[plain])
    cid = node.wait_running(pod)
    assert node.containers()[cid]["image"] == image
    assert_served(plain, since, image)
    assert_no_secret(node, [plain], [PASSWORDS[PULLER]])


def test_without_the_provider_the_pull_is_refused(
    node: Node, plain: Registry, busybox: Path, e2e_root: Path, helper_bin: Path
) -> None:
    # The same pod and variables as test_host_entry, the kubelet started without the provider flags.
    image = push(plain, "apps/no-provider", e2e_root, busybox, helper_bin)
    pod = Pod("no-provider", image)
    env = env_credentials([(plain.host, PULLER, PASSWORDS[PULLER])])
    node.trust(plain)
    since = plain.mark()
    node.start([pod], env, provider=False)
    assert_pull_refused(node, plain, since, pod)
    # the kubelet had no credentials to give containerd (its -v=4 log says so), containerd none to send
    assert node.log_lines("Pulling image without credentials", image), node.tail(node.kubelet_log)
    assert password_refusals(plain, since) == []
    assert_no_secret(node, [plain], [PASSWORDS[PULLER]])


def test_wrong_password_is_refused(
    node: Node, plain: Registry, busybox: Path, e2e_root: Path, helper_bin: Path
) -> None:
    image = push(plain, "apps/wrong-password", e2e_root, busybox, helper_bin)
    pod = Pod("wrong-password", image)
    since = plain.mark()
    run_pods(node, env_credentials([(plain.host, PULLER, WRONG)]), pod, registries=[plain])
    assert_pull_refused(node, plain, since, pod)
    # the provider's answer reached the registry: the account is named, its password refused
    assert any(f'"{PULLER}"' in msg for msg in password_refusals(plain, since)), plain.log_tail(since)
    assert_no_secret(node, [plain], [WRONG, PASSWORDS[PULLER]])


def test_path_scoped_entries(
    node: Node, scoped: Registry, team_tokens: TokenServer, busybox: Path, e2e_root: Path, helper_bin: Path
) -> None:
    """Two repositories of one registry, each readable only with its own team's account: both pods run."""
    image_a = push(scoped, "team-a/app", e2e_root, busybox, helper_bin)
    image_b = push(scoped, "team-b/app", e2e_root, busybox, helper_bin)
    pod_a, pod_b = Pod("team-a", image_a), Pod("team-b", image_b)
    env = env_credentials(
        [
            (f"{scoped.host}/team-a", TEAM_A, PASSWORDS[TEAM_A]),
            (f"{scoped.host}/team-b", TEAM_B, PASSWORDS[TEAM_B]),
        ]
    )
    since = len(team_tokens.access)
    run_pods(node, env, pod_a, pod_b, registries=[scoped])
    node.wait_running(pod_a)
    node.wait_running(pod_b)
    granted = set(team_tokens.access[since:])
    assert (TEAM_A, "team-a/app") in granted and (TEAM_B, "team-b/app") in granted, granted
    assert_no_secret(node, [scoped], [PASSWORDS[TEAM_A], PASSWORDS[TEAM_B]])


def test_path_scoped_entries_keep_their_own_credentials(
    node: Node, scoped: Registry, team_tokens: TokenServer, busybox: Path, e2e_root: Path, helper_bin: Path
) -> None:
    """team-b's entry holds a wrong password: team-a's pod runs, team-b's is refused (nothing falls back)."""
    image_a = push(scoped, "team-a/other", e2e_root, busybox, helper_bin)
    image_b = push(scoped, "team-b/other", e2e_root, busybox, helper_bin)
    pod_a, pod_b = Pod("team-a-other", image_a), Pod("team-b-other", image_b)
    env = env_credentials(
        [(f"{scoped.host}/team-a", TEAM_A, PASSWORDS[TEAM_A]), (f"{scoped.host}/team-b", TEAM_B, WRONG)]
    )
    since, tokens_since = scoped.mark(), len(team_tokens.denied)
    run_pods(node, env, pod_a, pod_b, registries=[scoped])
    node.wait_running(pod_a)
    failures = node.wait_pull_failure(pod_b)
    assert any("401 Unauthorized" in line for line in failures), "\n".join(failures)
    assert node.app_container(pod_b) is None
    scoped.assert_denied(since, "/v2/team-b/other/manifests/")
    assert f"bad password for {TEAM_B}" in team_tokens.denied[tokens_since:]
    assert_no_secret(node, [scoped], [PASSWORDS[TEAM_A], WRONG])


def test_https_with_a_private_ca(
    node: Node, private_ca: Registry, busybox: Path, e2e_root: Path, helper_bin: Path
) -> None:
    image = push(private_ca, "apps/https", e2e_root, busybox, helper_bin)
    pod = Pod("https", image)
    since = private_ca.mark()
    run_pods(node, env_credentials([(private_ca.host, PULLER, PASSWORDS[PULLER])]), pod, registries=[private_ca])
    node.wait_running(pod)
    assert_served(private_ca, since, image)
    assert_no_secret(node, [private_ca], [PASSWORDS[PULLER]])
