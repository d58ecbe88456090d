"""Issue 15, items 2 and 4: every verb and sub-command (``every_verb.VERBS``) against every class of hostile input,
through the real program (``HELPER_BIN`` selects the console script or the single executable). One test per
(case, verb): the case sets the input up, the verb runs once with the debug trace on, and ``every_verb.check``
holds it to the contract; a case about a file a verb reads also says what the verb must tell the user.

Classes: undecodable bytes (lone surrogates once Python decodes them) in argv, variable names and values; bytes
that are not UTF-8 and escaped lone surrogates in every file read; URL user-info in an address, an
``IMGPKG_REGISTRY_HOSTNAME`` value and a file's keys; a FIFO, a /dev/zero device and a symlink to each at every
file read; JSON nested deeper than Python's recursion limit in every JSON file and input. Concurrent writers,
1,000 groups, 20,000 entries and the backend loop have their own tests below the matrix.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from common import write_program

from .every_verb import (
    ADDRESS,
    EVERY,
    JSON_FILES,
    LOOKUPS,
    READERS,
    SECRET,
    SPECIAL_FILES,
    URL_PASSWORD,
    USERINFO_URL,
    VERBS,
    WITH_ADDRESS,
    check,
    file_at,
    invoke,
    isolate,
    json_document,
    kind_of,
    nested,
    registries_conf,
    write_file,
)
from .support import auth_entry, env_entry, run, store_payload, write_store


@dataclass
class Setup:
    """What a case prepared: variables to add, the address to ask about, files named on the command line."""

    env: dict = field(default_factory=dict)
    address: str | bytes = ADDRESS
    paths: dict[str, bytes] = field(default_factory=dict)
    stdin: bytes | None = None
    extra: tuple[bytes, ...] = ()
    keep: list = field(default_factory=list)  # special files that must still be there, as they were


@dataclass(frozen=True)
class Case:
    id: str
    verbs: tuple[str, ...]
    setup: Callable[..., Setup]
    says: str = ""  # what every verb of the case must tell the user (in its output), if anything
    usage: bool = False  # the command line is wrong: the family's usage status is allowed


def background(helper) -> None:
    """What every case starts from: an entry for another registry in the store and in config.json."""
    isolate(helper)
    write_store(helper.store_path, {"stored.example": auth_entry("s", SECRET)})
    helper.write_docker_config({"auths": {"cfg.example": auth_entry("c", SECRET)}})


CASES: list[Case] = []


def case(id: str, verbs: tuple[str, ...], says: str = "", usage: bool = False):
    def register(setup: Callable[..., Setup]) -> Callable[..., Setup]:
        CASES.append(Case(id, verbs, setup, says, usage))
        return setup

    return register


# --- undecodable bytes in argv, variable names and values ---------------------------------------------------------


@case("address-undecodable-byte", WITH_ADDRESS)
def _(helper) -> Setup:
    return Setup(address=b"reg\xff.example")


@case("address-encoded-surrogate", WITH_ADDRESS)
def _(helper) -> Setup:
    return Setup(address=b"reg\xed\xb3\xbf.example")  # U+DCFF encoded: what Python's surrogateescape writes


@case("argument-undecodable-extra", EVERY, usage=True)
def _(helper) -> Setup:
    return Setup(extra=(b"\xff",))


@case("argument-path-undecodable", ("configure-docker-file", "configure-docker-file-dry"))
@case("argument-path-undecodable-kubelet", ("configure-kubelet", "configure-kubelet-dry"))
def _(helper) -> Setup:
    directory = helper.root / os.fsdecode(b"dir\xff")
    directory.mkdir()
    path = bytes(directory / "file.json")
    return Setup(paths={"configure-file": path, "kubelet-config": path})


@case("variable-name-undecodable", EVERY)
def _(helper) -> Setup:
    return Setup(
        env={
            b"IMGPKG_REGISTRY_HOSTNAME_\xff": ADDRESS,
            b"IMGPKG_REGISTRY_USERNAME_\xff": "u",
            b"IMGPKG_REGISTRY_PASSWORD_\xff": SECRET,
        }
    )


@case("variable-name-undecodable-unknown-field", EVERY)
def _(helper) -> Setup:
    return Setup(env={b"IMGPKG_REGISTRY_HOST\xffNAME": ADDRESS})


@case("variable-name-undecodable-bystander", EVERY)
def _(helper) -> Setup:
    return Setup(env={b"CI_JOB_\xff": b"x\xff", **env_entry(ADDRESS, "u", SECRET)})


@case("variable-value-hostname", EVERY)
def _(helper) -> Setup:
    return Setup(env=env_entry(b"reg\xff.example", "u", SECRET))  # type: ignore[arg-type]


@case("variable-value-username", EVERY)
def _(helper) -> Setup:
    return Setup(env=env_entry(ADDRESS, b"u\xff", SECRET))  # type: ignore[arg-type]


@case("variable-value-password", EVERY)
def _(helper) -> Setup:
    return Setup(env=env_entry(ADDRESS, "u", SECRET.encode() + b"\xfe"))


@case("variable-value-paths", EVERY)
def _(helper) -> Setup:
    """DOCKER_CONFIG and XDG_CONFIG_HOME name directories whose names are not UTF-8 (legal on Linux)."""
    docker = bytes(helper.root) + b"/docker\xff"
    config = bytes(helper.root) + b"/config\xff"
    os.makedirs(docker + b"/x", mode=0o700)
    store_dir = config + b"/docker-credential-imgpkg"
    os.makedirs(store_dir, mode=0o700)
    with open(docker + b"/config.json", "wb") as f:
        f.write(json_document("config.json"))
    with open(store_dir + b"/credentials.json", "wb") as f:
        f.write(json_document("store"))
    os.chmod(store_dir + b"/credentials.json", 0o600)
    return Setup(env={"DOCKER_CONFIG": docker, "XDG_CONFIG_HOME": config})


@case("variable-value-backend", EVERY)
def _(helper) -> Setup:
    return Setup(env={"DOCKER_CREDENTIAL_IMGPKG_BACKEND": b"helper:pa\xffss"})


@case("variable-value-keychains", EVERY)
def _(helper) -> Setup:
    return Setup(env={"IMGPKG_ACTIVE_KEYCHAINS": b"gke\xff"})


@case("variable-value-docker-auth-config", EVERY)
def _(helper) -> Setup:
    return Setup(env={"DOCKER_AUTH_CONFIG": json_document("config.json", b"reg\xff.example")})


@case("variable-value-kubelet-cache", ("kubelet",))
def _(helper) -> Setup:
    return Setup(env={**env_entry(ADDRESS, "u", SECRET), "DOCKER_CREDENTIAL_IMGPKG_KUBELET_CACHE": b"5m\xff"})


# --- URL user-info: https://robot:PASSWORD@reg.example -------------------------------------------------------------


@case("userinfo-in-the-address", WITH_ADDRESS)
def _(helper) -> Setup:
    return Setup(address=USERINFO_URL)


@case("userinfo-in-imgpkg-registry-hostname", EVERY)
def _(helper) -> Setup:
    return Setup(env={**env_entry(USERINFO_URL, "u", SECRET), **env_entry(ADDRESS, "v", SECRET, "B")})


@case("userinfo-in-a-config-json-key", EVERY)
def _(helper) -> Setup:
    write_file(helper, "config.json", json_document("config.json", USERINFO_URL.encode()))
    return Setup()


@case("userinfo-in-a-store-key", EVERY)
def _(helper) -> Setup:
    write_file(helper, "store", json_document("store", USERINFO_URL.encode()))
    return Setup()


@case("userinfo-in-docker-auth-config", EVERY)
def _(helper) -> Setup:
    return Setup(env={"DOCKER_AUTH_CONFIG": json_document("config.json", USERINFO_URL.encode())})


@case("userinfo-in-containers-auth-json", READERS["auth.json"])
def _(helper) -> Setup:
    write_file(helper, "auth.json", json_document("auth.json", USERINFO_URL.encode()))
    return Setup()


@case("userinfo-in-the-kubelet-config", READERS["kubelet-config"])
def _(helper) -> Setup:
    write_file(helper, "kubelet-config", json_document("kubelet-config", f"robot:{URL_PASSWORD}@{ADDRESS}".encode()))
    return Setup()


@case("userinfo-in-the-file-edited", READERS["configure-file"])
def _(helper) -> Setup:
    write_file(helper, "configure-file", json_document("configure-file", USERINFO_URL.encode()))
    return Setup()


# --- file contents that are not UTF-8, or hold an escaped lone surrogate ----------------------------------------

CONTENT_KEYS = {"undecodable-byte": b"reg\xff.example", "escaped-lone-surrogate": b"reg\\udcff.example"}


def prepare(helper, name: str) -> None:
    """Make every verb of READERS[name] reach the file: configure docker reads the settings file only when it
    keeps a credsStore it replaces."""
    if name == "settings":
        helper.write_docker_config({"credsStore": "pass", "auths": {"cfg.example": auth_entry("c", SECRET)}})


def _contents(name: str, key: bytes) -> Callable[..., Setup]:
    def setup(helper) -> Setup:
        prepare(helper, name)
        write_file(helper, name, registries_conf(key) if name == "registries.conf" else json_document(name, key))
        return Setup()

    return setup


for _name in (*JSON_FILES, "registries.conf"):
    for _kind, _key in CONTENT_KEYS.items():
        if _name == "registries.conf" and _kind != "undecodable-byte":
            continue
        CASES.append(Case(f"{_name}-{_kind}", READERS[_name], _contents(_name, _key)))


# --- a FIFO, /dev/zero, and a symlink to each at every file read -----------------------------------------------


def _special(name: str, kind: str) -> Callable[..., Setup]:
    def setup(helper) -> Setup:
        prepare(helper, name)
        path = file_at(helper, name)
        path.unlink(missing_ok=True)
        SPECIAL_FILES[kind](path)
        return Setup(keep=[(path, kind_of(path))])

    return setup


for _name in READERS:
    for _kind in SPECIAL_FILES:
        CASES.append(Case(f"{_name}-is-a-{_kind}", READERS[_name], _special(_name, _kind), says="not a regular file"))


# --- JSON nested deeper than Python's recursion limit --------------------------------------------------------------

DEPTHS = (100, 1_000, 100_000)  # past the explicit limit (64) only, and past every Python's recursion limit


def _deep_file(name: str, depth: int) -> Callable[..., Setup]:
    def setup(helper) -> Setup:
        prepare(helper, name)
        write_file(helper, name, json_document(name, more=nested(depth).encode()))
        return Setup()

    return setup


for _name in JSON_FILES:
    for _depth in DEPTHS:
        CASES.append(Case(f"{_name}-nested-{_depth}", READERS[_name], _deep_file(_name, _depth), "levels deep"))


def _deep_variable(depth: int) -> Callable[..., Setup]:
    def setup(helper) -> Setup:
        return Setup(env={"DOCKER_AUTH_CONFIG": json_document("config.json", more=nested(depth).encode())})

    return setup


def _deep_input(verb: str, depth: int) -> Callable[..., Setup]:
    def setup(helper) -> Setup:
        deep = nested(depth).encode()
        if verb == "store":
            return Setup(stdin=b'{"ServerURL": "%s", "Username": "u", "Secret": "%s", "x": %s}' % (b"a.io", b"p", deep))
        request = b'{"apiVersion": "credentialprovider.kubelet.k8s.io/v1", "kind": "CredentialProviderRequest", '
        return Setup(stdin=request + b'"image": "%s/app", "x": %s}' % (ADDRESS.encode(), deep))

    return setup


for _depth in (100, 1_000, 50_000):  # a variable holds at most 128 KiB
    CASES.append(Case(f"docker-auth-config-nested-{_depth}", LOOKUPS, _deep_variable(_depth), "levels deep"))
    for _verb in ("store", "kubelet"):
        CASES.append(Case(f"{_verb}-input-nested-{_depth}", (_verb,), _deep_input(_verb, _depth), "levels deep"))


# --- the matrix -------------------------------------------------------------------------------------------------

MATRIX = [pytest.param(c, VERBS[v], id=f"{c.id}-{v}") for c in CASES for v in c.verbs]


@pytest.mark.parametrize(("case", "verb"), MATRIX)
def test_every_verb_keeps_the_contract(helper, case: Case, verb) -> None:
    background(helper)
    setup = case.setup(helper)
    held = files_holding(helper, URL_PASSWORD)
    result = invoke(helper, verb, setup.address, setup.env, extra=setup.extra, stdin=setup.stdin, paths=setup.paths)
    shown = check(verb, result, usage=case.usage)
    if case.says:
        assert case.says in shown, f"{verb.id} does not say {case.says!r}\n{result}"
    for path, kind in setup.keep:
        assert kind_of(path) == kind, f"{path} was replaced\n{result}"
    assert files_holding(helper, URL_PASSWORD) <= held, f"a URL's password was written to a file\n{result}"


def files_holding(helper, secret: str) -> set[str]:
    """The files a verb may write (every_verb.file_at) that hold ``secret``, in any case."""
    found = set()
    for name in READERS:
        path = file_at(helper, name)
        if path.is_file() and not path.is_symlink() and secret.lower().encode() in path.read_bytes().lower():
            found.add(name)
    return found


def test_the_matrix_covers_every_verb_and_class() -> None:
    """Guard against a table edit that silently drops a verb or a class."""
    covered = {v.id for _, v in (p.values for p in MATRIX)}
    assert covered == set(VERBS)
    for name in READERS:
        assert any(c.id == f"{name}-is-a-fifo" for c in CASES)
    assert len(MATRIX) > 500


# --- item 3: a backend that leads back to this helper is named as such --------------------------------------------

WRAPPERS = {  # docker-credential-wrap, chosen as the backend (helper:wrap)
    "exec": 'exec "{program}" "$@"\n',
    "chatty": 'echo "wrap: handing over to the store" >&2\nexec "{program}" "$@"\n',
}
LOOP_CASES = [
    pytest.param(verb, wrapper, secret, id=f"{verb}-{wrapper}" + (f"-{label}" if verb == "store" else ""))
    for verb in ("get", "store", "erase", "list")
    for wrapper in WRAPPERS
    for label, secret in (("one-letter-secret", "p"), ("long-secret", "S3CR3T-loop-7f"))[: 2 if verb == "store" else 1]
]


@pytest.mark.parametrize(("verb", "wrapper", "secret"), LOOP_CASES)
def test_a_backend_that_runs_this_helper_is_refused_saying_it_leads_back(helper, tmp_path, verb, wrapper, secret):
    """The child is our own program: its refusal is recognised as such, whatever the secret happens to share with
    the message (a one-letter password is in every line) and whatever the wrapper prints first."""
    bin_dir = tmp_path / "bin"
    write_program(bin_dir, "docker-credential-wrap", WRAPPERS[wrapper].format(program=helper.program))
    env = {"PATH": f"{bin_dir}:{helper.env['PATH']}", "DOCKER_CREDENTIAL_IMGPKG_BACKEND": "helper:wrap"}
    stdin = store_payload("x.example", "u", secret) if verb == "store" else b"x.example"
    result = run(helper, verb, stdin=stdin, env=env)
    check(VERBS[verb], result, (secret,) if len(secret) > 1 else ())
    assert result.returncode == 1, result
    assert "backend docker-credential-wrap" in result.stdout, result
    assert "leads back to docker-credential-imgpkg" in result.stdout, result


@pytest.mark.parametrize("verb", ["configure-docker", "configure-kubelet"])
def test_an_escaped_lone_surrogate_in_an_edited_file_is_written_back_as_it_was(helper, verb):
    """It is not text, so it cannot be written as UTF-8; the edit keeps it as the escape the file had."""
    background(helper)
    name = "config.json" if verb == "configure-docker" else "kubelet-config"
    path = write_file(helper, name, json_document(name, b"reg\\udcff.example"))
    before = json.loads(path.read_bytes())
    check(VERBS[verb], invoke(helper, VERBS[verb]))
    after = path.read_bytes()
    assert b"reg\\udcff.example" in after
    if name == "config.json":
        assert json.loads(after)["auths"].keys() == before["auths"].keys()
    else:
        assert json.loads(after)["providers"][1] == before["providers"][1]
