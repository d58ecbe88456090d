"""``store``/``erase`` and the helper's own credential file."""

from __future__ import annotations

import fcntl
import json
import subprocess
import threading
import time

import pytest

from .support import (
    NO_SERVER_URL,
    NO_USERNAME,
    assert_creds,
    assert_error,
    assert_not_found,
    assert_silent_success,
    b64,
    mode,
    read_store,
    store_each,
)

GO_STYLE = '{"ServerURL":"quay.io","Username":"alice","Secret":"s3"}\n'
PY_STYLE = '{"ServerURL": "quay.io", "Username": "alice", "Secret": "s3"}'


# --- store input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        GO_STYLE,
        PY_STYLE,
        '{"serverurl":"quay.io","username":"alice","secret":"s3"}',
        '{"SERVERURL":"quay.io","USERNAME":"alice","SECRET":"s3"}',
        '{"ServerURL":"quay.io","Username":"alice","Secret":"s3","Extra":{"x":[1]}}',
        '\n  {"ServerURL":"quay.io","Username":"alice","Secret":"s3"}  \r\n\t\n',
    ],
    ids=["go", "docker-py", "lower", "upper", "unknown-field", "whitespace"],
)
def test_store_accepts_what_clients_send(helper, payload):
    assert_silent_success(helper.run("store", stdin=payload))
    assert_creds(helper.get("quay.io"), "quay.io", "alice", "s3")


def test_store_exact_field_name_wins_over_case_variant(helper):
    payload = '{"username":"lower","Username":"exact","ServerURL":"quay.io","Secret":"s"}'
    assert_silent_success(helper.run("store", stdin=payload))
    assert_creds(helper.get("quay.io"), "quay.io", "exact", "s")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ('{"ServerURL":"","Username":"u","Secret":"s"}', NO_SERVER_URL),
        ('{"Username":"u","Secret":"s"}', NO_SERVER_URL),
        ('{"ServerURL":null,"Username":"u","Secret":"s"}', NO_SERVER_URL),
        ('{"ServerURL":"quay.io","Username":"","Secret":"s"}', NO_USERNAME),
        ('{"ServerURL":"quay.io","Secret":"s"}', NO_USERNAME),
        ('{"ServerURL":"quay.io","Username":null,"Secret":"s"}', NO_USERNAME),
        ('{"ServerURL":"","Username":"","Secret":""}', NO_SERVER_URL),
    ],
)
def test_store_validation_messages(helper, payload, expected):
    result = helper.run("store", stdin=payload)
    assert (result.returncode, result.stdout) == (1, expected)
    assert not helper.store_path.exists()


def test_store_empty_secret_is_allowed(helper):
    assert_silent_success(helper.store("quay.io", "alice", ""))
    assert_creds(helper.get("quay.io"), "quay.io", "alice", "")


@pytest.mark.parametrize("payload", ["", "\n", "   \t\r\n"], ids=["empty", "newline", "blank"])
def test_store_empty_input_gets_a_specific_message(helper, payload):
    out = assert_error(helper.run("store", stdin=payload), "empty")
    assert out.strip() != "EOF"


@pytest.mark.parametrize(
    "payload",
    [
        '{"ServerURL":"quay.io","Username":"u","Secret":"s"} x',
        '{"ServerURL":"quay.io","Username":"u","Secret":"s"}{"ServerURL":"b.io","Username":"u","Secret":"s"}',
        '{"ServerURL":"quay.io","Username":"u","Secret":"s"}\n{}',
        '{"ServerURL":"quay.io","Username":"u","Secret":"s"}\x00',
    ],
    ids=["garbage", "second-object", "second-line", "nul"],
)
def test_store_input_may_carry_trailing_whitespace_and_nothing_else(helper, payload):
    assert_error(helper.run("store", stdin=payload))
    assert not helper.store_path.exists()


def test_identity_token_is_stored_as_identitytoken(helper):
    assert_silent_success(helper.store("quay.io", "<token>", "refresh-me"))
    assert read_store(helper) == {"auths": {"quay.io": {"identitytoken": "refresh-me"}}}
    assert_creds(helper.get("quay.io"), "quay.io", "<token>", "refresh-me")


def test_file_is_docker_config_format(helper):
    assert_silent_success(helper.store("quay.io", "alice", "pa:ss"))
    assert read_store(helper) == {"auths": {"quay.io": {"auth": b64("alice:pa:ss")}}}


def test_password_with_colons_and_unicode_round_trips(helper):
    secret = "p:a:s:s ✓ \"'\\"
    assert_silent_success(helper.store("quay.io", "ålice", secret))
    assert_creds(helper.get("quay.io"), "quay.io", "ålice", secret)


def test_large_secret_round_trips(helper):
    secret = "x" * 200_000  # identity tokens can be large; Go's 64 KiB line limit is not ours
    assert_silent_success(helper.store("quay.io", "<token>", secret))
    assert_creds(helper.get("quay.io"), "quay.io", "<token>", secret)


def test_username_with_colon_is_refused(helper):
    assert_silent_success(helper.store("quay.io", "alice", "old"))
    before = helper.store_path.read_bytes()
    assert_error(helper.store("quay.io", "al:ice", "new-secret"), ":", secrets=("new-secret",))
    assert helper.store_path.read_bytes() == before


def test_store_replaces_an_entry(helper):
    store_each(helper, ("quay.io", "alice", "one"), ("https://quay.io/v2/", "bob", "two"))
    assert read_store(helper)["auths"] == {"quay.io": {"auth": b64("bob:two")}}


# --- file location ---------------------------------------------------------------------------------------------


def test_default_path_is_under_xdg_config_home(helper):
    assert_silent_success(helper.store("quay.io", "alice", "s"))
    assert helper.store_path.exists()


@pytest.mark.parametrize("xdg", [None, ""], ids=["unset", "empty"])
def test_default_path_without_xdg_config_home(helper, xdg):
    if xdg is None:
        del helper.env["XDG_CONFIG_HOME"]
    else:
        helper.env["XDG_CONFIG_HOME"] = xdg
    assert_silent_success(helper.store("quay.io", "alice", "s"))
    path = helper.home / ".config" / "docker-credential-imgpkg" / "credentials.json"
    assert json.loads(path.read_text())["auths"]["quay.io"]
    assert_creds(helper.get("quay.io"), "quay.io", "alice", "s")


def test_explicit_store_path(helper, tmp_path):
    path = tmp_path / "elsewhere" / "creds.json"
    env = {"DOCKER_CREDENTIAL_IMGPKG_STORE": str(path)}
    assert_silent_success(helper.store("quay.io", "alice", "s", env=env))
    assert json.loads(path.read_text()) == {"auths": {"quay.io": {"auth": b64("alice:s")}}}
    assert not helper.store_path.exists()
    assert_creds(helper.get("quay.io", env=env), "quay.io", "alice", "s")
    assert_not_found(helper.get("quay.io"))


# --- keys ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "key"),
    [
        ("quay.io", "quay.io"),
        ("https://quay.io", "quay.io"),
        ("http://quay.io/", "quay.io"),
        ("https://Quay.IO/v2/", "quay.io"),
        ("HTTPS://quay.io/v1/", "quay.io"),
        ("MyReg.Example.com:5000", "myreg.example.com:5000"),
        ("https://myreg.example.com:5000/v2/", "myreg.example.com:5000"),
        ("quay.io/ns/", "quay.io/ns"),
        ("https://quay.io/v2/ns/repo/", "quay.io/ns/repo"),
        ("[::1]:5000", "[::1]:5000"),
        ("localhost:5000", "localhost:5000"),
    ],
)
def test_store_keys_are_normalised(helper, server, key):
    assert_silent_success(helper.store(server, "alice", "s"))
    assert list(read_store(helper)["auths"]) == [key]


LOGOUT = [
    "https://myreg.example.com:5000/v2/",
    "myreg.example.com:5000",
    "http://myreg.example.com:5000",
    "https://myreg.example.com:5000",
]


@pytest.mark.parametrize("spelling", LOGOUT)
def test_docker_logout_spellings_each_erase_the_one_entry(helper, spelling):
    store_each(helper, ("myreg.example.com:5000", "alice", "s"), ("other.example.com", "bob", "s"))
    assert_silent_success(helper.erase(spelling))
    assert list(read_store(helper)["auths"]) == ["other.example.com"]


def test_docker_logout_sequence(helper):
    assert_silent_success(helper.store("https://myreg.example.com:5000/v2/", "alice", "s"))
    for spelling in LOGOUT:  # docker logout tries all four; the later ones find nothing and still succeed
        assert_silent_success(helper.erase(spelling))
    assert read_store(helper)["auths"] == {}
    assert_not_found(helper.get("myreg.example.com:5000"))


@pytest.mark.parametrize("address", ["quay.io", "https://index.docker.io/v1/", "gcr.io/a/b"])
def test_erase_absent_is_silent_success(helper, address):
    assert_silent_success(helper.erase(address))  # no file at all
    assert_silent_success(helper.store("other.io", "u", "s"))
    assert_silent_success(helper.erase(address))  # file without the entry
    assert list(read_store(helper)["auths"]) == ["other.io"]


def test_erase_never_falls_back(helper):
    store_each(helper, ("gcr.io", "host-user", "s"), ("gcr.io/proj", "ns-user", "s"))
    assert_silent_success(helper.erase("gcr.io/proj/img"))
    assert_silent_success(helper.erase("gcr.io/other"))
    assert read_store(helper)["auths"].keys() == {"gcr.io", "gcr.io/proj"}
    assert_silent_success(helper.erase("gcr.io/proj/"))
    assert read_store(helper)["auths"].keys() == {"gcr.io"}


# --- lookup with repository paths ------------------------------------------------------------------------------


def test_repository_request_falls_back_to_the_host_entry(helper):
    assert_silent_success(helper.store("gcr.io", "host-user", "s"))
    for request_ in ("gcr.io/proj/img", "gcr.io/proj", "https://gcr.io/v2/proj/img/", "GCR.io/x/y/z"):
        assert_creds(helper.get(request_), request_, "host-user", "s")


def test_most_specific_key_wins(helper):
    store_each(helper, ("gcr.io", "host", "s0"), ("gcr.io/proj", "ns", "s1"), ("gcr.io/proj/img", "repo", "s2"))
    assert_creds(helper.get("gcr.io/proj/img"), "gcr.io/proj/img", "repo", "s2")
    assert_creds(helper.get("gcr.io/proj/img/sub"), "gcr.io/proj/img/sub", "repo", "s2")
    assert_creds(helper.get("gcr.io/proj/other"), "gcr.io/proj/other", "ns", "s1")
    assert_creds(helper.get("gcr.io/proj"), "gcr.io/proj", "ns", "s1")
    assert_creds(helper.get("gcr.io/project-x/img"), "gcr.io/project-x/img", "host", "s0")
    assert_creds(helper.get("gcr.io"), "gcr.io", "host", "s0")


def test_namespaced_key_never_answers_another_namespace(helper):
    assert_silent_success(helper.store("gcr.io/proj", "ns", "s"))
    assert_not_found(helper.get("gcr.io/other/img"))
    assert_not_found(helper.get("gcr.io/project-x/img"))
    assert_not_found(helper.get("us.gcr.io/proj/img"))


def test_trailing_slash_is_the_same_entry(helper):
    assert_silent_success(helper.store("gcr.io/proj/", "ns", "s"))
    assert_creds(helper.get("gcr.io/proj"), "gcr.io/proj", "ns", "s")
    assert_creds(helper.get("gcr.io/proj/img"), "gcr.io/proj/img", "ns", "s")


def test_bare_host_request_falls_back_to_first_namespaced_key(helper):
    store_each(helper, ("gcr.io/b-proj", "b", "s"), ("gcr.io/a-proj", "a", "s"), ("gcr.io.evil.com", "evil", "s"))
    assert_creds(helper.get("gcr.io"), "gcr.io", "a", "s")
    assert_creds(helper.get("https://gcr.io/v2/"), "https://gcr.io/v2/", "a", "s")
    assert_not_found(helper.get("us.gcr.io"))


def test_host_names_compare_case_insensitively(helper):
    assert_silent_success(helper.store("Quay.IO", "alice", "s"))
    assert list(read_store(helper)["auths"]) == ["quay.io"]
    assert_creds(helper.get("QUAY.io"), "QUAY.io", "alice", "s")
    assert_silent_success(helper.erase("qUaY.iO"))
    assert read_store(helper)["auths"] == {}


# --- file safety -------------------------------------------------------------------------------------------------


def test_directory_0700_and_file_0600(helper):
    assert_silent_success(helper.store("quay.io", "alice", "s"))
    assert mode(helper.store_path.parent) == 0o700
    assert mode(helper.store_path) == 0o600


def test_existing_directory_mode_is_not_changed(helper):
    directory = helper.store_path.parent
    directory.mkdir(parents=True)
    directory.chmod(0o755)
    assert_silent_success(helper.store("quay.io", "alice", "s"))
    assert mode(directory) == 0o755
    assert mode(helper.store_path) == 0o600


def test_existing_loose_file_is_rewritten_0600(helper):
    helper.store_path.parent.mkdir(parents=True)
    helper.store_path.write_text('{"auths": {}}')
    helper.store_path.chmod(0o644)
    assert_silent_success(helper.store("quay.io", "alice", "s"))
    assert mode(helper.store_path) == 0o600


def test_no_temp_files_left_behind(helper):
    for i in range(3):
        assert_silent_success(helper.store(f"r{i}.io", "alice", "s"))
    assert_silent_success(helper.erase("r1.io"))
    leftovers = [p.name for p in helper.store_path.parent.iterdir() if p.name != "credentials.json"]
    assert all(name.endswith(".lock") for name in leftovers), leftovers


def test_other_top_level_keys_are_kept(helper):
    helper.store_path.parent.mkdir(parents=True)
    helper.store_path.write_text(json.dumps({"auths": {"a.io": {"auth": b64("a:b")}}, "note": {"keep": True}}))
    assert_silent_success(helper.store("quay.io", "alice", "s"))
    doc = read_store(helper)
    assert doc["note"] == {"keep": True}
    assert doc["auths"].keys() == {"a.io", "quay.io"}


def test_concurrent_stores_lose_nothing(helper):
    procs = []
    for i in range(24):
        payload = json.dumps({"ServerURL": f"reg{i}.example.com", "Username": f"user{i}", "Secret": f"s{i}"})
        proc = helper.spawn("store")
        procs.append((proc, payload))
    for proc, payload in procs:
        out, err = proc.communicate(payload.encode(), timeout=60)
        assert (proc.returncode, out, err) == (0, b"", b"")
    auths = read_store(helper)["auths"]
    assert auths == {f"reg{i}.example.com": {"auth": b64(f"user{i}:s{i}")} for i in range(24)}


def test_concurrent_stores_and_erases(helper):
    for i in range(12):
        assert_silent_success(helper.store(f"old{i}.io", "u", "s"))
    procs = []
    for i in range(12):
        for args, data in (
            (["store"], json.dumps({"ServerURL": f"new{i}.io", "Username": "u", "Secret": "s"})),
            (["erase"], f"old{i}.io"),
        ):
            proc = helper.spawn(*args)
            procs.append((proc, data))
    for proc, data in procs:
        out, _ = proc.communicate(data.encode(), timeout=60)
        assert (proc.returncode, out) == (0, b"")
    assert read_store(helper)["auths"].keys() == {f"new{i}.io" for i in range(12)}


def test_readers_never_see_a_partial_file(helper):
    seed = {f"seed{i}.io": {"auth": b64(f"u{i}:s{i}")} for i in range(50)}
    helper.store_path.parent.mkdir(parents=True, mode=0o700)
    helper.store_path.write_text(json.dumps({"auths": seed}))
    helper.store_path.chmod(0o600)
    procs = []
    for i in range(10):
        payload = json.dumps({"ServerURL": f"w{i}.io", "Username": "u", "Secret": "x" * 20_000})
        procs.append((helper.spawn("store"), payload, b""))
        procs.append((helper.spawn("get"), f"seed{i}.io", f'"Username":"u{i}"'.encode()))
    for proc, data, expected in procs:
        out, _ = proc.communicate(data.encode(), timeout=60)
        assert proc.returncode == 0 and expected in out, out


FOREIGN = [
    ("not-json", "nope"),
    ("array", "[]"),
    ("auths-array", '{"auths": []}'),
    ("auths-null", '{"auths": null}'),
    ("auths-string", '{"auths": "x"}'),
    ("truncated", '{"auths": {"quay.io": {"auth": "'),
]
FOREIGN_WITHOUT_AUTHS = [
    ("empty-object", "{}"),
    ("docker-config-without-auths", '{"credsStore": "desktop"}'),
    ("other-object", '{"credHelpers": {"gcr.io": "gcloud"}}'),
]


def _check_refused(helper, content: str) -> None:
    helper.store_path.parent.mkdir(parents=True)
    helper.store_path.write_text(content)
    for result in (
        helper.store("quay.io", "alice", "new-secret"),
        helper.erase("quay.io"),
        helper.get("quay.io"),
    ):
        assert_error(result, str(helper.store_path), secrets=("new-secret",))
    assert helper.store_path.read_text() == content


@pytest.mark.parametrize("content", [c for _, c in FOREIGN], ids=[i for i, _ in FOREIGN])
def test_corrupt_or_foreign_file_is_refused_and_never_overwritten(helper, content):
    _check_refused(helper, content)


@pytest.mark.parametrize("content", [c for _, c in FOREIGN_WITHOUT_AUTHS], ids=[i for i, _ in FOREIGN_WITHOUT_AUTHS])
def test_object_without_auths_is_foreign(helper, content):
    _check_refused(helper, content)


# --- read-only mode ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "Yes", "True"])
def test_readonly_store_and_erase_succeed_and_persist_nothing(helper, value):
    env = {"DOCKER_CREDENTIAL_IMGPKG_READONLY": value}
    assert_silent_success(helper.store("quay.io", "alice", "s", env=env))
    assert not helper.store_path.exists()
    assert_silent_success(helper.store("quay.io", "alice", "s"))
    before = helper.store_path.read_bytes()
    assert_silent_success(helper.store("quay.io", "bob", "s2", env=env))
    assert_silent_success(helper.erase("quay.io", env=env))
    assert helper.store_path.read_bytes() == before


@pytest.mark.parametrize("value", ["0", "false", "no", "", "FALSE"])
def test_readonly_other_values_persist(helper, value):
    assert_silent_success(helper.store("quay.io", "alice", "s", env={"DOCKER_CREDENTIAL_IMGPKG_READONLY": value}))
    assert_creds(helper.get("quay.io"), "quay.io", "alice", "s")


# --- bounded lock wait (last: its ~10 s wait overlaps the tests above) -------------------------------------------


class LockProbe:
    """A ``store`` started against a store whose lock this test process holds, left to time out in the background.

    Its run time is measured from its own start to its own exit (a watcher thread notes when it ends), not to when
    the last test of the module gets to look: that would count the time the tests in between took as well."""

    def __init__(self, root) -> None:
        self.root = root
        self.proc: subprocess.Popen | None = None
        self.lock = None
        self.started = 0.0
        self.ended: float | None = None
        self.watcher: threading.Thread | None = None

    def start(self, helper) -> None:
        if self.proc is not None:
            return
        path = self.root / "store" / "credentials.json"
        env = {**helper.env, "DOCKER_CREDENTIAL_IMGPKG_STORE": str(path), "HOME": str(self.root)}
        self.env, self.path, self.program = env, path, helper.program
        seed = subprocess.run(
            [helper.program, "store"], input=GO_STYLE.encode(), env=env, capture_output=True, timeout=30
        )
        assert seed.returncode == 0, seed
        self.before = path.read_bytes()
        self.lock = open(str(path) + ".lock", "a+")  # noqa: SIM115 - held until the probe is collected
        fcntl.flock(self.lock.fileno(), fcntl.LOCK_EX)
        self.started = time.monotonic()
        self.proc = helper.spawn("store", env=env)
        self.proc.stdin.write(b'{"ServerURL":"quay.io","Username":"bob","Secret":"s2"}')
        self.proc.stdin.close()
        self.watcher = threading.Thread(target=self._watch, args=(self.proc,), name="lock-probe", daemon=True)
        self.watcher.start()

    def _watch(self, proc: subprocess.Popen) -> None:
        proc.wait()
        self.ended = time.monotonic()

    def finish(self):
        assert self.proc is not None and self.watcher is not None
        try:
            self.proc.wait(timeout=60)
            self.watcher.join(timeout=10)
            elapsed = (self.ended if self.ended is not None else time.monotonic()) - self.started
            out, err = self.proc.stdout.read(), self.proc.stderr.read()
        finally:
            self.lock.close()
        return self.proc.returncode, out.decode(), err.decode(), elapsed

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.lock is not None:
            self.lock.close()
        if self.proc is not None:
            self.proc.stdout.close()
            self.proc.stderr.close()


@pytest.fixture(scope="module")
def lock_probe(tmp_path_factory):
    probe = LockProbe(tmp_path_factory.mktemp("lock-probe"))
    yield probe
    probe.close()


@pytest.fixture(autouse=True)
def _start_lock_probe(lock_probe, helper):
    lock_probe.start(helper)


def test_lock_wait_is_bounded(lock_probe, helper):
    code, out, err, elapsed = lock_probe.finish()
    assert code == 1 and out.count("\n") == 1, (out, err)
    assert str(lock_probe.path) in out and "lock" in out, out
    assert "Traceback" not in out + err
    assert elapsed < 30, elapsed
    assert lock_probe.path.read_bytes() == lock_probe.before  # nothing written while locked
    # released: the same store now succeeds
    again = subprocess.run(
        [lock_probe.program, "store"],
        input=b'{"ServerURL":"quay.io","Username":"bob","Secret":"s2"}',
        env=lock_probe.env,
        capture_output=True,
        timeout=30,
    )
    assert (again.returncode, again.stdout) == (0, b"")
