"""``helper:NAME`` backends against real stores: every verb through Debian's docker-credential-pass (pass + a
throwaway GPG key), selection and its recursion guard, errors, time bounds, and docker-credential-secretservice
on a private D-Bus. The helper runs as a subprocess, exactly as clients run it; nothing is mocked.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from common import NOT_FOUND, Helper, backend_program

from .conftest import PassStore, SecretService

BACKEND = "DOCKER_CREDENTIAL_IMGPKG_BACKEND"
HUB = "https://index.docker.io/v1/"


@pytest.fixture
def layered(helper: Helper, pass_store: PassStore) -> Helper:
    """The helper with ``helper:pass`` underneath (config.json and imgpkg's variables still on top)."""
    helper.env.update(pass_store.env)
    helper.env[BACKEND] = "helper:pass"
    return helper


@pytest.fixture
def spy(helper: Helper, pass_store: PassStore, tmp_path: Path) -> Path:
    """``helper:spy``: docker-credential-pass behind a recorder of argv, stdin and the loop marker."""
    log = tmp_path / "spy.log"
    bin_dir = tmp_path / "bin"
    spy = backend_program(
        bin_dir,
        "spy",
        "input=$(cat)\n"
        'printf "%s|%s|%s\\n" "$*" "${DOCKER_CREDENTIAL_IMGPKG_DEPTH:-}" "$input" >> "$SPY_LOG"\n'
        'printf "%s" "$input" | exec docker-credential-pass "$@"\n',
        path=helper.env["PATH"],
    )
    helper.env.update(pass_store.env)
    helper.env.update({**spy, "SPY_LOG": str(log)})
    return log


def calls(log: Path) -> list[list[str]]:
    return [line.split("|", 2) for line in log.read_text().splitlines()] if log.exists() else []


def ok(result) -> str:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result.stdout


# -- every verb through pass ------------------------------------------------------------------------------------


def test_store_get_list_erase_through_pass(layered: Helper, pass_store: PassStore) -> None:
    assert ok(layered.store("https://Reg.Example:5000/v2/", "alice", "s3cret")) == ""
    # One pass entry under the normal key, and nothing written to the helper's plaintext file.
    assert pass_store.raw_list() == {"reg.example:5000": "alice"}
    assert not layered.store_path.exists()
    assert all(b"s3cret" not in p.read_bytes() for p in pass_store.files())  # encrypted at rest
    for spelling in (
        "reg.example:5000",
        "https://reg.example:5000",
        "http://REG.example:5000/",
        "reg.example:5000/v2/",
    ):
        answer = json.loads(ok(layered.get(spelling)))
        assert answer == {"ServerURL": spelling, "Username": "alice", "Secret": "s3cret"}
    assert json.loads(ok(layered.list())) == {"reg.example:5000": "alice"}
    assert ok(layered.erase("https://reg.example:5000/v2/")) == ""
    assert pass_store.raw_list() == {}
    assert layered.get("reg.example:5000").stdout == NOT_FOUND


def test_docker_hub_spellings_share_one_pass_entry(layered: Helper, pass_store: PassStore) -> None:
    ok(layered.store("docker.io", "bob", "hub-pw"))
    assert pass_store.raw_list() == {HUB: "bob"}
    for spelling in (HUB, "index.docker.io", "registry-1.docker.io", "docker.io"):
        assert json.loads(ok(layered.get(spelling)))["Secret"] == "hub-pw"


def test_identity_token_round_trips(layered: Helper, pass_store: PassStore) -> None:
    ok(layered.store("ghcr.io", "<token>", "refresh-123"))
    assert json.loads(ok(layered.get("ghcr.io"))) == {
        "ServerURL": "ghcr.io",
        "Username": "<token>",
        "Secret": "refresh-123",
    }


def test_store_replaces_the_entry(layered: Helper, pass_store: PassStore) -> None:
    ok(layered.store("reg.example", "alice", "one"))
    ok(layered.store("https://reg.example", "alice", "two"))
    assert json.loads(ok(layered.get("reg.example")))["Secret"] == "two"
    assert pass_store.raw_list() == {"reg.example": "alice"}


def test_miss_falls_through_to_docker_config(layered: Helper, pass_store: PassStore) -> None:
    # Debian's docker-credential-pass 0.6.4 answers a miss with empty credentials and exit 0 …
    raw = pass_store.raw("get", "cfg.example")
    assert raw.returncode == 0 and json.loads(raw.stdout)["Username"] == ""
    # … which the layer treats as not-found, so docker's config.json answers.
    layered.write_docker_config({"auths": {"cfg.example": {"auth": "Y2ZnOmNmZy1wdw=="}}})  # cfg:cfg-pw
    assert json.loads(ok(layered.get("cfg.example"))) == {
        "ServerURL": "cfg.example",
        "Username": "cfg",
        "Secret": "cfg-pw",
    }
    result = layered.get("nowhere.example")
    assert (result.returncode, result.stdout) == (1, NOT_FOUND)


def test_imgpkg_variables_stay_on_top(layered: Helper) -> None:
    ok(layered.store("reg.example", "stored", "stored-pw"))
    env = {
        "IMGPKG_REGISTRY_HOSTNAME": "reg.example",
        "IMGPKG_REGISTRY_USERNAME": "env",
        "IMGPKG_REGISTRY_PASSWORD": "e",
    }
    assert json.loads(ok(layered.get("reg.example", env=env)))["Username"] == "env"


def test_list_merges_backend_docker_config_and_environment(layered: Helper, pass_store: PassStore) -> None:
    ok(layered.store("reg.example", "alice", "a"))
    pass_store.raw_store(HUB, "hubuser", "h")  # stored by docker before the migration
    layered.write_docker_config({"auths": {"https://Cfg.Example/v1/": {"auth": "Y2ZnOmNmZy1wdw=="}, "reg.example": {}}})
    env = {
        "IMGPKG_REGISTRY_HOSTNAME": "env.example",
        "IMGPKG_REGISTRY_USERNAME": "envuser",
        "IMGPKG_REGISTRY_PASSWORD": "e",
    }
    assert json.loads(ok(layered.list(env=env))) == {
        "reg.example": "alice",
        HUB: "hubuser",
        "cfg.example": "cfg",
        "env.example": "envuser",
    }


def test_entries_stored_before_the_migration_are_found_by_their_normal_key(
    layered: Helper, pass_store: PassStore
) -> None:
    pass_store.raw_store("https://Old.Example:5000", "olduser", "old-pw")  # docker's spelling, not ours
    assert json.loads(ok(layered.list())) == {"old.example:5000": "olduser"}
    for spelling in ("old.example:5000", "https://old.example:5000/v2/", "Old.Example:5000"):
        assert json.loads(ok(layered.get(spelling)))["Secret"] == "old-pw"
    ok(layered.erase("old.example:5000"))  # logout removes it too, whatever it was called
    assert pass_store.raw_list() == {}


def test_colliding_spellings_resolve_deterministically(layered: Helper, pass_store: PassStore) -> None:
    pass_store.raw_store("https://dup.example", "from-https", "1")
    pass_store.raw_store("http://dup.example", "from-http", "2")
    assert json.loads(ok(layered.list())) == {"dup.example": "from-http"}  # first raw key in sorted order
    assert json.loads(ok(layered.get("dup.example")))["Username"] == "from-http"
    pass_store.raw_store("dup.example", "normal", "3")  # the normal spelling wins over the others
    assert json.loads(ok(layered.list())) == {"dup.example": "normal"}
    assert json.loads(ok(layered.get("dup.example")))["Username"] == "normal"
    ok(layered.erase("dup.example"))
    assert pass_store.raw_list() == {}


def test_erase_of_an_absent_entry_succeeds(layered: Helper, pass_store: PassStore) -> None:
    raw = pass_store.raw("erase", "absent.example")
    assert raw.returncode == 1 and "is not in the password store" in raw.stdout  # pass's own answer
    for spelling in ("https://absent.example:5000/v2/", "absent.example:5000", "http://absent.example:5000"):
        result = layered.erase(spelling)
        assert (result.returncode, result.stdout) == (0, ""), result


def test_docker_logout_erases_four_spellings(layered: Helper, pass_store: PassStore) -> None:
    ok(layered.store("myreg.example:5000", "u", "p"))
    for spelling in ("https://myreg.example:5000/v2/", "myreg.example:5000", "http://myreg.example:5000",
                     "https://myreg.example:5000"):  # fmt: skip
        assert ok(layered.erase(spelling)) == ""
    assert pass_store.raw_list() == {}


def test_readonly_mode_persists_nothing(layered: Helper, pass_store: PassStore) -> None:
    readonly = {"DOCKER_CREDENTIAL_IMGPKG_READONLY": "1"}
    ok(layered.store("ro.example", "u", "p", env=readonly))
    assert pass_store.raw_list() == {}
    ok(layered.store("ro.example", "u", "p"))
    ok(layered.erase("ro.example", env=readonly))
    assert pass_store.raw_list() == {"ro.example": "u"}
    assert json.loads(ok(layered.get("ro.example", env=readonly)))["Secret"] == "p"


# -- what the backend is sent, and how often ----------------------------------------------------------------------


def test_backend_gets_the_verb_in_argv_and_the_normal_key_on_stdin(spy: Path, helper: Helper) -> None:
    ok(helper.store("https://Spy.Example/v2/", "u", "secret-on-stdin"))
    ok(helper.get("https://spy.example/v2/"))
    ok(helper.erase("http://spy.example"))
    verbs = calls(spy)
    assert [c[0] for c in verbs] == ["store", "get", "list", "erase"]
    assert all(c[1] == "1" for c in verbs)  # the loop marker reaches the backend
    assert json.loads(verbs[0][2]) == {"ServerURL": "spy.example", "Username": "u", "Secret": "secret-on-stdin"}
    assert verbs[1][2] == "spy.example" and verbs[3][2] == "spy.example"


def test_a_store_hit_costs_one_backend_run_a_miss_adds_one_list(spy: Path, helper: Helper) -> None:
    ok(helper.store("hit.example", "u", "p"))
    spy.unlink()
    ok(helper.get("hit.example"))
    assert [c[0] for c in calls(spy)] == ["get"]
    spy.unlink()
    helper.get("miss.example")
    assert [c[0] for c in calls(spy)] == ["get", "list"]  # the list also answers the namespaced fallback
    spy.unlink()
    helper.get("miss.example/ns/repo")
    # list asked once per process; it names the namespaces there are, so only the registry's key is asked next
    assert [c[0] for c in calls(spy)] == ["get", "list", "get"]


# -- errors ---------------------------------------------------------------------------------------------------


def test_backend_errors_reach_the_user_attributed_never_relayed(layered: Helper, pass_store: PassStore) -> None:
    """A backend's stdout is never relayed (it could be credentials); its name and exit status are."""
    ok(layered.store("broken.example", "u", "p"))
    (entry,) = pass_store.files()
    entry.write_bytes(b"not an OpenPGP message")
    layered.write_docker_config({"auths": {"broken.example": {"auth": "Y2ZnOmNmZy1wdw=="}}})
    result = layered.get("broken.example")  # an error, not a silent fall-through to config.json
    assert result.returncode == 1
    assert result.stdout.startswith("backend docker-credential-pass: get failed (exit status 1)")
    assert "cfg-pw" not in result.stdout


def test_uninitialised_pass_store_error_is_attributed(layered: Helper, tmp_path: Path) -> None:
    result = layered.store("x.example", "u", "p", env={"PASSWORD_STORE_DIR": str(tmp_path / "empty")})
    assert result.returncode == 1
    assert result.stdout == "backend docker-credential-pass: store failed (exit status 1)\n"


def test_missing_backend_binary_is_named(helper: Helper) -> None:
    for verb_result in (
        helper.store("x.example", "u", "p", env={BACKEND: "helper:nosuch"}),
        helper.get("x.example", env={BACKEND: "helper:nosuch"}),
        helper.list(env={BACKEND: "helper:nosuch"}),
    ):
        assert verb_result.returncode == 1
        assert verb_result.stdout == (
            "backend docker-credential-nosuch: not found in PATH (chosen by DOCKER_CREDENTIAL_IMGPKG_BACKEND); "
            "install it, or choose another backend\n"
        )


def test_a_hanging_backend_is_cut_off(helper: Helper, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    env = backend_program(bin_dir, "stuck", "exec sleep 30\n", path=helper.env["PATH"])
    env["DOCKER_CREDENTIAL_IMGPKG_TIMEOUT"] = "0.5"
    started = time.monotonic()
    result = helper.get("x.example", env=env)
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    assert result.stdout == "backend docker-credential-stuck: docker-credential-stuck get did not answer within 0.5s\n"


@pytest.mark.parametrize("value", ["bogus", "helper:", "helper:../pass", "keychain:pass"])
def test_unknown_backend_values_are_refused(helper: Helper, value: str) -> None:
    result = helper.get("x.example", env={BACKEND: value})
    assert result.returncode == 1
    assert result.stdout.startswith("DOCKER_CREDENTIAL_IMGPKG_BACKEND: ")
    assert "helper:NAME" in result.stdout or "must name a helper" in result.stdout


# -- selection: variable, settings file, loops ---------------------------------------------------------------------


def settings_file(helper: Helper) -> Path:
    return helper.config_home / "docker-credential-imgpkg" / "config.json"


def test_settings_file_selects_the_backend_and_the_variable_wins(helper: Helper, pass_store: PassStore) -> None:
    helper.env.update(pass_store.env)
    path = settings_file(helper)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"backend": "helper:pass"}))
    ok(helper.store("via-settings.example", "u", "p"))
    assert pass_store.raw_list() == {"via-settings.example": "u"}
    assert not helper.store_path.exists()
    ok(helper.store("via-variable.example", "v", "q", env={BACKEND: "file"}))
    assert "via-variable.example" in json.loads(helper.store_path.read_text())["auths"]
    assert "via-variable.example" not in pass_store.raw_list()


def test_absent_settings_file_means_the_file_backend(helper: Helper) -> None:
    ok(helper.store("plain.example", "u", "p"))
    assert stat.S_IMODE(helper.store_path.stat().st_mode) == 0o600
    assert not settings_file(helper).exists()


@pytest.mark.parametrize(
    ("text", "why"),
    [("{not json", "not valid JSON"), ("[1]", "expected a JSON object"), ('{"backend": 5}', '"backend" must be')],
)
def test_corrupt_settings_file_is_a_clear_error_naming_it(helper: Helper, text: str, why: str) -> None:
    path = settings_file(helper)
    path.parent.mkdir(parents=True)
    path.write_text(text)
    for result in (helper.store("x.example", "u", "p"), helper.list()):
        assert result.returncode == 1
        assert result.stdout.startswith(f"settings file {path}: ")
        assert why in result.stdout
    # The variable wins, so the file is not even read.
    ok(helper.list(env={BACKEND: "file"}))


def test_get_answered_by_the_environment_ignores_a_corrupt_settings_file(helper: Helper) -> None:
    path = settings_file(helper)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    env = {"IMGPKG_REGISTRY_HOSTNAME": "env.example", "IMGPKG_REGISTRY_USERNAME": "u", "IMGPKG_REGISTRY_PASSWORD": "p"}
    assert json.loads(ok(helper.get("env.example", env=env)))["Username"] == "u"


def test_helper_imgpkg_is_refused(helper: Helper) -> None:
    result = helper.store("x.example", "u", "p", env={BACKEND: "helper:imgpkg"})
    assert result.returncode == 1
    assert "backend helper:imgpkg would run this helper again" in result.stdout


def test_a_name_that_resolves_to_this_program_is_refused(helper: Helper, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker-credential-alias").symlink_to(os.path.realpath(helper.program))
    result = helper.get("x.example", env={BACKEND: "helper:alias", "PATH": f"{bin_dir}:{helper.env['PATH']}"})
    assert result.returncode == 1
    assert f"backend helper:alias: {bin_dir}/docker-credential-alias is this helper" in result.stdout


def test_a_copy_of_this_program_ends_with_a_clear_error(helper: Helper, tmp_path: Path) -> None:
    """Not the same file, so only the marker in the copy's environment can tell: it refuses to go on."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    copy = bin_dir / "docker-credential-copy"
    shutil.copy2(os.path.realpath(helper.program), copy)
    result = helper.get("x.example", env={BACKEND: "helper:copy", "PATH": f"{bin_dir}:{helper.env['PATH']}"})
    assert result.returncode == 1
    # the copy's refusal is this program's own: recognised and said in our words, naming what chose the backend
    assert result.stdout == (
        "backend docker-credential-copy: get refused: docker-credential-copy leads back to docker-credential-imgpkg "
        "(it runs this helper again); a backend chain must end in a real store "
        "(chosen by DOCKER_CREDENTIAL_IMGPKG_BACKEND)\n"
    )


def test_an_indirect_loop_ends_with_a_clear_error(helper: Helper, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    env = backend_program(bin_dir, "wrapper", f'exec "{helper.program}" "$@"\n', path=helper.env["PATH"])
    started = time.monotonic()
    result = helper.store("x.example", "u", "pw-9f3k", env=env)
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    assert result.stdout == (
        "backend docker-credential-wrapper: store refused: docker-credential-wrapper leads back to "
        "docker-credential-imgpkg (it runs this helper again); a backend chain must end in a real store "
        "(chosen by DOCKER_CREDENTIAL_IMGPKG_BACKEND)\n"
    )
    # The same guard through the settings file.
    path = settings_file(helper)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"backend": "helper:wrapper"}))
    result = helper.get("x.example", env={"PATH": env["PATH"]})
    assert result.returncode == 1 and "leads back to docker-credential-imgpkg" in result.stdout


# -- secretservice -------------------------------------------------------------------------------------------------


def test_every_verb_through_secretservice(helper: Helper, secret_service: SecretService) -> None:
    helper.env.update(secret_service.env)
    helper.env[BACKEND] = "helper:secretservice"
    ok(helper.store("https://SS.Example:5000/v2/", "carol", "ss-pw"))
    assert not helper.store_path.exists()
    assert json.loads(ok(helper.get("ss.example:5000"))) == {
        "ServerURL": "ss.example:5000",
        "Username": "carol",
        "Secret": "ss-pw",
    }
    assert json.loads(ok(helper.list())) == {"ss.example:5000": "carol"}
    result = helper.get("absent.example")
    assert (result.returncode, result.stdout) == (1, NOT_FOUND)
    assert ok(helper.erase("http://ss.example:5000")) == ""
    assert ok(helper.erase("ss.example:5000")) == ""  # already gone: still success
    assert json.loads(ok(helper.list())) == {}


# -- running the backend program -------------------------------------------------------------------------------


def test_a_large_secret_through_pass(layered: Helper) -> None:
    token = "t" * (60 * 1024)  # Go helpers refuse one stdin line of 64 KiB or more
    ok(layered.store("big.example", "<token>", token))
    assert json.loads(ok(layered.get("big.example")))["Secret"] == token
    result = layered.store("bigger.example", "<token>", "t" * (64 * 1024))
    assert (result.returncode, result.stdout) == (1, "backend docker-credential-pass: store failed (exit status 1)\n")


def test_input_and_output_larger_than_a_pipe_buffer_interleave(helper: Helper, tmp_path: Path) -> None:
    """A backend that answers while it reads (tee) must not deadlock against a writer that waits to read."""
    bin_dir = tmp_path / "bin"
    kept = tmp_path / "kept.json"
    env = backend_program(
        bin_dir,
        "tee",
        f'case "$1" in store) tee "{kept}" ;; get) cat "{kept}" ;; list) echo "{{}}" ;; esac\n',
        path=helper.env["PATH"],
    )
    env["DOCKER_CREDENTIAL_IMGPKG_TIMEOUT"] = "10"
    token = "t" * (300 * 1024)
    ok(helper.store("big.example", "<token>", token, env=env))
    assert json.loads(ok(helper.get("big.example", env=env)))["Secret"] == token


def test_the_backend_gets_only_stdio_and_the_clients_environment(
    helper: Helper, pass_store: PassStore, tmp_path: Path
) -> None:
    """Descriptors the helper inherited beyond stdin/stdout/stderr are not passed on (subprocess's close_fds),
    and neither is anything the single-file binary's bootloader set for itself (LD_LIBRARY_PATH, _PYI_*)."""
    bin_dir = tmp_path / "bin"
    fds, env_dump = tmp_path / "fds.log", tmp_path / "env.log"
    fds_backend = backend_program(
        bin_dir,
        "fds",
        f'ls /proc/$$/fd > "{fds}"\nenv > "{env_dump}"\nexec docker-credential-pass "$@"\n',
        path=helper.env["PATH"],
    )
    env = {**helper.env, **pass_store.env, **fds_backend}
    leaked = os.open(os.devnull, os.O_RDONLY)
    os.dup2(leaked, 57)
    try:
        proc = subprocess.run(
            [helper.program, "get"], input=b"fds.example", env=env, capture_output=True, pass_fds=(57,), timeout=30
        )
    finally:
        os.close(57)
        os.close(leaked)
    assert proc.returncode == 1 and proc.stdout == NOT_FOUND.encode()
    assert "57" not in fds.read_text().split()
    assert {"0", "1", "2"} <= set(fds.read_text().split())
    seen = dict(line.split("=", 1) for line in env_dump.read_text().splitlines() if "=" in line)
    assert seen["DOCKER_CREDENTIAL_IMGPKG_DEPTH"] == "1"
    assert seen["PASSWORD_STORE_DIR"] == pass_store.env["PASSWORD_STORE_DIR"]
    assert "LD_LIBRARY_PATH" not in seen
    assert not [name for name in seen if name.startswith("_PYI_") or name == "_MEIPASS2"]


def test_a_backend_that_cannot_list_still_answers_get_and_erase(
    helper: Helper, pass_store: PassStore, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    nolist = backend_program(
        bin_dir,
        "nolist",
        'if [ "$1" = list ]; then echo "list is not implemented"; exit 1; fi\nexec docker-credential-pass "$@"\n',
        path=helper.env["PATH"],
    )
    helper.env.update(pass_store.env)
    helper.env.update(nolist)
    ok(helper.store("nolist.example", "u", "p"))
    assert json.loads(ok(helper.get("nolist.example")))["Secret"] == "p"
    helper.write_docker_config({"auths": {"cfg.example": {"auth": "Y2ZnOmNmZy1wdw=="}}})
    assert json.loads(ok(helper.get("cfg.example")))["Username"] == "cfg"  # a miss still falls through
    result = helper.list()  # the list verb itself reports the failure
    assert (result.returncode, result.stdout) == (1, "backend docker-credential-nolist: list failed (exit status 1)\n")
    assert ok(helper.erase("nolist.example")) == ""
    assert ok(helper.erase("nolist.example")) == ""  # absent: pass fails, get says not there, so success
    assert pass_store.raw_list() == {}
