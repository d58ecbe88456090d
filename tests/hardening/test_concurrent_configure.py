"""Issue 15: every file ``configure`` writes is written under a lock, atomically, and without losing what a
concurrent writer added: ours (16 ``configure`` runs on one file at once) or another program's that takes no
lock (docker's config writers, podman's auth.json, an admin's tool editing the kubelet's file).

The runs are started first and released together (each waits on its stdin, then execs), so they really overlap.
The outcome is asserted, never a duration: every run succeeds, the file parses, and it holds every key that any
writer added (plus what was there before), with no temp file left beside it.
"""

from __future__ import annotations

import json
import os
import random
import sys
from dataclasses import dataclass

import pytest

from .every_verb import KUBELET_API, VERBS, check, file_at, isolate
from .support import TEMP_MARK, Batch, Raw

WRITERS = 16  # configure runs on one file
LOCKLESS_WRITERS, LOCKLESS_KEYS = 3, 2  # another program's writers, and the keys each adds
WAIT = 'read _ && exec "$0" "$@"'  # sh -c WAIT PROGRAM ARGS: start, wait for the release, become PROGRAM ARGS

# Another program's read-modify-write, without our lock (docker's config writers take none). It re-checks the
# file just before its rename and starts again if the file changed since it read it: the best a writer without
# a lock can do, so that a key lost is one the helper lost. (docker does not even re-check: the helper must
# expect worse, and can only make its own writes safe.)
LOCKLESS = r"""
import json, os, random, sys, time
path, where, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
KUBELET_API = "credentialprovider.kubelet.k8s.io/v1"
for key in keys:
    time.sleep(random.uniform(0, 0.3))
    while True:
        before = os.stat(path)
        with open(path, "rb") as f:
            doc = json.load(f)
        if where == "providers":
            doc["providers"].append({"name": key, "matchImages": [key + ".example"], "apiVersion": KUBELET_API})
        else:
            doc.setdefault(where, {})[key] = {"auth": "ZG9ja2VyOnB3"}
        temp = f"{path}.lockless-{os.getpid()}"
        with open(temp, "w") as f:
            json.dump(doc, f, indent="\t")
        os.chmod(temp, 0o600)
        now = os.stat(path)
        if (now.st_ino, now.st_mtime_ns, now.st_size) == (before.st_ino, before.st_mtime_ns, before.st_size):
            os.rename(temp, path)
            break
        os.unlink(temp)
"""


@dataclass(frozen=True)
class Target:
    """One file configure edits: its name in every_verb.file_at, the verb, how run i names its registry, what
    it starts as, where the lockless writer adds its keys, and the part of the result our runs own."""

    file: str
    verb: str
    seed: dict
    lockless_into: str

    def args(self, helper, i: int) -> list[str]:
        host = f"host{i}.example"
        if self.verb == "configure-kubelet":
            return ["configure", "kubelet", "--config", str(file_at(helper, self.file)), "--match-image", host]
        client = "docker" if self.verb == "configure-docker-registry" else "containers"
        return ["configure", client, "--registry", host]

    def ours(self, doc: dict) -> set[str]:
        """The registries our runs wrote."""
        if self.file == "kubelet-config":
            [provider] = [p for p in doc["providers"] if p["name"] == "docker-credential-imgpkg"]
            return set(provider["matchImages"])
        return {k for k, v in doc["credHelpers"].items() if v == "imgpkg"}

    def theirs(self, doc: dict) -> set[str]:
        """What the lockless writers and the seed put in their part of the file."""
        if self.file == "kubelet-config":
            return {p["name"] for p in doc["providers"] if p["name"] != "docker-credential-imgpkg"}
        return set(doc[self.lockless_into])


SEED_AUTHS = {"seed.example": {"auth": "c2VlZDpwdw=="}}
TARGETS = {
    "docker": Target(
        "config.json",
        "configure-docker-registry",
        {"auths": SEED_AUTHS, "credHelpers": {"other.example": "pass"}, "HttpHeaders": {"User-Agent": "ci"}},
        "auths",
    ),
    "containers": Target("auth.json", "configure-containers", {"auths": SEED_AUTHS}, "auths"),
    "kubelet": Target(
        "kubelet-config",
        "configure-kubelet",
        {
            "apiVersion": "kubelet.config.k8s.io/v1",
            "kind": "CredentialProviderConfig",
            "providers": [{"name": "ecr", "matchImages": ["*.dkr.ecr.*.amazonaws.com"], "apiVersion": KUBELET_API}],
        },
        "providers",
    ),
}


@pytest.mark.parametrize("target", TARGETS.values(), ids=TARGETS.keys())
def test_concurrent_configure_runs_and_a_lockless_writer_lose_nothing(helper, target: Target) -> None:
    isolate(helper)
    path = file_at(helper, target.file)
    path.write_text(json.dumps(target.seed, indent="\t") + "\n")
    path.chmod(0o600)
    before = json.loads(path.read_text())
    batch = Batch("/bin/sh", helper.env)
    for i in range(WRITERS):
        batch.add("-c", WAIT, helper.program, *target.args(helper, i), stdin=b"go\n")
    lockless = {f"docker{w}-{k}" for w in range(LOCKLESS_WRITERS) for k in range(LOCKLESS_KEYS)}
    for w in range(LOCKLESS_WRITERS):
        keys = sorted(k for k in lockless if k.startswith(f"docker{w}-"))
        batch.add("-c", WAIT, sys.executable, "-c", LOCKLESS, str(path), target.lockless_into, *keys, stdin=b"go\n")
    results = batch.release(random.Random())
    for result in results[:WRITERS]:
        assert result.returncode == 0, result
        check(VERBS[target.verb], Raw(result.returncode, result.stdout.encode(), result.stderr.encode()))
    for result in results[WRITERS:]:
        assert result.returncode == 0, result
    doc = json.loads(path.read_text())
    wanted = {f"host{i}.example" for i in range(WRITERS)}
    lost = sorted(wanted - target.ours(doc))
    assert not lost, f"{len(lost)} of {WRITERS} configure runs' entries lost: {lost}"
    seeded = target.theirs(before)
    lost = sorted((seeded | lockless) - target.theirs(doc))
    assert not lost, f"what other writers added was lost: {lost}"
    for key, value in before.items():  # every other member is as it was
        if key not in ("credHelpers", target.lockless_into):
            assert doc[key] == value, key
    for key, value in before.get("credHelpers", {}).items():
        assert doc["credHelpers"].get(key) == value, key
    assert [n for n in os.listdir(path.parent) if TEMP_MARK in n or ".lockless-" in n] == []
