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
"""

from __future__ import annotations

from .. import PROGRAM
from ..address import HUB_DOMAIN, Image, parse_image
from ..errors import HelperError, UsageError, shown
from ..kubelet_rules import PLUGIN_APIS, REQUEST_KIND, RESPONSE_KIND, kubelet_key_matches, parse_go_duration
from ..protocol import NotFound
from ..stdio import EXIT_OK, guarded, read_stdin, warn, write_out

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..chain import Chain
    from ..sources import Match

CACHE_VAR = "DOCKER_CREDENTIAL_IMGPKG_KUBELET_CACHE"
MAX_REQUEST_BYTES = 1 << 20  # a request is an image name and perhaps a service account token: a few KiB
USAGE = f"Usage: {PROGRAM} kubelet  (the kubelet writes a CredentialProviderRequest to its standard input)"


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


def decode_request(data: bytes) -> tuple[str, str]:
    """(apiVersion, image) of a CredentialProviderRequest; other fields (serviceAccountToken, ...) are ignored."""
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
    return version, image


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
    order = ("apiVersion", "kind", "cacheKeyType", "cacheDuration", "auth")
    return {name: response[name] for name in order if name in response}


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


def main(args: list[str], environ: Mapping[str, str]) -> int:
    """One request on stdin, one response on stdout; a failure is one line on stderr and nothing on stdout."""

    def body() -> int:
        if args and args[0] in ("-h", "--help"):
            write_out(USAGE + "\n")
            return EXIT_OK
        if args:
            raise UsageError(f"unexpected argument {shown(args[0])}; {USAGE}")
        from ..chain import Chain

        version, image = decode_request(read_stdin(MAX_REQUEST_BYTES))
        text = encode_response(respond(version, parse_image(image), Chain(environ), environ))
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
