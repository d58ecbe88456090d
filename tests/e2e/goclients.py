"""The Go registry clients (crane, imgpkg, regctl, oras, helm, BuildKit) for the end-to-end suite.

* Where they are: ``.ci/install-go-clients.sh`` builds each pinned release into one cache directory,
  ``$DOCKER_CREDENTIAL_IMGPKG_GOBIN``, else ``${XDG_CACHE_HOME:-~/.cache}/docker-credential-imgpkg-e2e/gobin``;
  :func:`go_client` looks there, then on PATH. A missing client skips the test with the install command, and
  fails it under CI (like ``e2e_root``).
* What they send: :class:`HelperLog` puts a recording wrapper first on the test's PATH as
  ``docker-credential-imgpkg``; it appends the verb and the exact stdin bytes to a JSON-lines file, then execs the
  program under test with the same stdin. :func:`assert_documented` compares what one command sent with its row in
  the address-form table of docs/clients.md, so the published table stays true.
* A ``pass`` store under the helper (``helper:pass`` backend): :func:`pass_store`, the minimum of
  tests/backend/conftest.py's approach (a throwaway GPG key, our own gpg-agent stopped by its PID).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from common import gpg_keyring

from .support import HELPER_NAME, Clients, Registry, Result

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS = REPO_ROOT / "docs" / "clients.md"
INSTALL_SCRIPT = REPO_ROOT / ".ci" / "install-go-clients.sh"
INSTALL_HINT = "run .ci/install-go-clients.sh (needs Go; .ci/install-e2e.sh runs it)"

# Bounded waits for one client command (a hung client fails its test instead of the run).
CLIENT_TIMEOUT = 90


# --------------------------------------------------------------------------------------------------------------
# finding the clients


def gobin() -> Path:
    """The directory ``.ci/install-go-clients.sh`` installs into (same rule as the script)."""
    chosen = os.environ.get("DOCKER_CREDENTIAL_IMGPKG_GOBIN")
    if chosen:
        return Path(chosen).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "docker-credential-imgpkg-e2e" / "gobin"


def pinned_versions() -> dict[str, str]:
    """``{client: version}`` as pinned in .ci/install-go-clients.sh."""
    pins = {}
    pattern = r'^\s*"(\S+)\s+(?:install|module)\s+\S+\s+\S+\s+(v\S+)"'
    for match in re.finditer(pattern, INSTALL_SCRIPT.read_text(), re.M):
        pins[match.group(1)] = match.group(2)
    return pins


def missing_tool(message: str) -> None:
    if os.environ.get("CI"):  # under CI a missing client is a broken install step, not a reason to go green
        pytest.fail(message)
    pytest.skip(message)


def go_client(name: str) -> Path:
    """The client's executable: the pinned build in :func:`gobin`, else one on PATH; skip (fail under CI) if none."""
    built = gobin() / name
    if built.is_file() and os.access(built, os.X_OK):
        return built
    found = shutil.which(name)
    if found:
        return Path(found)
    missing_tool(f"e2e: {name} is not installed in {gobin()} nor on PATH; {INSTALL_HINT}")
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------------------------------------------
# what the helper receives


@dataclass(frozen=True)
class Call:
    verb: str
    stdin: str

    @property
    def form(self) -> str:
        """The address the client asked about: stdin for get/erase/list, the ``ServerURL`` of a store payload."""
        if self.verb == "store":
            try:
                return str(json.loads(self.stdin).get("ServerURL", ""))
            except ValueError:
                return self.stdin
        return self.stdin


_WRAPPER = """#!{python} -I
# Recording wrapper made by tests/e2e/goclients.py: log the verb and stdin, then run the program under test.
import json, os, sys
data = sys.stdin.buffer.read()
line = json.dumps({{"verb": " ".join(sys.argv[1:]), "stdin": data.decode("utf-8", "surrogateescape")}})
fd = os.open({log!r}, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
os.write(fd, (line + "\\n").encode("utf-8", "surrogateescape"))
os.close(fd)
fd = os.memfd_create("stdin")  # the same bytes, whatever their size, as the real program's stdin
os.write(fd, data)
os.lseek(fd, 0, os.SEEK_SET)
os.dup2(fd, 0)
os.close(fd)
os.execv({real!r}, [{real!r}, *sys.argv[1:]])
"""


class HelperLog:
    """Replaces the world's ``docker-credential-imgpkg`` with a wrapper that records every call."""

    def __init__(self, clients: Clients):
        self.path = clients.root / "helper-calls.jsonl"
        link = clients.bin_dir / HELPER_NAME
        link.unlink()
        link.write_text(_WRAPPER.format(python=sys.executable, log=str(self.path), real=str(clients.helper_path)))
        link.chmod(0o755)

    def mark(self) -> int:
        return len(self.calls())

    def calls(self, since: int = 0) -> list[Call]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
        return [Call(**json.loads(line)) for line in lines[since:] if line.strip()]


# --------------------------------------------------------------------------------------------------------------
# the published table: docs/clients.md, between the address-forms markers


TABLE_BEGIN = "<!-- address-forms:begin -->"
TABLE_END = "<!-- address-forms:end -->"


@dataclass(frozen=True)
class Row:
    client: str
    command: str
    config: str
    calls: tuple[tuple[str, str], ...]  # (verb, form) in first-seen order; form "" for an empty stdin


def _parse_calls(cell: str) -> tuple[tuple[str, str], ...]:
    cell = cell.strip()
    if cell in ("—", "-", ""):
        return ()
    out = []
    for item in cell.split(";"):
        item = item.strip()
        match = re.fullmatch(r"(get|store|erase|list)(?:\s+`([^`]*)`)?", item)
        if not match:
            raise AssertionError(f"{DOCS}: cannot read helper call {item!r} in {cell!r}")
        out.append((match.group(1), match.group(2) or ""))
    return tuple(out)


def documented_rows(text: str | None = None) -> list[Row]:
    text = DOCS.read_text() if text is None else text
    if TABLE_BEGIN not in text or TABLE_END not in text:
        raise AssertionError(f"{DOCS}: no address-form table between {TABLE_BEGIN} and {TABLE_END}")
    body = text.split(TABLE_BEGIN, 1)[1].split(TABLE_END, 1)[0]
    rows = []
    for line in body.splitlines():
        line = line.strip()
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0].lower() == "client":
            continue
        if len(cells) != 4:
            raise AssertionError(f"{DOCS}: expected 4 cells in {line!r}")
        client = cells[0].split()[0]
        rows.append(Row(client, cells[1].strip("`"), cells[2], _parse_calls(cells[3])))
    return rows


STORE_BEGIN = "<!-- store-payload:begin -->"
STORE_END = "<!-- store-payload:end -->"


def documented_store_payload(client: str) -> str:
    """The store stdin docs/clients.md gives for ``client``, e.g. ``{"ServerURL":…}\\n`` (``\\n``: a newline)."""
    text = DOCS.read_text()
    body = text.split(STORE_BEGIN, 1)[1].split(STORE_END, 1)[0]
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and client in re.split(r"[\s,]+", cells[0]):
            return cells[1].strip("`")
    raise AssertionError(f"{DOCS}: no store payload row for {client}")


def documented(client: str, command: str, config: str) -> tuple[tuple[str, str], ...]:
    found = [r for r in documented_rows() if (r.client, r.command, r.config) == (client, command, config)]
    assert len(found) == 1, f"{DOCS}: expected one row for {client} / {command} / {config}, found {len(found)}"
    return found[0].calls


def format_calls(calls: Sequence[tuple[str, str]]) -> str:
    """The table's spelling of a call sequence (the inverse of :func:`_parse_calls`)."""
    return "; ".join(f"{verb} `{form}`" if form else verb for verb, form in calls) or "—"


def observed(calls: Sequence[Call], placeholders: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Distinct ``(verb, form)`` pairs in first-seen order, with real hosts and repositories as placeholders."""
    out: list[tuple[str, str]] = []
    for call in calls:
        form = call.form
        for real in sorted(placeholders, key=len, reverse=True):
            form = form.replace(real, placeholders[real])
        pair = (call.verb, form)
        if pair not in out:
            out.append(pair)
    return tuple(out)


def _host_of(form: str) -> str:
    return form.split("://", 1)[-1].split("/", 1)[0]


def assert_documented(
    log: HelperLog, since: int, client: str, command: str, config: str, placeholders: Mapping[str, str]
) -> None:
    """What ``command`` sent to the helper is exactly its row in docs/clients.md.

    The same set of (verb, form) pairs, and per registry the same order (calls to two registries may interleave
    when a client works on both at once).
    """
    calls = log.calls(since)
    seen = observed(calls, placeholders)
    record = os.environ.get("E2E_RECORD_FORMS")
    if record:  # regenerating the table after a client upgrade: write rows instead of comparing
        with open(record, "a", encoding="utf-8") as out:
            out.write(f"| {client} | `{command}` | {config} | {format_calls(seen)} |\n")
        return
    want = documented(client, command, config)
    detail = f"{client} `{command}` ({config}): docs/clients.md says {want}, the helper saw {seen}"
    assert set(seen) == set(want), detail
    for host in {_host_of(form) for _, form in want}:
        assert [p for p in seen if _host_of(p[1]) == host] == [p for p in want if _host_of(p[1]) == host], detail
    stores = [call.stdin for call in calls if call.verb == "store"]
    if stores:  # the payload's exact shape: key order and the trailing newline differ between client libraries
        shape = documented_store_payload(client)
        for stdin in stores:
            assert list(json.loads(stdin)) == ["ServerURL", "Username", "Secret"], stdin
            assert stdin.endswith("\n") == shape.endswith("\\n"), f"{client} store stdin {stdin!r}; docs say {shape}"


# --------------------------------------------------------------------------------------------------------------
# configuration


class GoClient:
    """A Go client as the flows run it. ``step`` runs one documented command, checks the registry's verdict and
    compares the helper calls it made with its row in docs/clients.md."""

    name = ""  # the client's executable, and its name in the table

    def __init__(self, clients: Clients) -> None:
        self.clients = clients
        self.exe = str(go_client(self.name))
        self.log = HelperLog(clients)
        self.placeholders: dict[str, str] = {}

    def __call__(self, *args: str, input: str | None = None):
        return self.clients.run([self.exe, *args], input=input, timeout=CLIENT_TIMEOUT)

    def step(self, command: str, mode: str, *args: str, input: str | None = None, ok: bool = True):
        since = self.log.mark()
        result = self(*args, input=input)
        if ok:
            assert result.returncode == 0, result.describe()
        else:
            assert refused(result), result.describe()
        assert_documented(self.log, since, self.name, command, mode, self.placeholders)
        return result


class TwoRegistryClient(GoClient):
    """A Go client in a flow from the suite's HTTPS registry (``src``, trusted through its CA, ``ca``) to a second,
    plain HTTP one (``dst``)."""

    # each repository placeholder of docs/clients.md (HOST/REPO, HOST2/REPO2) and the repository it stands for, on
    # the registry its host placeholder names
    repos: tuple[tuple[str, str], ...] = ()
    ca_in_env = False  # trust the CA through SSL_CERT_FILE (Go's default roots); else the client takes a flag

    def __init__(self, clients: Clients, src: Registry, dst: Registry) -> None:
        super().__init__(clients)
        assert src.tls is not None
        self.src, self.dst = src, dst
        self.ca = str(src.tls.ca_cert)
        if self.ca_in_env:
            clients.extra_env["SSL_CERT_FILE"] = self.ca
        hosts = {"HOST": src.host, "HOST2": dst.host}
        self.placeholders = {f"{hosts[name.split('/')[0]]}/{repo}": name for name, repo in self.repos}
        self.placeholders.update({host: name for name, host in hosts.items()})


def helper_config(mode: str, hosts: Sequence[str]) -> dict:
    """A docker-format config naming the helper: ``credsStore`` for everything, or ``credHelpers`` per host."""
    if mode == "credsStore":
        return {"credsStore": "imgpkg"}
    if mode == "credHelpers":
        return {"credHelpers": {host: "imgpkg" for host in hosts}}
    raise ValueError(mode)


def env_credentials(entries: Sequence[tuple[str, str, str]]) -> dict[str, str]:
    """``IMGPKG_REGISTRY_{HOSTNAME,USERNAME,PASSWORD}_<n>`` for each (host, user, password)."""
    env = {}
    for n, (host, user, password) in enumerate(entries):
        env[f"IMGPKG_REGISTRY_HOSTNAME_{n}"] = host
        env[f"IMGPKG_REGISTRY_USERNAME_{n}"] = user
        env[f"IMGPKG_REGISTRY_PASSWORD_{n}"] = password
    return env


def manifest_digest(registry: Registry, repo: str, tag: str, user: str, password: str) -> str:
    """The manifest digest the registry serves for ``repo:tag`` (read with explicit credentials, no client)."""
    request = urllib.request.Request(f"{registry.url}/v2/{repo}/manifests/{tag}", method="HEAD")
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    accept = [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.index.v1+json",
    ]
    request.add_header("Accept", ", ".join(accept))
    context = registry.tls.ssl_context() if registry.tls else None
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        return response.headers["Docker-Content-Digest"]


# --------------------------------------------------------------------------------------------------------------
# a pass store under the helper (the approach of tests/backend/conftest.py, reduced to what these flows need)


PASS_TOOLS = ("pass", "gpg", "gpg-agent", "gpg-connect-agent", "docker-credential-pass")


@contextlib.contextmanager
def pass_store() -> Iterator[dict[str, str]]:
    """A password store with a passphrase-less GPG key and our own gpg-agent; yields the env that reaches it."""
    missing = [tool for tool in PASS_TOOLS if shutil.which(tool) is None]
    if missing:
        missing_tool(f"e2e: missing {', '.join(missing)}; run .ci/install-backend.sh")
    store = Path(tempfile.mkdtemp(prefix="pc.", dir="/tmp"))
    try:
        with gpg_keyring("gc.") as home:
            reach = {"GNUPGHOME": str(home.path), "PASSWORD_STORE_DIR": str(store)}
            env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(home.path), **reach}
            subprocess.run(["pass", "init", home.fingerprint], env=env, check=True, capture_output=True, timeout=30)
            yield reach
    finally:
        shutil.rmtree(store, ignore_errors=True)


def pass_entries(reach: Mapping[str, str]) -> dict[str, str]:
    """What docker-credential-pass itself lists (bypassing the helper): ``{server: username}``."""
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": reach["GNUPGHOME"], **reach}
    result = subprocess.run(
        ["docker-credential-pass", "list"], input="unused", env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result
    return json.loads(result.stdout)


# --------------------------------------------------------------------------------------------------------------
# small checks shared by the flows


def refused(result) -> bool:
    """A Go client's report that the registry refused it (401), whatever its wording."""
    text = result.output.lower()
    return result.returncode != 0 and any(
        s in text for s in ("unauthorized", "authentication required", "401", "basic credential not found")
    )


def assert_no_secret(path: Path, secret: str) -> None:
    """A client config that names the helper keeps no secret: no password, no base64 ``auth`` entry."""
    if path.exists():
        text = path.read_text()
        assert secret not in text and '"auth"' not in text and '"password"' not in text, f"{path}: {text}"


def assert_refused_without_helper(
    log: HelperLog,
    registry: Registry,
    *attempts: Callable[[], Result],
    refusal: Callable[[Result], bool] = refused,
    check_registry: Callable[[int], None] | None = None,
) -> None:
    """A flow's negative control, run while no client config names the helper: every attempt is refused
    (``refusal``), the registry authenticated none of them (``check_registry``, given the registry's mark from
    before the first; default ``registry.assert_denied``) and the helper never ran."""
    mark = registry.mark()
    for attempt in attempts:
        result = attempt()
        assert refusal(result), result.describe()
    (check_registry or registry.assert_denied)(mark)
    assert log.calls() == []
