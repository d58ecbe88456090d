"""BuildKit through the helper: ``buildctl build`` of a Dockerfile whose ``FROM`` is a private image. buildkitd (the
OCI worker over Debian's runc, as root, no Docker daemon) pulls the base image; the credentials come from the
client side: buildctl reads docker's config and runs the helper, which answers from ``IMGPKG_REGISTRY_*``
variables. HTTPS with the suite's CA (buildkitd's ``ca``) and plain HTTP (``http = true``).

One buildkitd serves the module, on a private socket and state directory, stopped by its PID.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .goclients import (
    CLIENT_TIMEOUT,
    HelperLog,
    assert_documented,
    env_credentials,
    go_client,
    helper_config,
    missing_tool,
    refused,
)
from .support import PASSWORD, USER, Clients, Registry, run, stop_pid

pytestmark = pytest.mark.e2e

SEED_REPO = "e2e/seed"


class Buildkitd:
    def __init__(self, root: Path, registries: list[Registry]):
        self.root = root
        self.socket = root / "buildkitd.sock"
        self.address = f"unix://{self.socket}"
        self.log_path = root / "buildkitd.log"
        self.config = root / "buildkitd.toml"
        lines = []
        for registry in registries:
            lines.append(f'[registry."{registry.host}"]')
            if registry.tls:  # 127.0.0.1 means plain HTTP to BuildKit unless told otherwise
                lines += ["  http = false", f'  ca = ["{registry.tls.ca_cert}"]']
            else:
                lines.append("  http = true")
        self.config.write_text("\n".join(lines) + "\n")
        self.pid: int | None = None

    def start(self, buildkitd: Path, buildctl: Path) -> Buildkitd:
        argv = [
            str(buildkitd), "--root", str(self.root / "state"), "--addr", self.address, "--config", str(self.config),
            "--oci-worker=true", "--containerd-worker=false", "--oci-worker-snapshotter=native",
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.pid = proc.pid
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if self.socket.exists():
                probe = run([str(buildctl), "--addr", self.address, "debug", "workers"], timeout=30)
                if probe.returncode == 0 and "linux/" in probe.stdout:
                    return self
            time.sleep(0.2)
        tail = self.log_path.read_text(errors="replace")[-3000:]
        self.stop()
        pytest.fail(f"buildkitd did not come up:\n{tail}")

    def stop(self) -> None:
        if self.pid is not None:
            stop_pid(self.pid, timeout=20)
            self.pid = None


@pytest.fixture(scope="module")
def buildkitd(e2e_root: Path, http_registry: Registry, https_registry: Registry) -> Iterator[Buildkitd]:
    if shutil.which("runc") is None:
        missing_tool("e2e: BuildKit's OCI worker needs runc (Debian package runc); run .ci/install-e2e.sh")
    daemon = Buildkitd(Path(tempfile.mkdtemp(prefix="buildkit-", dir=e2e_root)), [http_registry, https_registry])
    daemon.start(go_client("buildkitd"), go_client("buildctl"))
    yield daemon
    daemon.stop()


@pytest.mark.parametrize(("mode", "scheme"), [("credsStore", "https"), ("credHelpers", "http")])
def test_buildctl_build_from_a_private_base_image(
    mode: str,
    scheme: str,
    clients: Clients,
    buildkitd: Buildkitd,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    registry: Registry = request.getfixturevalue(f"{scheme}_registry")
    request.getfixturevalue(f"{scheme}_image")  # the seed image, pushed without the helper
    buildctl = str(go_client("buildctl"))
    log = HelperLog(clients)
    placeholders = {f"{registry.host}/{SEED_REPO}": "HOST/SEED", registry.host: "HOST"}
    clients.extra_env.update(env_credentials([(registry.host, USER, PASSWORD)]))

    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {registry.host}/{SEED_REPO}:1\nCOPY built.txt /built.txt\n")
    (context / "built.txt").write_text("built by buildctl through docker-credential-imgpkg\n")

    def build(dest: Path):
        argv = [
            buildctl, "--addr", buildkitd.address, "build", "--frontend", "dockerfile.v0",
            "--local", f"context={context}", "--local", f"dockerfile={context}",
            "--output", f"type=oci,dest={dest}", "--progress", "plain",
        ]  # fmt: skip
        return clients.run(argv, timeout=CLIENT_TIMEOUT * 2)

    # negative control: IMGPKG_REGISTRY_* alone do nothing while no config names the helper
    clients.write_json(clients.docker_config, {})
    mark = registry.mark()
    result = build(tmp_path / "denied.tar")
    assert refused(result), result.describe()
    registry.assert_denied(mark)
    assert log.calls() == []

    clients.write_json(clients.docker_config, helper_config(mode, [registry.host]))
    mark, since = registry.mark(), log.mark()
    out = tmp_path / "image.tar"
    result = build(out)
    assert result.returncode == 0, result.describe()
    registry.assert_authorized(mark, f"/v2/{SEED_REPO}/manifests/")
    assert_documented(log, since, "buildctl", "buildctl build (FROM HOST/SEED:1)", mode, placeholders)

    with tarfile.open(out) as tar:
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        assert index["manifests"], index
    assert os.path.getsize(out) > 0
