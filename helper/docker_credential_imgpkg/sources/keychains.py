"""imgpkg's IaaS keychains (``IMGPKG_ACTIVE_KEYCHAINS``): ``github`` in-process, ``gke``/``ecr``/``aks`` delegated.

Delegation happens only for the provider's own hosts: docker-credential-gcr ignores the address it is
given and would hand Google tokens to any registry asked.
"""

from __future__ import annotations

from ..client import HelperClient, ProgramMissing
from ..errors import HelperError, shown, shown_plain
from ..protocol import Credentials
from ..stdio import warn
from ..variables import env_text
from . import Match, Source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ..address import Target
    from ..debug import Trace
    from . import Stop

KNOWN = ("aks", "ecr", "gke", "github")
IAAS_ORDER = ("gke", "ecr", "aks", "github")
PROGRAMS = {"gke": "docker-credential-gcr", "ecr": "docker-credential-ecr-login", "aks": "docker-credential-acr-env"}


def _is_gcp(host: str) -> bool:
    return host == "gcr.io" or host.endswith((".gcr.io", ".pkg.dev"))


def _is_ecr(host: str) -> bool:
    if host in ("public.ecr.aws", "ecr-public.aws.com"):
        return True
    import re

    return (
        re.fullmatch(
            r"\d{12}\.dkr[.-]ecr(-fips)?\.[a-z0-9][a-z0-9_-]*\."
            r"(amazonaws\.com(\.cn)?|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)",
            host,
        )
        is not None
    )


def _is_azure(host: str) -> bool:
    return host.endswith((".azurecr.io", ".azurecr.cn", ".azurecr.de", ".azurecr.us"))


PROVIDER_HOSTS: dict[str, Callable[[str], bool]] = {"gke": _is_gcp, "ecr": _is_ecr, "aks": _is_azure}


def active_keychains(environ: Mapping[str, str]) -> list[str]:
    if environ.get("IMGPKG_ENABLE_IAAS_AUTH", "").lower() == "true":
        return list(IAAS_ORDER)
    names = [item.strip() for item in environ.get("IMGPKG_ACTIVE_KEYCHAINS", "").split(",")]
    names = [n for n in names if n]
    for name in names:
        if name not in KNOWN:
            raise HelperError(
                f"Unable to load keychain for {shown_plain(name)}, available keychains [{', '.join(KNOWN)}]"
            )
    return names


class KeychainSource(Source):
    """``delegate=False`` (for ``list``) never runs the cloud helpers: they may be slow or ask the network."""

    name = "keychains"

    def __init__(self, environ: Mapping[str, str], *, delegate: bool = True) -> None:
        self.environ = environ
        self.names = active_keychains(environ)
        self.delegate = delegate

    def get(self, target: Target, trace: Trace) -> Match | Stop | None:
        host = target.host
        for name in self.names:
            if name == "github":
                creds = self._github(target.key, host)
                if creds is not None:
                    trace(
                        f"keychain github: GITHUB_TOKEN answers ghcr.io (username {shown(creds.username)}, secret ***)"
                    )
                    return Match(creds, "keychains", "IMGPKG_ACTIVE_KEYCHAINS=github (GITHUB_TOKEN)", "ghcr.io")
                continue
            if not self.delegate or not PROVIDER_HOSTS[name](host):
                continue
            creds = self._delegate(name, host, trace)
            if creds is not None:
                entry = f"IMGPKG_ACTIVE_KEYCHAINS={name} ({PROGRAMS[name]})"
                return Match(creds, "keychains", entry, host, short_lived=True)
        return None

    def list_keys(self, trace: Trace) -> list[str]:
        return ["ghcr.io"] if "github" in self.names and self.environ.get("GITHUB_TOKEN") else []

    def _github(self, address: str, host: str) -> Credentials | None:
        if host != "ghcr.io" or not self.environ.get("GITHUB_TOKEN"):
            return None
        token = env_text(self.environ, "GITHUB_TOKEN")
        return Credentials(address, env_text(self.environ, "GITHUB_ACTOR") or "unset", token)

    def _delegate(self, name: str, host: str, trace: Trace) -> Credentials | None:
        program = PROGRAMS[name]
        role = f"keychain {name}"
        try:
            answer = HelperClient(program, f"{role}: {program}", self.environ).get(host)
        except ProgramMissing:
            warn(f"note: {role}: {program} not found in PATH; skipping it")
            return None
        if answer is None:
            trace(f"{role}: {program} has no credentials for {host}")
            return None
        trace(f"{role}: {program} answers {host} (username {shown(answer[0])}, secret ***)")
        return Credentials(host, *answer)
