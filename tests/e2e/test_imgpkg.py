"""imgpkg (carvel) through the helper, with credentials that reach imgpkg only through it: ``docker login`` stores
the source registry's account and ``crane auth login`` the destination's, both through the helper (its own
store); imgpkg's own ``IMGPKG_*`` variables are unset. ``imgpkg push -b`` a bundle that references an image,
``imgpkg copy --to-repo`` to a second registry with a different account, ``--to-tar``, and ``imgpkg pull``.
HTTPS with the suite's CA on the source side, plain HTTP on the destination.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from .goclients import (
    CLIENT_TIMEOUT,
    TwoRegistryClient,
    assert_documented,
    assert_no_secret,
    assert_refused_without_helper,
    go_client,
    helper_config,
    manifest_digest,
)
from .support import OTHER_PASSWORD, OTHER_USER, PASSWORD, USER, Clients, Registry

pytestmark = pytest.mark.e2e

BUNDLE_REPO = "e2e/imgpkg-bundle"
COPY_REPO = "e2e/imgpkg-copy"
SEED_REPO = "e2e/seed"


def write_bundle(directory: Path, image_ref: str) -> Path:
    """A bundle directory: one config file and ``.imgpkg/images.yml`` locking one image by digest."""
    (directory / ".imgpkg").mkdir(parents=True)
    (directory / "config.yml").write_text("greeting: hello from the imgpkg e2e bundle\n")
    (directory / ".imgpkg" / "images.yml").write_text(
        f"apiVersion: imgpkg.carvel.dev/v1alpha1\nkind: ImagesLock\nimages:\n- image: {image_ref}\n"
    )
    return directory


class Imgpkg(TwoRegistryClient):
    name = "imgpkg"
    repos = (("HOST/REPO", BUNDLE_REPO), ("HOST/SEED", SEED_REPO), ("HOST2/REPO2", COPY_REPO))

    def __init__(self, clients: Clients, src: Registry, dst: Registry):
        super().__init__(clients, src, dst)
        self.crane = str(go_client("crane"))

    def __call__(self, *args: str, input: str | None = None):
        # One retry at most: a refused request should not be retried five times with back-off.
        flags = ["--registry-ca-cert-path", self.ca, "--registry-retry-count", "1", "--tty=false"]
        return self.clients.run([self.exe, *args, *flags], input=input, timeout=CLIENT_TIMEOUT)

    @property
    def bundle(self) -> str:
        return f"{self.src.host}/{BUNDLE_REPO}:1"

    @property
    def copy(self) -> str:
        return f"{self.dst.host}/{COPY_REPO}"


@pytest.mark.parametrize("mode", ["credsStore", "credHelpers"])
def test_imgpkg_push_copy_tar_pull_with_credentials_only_from_the_helper(
    mode: str,
    clients: Clients,
    https_registry: Registry,
    https_image: str,
    other_registry: Registry,
    tmp_path: Path,
) -> None:
    imgpkg = Imgpkg(clients, https_registry, other_registry)
    assert not [k for k in clients.env() if k.startswith("IMGPKG_")]
    seed_digest = manifest_digest(https_registry, SEED_REPO, "1", USER, PASSWORD)
    bundle_dir = write_bundle(tmp_path / "bundle", f"{https_registry.host}/{SEED_REPO}@{seed_digest}")

    # negative control: no config names the helper, so imgpkg goes anonymous and the registries refuse it
    clients.write_json(clients.docker_config, {})
    assert_refused_without_helper(
        imgpkg.log,
        https_registry,
        lambda: imgpkg("push", "-b", imgpkg.bundle, "-f", str(bundle_dir)),
        lambda: imgpkg("copy", "-b", f"{https_registry.host}/{SEED_REPO}:1", "--to-tar", str(tmp_path / "x.tar")),
    )

    # the accounts go into the helper through two other clients
    clients.write_json(clients.docker_config, helper_config(mode, [https_registry.host, other_registry.host]))
    since = imgpkg.log.mark()
    login = clients.docker("login", "-u", USER, "--password-stdin", https_registry.host, input=PASSWORD + "\n")
    assert login.returncode == 0, login.describe()
    assert_documented(imgpkg.log, since, "docker", "docker login HOST", mode, imgpkg.placeholders)
    since = imgpkg.log.mark()
    login = clients.run(
        [imgpkg.crane, "auth", "login", other_registry.host, "-u", OTHER_USER, "-p", OTHER_PASSWORD], timeout=60
    )
    assert login.returncode == 0, login.describe()
    assert_documented(imgpkg.log, since, "crane", "crane auth login HOST2", mode, imgpkg.placeholders)
    assert_no_secret(clients.docker_config, PASSWORD)
    assert_no_secret(clients.docker_config, OTHER_PASSWORD)

    mark = https_registry.mark()
    imgpkg.step("imgpkg push -b HOST/REPO:1", mode, "push", "-b", imgpkg.bundle, "-f", str(bundle_dir))
    https_registry.assert_authorized(mark, f"/v2/{BUNDLE_REPO}/manifests/1")

    src_mark, dst_mark = https_registry.mark(), other_registry.mark()
    imgpkg.step("imgpkg copy -b HOST/REPO:1 --to-repo HOST2/REPO2", mode, "copy", "-b", imgpkg.bundle,
                "--to-repo", imgpkg.copy)  # fmt: skip
    https_registry.assert_authorized(src_mark, f"/v2/{SEED_REPO}/")
    other_registry.assert_authorized(dst_mark, f"/v2/{COPY_REPO}/manifests/")

    tar_path = tmp_path / "bundle.tar"
    imgpkg.step("imgpkg copy -b HOST/REPO:1 --to-tar FILE", mode, "copy", "-b", imgpkg.bundle,
                "--to-tar", str(tar_path))  # fmt: skip
    with tarfile.open(tar_path) as tar:
        assert any(name.endswith("manifest.json") or "sha256" in name for name in tar.getnames())

    mark = other_registry.mark()
    out = tmp_path / "pulled"
    imgpkg.step("imgpkg pull -b HOST2/REPO2:1", mode, "pull", "-b", f"{imgpkg.copy}:1", "-o", str(out))
    other_registry.assert_authorized(mark, f"/v2/{COPY_REPO}/manifests/1")
    assert (out / "config.yml").read_text().startswith("greeting: hello")
    lock = (out / ".imgpkg" / "images.yml").read_text()
    assert seed_digest in lock
    assert json.dumps(clients.read_json(clients.docker_config)).count("Secret") == 0
