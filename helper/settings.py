"""The helper's own switches (``DOCKER_CREDENTIAL_IMGPKG_*``), as opposed to imgpkg's variables."""

from __future__ import annotations

from collections.abc import Mapping

TRUE_WORDS = frozenset({"1", "true", "yes"})


def env_flag(environ: Mapping[str, str], name: str) -> bool:
    """Our own boolean switches accept 1/true/yes in any case (imgpkg's keep imgpkg's exact rules)."""
    return environ.get(name, "").strip().lower() in TRUE_WORDS
