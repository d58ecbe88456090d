"""Invocation contract: argv, stdin framing, stdout-only answers, exit codes, never blocking on a terminal."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from common import NOT_FOUND

from .support import NO_SERVER_URL, answer, assert_creds, assert_not_found

USAGE = "Usage: docker-credential-imgpkg <store|get|erase|list|version>\n"
VERSION_RE = re.compile(r"docker-credential-imgpkg \(docker-credential-imgpkg\) (\d+\.\d+\.\d+\S*)\n")
GCR = {"IMGPKG_REGISTRY_HOSTNAME": "gcr.io", "IMGPKG_REGISTRY_USERNAME": "u", "IMGPKG_REGISTRY_PASSWORD": "p"}


@pytest.mark.parametrize("arg", ["version", "--version", "-v"])
def test_version(helper, arg):
    result = helper.run(arg)
    assert result.returncode == 0
    assert VERSION_RE.fullmatch(result.stdout), result.stdout
    assert result.stderr == ""


def test_version_matches_the_installed_distribution(helper):
    from importlib import metadata

    try:
        installed = metadata.version("docker-credential-imgpkg")
    except metadata.PackageNotFoundError:
        pytest.skip("distribution metadata not installed beside the tests")
    match = VERSION_RE.fullmatch(helper.run("version").stdout)
    assert match and match.group(1) == installed


@pytest.mark.parametrize("arg", ["--help", "-h"])
def test_help_says_the_address_is_read_from_stdin(helper, arg):
    result = helper.run(arg)
    assert result.returncode == 0
    assert "Usage: docker-credential-imgpkg" in result.stdout
    assert re.search(r"standard input|stdin", result.stdout, re.IGNORECASE)


@pytest.mark.parametrize(
    "args",
    [(), ("get", "ghcr.io"), ("list", "extra"), ("version", "x"), ("store", "erase"), ("--help", "get")],
    ids=lambda a: " ".join(a) or "none",
)
def test_no_action_or_extra_args_print_usage(helper, args):
    result = helper.run(*args, stdin="ghcr.io")
    assert (result.returncode, result.stdout) == (1, USAGE)


@pytest.mark.parametrize("action", ["foo", "GET", "", "--list", "help"])
def test_unknown_action(helper, action):
    result = helper.run(action)
    assert (result.returncode, result.stdout) == (1, f"docker-credential-imgpkg: unknown action: {action}\n")


def test_cli_dispatches_configure(helper):
    result = helper.run("configure", "docker")
    assert result.returncode == 0, result.stderr
    assert json.loads(helper.docker_config_path.read_text()) == {"credsStore": "imgpkg"}


def _run_with_open_stdin(helper, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run with a stdin pipe that is never written to nor closed, as a terminal would be (docker-py's list)."""
    proc = helper.spawn(*args, env=env)
    try:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"{' '.join(args) or '(no args)'} waited on stdin")
        out, err = proc.stdout.read(), proc.stderr.read()
    finally:
        proc.stdin.close()
        proc.stdout.close()
        proc.stderr.close()
    return subprocess.CompletedProcess(args, proc.returncode, out.decode(), err.decode())


@pytest.mark.parametrize("args", [("list",), ("version",), ("--version",), ("-v",), ("--help",), ("-h",), ()])
def test_never_waits_on_stdin(helper, args):
    result = _run_with_open_stdin(helper, *args, env=GCR)
    if args == ("list",):
        assert (result.returncode, json.loads(result.stdout)) == (0, {"gcr.io": "u"})


@pytest.mark.parametrize(
    "raw",
    ["gcr.io", "gcr.io\n", "gcr.io\r\n", "  gcr.io  ", "\tgcr.io\n\n", "\ngcr.io"],
    ids=["bare", "newline", "crlf", "spaces", "tab+newlines", "leading-newline"],
)
def test_get_reads_all_stdin_and_trims(helper, raw):
    assert_creds(helper.get(raw, env=GCR), "gcr.io", "u", "p")


def test_get_lines_are_joined_like_go_scanner(helper):
    assert_creds(helper.get("gcr\n.io\n", env=GCR), "gcr.io", "u", "p")


def test_get_server_url_is_the_input_verbatim(helper):
    # ServerURL echoes the (trimmed) input, not the matched entry's spelling.
    assert_creds(helper.get("https://GCR.io/v2/proj/img", env=GCR), "https://GCR.io/v2/proj/img", "u", "p")


def test_get_output_is_exactly_one_compact_json_line(helper):
    result = helper.get("gcr.io", env=GCR)
    assert result.stdout == '{"ServerURL":"gcr.io","Username":"u","Secret":"p"}\n'
    assert result.stderr == ""


@pytest.mark.parametrize(
    "secret",
    ['quote"back\\slash', "tab\tnl\nnul\x00", "ünïcødé ✓ 🐳", "<html>&amp;", "\u2028\u2029", " padded "],
    ids=["quote", "control", "unicode", "html", "separators", "spaces"],
)
def test_get_escapes_any_secret_as_valid_json(helper, secret):
    env = {**GCR, "IMGPKG_REGISTRY_PASSWORD": secret.replace("\x00", "")}
    assert answer(helper.get("gcr.io", env=env))["Secret"] == secret.replace("\x00", "")


def test_get_not_found_is_the_exact_string_on_stdout(helper):
    result = helper.get("quay.io")
    assert (result.returncode, result.stdout, result.stderr) == (1, NOT_FOUND, "")


@pytest.mark.parametrize("action", ["get", "erase"])
@pytest.mark.parametrize("raw", ["", "\n", "  \t \r\n"], ids=["empty", "newline", "blank"])
def test_empty_address(helper, action, raw):
    result = helper.run(action, stdin=raw)
    assert (result.returncode, result.stdout) == (1, NO_SERVER_URL)


def test_errors_go_to_stdout_with_exit_1(helper):
    result = helper.get("gcr.io", env={"IMGPKG_REGISTRY_FOO": "x"})
    assert result.stdout == "Unknown env variable 'IMGPKG_REGISTRY_FOO'\n"
    assert result.returncode == 1
    # stderr may repeat the message for docker's terminal (docker drops a failing helper's stdout), nothing else
    assert result.stderr in ("", "docker-credential-imgpkg: Unknown env variable 'IMGPKG_REGISTRY_FOO'\n")


def test_debug_keeps_stdout_clean(helper):
    env = {**GCR, "DOCKER_CREDENTIAL_IMGPKG_DEBUG": "1"}
    assert_creds(helper.get("gcr.io", env=env), "gcr.io", "u", "p")
    assert_not_found(helper.get("quay.io", env=env))
    assert json.loads(helper.list(env=env).stdout) == {"gcr.io": "u"}
    assert helper.store("quay.io", "q", "s", env=env).stdout == ""
    assert helper.erase("quay.io", env=env).stdout == ""
