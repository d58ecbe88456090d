"""``explain``: which source answers each spelling a client family sends, why others did not, and the set-up
warnings a user can act on. Run as a subprocess; never a secret in its output."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .support import b64, seed_store

SECRET = "s3cret-never-shown"
SCOPED = {
    "IMGPKG_REGISTRY_HOSTNAME_1": "reg.example.com/team",
    "IMGPKG_REGISTRY_USERNAME_1": "robot",
    "IMGPKG_REGISTRY_PASSWORD_1": SECRET,
    "IMGPKG_REGISTRY_HOSTNAME_2": "reg.example.com:5000",
    "IMGPKG_REGISTRY_USERNAME_2": "porter",
    "IMGPKG_REGISTRY_PASSWORD_2": SECRET,
    "IMGPKG_REGISTRY_HOSTNAME_3": "*.corp.example.com",
    "IMGPKG_REGISTRY_USERNAME_3": "globber",
    "IMGPKG_REGISTRY_PASSWORD_3": SECRET,
}


def explain(helper, *addresses: str, env: dict[str, str] | None = None, path_dir: Path | None = None):
    extra = dict(env or {})
    if path_dir is not None:
        extra["PATH"] = f"{path_dir}:{helper.env['PATH']}"
    result = helper.run("explain", "--json", *addresses, env=extra)
    assert SECRET not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result, json.loads(result.stdout)


@pytest.fixture
def configured(helper, tmp_path):
    """The helper on PATH under its name, docker's config naming it, containers' auth file naming it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker-credential-imgpkg").symlink_to(helper.program)
    helper.write_docker_config({"credsStore": "imgpkg"})
    auth = helper.config_home / "containers" / "auth.json"
    auth.parent.mkdir(parents=True)
    auth.write_text(json.dumps({"credHelpers": {"reg.example.com": "imgpkg", "docker.io": "imgpkg"}}))
    helper.bin_dir = bin_dir
    return helper


def forms(report: dict, address: str) -> dict[str, dict]:
    [entry] = [a for a in report["addresses"] if a["address"] == address]
    return {f["form"]: f for f in entry["forms"]}


def test_repository_and_host_forms_with_reasons(configured):
    result, report = explain(configured, "reg.example.com/other/app", env=SCOPED, path_dir=configured.bin_dir)
    assert result.returncode == 0, result
    by_form = forms(report, "reg.example.com/other/app")
    repo = by_form["reg.example.com/other/app"]
    assert "crane" in repo["clients"] and "imgpkg" in repo["clients"]
    assert repo["found"] is False
    reasons = "\n".join(repo["reasons"])
    assert "IMGPKG_REGISTRY_HOSTNAME_1=reg.example.com/team passed over: scoped to the repository path /team" in reasons
    assert "IMGPKG_REGISTRY_HOSTNAME_2=reg.example.com:5000 passed over: port 5000" in reasons
    assert "IMGPKG_REGISTRY_HOSTNAME_3=*.corp.example.com passed over: a glob matches one label per label" in reasons
    host = by_form["reg.example.com"]
    assert "docker CLI" in host["clients"] and "skopeo" in host["clients"]
    assert (host["found"], host["source"], host["username"]) == (True, "env", "robot")
    assert "sent only the host" in "\n".join(host["reasons"])
    assert report["warnings"] == [], report["warnings"]


def test_store_and_docker_config_answers_name_the_entry(configured):
    seed_store(configured, {"quay.io/ns": ("stored", SECRET)})
    configured.write_docker_config({"credsStore": "imgpkg", "auths": {"ghcr.io": {"auth": b64(f"cfg:{SECRET}")}}})
    _, report = explain(configured, "quay.io/ns/app", "ghcr.io", path_dir=configured.bin_dir)
    store = forms(report, "quay.io/ns/app")["quay.io/ns/app"]
    assert (store["source"], store["username"]) == ("store", "stored")
    assert "entry 'quay.io/ns'" in store["entry"]
    config = forms(report, "ghcr.io")["ghcr.io"]
    assert (config["source"], config["username"]) == ("docker", "cfg")


def test_docker_hub_forms(configured):
    env = {
        "IMGPKG_REGISTRY_HOSTNAME": "docker.io",
        "IMGPKG_REGISTRY_USERNAME": "hub",
        "IMGPKG_REGISTRY_PASSWORD": SECRET,
    }
    _, report = explain(configured, "docker.io/library/nginx", env=env, path_dir=configured.bin_dir)
    by_form = forms(report, "docker.io/library/nginx")
    assert set(by_form) == {"index.docker.io/library/nginx", "https://index.docker.io/v1/", "docker.io"}
    assert all(f["username"] == "hub" for f in by_form.values())


def test_no_address_explains_every_known_registry(configured):
    seed_store(configured, {"quay.io": ("stored", SECRET)})
    _, report = explain(configured, env=SCOPED, path_dir=configured.bin_dir)
    addresses = [a["address"] for a in report["addresses"]]
    assert "reg.example.com/team" in addresses and "reg.example.com:5000" in addresses and "quay.io" in addresses
    assert not any("*" in a for a in addresses)


def test_plain_text_is_for_people(configured):
    result = configured.run(
        "explain", "reg.example.com/team/app", env=SCOPED | {"PATH": f"{configured.bin_dir}:/usr/bin:/bin"}
    )
    assert result.returncode == 0
    assert "answered by env: IMGPKG_REGISTRY_HOSTNAME_1=reg.example.com/team (username 'robot')" in result.stdout
    assert SECRET not in result.stdout + result.stderr


# --- one test per warning ---------------------------------------------------------------------------------------


def test_warns_when_not_on_path(configured):
    result, report = explain(configured, "reg.example.com", env={"PATH": "/usr/bin:/bin"})
    assert any("is not on PATH" in w for w in report["warnings"]), report["warnings"]
    assert result.returncode == 0


def test_warns_when_docker_config_does_not_name_it(configured):
    configured.write_docker_config({"credsStore": "desktop"})
    _, report = explain(configured, "reg.example.com", path_dir=configured.bin_dir)
    assert any('names neither "credsStore": "imgpkg"' in w and "reg.example.com" in w for w in report["warnings"])
    configured.write_docker_config({"credHelpers": {"reg.example.com": "imgpkg"}})
    _, report = explain(configured, "reg.example.com", path_dir=configured.bin_dir)
    assert not any("docker's config" in w for w in report["warnings"]), report["warnings"]


def test_warns_when_docker_config_is_missing(configured):
    configured.docker_config_path.unlink()
    _, report = explain(configured, "reg.example.com", path_dir=configured.bin_dir)
    assert any("does not exist" in w and "configure docker" in w for w in report["warnings"])


def test_warns_when_containers_do_not_name_it(configured):
    (configured.config_home / "containers" / "auth.json").write_text("{}")
    _, report = explain(configured, "reg.example.com", path_dir=configured.bin_dir)
    assert any("skopeo, podman and buildah ignore credsStore" in w for w in report["warnings"])
    conf = configured.config_home / "containers" / "registries.conf"
    conf.write_text('credential-helpers = ["containers-auth.json", "imgpkg"]\n')
    _, report = explain(configured, "reg.example.com", path_dir=configured.bin_dir)
    assert not any("skopeo" in w for w in report["warnings"]), report["warnings"]


def test_warns_about_docker_auth_config(configured):
    inline = json.dumps({"auths": {"reg.example.com": {"auth": b64(f"u:{SECRET}")}}})
    _, report = explain(configured, "reg.example.com", env={"DOCKER_AUTH_CONFIG": inline}, path_dir=configured.bin_dir)
    assert any("DOCKER_AUTH_CONFIG is set" in w for w in report["warnings"])


def test_configuration_error_exits_non_zero(configured):
    result, report = explain(
        configured, "reg.example.com", env={"IMGPKG_REGISTRY_CA_CERT_PATH": "/x"}, path_dir=configured.bin_dir
    )
    assert result.returncode == 1
    assert any("Unknown env variable 'IMGPKG_REGISTRY_CA_CERT_PATH'" in e for e in report["errors"])
    text = configured.run("explain", "reg.example.com", env={"IMGPKG_REGISTRY_CA_CERT_PATH": "/x"})
    assert text.returncode == 1 and "configuration error: Unknown env variable" in text.stdout


def test_json_is_one_document(configured):
    result = configured.run(
        "explain", "--json", "a.example", "b.example", env={"PATH": f"{configured.bin_dir}:/usr/bin"}
    )
    assert isinstance(json.loads(result.stdout), dict)
    assert os.linesep not in result.stdout.strip()[-1:]


@pytest.mark.parametrize(
    ("argument", "repository_form"),
    [
        ("nginx", "index.docker.io/library/nginx"),
        ("library/nginx:1.27", "index.docker.io/library/nginx"),
        ("reg.example.com/team/app:1", "reg.example.com/team/app"),
        ("reg.example.com:5000/team/app@sha256:" + "0" * 64, "reg.example.com:5000/team/app"),
    ],
)
def test_image_references_are_explained_as_their_repository(configured, argument, repository_form):
    _, report = explain(configured, argument, path_dir=configured.bin_dir)
    assert repository_form in forms(report, argument)


def test_a_bare_registry_is_a_registry(configured):
    _, report = explain(configured, "reg.example.com:5000", path_dir=configured.bin_dir)
    assert set(forms(report, "reg.example.com:5000")) == {"reg.example.com:5000"}


@pytest.mark.parametrize("xdg", ["relcfg", "", None])
def test_configure_containers_and_explain_agree_on_the_auth_file(helper, tmp_path, xdg):
    """One HOME/XDG rule (paths.py): a relative or empty XDG_CONFIG_HOME is ignored by both, so the file
    ``configure containers`` writes is the file ``explain`` reads, under the HOME of the environment given."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    env = {"XDG_CONFIG_HOME": xdg} if xdg is not None else {}
    if xdg is None:
        helper.env.pop("XDG_CONFIG_HOME")
    configured = helper.run("configure", "containers", "--registry", "reg.example.com", env=env, cwd=workdir)
    assert configured.returncode == 0, configured
    written = helper.home / ".config" / "containers" / "auth.json"
    assert json.loads(written.read_text()) == {"credHelpers": {"reg.example.com": "imgpkg"}}
    assert list(workdir.iterdir()) == [], "nothing may be written under the current directory"
    result = helper.run("explain", "--json", "reg.example.com", env=env, cwd=workdir)
    report = json.loads(result.stdout)
    assert not [w for w in report["warnings"] if "skopeo, podman and buildah" in w], report["warnings"]
    assert str(written) not in " ".join(report["warnings"])
