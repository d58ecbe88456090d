"""Per-service-account credentials for the kubelet provider: our ``DOCKER_CREDENTIAL_IMGPKG_KUBELET_*`` variables,
the service-account limits of ``IMGPKG_REGISTRY_*`` groups, and the checks of the token the kubelet sends.

Since Kubernetes 1.33 a provider configured with ``tokenAttributes`` receives, in each request, a token the
kubelet obtained from the API server for the pod's service account (a TokenRequest bound to the pod, for the
provider's audience). The trust model:

* The plugin does **not** verify the token's signature. The kubelet got the token from the API server over its
  authenticated connection and hands it over a pipe; the node holds no key to check it against. Anyone able to
  send this program a forged request with the kubelet's environment already holds that environment, which is
  where the credentials are: a signature check would protect nothing.
* So the checks below (the audience the provider was configured with, ``exp``/``nbf``, the claims that name
  the namespace and service account) catch a misconfiguration or a stale token, not an attacker, and the
  answer is only as trustworthy as the kubelet that asked.
* The credentials reach only the kubelet's environment (an ``EnvironmentFile`` only root reads): a limited
  group never answers ``get``, ``list`` or any docker client, so nothing else on the node can ask for them.

This module is imported only when one of these variables is set, or by the kubelet provider with
``--audience``: a ``get`` answered by the environment pays nothing for it.
"""

from __future__ import annotations

from .errors import HelperError, shown_plain

KUBELET_PREFIX = "DOCKER_CREDENTIAL_IMGPKG_KUBELET_"
CACHE_VAR = KUBELET_PREFIX + "CACHE"
LIMIT_VAR = KUBELET_PREFIX + "SERVICE_ACCOUNTS"
TOKEN_REGISTRY_VAR = KUBELET_PREFIX + "TOKEN_REGISTRY"
TOKEN_USERNAME_VAR = KUBELET_PREFIX + "TOKEN_USERNAME"
_GROUPED = (LIMIT_VAR, TOKEN_REGISTRY_VAR, TOKEN_USERNAME_VAR)  # each also with a _<suffix>
NBF_LEEWAY = 60  # seconds of clock skew allowed between the API server and the node (go-jose's default leeway)

_LOWER_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_LABEL_CHARS = _LOWER_ALNUM | {"-"}


def is_known_name(name: str) -> bool:
    """Whether ``name`` (starting with ``DOCKER_CREDENTIAL_IMGPKG_KUBELET_``) is one of our kubelet variables. An
    unknown one is refused, as imgpkg refuses unknown ``IMGPKG_REGISTRY_*`` names: a misspelt limit must never
    leave its group open to every client."""
    return name == CACHE_VAR or any(name == var or name.startswith(var + "_") for var in _GROUPED)


def suffix_of(name: str, variable: str) -> str | None:
    """The group suffix of ``variable[_SFX]`` (None for the unsuffixed one)."""
    return None if name == variable else name[len(variable) + 1 :]


def with_suffix(variable: str, suffix: str | None) -> str:
    return variable if suffix is None else f"{variable}_{suffix}"


# --------------------------------------------------------------------------------------------------------------
# service accounts and the limits on groups


class Account:
    """A pod's service account, as its token names it."""

    __slots__ = ("name", "namespace")

    def __init__(self, namespace: str, name: str) -> None:
        self.namespace = namespace
        self.name = name

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


class AccountLimit:
    """``DOCKER_CREDENTIAL_IMGPKG_KUBELET_SERVICE_ACCOUNTS[_SFX]``: the accounts whose pods a group answers.

    Items are ``NAMESPACE/NAME`` or ``NAMESPACE/*``, compared exactly (Kubernetes names are lowercase DNS
    labels and subdomains, so any other spelling could never match and is refused)."""

    __slots__ = ("items", "variable")

    def __init__(self, variable: str, value: str) -> None:
        self.variable = variable
        self.items: list[tuple[str, str]] = []  # (namespace, name or "*")
        for item in value.split(","):
            item = item.strip()
            if item:
                self.items.append(_parse_item(variable, item))
        if not self.items:
            raise HelperError(
                f"{variable} names no service account: write NAMESPACE/NAME or NAMESPACE/* items separated by "
                "commas (unset it to lift the limit)"
            )

    def allows(self, account: Account | None) -> bool:
        if account is None:
            return False
        return any(ns == account.namespace and name in ("*", account.name) for ns, name in self.items)

    @property
    def text(self) -> str:
        return ", ".join(f"{ns}/{name}" for ns, name in self.items)

    @property
    def reason(self) -> str:
        """Why the group does not answer a docker client, in ``explain``'s and the trace's words."""
        return f"limited to service accounts {self.text}: answers only the kubelet provider for their pods"


def _parse_item(variable: str, item: str) -> tuple[str, str]:
    namespace, slash, name = item.partition("/")
    if slash and _is_dns_label(namespace) and (name == "*" or _is_dns_subdomain(name)):
        return namespace, name
    raise HelperError(
        f'{variable}: "{shown_plain(item, 100)}" is not NAMESPACE/NAME or NAMESPACE/* (Kubernetes names: lowercase '
        "letters, digits and '-', names also '.')"
    )


def _is_dns_label(text: str) -> bool:
    """RFC 1123 label, as Kubernetes validates namespaces: ``[a-z0-9]([-a-z0-9]*[a-z0-9])?``, at most 63."""
    return (
        0 < len(text) <= 63 and _LABEL_CHARS.issuperset(text) and text[0] in _LOWER_ALNUM and text[-1] in _LOWER_ALNUM
    )


def _is_dns_subdomain(text: str) -> bool:
    """RFC 1123 subdomain, as Kubernetes validates service account names: dot-separated labels, at most 253."""
    return 0 < len(text) <= 253 and all(_is_dns_label(label) for label in text.split("."))


# --------------------------------------------------------------------------------------------------------------
# the token's claims


class TokenFacts:
    """What a token that passed the checks says: whose it is and until when it is valid (seconds since 1970)."""

    __slots__ = ("account", "expires")

    def __init__(self, account: Account, expires: float) -> None:
        self.account = account
        self.expires = expires


class TokenError(HelperError):
    """The token failed a check; the message says which, and never shows the token or any part of it."""


def check_token(token: str, audience: str, now: float) -> TokenFacts:
    """The claims of a service-account token, checked (the signature is not: see the module's docstring).

    The payload (base64url, the second of three dot-separated parts) must be a JSON object whose ``aud`` (a
    string or a list of strings) holds ``audience``, whose ``exp`` is later than ``now`` and whose ``nbf``, if
    present, is not later (allowing ``NBF_LEEWAY``), and which names the namespace
    (``kubernetes.io.namespace``) and the service account (``kubernetes.io.serviceaccount.name``)."""
    claims = _payload(token)
    wanted = f'"{shown_plain(audience, 100)}"'
    aud = claims.get("aud")
    if aud is None:
        raise TokenError(f"the service account token has no audience (aud claim); this provider expects {wanted}")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if audience not in [a for a in audiences if isinstance(a, str)]:
        raise TokenError(
            f"the service account token's audience is not {wanted} (aud claim): the provider's "
            "tokenAttributes.serviceAccountTokenAudience and its --audience argument must be the same"
        )
    expires = _time_claim(claims, "exp", "expiry")
    if expires is None:
        raise TokenError("the service account token has no expiry (exp claim)")
    if not now < expires:
        raise TokenError(f"the service account token expired at {_iso(expires)} (exp claim); it is {_iso(now)}")
    not_before = _time_claim(claims, "nbf", "not-before time")
    if not_before is not None and not_before > now + NBF_LEEWAY:
        raise TokenError(f"the service account token is not valid before {_iso(not_before)} (nbf claim)")
    kubernetes = claims.get("kubernetes.io")
    kubernetes = kubernetes if isinstance(kubernetes, dict) else {}
    namespace = kubernetes.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        raise TokenError("the service account token names no namespace (kubernetes.io.namespace claim)")
    account = kubernetes.get("serviceaccount")
    name = account.get("name") if isinstance(account, dict) else None
    if not isinstance(name, str) or not name:
        raise TokenError("the service account token names no service account (kubernetes.io.serviceaccount.name claim)")
    return TokenFacts(Account(namespace, name), float(min(expires, _FAR_FUTURE)))


_FAR_FUTURE = 1e18  # an exp beyond any float a duration is computed from
_BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _payload(token: str) -> dict[str, object]:
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise TokenError("the service account token is not a JWT (three base64url parts separated by dots)")
    payload = parts[1]
    import base64
    import binascii

    try:
        if not _BASE64URL.issuperset(payload):
            raise ValueError("not base64url")
        data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    except (ValueError, binascii.Error):
        raise TokenError("the service account token's payload is not base64url") from None
    import json

    try:
        claims = json.loads(data, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # never the decoder's message: it could quote the payload
        claims = None
    if not isinstance(claims, dict):
        raise TokenError("the service account token's payload is not a JSON object")
    return claims


def _no_constant(name: str) -> object:
    raise ValueError("not JSON")


def _time_claim(claims: dict[str, object], name: str, what: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TokenError(f"the service account token's {what} ({name} claim) is not a number")
    return value


def _iso(epoch: float) -> str:
    import time

    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    except (OverflowError, OSError, ValueError):
        return f"{epoch:g} (seconds since 1970)"
