"""The real kubelet (.ci/kubelet, built by .ci/install-kubelet.sh) and the harness (tests/kubelet/harness) are the
same Kubernetes: every module both builds with resolves to the same version."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HARNESS = REPO / "tests" / "kubelet" / "harness" / "go.mod"
KUBELET = REPO / ".ci" / "kubelet" / "go.mod"


# A requirement (``mod v1.2.3 // indirect``, in a block or after ``require``) and a replacement (``mod => mod v1.2.3``).
REQUIRE = re.compile(r"^\s*(?:require\s+)?(\S+)\s+(v\S+)\s*(?://.*)?$")
REPLACE = re.compile(r"^\s*(?:replace\s+)?(\S+)\s+=>\s+\S+\s+(v\S+)\s*$")


def resolved(go_mod: Path) -> dict[str, str]:
    """``{module: version}``: the go.mod's requirements with its ``replace`` directives applied."""
    required: dict[str, str] = {}
    replaced: dict[str, str] = {}
    for line in go_mod.read_text().splitlines():
        if match := REPLACE.match(line):
            replaced[match[1]] = match[2]
        elif match := REQUIRE.match(line):
            required[match[1]] = match[2]
    return {module: replaced.get(module, version) for module, version in required.items()}


def test_the_kubelet_and_the_harness_pin_the_same_modules() -> None:
    harness, kubelet = resolved(HARNESS), resolved(KUBELET)
    assert re.fullmatch(r"v1\.\d+\.\d+", kubelet.get("k8s.io/kubernetes", "")), kubelet.get("k8s.io/kubernetes")
    assert harness["k8s.io/kubernetes"] == kubelet["k8s.io/kubernetes"]
    shared = sorted(set(harness) & set(kubelet))
    assert len(shared) > 50  # the harness's whole graph is in the kubelet's
    differ = {m: (harness[m], kubelet[m]) for m in shared if harness[m] != kubelet[m]}
    assert not differ, f"harness vs .ci/kubelet: {differ}"


def test_staging_modules_are_the_matching_release() -> None:
    """k8s.io/kubernetes v1.X.Y needs its staging modules (k8s.io/api, ...) at v0.X.Y in both."""
    for go_mod in (HARNESS, KUBELET):
        versions = resolved(go_mod)
        staging = "v0." + versions["k8s.io/kubernetes"].removeprefix("v1.")
        for module in ("k8s.io/api", "k8s.io/apimachinery", "k8s.io/client-go", "k8s.io/kubelet", "k8s.io/cri-api"):
            assert versions[module] == staging, (go_mod, module, versions[module])
