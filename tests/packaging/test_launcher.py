"""The single-file binary's own behaviour: where it unpacks, what it refuses to trust, and that it stays the
program itself (argv, environment, exit status, signals). Runs against ``$HELPER_BIN``, else
dist/docker-credential-imgpkg (`make binary`), and is skipped when there is no such binary. Part of every
`make test`; ``HELPER_BIN=dist/docker-credential-imgpkg make test`` runs it together with the whole suite
against the same binary, and alone:

    .venv/bin/python -m pytest -q tests/packaging

(No ``__init__.py`` here: a package named ``packaging`` would clash with the library of that name.)
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from common import NOT_FOUND

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("HELPER_BIN") or ROOT / "dist" / "docker-credential-imgpkg").resolve()
HOST = "launcher.example.test"
ANSWER = f'{{"ServerURL":"{HOST}","Username":"u","Secret":"p"}}\n'


def _load_pack():
    """packaging/pack.py (the bundle's reader), loaded from its file: packaging/ stays off sys.path, where its
    modules would shadow any of the same name for the rest of the session."""
    spec = importlib.util.spec_from_file_location("pack", ROOT / "packaging" / "pack.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pack = _load_pack()


def _is_script(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) == b"#!"


pytestmark = [
    pytest.mark.skipif(not BINARY.is_file(), reason=f"{BINARY} not built (make binary)"),
    # HELPER_BIN may name the console script (the rest of the suite runs against either program)
    pytest.mark.skipif(BINARY.is_file() and _is_script(BINARY), reason=f"{BINARY} is a script, not the launcher"),
]
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create files owned by another user")
NOBODY = 65534


def label_and_key() -> tuple[str, str]:
    label, key, _ = pack.read(str(BINARY))
    return label, key


def bundle_dir(cache: Path) -> Path:
    label, key = label_and_key()
    return cache / "docker-credential-imgpkg" / f"{label}-{key[:32]}"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    tmp = tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir(mode=0o700)
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "DOCKER_CONFIG": str(tmp_path / "docker"),
        "IMGPKG_REGISTRY_HOSTNAME_my-reg": HOST,  # not a shell identifier: must reach the helper all the same
        "IMGPKG_REGISTRY_USERNAME_my-reg": "u",
        "IMGPKG_REGISTRY_PASSWORD_my-reg": "p",
    }


def run(env: dict[str, str], *args: str, stdin: str = HOST) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BINARY), *args], input=stdin, capture_output=True, text=True, env=env, timeout=60, check=False
    )


def leftovers(directory: str) -> list[str]:
    return sorted(os.listdir(directory))


def test_first_run_unpacks_once_into_a_private_cache(env):
    cache = Path(env["HOME"]) / ".cache"
    first = run(env, "get")
    assert (first.returncode, first.stdout, first.stderr) == (0, ANSWER, "")
    bundle = bundle_dir(cache)
    program = bundle / "docker-credential-imgpkg"
    for d in (cache / "docker-credential-imgpkg", bundle, bundle / "_internal"):
        st = d.lstat()
        assert stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) == 0o700, d
    assert stat.S_IMODE(program.stat().st_mode) == 0o500
    assert all(not (f.stat().st_mode & 0o222) for f in bundle.rglob("*") if f.is_file()), "files are read-only"
    assert [p.name for p in (cache / "docker-credential-imgpkg").iterdir()] == [bundle.name]  # no .unpack-*
    before = program.stat().st_mtime_ns
    again = run(env, "get")
    assert (again.returncode, again.stdout, again.stderr) == (0, ANSWER, "")
    assert program.stat().st_mtime_ns == before, "a warm start unpacks nothing"
    assert leftovers(env["TMPDIR"]) == []


def test_cache_follows_xdg_cache_home(env, tmp_path):
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg-cache")
    assert run(env, "get").stdout == ANSWER
    assert bundle_dir(tmp_path / "xdg-cache").is_dir()
    assert not (Path(env["HOME"]) / ".cache").exists()


def test_listed_files_are_the_unpacked_files(env):
    run(env, "version")
    bundle = bundle_dir(Path(env["HOME"]) / ".cache")
    _, _, entries = pack.read(str(BINARY))
    listed = sorted(name for _, _, _, name in entries)
    unpacked = sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*") if not p.is_dir())
    assert listed == unpacked


def test_concurrent_first_runs_share_one_bundle(env):
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: run(env, "get"), range(8)))
    assert [(r.returncode, r.stdout) for r in results] == [(0, ANSWER)] * 8
    root = Path(env["HOME"]) / ".cache" / "docker-credential-imgpkg"
    assert [p.name for p in root.iterdir()] == [bundle_dir(Path(env["HOME"]) / ".cache").name]


def test_group_writable_cache_is_not_used(env):
    cache_root = Path(env["HOME"]) / ".cache" / "docker-credential-imgpkg"
    run(env, "version")
    cache_root.chmod(0o770)
    result = run(env, "get")
    assert (result.returncode, result.stdout) == (0, ANSWER)
    assert "not using" in result.stderr and "not private" in result.stderr
    assert leftovers(env["TMPDIR"]) == [], "the per-run directory is removed"


def test_untrusted_parent_is_neither_used_nor_written(env, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # world-writable, not sticky: anyone could swap what is below
    env["XDG_CACHE_HOME"] = str(shared / "cache")
    result = run(env, "get")
    assert (result.returncode, result.stdout, result.stderr) == (0, ANSWER, "")
    assert not (shared / "cache").exists()
    assert leftovers(env["TMPDIR"]) == []


@as_root
def test_planted_bundle_owned_by_another_user_is_never_run(env):
    cache = Path(env["HOME"]) / ".cache"
    bundle = bundle_dir(cache)
    bundle.mkdir(parents=True)
    marker = Path(env["TMPDIR"]) / "planted-ran"
    fake = bundle / "docker-credential-imgpkg"
    fake.write_text(f"#!/bin/sh\ntouch {marker}\necho planted\n")
    fake.chmod(0o755)
    for p in (bundle, bundle.parent):
        os.chown(p, NOBODY, NOBODY)
    result = run(env, "get")
    assert (result.returncode, result.stdout) == (0, ANSWER)
    assert not marker.exists()
    assert "not using" in result.stderr
    assert fake.read_text().startswith("#!/bin/sh"), "left alone"


@as_root
def test_home_owned_by_another_user_is_not_trusted(env):
    # e.g. root running with someone else's HOME (sudo without -H): that user could plant code root would run
    os.chown(env["HOME"], NOBODY, NOBODY)
    result = run(env, "get")
    assert (result.returncode, result.stdout) == (0, ANSWER)
    assert not (Path(env["HOME"]) / ".cache").exists()


def test_unwritable_cache_falls_back_to_a_private_temporary_directory(env):
    env["XDG_CACHE_HOME"] = "/dev/null/cache"  # cannot exist
    result = run(env, "list", stdin="")
    assert result.returncode == 0 and result.stdout.startswith("{")
    assert leftovers(env["TMPDIR"]) == []


def test_exit_status_and_output_are_the_programs(env):
    miss = run(env, "get", stdin="nothing-here.example.test")
    assert (miss.returncode, miss.stdout) == (1, NOT_FOUND)
    usage = run(env, stdin="")
    assert usage.returncode == 1 and usage.stdout.startswith("Usage: docker-credential-imgpkg")


@pytest.mark.parametrize("cached", [True, False], ids=["cached", "fallback"])
def test_signals_reach_the_program_and_its_status(env, cached):
    if not cached:
        env["XDG_CACHE_HOME"] = "/dev/null/cache"
    else:
        run(env, "version")
    proc = subprocess.Popen([str(BINARY), "get"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    time.sleep(1.0)  # it now waits for stdin
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM
    assert leftovers(env["TMPDIR"]) == []


def test_version_matches_the_package(env):
    from docker_credential_imgpkg import __version__

    result = run(env, "version", stdin="")
    assert result.returncode == 0 and __version__ in result.stdout
    assert label_and_key()[0] == __version__


@pytest.mark.parametrize("library_path", [None, "/opt/lib"])
def test_programs_the_helper_starts_get_the_clients_environment(env, tmp_path, library_path):
    # A backend helper must see the environment the client gave us: not PyInstaller's _PYI_* variables, and
    # LD_LIBRARY_PATH as it was (unset, or the client's value), never pointing into the bundle.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    dump = tmp_path / "backend-env.json"
    fake = bin_dir / "docker-credential-envdump"
    fake.write_text(
        f"#!{sys.executable} -I\nimport json, os, sys\n"
        f"open({str(dump)!r}, 'w').write(json.dumps(dict(os.environ)))\n"
        "print('credentials not found in native keychain')\nsys.exit(1)\n"
    )
    fake.chmod(0o755)
    env = dict(env, PATH=f"{bin_dir}:{env['PATH']}", DOCKER_CREDENTIAL_IMGPKG_BACKEND="helper:envdump")
    if library_path:
        env["LD_LIBRARY_PATH"] = library_path
    result = run(env, "get", stdin="elsewhere.example.test")
    assert (result.returncode, result.stdout) == (1, NOT_FOUND), result.stderr
    seen = json.loads(dump.read_text())
    assert not [k for k in seen if k.startswith("_PYI_") or k == "LD_LIBRARY_PATH_ORIG"]
    assert seen.get("LD_LIBRARY_PATH") == library_path
    # Everything the client gave us arrives, except the secrets this helper reads itself (issue 12 #13).
    secrets = {k for k in env if k.startswith(("IMGPKG_REGISTRY_PASSWORD", "IMGPKG_REGISTRY_IDENTITY_TOKEN"))}
    assert secrets, "the fixture's environment should hold a secret to keep back"
    for name, value in env.items():
        assert seen.get(name) == (None if name in secrets else value), name
