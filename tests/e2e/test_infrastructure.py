"""The suite's own parts work before any flow relies on them: registries, TLS, token auth, the image."""

from __future__ import annotations

import json

import pytest

from .support import PASSWORD, USER, Registry, TokenServer

pytestmark = pytest.mark.e2e


def test_http_registry_requires_basic_auth(http_registry: Registry) -> None:
    assert http_registry.probe("/v2/") == 401
    assert http_registry.probe("/v2/", USER, PASSWORD) == 200
    assert http_registry.probe("/v2/", USER, "wrong") == 401


def test_https_registry_is_verified_with_the_suite_ca(https_registry: Registry) -> None:
    assert https_registry.url.startswith("https://")
    assert https_registry.probe("/v2/", USER, PASSWORD) == 200


def test_seeded_image_is_readable_with_credentials_only(http_registry: Registry, http_image: str) -> None:
    path = "/v2/e2e/seed/manifests/1"
    mark = http_registry.mark()
    assert http_registry.probe(path) == 401
    assert http_registry.probe(path, USER, PASSWORD) == 200
    http_registry.assert_authorized(mark, "/v2/e2e/seed/manifests/1")


def test_token_registry_accepts_tokens_from_the_token_server(
    token_registry: Registry, token_server: TokenServer, token_image: str
) -> None:
    assert token_registry.probe("/v2/") == 401
    assert ("password", USER) in token_server.grants


def test_oci_layout_is_well_formed(oci_image) -> None:
    index = json.loads((oci_image / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":", 1)[1]
    manifest = json.loads((oci_image / "blobs" / "sha256" / digest).read_text())
    assert manifest["layers"][0]["mediaType"].endswith("tar+gzip")
