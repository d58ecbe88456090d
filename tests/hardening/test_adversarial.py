"""Issue 12, the adversarial round: a hostile user or a hostile environment against the real program, run as a
subprocess exactly as clients run it (``HELPER_BIN`` selects the console script or the single executable).

One section per item of the issue, each case named after what must hold. The size bound (item 1) is measured in
tests/stress/test_size_bound.py; here only that a 1 MiB address is answered, and answered right.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common import NOT_FOUND, backend_program, write_program

from .support import Raw, auth_entry, check_outcome, drop_dac_override, env_entry, run, write_store

SECRET = "S3CR3T-adversarial-4b1d"
PROGRAM_NAME = "docker-credential-imgpkg"


def store_input(server: str, username: str, secret: str) -> bytes:
    return json.dumps({"ServerURL": server, "Username": username, "Secret": secret}).encode()


def answer_of(result: Raw) -> dict:
    assert result.returncode == 0, result
    assert result.out.endswith(b"}\n") and result.out.count(b"\n") == 1, result
    return json.loads(result.out.decode("utf-8"))  # strict: the wire must be UTF-8


def error_line(result: Raw, *fragments: str, secrets: tuple[str, ...] = (SECRET,)) -> str:
    """A protocol error: exit 1, one line on stdout holding every fragment, no traceback, no secret anywhere."""
    assert result.returncode == 1, result
    assert result.out.endswith(b"\n") and result.out.count(b"\n") == 1, result
    text = result.stdout
    assert text != NOT_FOUND, result
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in {result}"
    assert "Traceback" not in text + result.stderr, result
    for secret in secrets:
        assert secret not in text + result.stderr, f"secret leaked: {result}"
    return text


def is_binary(helper) -> bool:
    with open(helper.program, "rb") as f:
        return f.read(4) == b"\x7fELF"


def pids_in_group(pgid: int) -> list[int]:
    """Live (not zombie) processes whose process group is ``pgid``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rpartition(b")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            found.append(int(name))
    return found


def stop_processes(pids: list[int]) -> None:
    """Clean-up after a failed case: SIGKILL the processes this test started, by id."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def read_pid(path: Path, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            text = ""
        if text:
            return int(text)
        time.sleep(0.02)
    raise AssertionError(f"{path} was never written")


# --- 1. work linear in the input: a 1 MiB address is answered, and right ---------------------------------------

SEGMENTS = (1 << 20) // 2 - 8
LONG_ADDRESS = "big.io" + "/a" * SEGMENTS  # 1 MiB, 524,280 path segments


def test_1_a_one_mebibyte_address_is_answered_by_its_nearest_namespace(helper):
    assert len(LONG_ADDRESS) <= 1 << 20
    write_store(
        helper.store_path,
        {
            "big.io": auth_entry("host", SECRET),
            "big.io/a/a": auth_entry("ns2", SECRET),
            "big.io/b": auth_entry("b", "x"),
        },
    )
    assert answer_of(run(helper, "get", stdin=LONG_ADDRESS))["Username"] == "ns2"
    result = run(helper, "get", stdin="other.io" + "/a" * SEGMENTS)
    assert (result.returncode, result.stdout) == (1, NOT_FOUND), result
    assert run(helper, "erase", stdin=LONG_ADDRESS).returncode == 0  # absent: nothing to do


def test_1_a_one_mebibyte_address_through_docker_config_and_env(helper):
    helper.write_docker_config({"auths": {"https://cfg.io/a/a/a/": auth_entry("cfg", SECRET)}})
    got = answer_of(run(helper, "get", stdin="cfg.io" + "/a" * SEGMENTS))
    assert (got["Username"], got["Secret"]) == ("cfg", SECRET)
    env = env_entry("env.io/a/a", "env", SECRET)
    assert answer_of(run(helper, "get", stdin="env.io" + "/a" * SEGMENTS, env=env))["Username"] == "env"


def test_1_a_one_mebibyte_store_key_is_kept_listed_and_answered(helper):
    server = "big.io" + "/a" * ((1 << 20) // 2 - 40)
    assert run(helper, "store", stdin=store_input(server, "u", SECRET)).returncode == 0
    assert json.loads(run(helper, "list").out) == {server: "u"}
    answer = answer_of(run(helper, "get", stdin=server))
    assert answer == {"ServerURL": server, "Username": "u", "Secret": SECRET}


# --- 2. another program's output is never relayed --------------------------------------------------------------

LEAKY = """
input=$(cat)
case "$1" in
  get)   printf '{"ServerURL":"%s","Username":"u","Secret":"%s"}\\n' "$input" "$LEAK"; echo "$LEAK" >&2; exit 3 ;;
  store) printf '%s\\n' "$input"; printf '%s\\n' "$input" >&2; exit 1 ;;
  erase) printf '{"Secret":"%s"}\\n' "$LEAK"; echo "password: $LEAK" >&2; exit 1 ;;
  list)  printf '{"x.io":"%s"}\\n' "$LEAK"; echo "bad token=$LEAK" >&2; exit 4 ;;
esac
"""


@pytest.fixture
def leaky_backend(helper, tmp_path):
    bin_dir = tmp_path / "bin"
    helper.env.update({**backend_program(bin_dir, "leaky", LEAKY), "LEAK": SECRET})
    return bin_dir


@pytest.mark.parametrize("verb", ["get", "store", "erase", "list"])
def test_2_a_backends_output_is_never_relayed(helper, leaky_backend, verb):
    stdin = {"get": "x.io", "store": store_input("x.io", "u", SECRET), "erase": "x.io", "list": ""}[verb]
    result = run(helper, verb, stdin=stdin, env={"DOCKER_CREDENTIAL_IMGPKG_DEBUG": "1"})
    if verb == "erase" and result.returncode == 0:
        return  # not listed, erase failed: counted as nothing to erase (skopeo and podman crash otherwise)
    error_line(result, "backend docker-credential-leaky", "exit status")


def test_2_a_multi_line_secret_echoed_on_stderr_is_not_quoted(helper, tmp_path):
    """The first line of stderr is a line of the secret: it must be dropped although it is not the whole secret."""
    bin_dir = tmp_path / "bin"
    echo = "import json, sys\nsys.stderr.write(json.load(sys.stdin)['Secret'] + '\\n')\nsys.exit(1)\n"
    env = backend_program(bin_dir, "echo", echo, shell=sys.executable)
    secret = SECRET + "-first-line\nsecond-line-of-it"
    result = run(helper, "store", stdin=store_input("x.io", "u", secret), env=env)
    error_line(result, "backend docker-credential-echo: store failed (exit status 1)", secrets=(SECRET, "second-line"))


def test_2_a_harmless_first_stderr_line_is_still_quoted(helper, tmp_path):
    bin_dir = tmp_path / "bin"
    env = backend_program(bin_dir, "locked", "cat >/dev/null\necho 'gpg: agent not running' >&2\nexit 2\n")
    result = run(helper, "store", stdin=store_input("x.io", "u", SECRET), env=env)
    error_line(result, "store failed (exit status 2): gpg: agent not running")


def test_2_a_keychain_helpers_output_is_never_relayed(helper, tmp_path):
    bin_dir = tmp_path / "bin"
    write_program(bin_dir, "docker-credential-gcr", LEAKY)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "IMGPKG_ACTIVE_KEYCHAINS": "gke", "LEAK": SECRET}
    error_line(run(helper, "get", stdin="gcr.io", env=env), "keychain gke", "exit status 3")


# --- 3. nothing runs from the current directory ------------------------------------------------------------------

PLANTED = 'touch "$MARK"\nprintf \'{"Username":"planted","Secret":"%s"}\\n\' "$LEAK"\n'


@pytest.fixture
def planted(helper, tmp_path):
    """``docker-credential-gcr`` and ``docker-credential-evil`` in a directory the client runs in (and its bin/)."""
    workdir = tmp_path / "checkout"
    for directory in (workdir, workdir / "bin"):
        write_program(directory, "docker-credential-gcr", PLANTED)
        write_program(directory, "docker-credential-evil", PLANTED)
    mark = tmp_path / "planted-program-ran"
    helper.env.update({"MARK": str(mark), "LEAK": SECRET})
    return workdir, mark


@pytest.mark.parametrize("path", [":/usr/bin:/bin", "/usr/bin::/bin", "/usr/bin:/bin:", ".:/usr/bin:/bin", "bin:/bin"])
def test_3_a_relative_path_entry_never_runs_a_planted_keychain_helper(helper, planted, path):
    workdir, mark = planted
    env = {"PATH": path, "IMGPKG_ACTIVE_KEYCHAINS": "gke", "IMGPKG_REGISTRY_PASSWORD_X": SECRET + "-env"}
    result = run(helper, "get", stdin="gcr.io", env=env, cwd=workdir)
    error_line(result, "docker-credential-gcr would run from the current directory", "make PATH entries absolute")
    assert not mark.exists(), "the planted program ran"


def test_3_a_relative_path_entry_never_runs_a_planted_backend(helper, planted):
    workdir, mark = planted
    env = {"PATH": "bin:/usr/bin:/bin", "DOCKER_CREDENTIAL_IMGPKG_BACKEND": "helper:evil"}
    for verb, stdin in (("get", "x.io"), ("store", store_input("x.io", "u", SECRET)), ("list", "")):
        result = run(helper, verb, stdin=stdin, env=env, cwd=workdir)
        error_line(result, "docker-credential-evil would run from the current directory")
    assert not mark.exists(), "the planted program ran"


def test_3_the_same_program_on_an_absolute_path_entry_runs(helper, planted):
    """Control: the planted program is runnable and answers when PATH names its directory absolutely."""
    workdir, mark = planted
    env = {"PATH": f"{workdir}:/usr/bin:/bin", "IMGPKG_ACTIVE_KEYCHAINS": "gke"}
    assert answer_of(run(helper, "get", stdin="gcr.io", env=env, cwd=workdir))["Username"] == "planted"
    assert mark.exists()


# --- 4. configure --dry-run masks from the parsed document --------------------------------------------------------


def test_4_dry_run_masks_every_secret_in_the_diff(helper, tmp_path):
    config = tmp_path / "config.json"
    doc = (
        "{\n"
        '\t"auths": {\n'
        '\t\t"https://reg.example": {"password": "abc\\"TAIL-1", "auth": "QUJD-2", "email": "me@x"},\n'
        '\t\t"tok.example": {"identitytoken": "ID-3\\\\", "registrytoken": "RT-4"}\n'
        "\t},\n"
        '\t"HttpHeaders": {"Authorization": "Bearer HDR-5", "X-Meta": "META-6"},\n'
        '\t"proxies": {"default": {"httpProxy": "http://puser:PROXY-7@proxy:3128", "noProxy": "localhost"}},\n'
        '\t"credHelpers": {"other.io": "pass"}\n'
        "}\n"
    )
    config.write_text(doc)
    before = config.read_bytes()
    result = run(helper, "configure", "docker", "--dry-run", "--file", str(config))
    assert result.returncode == 0, result
    out = result.stdout
    assert '+\t"credsStore": "imgpkg"' in out, out  # the change itself is shown
    assert '"https://reg.example"' in out and '"noProxy": "localhost"' in out  # names and harmless values are
    for secret in ("TAIL-1", "QUJD-2", "me@x", "ID-3", "RT-4", "HDR-5", "META-6", "puser", "PROXY-7"):
        assert secret not in out, f"{secret} shown: {out}"
    assert '"http://***@proxy:3128"' in out
    assert config.read_bytes() == before


def test_4_dry_run_of_a_new_file_and_of_the_settings_file_hold_no_secret(helper, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credsStore": "pass", "auths": {"a.io": {"auth": "U0VDUkVU-8"}}}, indent=2))
    result = run(helper, "configure", "docker", "--dry-run", "--file", str(config))
    assert result.returncode == 0, result
    assert "U0VDUkVU-8" not in result.stdout and '"backend": "helper:pass"' in result.stdout, result


# --- 5. a relative XDG_CONFIG_HOME / XDG_CACHE_HOME is ignored ---------------------------------------------------


def test_5_relative_xdg_config_home_is_ignored(helper, tmp_path):
    first, second = tmp_path / "checkout", tmp_path / "elsewhere"
    first.mkdir()
    second.mkdir()
    # A settings file where a relative XDG_CONFIG_HOME would find it: it must not choose the backend.
    planted = first / "rel" / PROGRAM_NAME / "config.json"
    planted.parent.mkdir(parents=True)
    planted.write_text('{"backend": "helper:planted"}')
    env = {"XDG_CONFIG_HOME": "rel"}
    assert run(helper, "store", stdin=store_input("x.io", "u", SECRET), env=env, cwd=first).returncode == 0
    assert sorted(p.name for p in (first / "rel" / PROGRAM_NAME).iterdir()) == ["config.json"]  # nothing added
    assert not (second / "rel").exists()
    stored = helper.home / ".config" / PROGRAM_NAME / "credentials.json"
    assert "x.io" in json.loads(stored.read_text())["auths"]
    assert answer_of(run(helper, "get", stdin="x.io", env=env, cwd=second))["Secret"] == SECRET
    assert answer_of(run(helper, "get", stdin="x.io", env={"XDG_CONFIG_HOME": None}))["Secret"] == SECRET


def test_5_relative_xdg_cache_home_is_ignored_by_the_single_executable(helper, tmp_path):
    workdir = tmp_path / "checkout"
    workdir.mkdir()
    home = tmp_path / "fresh-home"
    home.mkdir(mode=0o700)
    result = run(helper, "version", env={"XDG_CACHE_HOME": "rel-cache", "HOME": str(home)}, cwd=workdir)
    assert result.returncode == 0 and result.stdout.startswith(PROGRAM_NAME), result
    assert list(workdir.iterdir()) == []
    if is_binary(helper):  # the console script has no cache; the binary unpacks under $HOME/.cache instead
        assert (home / ".cache" / PROGRAM_NAME).is_dir()


# --- 6. Python's environment cannot change the answer -----------------------------------------------------------

NON_ASCII = SECRET + "-pé€😀"
ENV_SECRET = env_entry("py.io", "u", NON_ASCII)


@pytest.mark.parametrize(
    "python_env",
    [
        {"PYTHONIOENCODING": "ascii"},
        {"PYTHONIOENCODING": "latin-1"},
        {"PYTHONIOENCODING": "utf-16"},
        {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"},
        {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0", "PYTHONIOENCODING": "ascii:strict"},
        {"PYTHONINSPECT": "1"},
        {"PYTHONVERBOSE": "1", "PYTHONWARNINGS": "error"},
    ],
    ids=["ascii", "latin-1", "utf-16", "C-locale", "C-locale-ascii", "inspect", "verbose"],
)
def test_6_the_answer_is_utf8_bytes_whatever_pythons_settings(helper, python_env):
    result = run(helper, "get", stdin="py.io", env={**ENV_SECRET, **python_env})
    assert answer_of(result) == {"ServerURL": "py.io", "Username": "u", "Secret": NON_ASCII}
    assert b"Traceback" not in result.err and b">>>" not in result.err, result
    stored = run(helper, "store", stdin=store_input("st.io", "u", NON_ASCII), env=python_env)
    assert (stored.returncode, stored.out) == (0, b""), stored
    assert answer_of(run(helper, "get", stdin="st.io", env=python_env))["Secret"] == NON_ASCII


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_6_a_non_ascii_error_message_is_utf8_not_a_traceback(helper, encoding):
    result = run(helper, "store", stdin=store_input("/é-ü", "u", SECRET), env={"PYTHONIOENCODING": encoding})
    error_line(result, "'/é-ü' names no registry host")


def console_script_python(helper) -> tuple[int, int] | None:
    """The version of the interpreter the console script's first line names; None for the single executable."""
    if is_binary(helper):
        return None
    interpreter = Path(helper.program).read_text().splitlines()[0].removeprefix("#!").strip()
    probe = subprocess.run([interpreter, "-I", "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True)
    major, minor = probe.stdout.split()
    return int(major), int(minor)


def test_6_modules_on_pythonpath_never_run_inside_the_helper(helper, tmp_path):
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    mark = tmp_path / "shadow-module-ran"
    modules = ["json", "binascii", "stat", "select", "fcntl", "base64", "errno"]
    version = console_script_python(helper)
    if version is not None and version < (3, 11):
        # Known limit (docs/reliability.md): before 3.11 the interpreter's own start-up (site, then os) imports
        # stat from sys.path, PYTHONPATH first, before any of the helper's code runs; 3.11 froze it.
        modules.remove("stat")
    for module in modules:
        (shadow / f"{module}.py").write_text(
            f"open({str(mark)!r}, 'a').write({module!r} + '\\n')\nprint('EVIL')\nraise SystemExit(7)\n"
        )
    env = {"PYTHONPATH": str(shadow)}
    assert run(helper, "store", stdin=store_input("x.io", "u", SECRET), env=env).returncode == 0
    assert answer_of(run(helper, "get", stdin="x.io", env=env))["Secret"] == SECRET
    assert json.loads(run(helper, "list", env=env).out) == {"x.io": "u"}
    assert not mark.exists(), mark.read_text()


def base_interpreter() -> str:
    """The interpreter the test venv was made from. (3.10's ``sys._base_executable`` is the venv's own python.)"""
    base = getattr(sys, "_base_executable", sys.executable)
    if sys.prefix != sys.base_prefix and os.path.dirname(os.path.abspath(base)) == os.path.join(sys.prefix, "bin"):
        base = os.path.join(sys.base_prefix, "bin", f"python{sys.version_info[0]}.{sys.version_info[1]}")
    return base


def test_6_a_checkout_on_pythonpath_keeps_working_and_other_entries_are_dropped(helper, tmp_path):
    """packaging/build.sh runs the package from the checkout through PYTHONPATH with an interpreter that does not
    have it installed: a re-execution with -I would lose the package, so that one entry is kept, the rest dropped."""
    if is_binary(helper):
        pytest.skip("the single executable ignores PYTHONPATH")
    import docker_credential_imgpkg

    root = os.path.dirname(os.path.dirname(docker_credential_imgpkg.__file__))
    entry = Path(root).parent / "packaging" / "entry.py"
    base = base_interpreter()
    probe = subprocess.run([base, "-I", "-c", "import docker_credential_imgpkg"], capture_output=True)
    if probe.returncode == 0 or not entry.is_file():
        pytest.skip("needs an interpreter without the package installed, and packaging/entry.py")
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    mark = tmp_path / "shadow-module-ran"
    (shadow / "json.py").write_text(f"open({str(mark)!r}, 'w').write('json')\nraise SystemExit(7)\n")
    env = {"PYTHONPATH": f"{shadow}:{root}", "PYTHONIOENCODING": "latin-1"}
    checkout = {"argv0": base}
    stored = run(helper, "-s", str(entry), "store", stdin=store_input("x.io", "u", NON_ASCII), env=env, **checkout)
    assert (stored.returncode, stored.out) == (0, b""), stored
    assert answer_of(run(helper, "-s", str(entry), "get", stdin="x.io", env=env, **checkout))["Secret"] == NON_ASCII
    assert not mark.exists()


def test_6_started_through_a_relative_path_it_is_isolated_too(helper, tmp_path):
    """Clients that find the helper through a relative PATH entry give a relative argv[0]."""
    directory = os.path.dirname(helper.program)
    name = "./" + os.path.basename(helper.program)
    env = {**ENV_SECRET, "PYTHONINSPECT": "1", "PYTHONIOENCODING": "latin-1"}
    result = run(helper, "get", stdin="py.io", env=env, cwd=directory, argv0=name)
    assert answer_of(result)["Secret"] == NON_ASCII
    assert result.err == b"", result


def test_6_run_as_a_module_it_is_isolated_too(helper):
    if is_binary(helper):
        pytest.skip("the single executable has no module to run")
    interpreter = Path(helper.program).read_text().splitlines()[0].removeprefix("#!").strip()
    env = {**ENV_SECRET, "PYTHONINSPECT": "1", "PYTHONIOENCODING": "ascii"}
    result = run(helper, "-m", "docker_credential_imgpkg.cli", "get", stdin="py.io", env=env, argv0=interpreter)
    assert answer_of(result)["Secret"] == NON_ASCII
    assert result.err == b"", result


def test_6_pythonhome_and_sitecustomize_cannot_reach_the_single_executable(helper, tmp_path):
    if not is_binary(helper):
        pytest.skip(
            "known limit: pip's console-script wrapper runs a plain python, which dies on a bad PYTHONHOME and runs "
            "a sitecustomize found on PYTHONPATH before any of the helper's code runs (docs/reliability.md); the "
            "single executable is immune"
        )
    startup = tmp_path / "startup"
    startup.mkdir()
    mark = tmp_path / "sitecustomize-ran"
    (startup / "sitecustomize.py").write_text(f"open({str(mark)!r}, 'w').write('ran')\n")
    env = {**ENV_SECRET, "PYTHONHOME": "/garbage", "PYTHONPATH": str(startup), "PYTHONSTARTUP": str(startup)}
    assert answer_of(run(helper, "get", stdin="py.io", env=env))["Secret"] == NON_ASCII
    assert not mark.exists()


# --- 7. environment values that are not UTF-8 --------------------------------------------------------------------

BAD = SECRET.encode() + b"-p\xfe"


@pytest.mark.parametrize(
    ("env", "address", "variable"),
    [
        ({"IMGPKG_USERNAME": "u", "IMGPKG_PASSWORD": BAD}, "x.io", "IMGPKG_PASSWORD"),
        ({"IMGPKG_USERNAME": b"u\xff", "IMGPKG_PASSWORD": "p"}, "x.io", "IMGPKG_USERNAME"),
        (env_entry("x.io", "u", BAD), "x.io", "IMGPKG_REGISTRY_PASSWORD"),
        (env_entry("x.io", "u", BAD, "A"), "x.io", "IMGPKG_REGISTRY_PASSWORD_A"),
        ({"IMGPKG_ACTIVE_KEYCHAINS": "github", "GITHUB_TOKEN": BAD}, "ghcr.io", "GITHUB_TOKEN"),
        ({"DOCKER_AUTH_CONFIG": b'{"auths":{"x.io":{"auth":"\xff' + BAD + b'"}}}'}, "x.io", "DOCKER_AUTH_CONFIG"),
    ],
    ids=["imgpkg-password", "imgpkg-username", "registry-password", "suffixed", "github-token", "docker-auth-config"],
)
def test_7_a_value_that_is_not_utf8_is_a_clear_error_naming_the_variable(helper, env, address, variable):
    result = run(helper, "get", stdin=address, env=env)
    message = error_line(result, variable, "UTF-8", secrets=(SECRET, "\\udcfe", "\ufffd"))
    assert "internal error" not in message


def test_7_list_leaves_a_broken_docker_auth_config_out_and_says_so(helper):
    write_store(helper.store_path, {"kept.io": auth_entry("u", SECRET)})
    env = {"DOCKER_AUTH_CONFIG": b'{"auths":{"x.io":{"auth":"\xff"}}}', "DOCKER_CREDENTIAL_IMGPKG_DEBUG": "1"}
    result = run(helper, "list", env=env)
    assert (result.returncode, json.loads(result.out)) == (0, {"kept.io": "u"}), result
    assert "leaving out DOCKER_AUTH_CONFIG" in result.stderr, result
    check_outcome("list", result.returncode, result.stdout, result.stderr, (SECRET,))


def test_7_list_leaves_out_a_key_whose_password_is_not_utf8(helper):
    write_store(helper.store_path, {"kept.io": auth_entry("u", SECRET)})
    env = {**env_entry("x.io", "u", BAD), "DOCKER_CREDENTIAL_IMGPKG_DEBUG": "1"}
    result = run(helper, "list", env=env)
    assert (result.returncode, json.loads(result.out)) == (0, {"kept.io": "u"}), result
    assert "leaving out 'x.io'" in result.stderr and "IMGPKG_REGISTRY_PASSWORD" in result.stderr, result


# --- 8. nothing is created beside a file that is not a store -----------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"root:x:0:0:root:/root:/bin/bash\n", b'{"some": "other program\'s settings"}\n', b'{"auths": []}'],
    ids=["passwd", "json-without-auths", "auths-not-object"],
)
def test_8_a_store_symlinked_to_a_foreign_file_gets_no_lock_beside_it(helper, tmp_path, content):
    etc = tmp_path / "etc"
    etc.mkdir()
    target = etc / "passwd"
    target.write_bytes(content)
    target.chmod(0o644)
    link = tmp_path / "store" / "credentials.json"
    link.parent.mkdir(mode=0o700)
    link.symlink_to(target)
    env = {"DOCKER_CREDENTIAL_IMGPKG_STORE": str(link)}
    for verb, stdin in (("store", store_input("x.io", "u", SECRET)), ("erase", "x.io"), ("get", "y.io")):
        result = run(helper, verb, stdin=stdin, env=env)
        error_line(result, f"credential store {link}", "refusing to use or overwrite it")
    assert sorted(os.listdir(etc)) == ["passwd"], "something was created beside the foreign file"
    assert sorted(os.listdir(link.parent)) == ["credentials.json"]
    assert target.read_bytes() == content


# --- 9. a loop through an environment-scrubbing wrapper; a timeout kills the whole group ---------------------------


@pytest.mark.parametrize("outer_env", [{}, {"PYTHONWARNINGS": "ignore"}], ids=["plain", "re-executed"])
@pytest.mark.parametrize("verb", ["store", "get"])
def test_9_a_wrapper_that_resets_the_environment_cannot_hide_the_loop(helper, tmp_path, outer_env, verb):
    bin_dir = tmp_path / "bin"
    log = tmp_path / "depth.log"
    inner_home = tmp_path / "inner-home"  # another HOME: the single executable unpacks into another cache
    inner_home.mkdir(mode=0o700)
    scrub = backend_program(
        bin_dir,
        "scrub",
        f'echo "$$" >>"{log}"\n'
        f"exec env -i PATH={bin_dir}:/usr/bin:/bin HOME={inner_home} DOCKER_CREDENTIAL_IMGPKG_BACKEND=helper:scrub "
        f'"{helper.program}" "$@"\n',
    )
    env = {**scrub, **outer_env}
    stdin = store_input("x.io", "u", SECRET) if verb == "store" else "x.io"
    result = run(helper, verb, stdin=stdin, env=env)
    error_line(result, "backend docker-credential-scrub", "leads back to docker-credential-imgpkg")
    assert len(log.read_text().splitlines()) == 1, "the wrapper ran more than once: the loop nested"


def test_9_a_timeout_kills_the_backends_whole_process_group(helper, tmp_path):
    bin_dir = tmp_path / "bin"
    child_pid, grandchild_pid = tmp_path / "child.pid", tmp_path / "grandchild.pid"
    hang = backend_program(bin_dir, "hang", f'echo $$ >"{child_pid}"\nsleep 300 &\necho $! >"{grandchild_pid}"\nwait\n')
    env = {**hang, "DOCKER_CREDENTIAL_IMGPKG_TIMEOUT": "1"}
    try:
        result = run(helper, "get", stdin="x.io", env=env)
        error_line(result, "backend docker-credential-hang", "did not answer within 1s")
        group = read_pid(child_pid)  # the backend leads its own process group
        grandchild = read_pid(grandchild_pid)
        deadline = time.monotonic() + 5
        while pids_in_group(group) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pids_in_group(group) == [], "processes of the backend's group outlived the timeout"
        assert grandchild != group
    finally:  # after a failure, leave nothing behind: the group, and the sleeper wherever it ended up
        started = [int(p.read_text()) for p in (child_pid, grandchild_pid) if p.exists() and p.read_text().strip()]
        stop_processes([*started, *(pids_in_group(started[0]) if started else [])])


# --- 10. erase of an absent entry takes no lock ----------------------------------------------------------------


def test_10_erase_of_an_absent_entry_succeeds_in_a_read_only_store_directory(helper):
    write_store(helper.store_path, {"kept.io": auth_entry("u", SECRET)})
    directory = helper.store_path.parent
    directory.chmod(0o500)
    try:
        for address in ("absent.io", "https://absent.io/v2/", "kept.io/repo"):
            result = run(helper, "erase", stdin=address, preexec_fn=drop_dac_override)
            assert (result.returncode, result.out, result.err) == (0, b"", b""), result
        assert sorted(os.listdir(directory)) == ["credentials.json"]  # no lock file
        # Control: the directory really is read-only for the helper, so erasing a present entry fails, clearly.
        result = run(helper, "erase", stdin="kept.io", preexec_fn=drop_dac_override)
        error_line(result, "Permission denied")
    finally:
        directory.chmod(0o700)


def test_10_erase_with_no_store_at_all_creates_nothing(helper):
    assert run(helper, "erase", stdin="absent.io").returncode == 0
    assert not helper.config_home.exists()


# --- 11. the answer is taken when the backend exits ---------------------------------------------------------------


def test_11_a_grandchild_holding_stdout_does_not_delay_the_answer(helper, tmp_path):
    bin_dir = tmp_path / "bin"
    lingering = tmp_path / "lingering.pid"
    forks = backend_program(
        bin_dir,
        "forks",
        'cat >/dev/null\nsleep 120 &\necho $! >"' + str(lingering) + '"\n'
        'printf \'{"ServerURL":"x.io","Username":"u","Secret":"%s"}\\n\' "$LEAK"\n',
    )
    env = {**forks, "DOCKER_CREDENTIAL_IMGPKG_TIMEOUT": "20", "LEAK": SECRET}
    try:
        result = run(helper, "get", stdin="x.io", env=env, timeout=15)  # the grandchild lives 120 s
        assert answer_of(result) == {"ServerURL": "x.io", "Username": "u", "Secret": SECRET}
    finally:
        stop_processes([read_pid(lingering)])


# --- 12. store files that are not quite JSON we wrote ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"auths": {"a.io": %s}, "auths": {"b.io": %s}}', "a key appears twice"),
        ('{"auths": {"a.io": %s, "a.io": %s}}', "a key appears twice"),
        ('{"auths": {"a.io": %s, "b.io": %s}, "n": 1e999}', "out of range"),
        ('{"auths": {"a.io": %s, "b.io": %s}, "n": NaN}', "NaN is not a JSON number"),
        ('{"auths": {"a.io": %s, "b.io": %s}, "n": -Infinity}', "-Infinity is not a JSON number"),
    ],
    ids=["two-auths", "two-entries", "1e999", "nan", "infinity"],
)
def test_12_a_store_file_that_would_not_round_trip_is_refused_and_never_written(helper, text, why):
    entry = json.dumps(auth_entry("u", SECRET))
    write_store(helper.store_path, {})
    helper.store_path.write_text(text % (entry, entry))
    before = helper.store_path.read_bytes()
    for verb, stdin in (("get", "a.io"), ("store", store_input("c.io", "u", "x")), ("erase", "a.io"), ("list", "")):
        result = run(helper, verb, stdin=stdin)
        error_line(result, f"credential store {helper.store_path}", why)
    assert helper.store_path.read_bytes() == before
    assert sorted(os.listdir(helper.store_path.parent)) == ["credentials.json"]


# --- 13. children never receive our secrets --------------------------------------------------------------------

SECRET_VARIABLES = {
    "IMGPKG_REGISTRY_PASSWORD": SECRET + "-1",
    "IMGPKG_REGISTRY_PASSWORD_A": SECRET + "-2",
    "IMGPKG_REGISTRY_IDENTITY_TOKEN_B": SECRET + "-3",
    "IMGPKG_REGISTRY_REGISTRY_TOKEN_C": SECRET + "-4",
    "IMGPKG_PASSWORD": SECRET + "-5",
    "IMGPKG_TOKEN": SECRET + "-6",
    "GITHUB_TOKEN": SECRET + "-7",
    "DOCKER_AUTH_CONFIG": json.dumps({"auths": {"cfg.io": auth_entry("u", SECRET + "-8")}}),
    "IMGPKG_REGISTRY_IDENTITY_TOKEN": SECRET + "-9",
}
KEPT_VARIABLES = {
    "IMGPKG_REGISTRY_HOSTNAME_A": "a.example",
    "IMGPKG_REGISTRY_USERNAME_A": "alice",
    "IMGPKG_REGISTRY_HOSTNAME_B": "b.example",
    "IMGPKG_REGISTRY_HOSTNAME_C": "c.example",
    "IMGPKG_USERNAME": "globaluser",
    "AWS_PROFILE": "ci",
    "GOOGLE_APPLICATION_CREDENTIALS": "/var/run/gcp.json",
    "AZURE_CLIENT_ID": "azure-id",
    "GITHUB_ACTOR": "octocat",
}
DUMP_ENV = 'cat >/dev/null\nenv -0 >"$ENV_DUMP/$$"\nprintf \'{"Username":"u","Secret":"from-child"}\\n\'\n'


def test_13_backends_and_keychain_helpers_get_the_environment_less_our_secrets(helper, tmp_path):
    bin_dir = tmp_path / "bin"
    dumps = tmp_path / "env-dumps"  # one file per child: its environment, NUL-separated
    dumps.mkdir()
    write_program(bin_dir, "docker-credential-dump", DUMP_ENV)
    write_program(bin_dir, "docker-credential-gcr", DUMP_ENV)
    helper.env.update({"PATH": f"{bin_dir}:/usr/bin:/bin", "ENV_DUMP": str(dumps), **SECRET_VARIABLES})
    helper.env.update(KEPT_VARIABLES)
    backend = {"DOCKER_CREDENTIAL_IMGPKG_BACKEND": "helper:dump"}
    assert run(helper, "store", stdin=store_input("x.io", "u", "p"), env=backend).returncode == 0
    assert run(helper, "erase", stdin="x.io", env=backend).returncode == 0
    assert answer_of(run(helper, "get", stdin="gcr.io", env={"IMGPKG_ACTIVE_KEYCHAINS": "gke"}))["Username"] == "u"
    environments = [
        dict(item.decode().partition("=")[::2] for item in path.read_bytes().split(b"\0") if item)
        for path in dumps.iterdir()
    ]
    assert len(environments) >= 3  # store, erase (and the list it asks first), the keychain's get
    for seen in environments:
        leaked = sorted(set(seen) & set(SECRET_VARIABLES))
        assert leaked == [], f"secrets passed to a child: {leaked}"
        assert not any(SECRET in value for value in seen.values())
        for name, value in KEPT_VARIABLES.items():
            assert seen.get(name) == value, f"{name} was not passed on"
        assert seen.get("HOME") == helper.env["HOME"] and seen.get("PATH") == helper.env["PATH"]


# --- 14. duplicate names in store input: Go's decoder, the last one wins -------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"ServerURL":"k.io","Username":"u","Secret":"s","serverURL":""}', "no credentials server URL\n"),
        ('{"ServerURL":"k.io","Username":"u","Secret":"s","ServerURL":""}', "no credentials server URL\n"),
        ('{"ServerURL":"k.io","Username":"u","Secret":"s","USERNAME":""}', "no credentials username\n"),
        ('{"serverurl":"","ServerURL":"","Username":"u","Secret":"s","SERVERURL":"k.io"}', ("k.io", "u", "s")),
        ('{"ServerURL":"k.io","Username":"first","username":"last","Secret":"s"}', ("k.io", "last", "s")),
        ('{"ServerURL":"k.io","Username":"u","Secret":"first","secret":"last"}', ("k.io", "u", "last")),
        ('{"ServerURL":"k.io","Username":"u","Secret":"s","Username":null}', ("k.io", "u", "s")),
        ('{"ServerURL":"k.io","Username":"u","\u017fecret":"long-s"}', ("k.io", "u", "long-s")),
    ],
    ids=[
        "case-variant-empties-url",
        "exact-repeat",
        "username",
        "last-url",
        "last-user",
        "last-secret",
        "null",
        "fold",
    ],
)
def test_14_repeated_names_in_store_input_follow_go_last_one_wins(helper, text, expected):
    result = run(helper, "store", stdin=text)
    if isinstance(expected, str):
        assert (result.returncode, result.stdout) == (1, expected), result
        assert not helper.store_path.exists()
        return
    assert (result.returncode, result.out) == (0, b""), result
    server, username, secret = expected
    assert answer_of(run(helper, "get", stdin=server)) == {"ServerURL": server, "Username": username, "Secret": secret}


def test_14_a_wrong_type_anywhere_is_an_error_even_if_repeated_later(helper):
    text = '{"ServerURL":"k.io","Username":"u","Secret":5,"secret":"s"}'
    error_line(run(helper, "store", stdin=text), "store: field Secret must be a string, got number")
    assert not helper.store_path.exists()
