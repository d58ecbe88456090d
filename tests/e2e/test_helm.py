"""helm v3 through the helper: ``helm registry login`` checks the password and stores it through the helper (its
own store), ``helm push`` a packaged chart to ``oci://``, ``helm pull`` it back, ``helm registry logout`` erases.
Plain HTTP (``--plain-http``).

helm keeps its registry settings in its own docker-format file, ``$HELM_REGISTRY_CONFIG`` (default
``~/.config/helm/registry/config.json``): that file is where ``credsStore`` / ``credHelpers`` name the helper.
helm falls back to docker's config for reading, but ``login`` and ``logout`` use helm's file only.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from .goclients import (
    GoClient,
    assert_no_secret,
    assert_refused_without_helper,
    helper_config,
)
from .support import PASSWORD, USER, Clients, Registry

pytestmark = pytest.mark.e2e

NAMESPACE = "e2e/charts"
CHART = "e2e-demo"
VERSION = "0.1.0"


def write_chart(directory: Path) -> Path:
    (directory / "templates").mkdir(parents=True)
    (directory / "Chart.yaml").write_text(
        f"apiVersion: v2\nname: {CHART}\nversion: {VERSION}\ndescription: pushed through docker-credential-imgpkg\n"
    )
    (directory / "values.yaml").write_text("greeting: hello\n")
    (directory / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  greeting: {{ .Values.greeting }}\n"
    )
    return directory


class Helm(GoClient):
    name = "helm"

    def __init__(self, clients: Clients, registry: Registry):
        super().__init__(clients)
        self.registry = registry
        self.config = clients.root / "helm-registry.json"
        clients.extra_env["HELM_REGISTRY_CONFIG"] = str(self.config)
        self.placeholders = {f"{registry.host}/{NAMESPACE}/{CHART}": "HOST/REPO", registry.host: "HOST"}


@pytest.mark.parametrize("mode", ["credsStore", "credHelpers"])
def test_helm_registry_login_push_pull_logout(
    mode: str, clients: Clients, http_registry: Registry, tmp_path: Path
) -> None:
    helm = Helm(clients, http_registry)
    host = http_registry.host
    result = helm("package", str(write_chart(tmp_path / "chart")), "-d", str(tmp_path))
    assert result.returncode == 0, result.describe()
    package = str(tmp_path / f"{CHART}-{VERSION}.tgz")
    oci = f"oci://{host}/{NAMESPACE}"

    # negative control: helm's registry file names no helper
    clients.write_json(helm.config, {})
    assert_refused_without_helper(
        helm.log,
        http_registry,
        lambda: helm("push", package, oci, "--plain-http"),
        lambda: helm("pull", f"{oci}/{CHART}", "--version", VERSION, "--plain-http", "-d", str(tmp_path / "x")),
    )

    clients.write_json(helm.config, helper_config(mode, [host]))
    mark = http_registry.mark()
    helm.step("helm registry login HOST", mode, "registry", "login", host, "-u", USER, "--password-stdin",
              "--plain-http", input=PASSWORD)  # fmt: skip
    http_registry.assert_authorized(mark, "/v2/")
    assert_no_secret(helm.config, PASSWORD)
    assert clients.helper_get(host) == {"ServerURL": host, "Username": USER, "Secret": PASSWORD}

    mark = http_registry.mark()
    helm.step("helm push CHART.tgz oci://HOST/NS", mode, "push", package, oci, "--plain-http")
    http_registry.assert_authorized(mark, f"/v2/{NAMESPACE}/{CHART}/manifests/{VERSION}")

    mark = http_registry.mark()
    out = tmp_path / "pulled"
    out.mkdir()  # helm pull -d writes into an existing directory
    helm.step("helm pull oci://HOST/NS/CHART", mode, "pull", f"{oci}/{CHART}", "--version", VERSION,
              "--plain-http", "-d", str(out))  # fmt: skip
    http_registry.assert_authorized(mark, f"/v2/{NAMESPACE}/{CHART}/manifests/{VERSION}")
    with tarfile.open(out / f"{CHART}-{VERSION}.tgz") as tar:
        assert f"{CHART}/Chart.yaml" in tar.getnames()

    helm.step("helm registry logout HOST", mode, "registry", "logout", host)
    assert clients.helper_get(host) is None
    mark = http_registry.mark()
    helm.step("helm pull oci://HOST/NS/CHART (after logout)", mode, "pull", f"{oci}/{CHART}", "--version", VERSION,
              "--plain-http", "-d", str(tmp_path / "again"), ok=False)  # fmt: skip
    http_registry.assert_denied(mark)
