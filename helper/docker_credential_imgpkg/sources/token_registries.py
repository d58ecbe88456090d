"""Registries that take the pod's service-account token itself as the password (Zot, Harbor Next):
``DOCKER_CREDENTIAL_IMGPKG_KUBELET_TOKEN_REGISTRY[_SFX]`` (a pattern in ``IMGPKG_REGISTRY_HOSTNAME`` syntax:
host[:port][/path], per-label ``*`` globs) with ``DOCKER_CREDENTIAL_IMGPKG_KUBELET_TOKEN_USERNAME[_SFX]``, the
fixed username sent with the token.

Not a source of the chain: only the kubelet provider started with ``--token-pass-through`` answers from these
groups (its ``tokenAttributes.cacheType`` is ``Token``: the kubelet drops a response whose password is the token
under any other cache type); ``get``, ``list``, docker clients and the other provider never see them.
"""

from __future__ import annotations

from ..errors import HelperError, shown
from ..kubelet_tokens import TOKEN_REGISTRY_VAR, TOKEN_USERNAME_VAR, suffix_of, with_suffix
from ..variables import env_text
from .env_hostnames import HostPattern, parse_host_pattern

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..address import Target


class TokenRegistry:
    """One ``TOKEN_REGISTRY[_SFX]`` group."""

    __slots__ = ("pattern", "suffix", "username", "value")

    def __init__(self, suffix: str | None, value: str, pattern: HostPattern, username: str) -> None:
        self.suffix = suffix
        self.value = value
        self.pattern = pattern
        self.username = username

    @property
    def variable(self) -> str:
        return with_suffix(TOKEN_REGISTRY_VAR, self.suffix)

    @property
    def label(self) -> str:
        return f"{self.variable}={self.pattern.match_key}"


class TokenRegistries:
    """Every token pass-through group of ``environ``, checked: a pattern that does not parse, one without its
    username, or a username without its pattern is an error naming the variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        registries: dict[str | None, str] = {}
        usernames: dict[str | None, str] = {}
        for name in environ:
            if name == TOKEN_REGISTRY_VAR or name.startswith(TOKEN_REGISTRY_VAR + "_"):
                registries[suffix_of(name, TOKEN_REGISTRY_VAR)] = env_text(environ, name)
            elif name == TOKEN_USERNAME_VAR or name.startswith(TOKEN_USERNAME_VAR + "_"):
                usernames[suffix_of(name, TOKEN_USERNAME_VAR)] = env_text(environ, name)
        for suffix in usernames:
            if suffix not in registries:
                raise HelperError(
                    f"{with_suffix(TOKEN_USERNAME_VAR, suffix)} is set without "
                    f"{with_suffix(TOKEN_REGISTRY_VAR, suffix)}, the registries it is the username for"
                )
        self.groups: list[TokenRegistry] = []
        for suffix in sorted(registries, key=lambda s: (s is not None, s or "")):
            variable = with_suffix(TOKEN_REGISTRY_VAR, suffix)
            value = registries[suffix].strip()
            if not value:
                raise HelperError(f"{variable} is empty: set a registry pattern (host[:port][/path] or *.glob)")
            try:
                pattern = parse_host_pattern(value)
            except HelperError as err:
                raise HelperError(f"{variable}: {err}") from None
            if not pattern.host:
                raise HelperError(f"{variable}={shown(value)} names no registry host")
            username = usernames.get(suffix, "")
            if not username:
                raise HelperError(
                    f"{with_suffix(TOKEN_USERNAME_VAR, suffix)} is not set: {variable} needs the fixed username "
                    "the registry expects with the token"
                )
            self.groups.append(TokenRegistry(suffix, value, pattern, username))

    def match(self, target: Target) -> TokenRegistry | None:
        """The most specific group matching ``target`` (imgpkg's precedence: the longest key; ties: the
        unsuffixed group, then suffix order)."""
        found = [g for g in self.groups if g.pattern.matches(target)]
        return max(found, key=lambda g: (g.pattern.key.encode("utf-8"), g.suffix is None), default=None)

    def patterns(self) -> list[str]:
        """Every group as the kubelet's ``matchImages`` writes it, in suffix order."""
        return list(dict.fromkeys(g.pattern.match_key for g in self.groups))
