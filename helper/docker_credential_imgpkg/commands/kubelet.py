"""``docker-credential-imgpkg kubelet``: the kubelet's image credential provider protocol, over the chain ``get`` uses.

The kubelet runs the plugin with a ``CredentialProviderRequest`` on stdin and reads a ``CredentialProviderResponse``
from stdout (credentialprovider.kubelet.k8s.io ``v1``, or ``v1beta1`` on older kubelets; the answer is in the
request's version). A failure is one line on stderr and a non-zero exit, which the kubelet logs and then pulls
without this provider's credentials. The rules the kubelet applies to the answer, which shape it here
(``kubelet_rules``):

* Each ``auth`` key is matched against the image like ``matchImages``: per-label host globs, equal port, and a
  *string* prefix of the path. The key is the entry that answered (``Match.pattern``); when that would not match
  the image as the kubelet spells it (a Docker Hub single name entry that imgpkg also applies to ``library/``, a
  registry written in capitals), the repository itself is the key.
* The answer is cached under the image (``Image``), its registry (``Registry``) or globally; the cache is looked
  up by image, then registry, before the plugin is run again. A registry-wide answer therefore hides every
  repository-scoped entry of that registry until it expires: it is ``Registry`` only when its key is a bare
  registry and no entry of any source is scoped to a repository of that registry. Everything else, including
  "no credentials", is ``Image``.
* ``cacheDuration`` is ``DOCKER_CREDENTIAL_IMGPKG_KUBELET_CACHE`` (a Go duration) when set, else omitted (the
  provider's ``defaultCacheDuration`` applies); ``0s`` (never cached) for tokens minted by a cloud keychain.

Service-account tokens (``tokenAttributes``, Kubernetes 1.33+; the trust model is in ``kubelet_tokens``), by the
arguments ``configure kubelet`` writes into the provider's ``args``:

* ``kubelet``: no token expected; one sent anyway is ignored (said in the trace), and the groups limited to
  service accounts never answer: this provider's answers are cached for every pod alike.
* ``kubelet --audience AUD`` (``cacheType: ServiceAccount``): a request's token is checked
  (``kubelet_tokens.check_token``); the groups limited to its service account answer too. The kubelet keys its
  cache by the service account, so no other account's pods are served that answer. Without a token: as plain.
* ``kubelet --audience AUD --token-pass-through`` (``cacheType: Token``): the token pass-through groups
  (``sources.token_registries``), with the token itself as the password, cached no longer than the token lives.

A token that fails a check is exit 1 with one line saying which check (never the token): the kubelet caches no
failure, so the next pull, with a fresh token, asks again.
"""

from __future__ import annotations

from .. import PROGRAM
from ..address import HUB_DOMAIN, Image, parse_image, parse_target
from ..debug import Trace
from ..errors import HelperError, UsageError, shown
from ..kubelet_rules import PLUGIN_APIS, REQUEST_KIND, RESPONSE_KIND, kubelet_key_matches, parse_go_duration
from ..kubelet_tokens import CACHE_VAR
from ..protocol import NotFound
from ..stdio import EXIT_OK, guarded, read_stdin, warn, write_out

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..chain import Chain
    from ..kubelet_tokens import TokenFacts
    from ..sources import Match
    from ..sources.token_registries import TokenRegistries

MAX_REQUEST_BYTES = 1 << 20  # a request is an image name and perhaps a service account token: a few KiB
AUDIENCE = "--audience"
PASS_THROUGH = "--token-pass-through"
USAGE = (
    f"Usage: {PROGRAM} kubelet [{AUDIENCE} AUDIENCE [{PASS_THROUGH}]]  (the kubelet writes a "
    "CredentialProviderRequest to its standard input; configure kubelet writes these arguments)"
)
RESPONSE_ORDER = ("apiVersion", "kind", "cacheKeyType", "cacheDuration", "auth")


def cache_duration(environ: Mapping[str, str]) -> str | None:
    """``DOCKER_CREDENTIAL_IMGPKG_KUBELET_CACHE`` checked as the kubelet will parse it; None when unset or empty."""
    value = environ.get(CACHE_VAR, "").strip()
    if not value:
        return None
    try:
        nanoseconds = parse_go_duration(value)
    except ValueError as err:
        raise HelperError(
            f"{CACHE_VAR}={shown(value)} is not a Go duration ({err}); write it like 5m, 1h30m or 0s"
        ) from None
    if nanoseconds < 0:
        raise HelperError(f"{CACHE_VAR}={shown(value)} is negative; write 0s to turn the kubelet's cache off")
    return value


# --------------------------------------------------------------------------------------------------------------
# request and response


class Request:
    """What the plugin uses of a CredentialProviderRequest (``serviceAccountAnnotations`` and unknown fields are
    accepted and ignored)."""

    __slots__ = ("image", "token", "version")

    def __init__(self, version: str, image: str, token: str | None) -> None:
        self.version = version
        self.image = image
        self.token = token  # the pod's service-account token; None when the kubelet sent none

    def __repr__(self) -> str:  # never the token
        return f"Request({self.version!r}, {self.image!r}, token={'***' if self.token else None})"


def decode_request(data: bytes) -> Request:
    """The CredentialProviderRequest on stdin, checked."""
    from ..safe_files import load_json_object

    if not data.strip():
        raise HelperError(f"empty standard input: expected a {REQUEST_KIND} JSON object")
    request = load_json_object(data, "the request")
    kind = request.get("kind")
    if kind != REQUEST_KIND:
        raise HelperError(f"the request's kind is {_describe(kind)}, expected {REQUEST_KIND!r}")
    version = request.get("apiVersion")
    if not isinstance(version, str) or version not in PLUGIN_APIS:
        raise HelperError(
            f"the request's apiVersion is {_describe(version)}; this plugin speaks {' and '.join(PLUGIN_APIS)}"
        )
    image = request.get("image")
    if image is None or image == "":
        raise HelperError("the request names no image")
    if not isinstance(image, str):
        raise HelperError(f"the request's image must be a string, got {_describe(image)}")
    token = request.get("serviceAccountToken")
    if token is not None and not isinstance(token, str):  # never _describe: it would show a string
        raise HelperError("the request's serviceAccountToken must be a string")
    return Request(version, image, token or None)


def respond(version: str, image: Image, chain: Chain, environ: Mapping[str, str]) -> dict[str, object]:
    """The CredentialProviderResponse for ``image`` (``auth`` left out when nothing can be given)."""
    duration = cache_duration(environ)
    response: dict[str, object] = {"apiVersion": version, "kind": RESPONSE_KIND, "cacheKeyType": "Image"}
    match: Match | None
    try:
        match = chain.lookup(image.address)
    except NotFound:
        chain.trace(f"kubelet: no credentials for {shown(image.repository)}: answering without auth")
        match = None
    if match is not None and match.credentials.is_identity_token:
        warn(
            f"{match.entry} answers {shown(image.repository)} with an identity token, which the kubelet cannot "
            "use (it takes only a username and password); answering without credentials",
            "kubelet",
        )
        match = None
    if match is not None:
        key, registry_wide = choose_key(match, image, chain)
        response["cacheKeyType"] = "Registry" if registry_wide else "Image"
        if match.short_lived:
            duration = "0s"  # a cloud keychain's token: ask again at every pull
        creds = match.credentials
        response["auth"] = {key: {"username": creds.username, "password": creds.secret}}
    if duration is not None:
        response["cacheDuration"] = duration
    return {name: response[name] for name in RESPONSE_ORDER if name in response}


def respond_with_token(
    version: str,
    image: Image,
    registries: TokenRegistries,
    token: str | None,
    facts: TokenFacts | None,
    environ: Mapping[str, str],
    now: float,
    trace: Trace,
) -> dict[str, object]:
    """Token pass-through (``--token-pass-through``): the token pass-through group matching ``image`` answers its
    username and the request's token, cached no longer than the token is valid."""
    response: dict[str, object] = {"apiVersion": version, "kind": RESPONSE_KIND, "cacheKeyType": "Image"}
    duration = cache_duration(environ)
    group = registries.match(parse_target(image.address))
    if token is None or facts is None:
        trace("kubelet: token pass-through, but the request carries no service account token: no credentials")
    elif group is None:
        trace(f"kubelet: no token pass-through group matches {shown(image.repository)}: answering without auth")
    else:
        key = group.pattern.match_key
        trace(f"kubelet: {group.label} matches: the token as the password (username {shown(group.username)})")
        if not kubelet_key_matches(key, image.repository):
            key = image.repository
        elif "/" not in key and not _token_scoped(registries, image):
            response["cacheKeyType"] = "Registry"
        left = max(int(facts.expires - now), 0)  # whole seconds, never past the token's expiry
        if duration is None or parse_go_duration(duration) > left * 10**9:
            duration = f"{left}s"
        response["auth"] = {key: {"username": group.username, "password": token}}
    if duration is not None:
        response["cacheDuration"] = duration
    return {name: response[name] for name in RESPONSE_ORDER if name in response}


def _token_scoped(registries: TokenRegistries, image: Image) -> bool:
    """Whether a token pass-through group is scoped to a repository of ``image``'s registry (then a registry-wide
    answer would hide it from the kubelet's cache lookups, as in ``choose_key``)."""
    registry = image.registry or HUB_DOMAIN
    return any("/" in p and kubelet_key_matches(p.partition("/")[0], registry) for p in registries.patterns())


def choose_key(match: Match, image: Image, chain: Chain) -> tuple[str, bool]:
    """The ``auth`` key, and whether the answer may be cached for the whole registry."""
    key = match.pattern
    if not kubelet_key_matches(key, image.repository):
        chain.trace(
            f"kubelet: the kubelet would not apply {shown(key)} to {shown(image.repository)}: keyed by the repository"
        )
        return image.repository, False
    if "/" in key or match.per_repository:
        return key, False
    scoped = repository_scoped_entries(chain, image)
    if scoped:
        chain.trace(f"kubelet: entries scoped to repositories of this registry ({', '.join(scoped)}): per image")
        return key, False
    return key, True


def repository_scoped_entries(chain: Chain, image: Image) -> list[str]:
    """Entries of any source scoped to a repository of ``image``'s registry; ``["(unknown)"]`` if a source cannot
    tell (the answer is then cached per image, which only costs another run of the plugin)."""
    registry = image.registry or HUB_DOMAIN
    skipped: list[str] = []
    try:
        patterns = chain.entries(skipped)
    except HelperError as err:
        skipped.append(str(err))
    if skipped:
        chain.trace(f"kubelet: cannot list every entry ({'; '.join(skipped)})")
        return ["(unknown)"]
    return [p for p in patterns if "/" in p and kubelet_key_matches(p.partition("/")[0], registry)]


def encode_response(response: dict[str, object]) -> str:
    import json

    return json.dumps(response, separators=(",", ":")) + "\n"  # ASCII: a secret's code points as \\u escapes


# --------------------------------------------------------------------------------------------------------------
# command line


def parse_args(args: list[str]) -> tuple[str | None, bool]:
    """(the audience, token pass-through) of the provider's ``args``; UsageError for anything else."""
    audience: str | None = None
    pass_through = False
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == PASS_THROUGH and not pass_through:
            pass_through = True
        elif arg == AUDIENCE and audience is None and rest and rest[0].strip():
            audience = rest.pop(0)
        elif arg.startswith(AUDIENCE + "=") and audience is None and arg[len(AUDIENCE) + 1 :].strip():
            audience = arg[len(AUDIENCE) + 1 :]
        elif arg in (AUDIENCE, AUDIENCE + "="):
            raise UsageError(f"{AUDIENCE} needs the provider's serviceAccountTokenAudience; {USAGE}")
        else:
            raise UsageError(f"unexpected argument {shown(arg)}; {USAGE}")
    if pass_through and audience is None:
        raise UsageError(f"{PASS_THROUGH} needs {AUDIENCE}: the audience of the tokens it passes on; {USAGE}")
    return audience, pass_through


def answer_request(
    audience: str | None, pass_through: bool, data: bytes, environ: Mapping[str, str], now: float
) -> dict[str, object]:
    """The response to one request (stdin's bytes) for a provider started with these arguments (``parse_args``)."""
    from ..chain import Chain

    request = decode_request(data)
    image = parse_image(request.image)
    trace = Trace.from_environment(environ)
    chain = Chain(environ, trace=trace)
    if audience is None:
        if request.token is not None:
            trace(
                "kubelet: the request carries a service account token, which this provider (no --audience) "
                "ignores: groups limited to service accounts do not answer"
            )
        return respond(request.version, image, chain, environ)
    facts = None
    if request.token is not None:
        from ..kubelet_tokens import check_token

        facts = check_token(request.token, audience, now)
        trace(f"kubelet: service account token for {shown(str(facts.account))}, audience {shown(audience)}")
    else:
        trace("kubelet: the request carries no service account token: groups limited to service accounts do not answer")
    if pass_through:
        from ..sources.token_registries import TokenRegistries

        chain.source("env")  # as for every verb, a broken IMGPKG_REGISTRY_* or limit variable is an error
        registries = TokenRegistries(environ)
        return respond_with_token(request.version, image, registries, request.token, facts, environ, now, trace)
    if facts is not None:
        chain = Chain(environ, trace=trace, account=facts.account)
    return respond(request.version, image, chain, environ)


def main(args: list[str], environ: Mapping[str, str]) -> int:
    """One request on stdin, one response on stdout; a failure is one line on stderr and nothing on stdout."""

    def body() -> int:
        if args and args[0] in ("-h", "--help"):
            write_out(USAGE + "\n")
            return EXIT_OK
        import time

        audience, pass_through = parse_args(args)  # a usage error before stdin is read
        data = read_stdin(MAX_REQUEST_BYTES)
        text = encode_response(answer_request(audience, pass_through, data, environ, time.time()))
        failed = write_out(text)
        if failed is not None:
            raise HelperError(f"cannot write the response: {failed.strerror}")
        return EXIT_OK

    return guarded(body, lambda status, message, err: warn(message, "kubelet"))


def _describe(value: object) -> str:
    if isinstance(value, str):
        return shown(value)
    if value is None:
        return "missing"
    return {dict: "an object", list: "an array", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), "a value"
    )
