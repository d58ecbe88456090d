"""``docker-credential-imgpkg kubelet``: the kubelet's image credential provider protocol, over the chain ``get`` uses.

The kubelet runs the plugin with a ``CredentialProviderRequest`` on stdin and reads a ``CredentialProviderResponse``
from stdout (credentialprovider.kubelet.k8s.io ``v1``, or ``v1beta1`` on older kubelets; the answer is in the
request's version). A failure is one line on stderr and a non-zero exit, which the kubelet logs and then pulls
without this provider's credentials. The rules the kubelet applies to the answer, which shape it here
(kubernetes ``pkg/credentialprovider/plugin/plugin.go`` and ``keyring.go``):

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

import os
import sys

from . import PROGRAM
from .address import HUB_DOMAIN, Image, parse_image
from .errors import HelperError, NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .chain import Chain
    from .sources import Match

GROUP = "credentialprovider.kubelet.k8s.io"
API_VERSIONS = (GROUP + "/v1", GROUP + "/v1beta1")
REQUEST_KIND = "CredentialProviderRequest"
RESPONSE_KIND = "CredentialProviderResponse"
CACHE_VAR = "DOCKER_CREDENTIAL_IMGPKG_KUBELET_CACHE"
MAX_REQUEST_BYTES = 1 << 20  # a request is an image name and perhaps a service account token: a few KiB
USAGE = f"Usage: {PROGRAM} kubelet  (the kubelet writes a CredentialProviderRequest to its standard input)"


# --------------------------------------------------------------------------------------------------------------
# the kubelet's own matching (keyring.go: URLsMatchStr, isDefaultRegistryMatch), to check a key before using it


def kubelet_key_matches(key: str, image: str) -> bool:
    """Whether the kubelet's keyring would apply an ``auth`` entry keyed ``key`` to ``image``."""
    key_host, key_path = _split_url(key)
    image_host, image_path = _split_url(image)
    key_labels, key_port = _labels_and_port(key_host)
    image_labels, image_port = _labels_and_port(image_host)
    if key_port == image_port and len(key_labels) == len(image_labels) and image_path.startswith(key_path):
        from fnmatch import fnmatchcase  # Go's filepath.Match for what hosts can hold: * ? and [...]

        if all(fnmatchcase(label, glob) for glob, label in zip(key_labels, image_labels, strict=True)):
            return True
    return key == "index.docker.io" and _is_default_registry_match(image)


def _split_url(text: str) -> tuple[str, str]:
    """Host and path as Go's ``url.Parse("https://" + text)`` sees them (query and fragment cut)."""
    for mark in "?#":
        text = text.partition(mark)[0]
    host, slash, path = text.partition("/")
    return host, slash + path


def _labels_and_port(host: str) -> tuple[list[str], str]:
    """``net.SplitHostPort``, falling back to the whole host without a port, then split into labels."""
    if host.startswith("["):
        end = host.find("]")
        if end != -1 and host[end + 1 : end + 2] == ":":
            return host[1:end].split("."), host[end + 2 :]
        return host.split("."), ""
    if host.count(":") == 1:
        name, _, port = host.partition(":")
        return name.split("."), port
    return host.split("."), ""


def _is_default_registry_match(image: str) -> bool:
    first, slash, _ = image.partition("/")
    if not first:
        return False
    return not slash or first in ("docker.io", "index.docker.io") or not any(c in first for c in ".:")


# --------------------------------------------------------------------------------------------------------------
# Go durations


_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9}
_UNITS["h"] = 60 * _UNITS["m"]
_MAX_NANOSECONDS = (1 << 63) - 1


def parse_go_duration(text: str) -> int:
    """Nanoseconds of a Go ``time.ParseDuration`` string (``5m``, ``1h30m``, ``1.5h``, ``0``); ValueError where Go
    would refuse it."""
    import re

    sign, rest = (-1 if text[:1] == "-" else 1), text[1:] if text[:1] in ("-", "+") else text
    if rest == "0":
        return 0
    if not rest:
        raise ValueError("no number")
    total = 0
    for whole, dot, fraction, unit in re.findall(r"([0-9]*)(\.?)([0-9]*)([^0-9.]*)", rest)[:-1]:
        if not (whole or fraction) or (fraction and not dot):
            raise ValueError("a number must come before each unit")
        scale = _UNITS.get(unit)
        if scale is None:
            raise ValueError(f"unknown unit {unit!r} (ns, us, ms, s, m, h)" if unit else "missing unit")
        total += int(whole or "0") * scale + (int(fraction) * scale // 10 ** len(fraction) if fraction else 0)
        if total > _MAX_NANOSECONDS:
            raise ValueError("out of range")
    return sign * total


def cache_duration(environ: os._Environ[str] | dict[str, str]) -> str | None:
    """``DOCKER_CREDENTIAL_IMGPKG_KUBELET_CACHE`` checked as the kubelet will parse it; None when unset or empty."""
    value = environ.get(CACHE_VAR, "").strip()
    if not value:
        return None
    try:
        nanoseconds = parse_go_duration(value)
    except ValueError as err:
        raise HelperError(
            f"{CACHE_VAR}={_quote(value)} is not a Go duration ({err}); write it like 5m, 1h30m or 0s"
        ) from None
    if nanoseconds < 0:
        raise HelperError(f"{CACHE_VAR}={_quote(value)} is negative; write 0s to turn the kubelet's cache off")
    return value


# --------------------------------------------------------------------------------------------------------------
# request and response


def decode_request(data: bytes) -> tuple[str, str]:
    """(apiVersion, image) of a CredentialProviderRequest; other fields (serviceAccountToken, ...) are ignored."""
    from .safe_files import load_json_object

    if not data.strip():
        raise HelperError(f"empty standard input: expected a {REQUEST_KIND} JSON object")
    request = load_json_object(data, "the request")
    kind = request.get("kind")
    if kind != REQUEST_KIND:
        raise HelperError(f"the request's kind is {_describe(kind)}, expected {REQUEST_KIND!r}")
    version = request.get("apiVersion")
    if version not in API_VERSIONS:
        raise HelperError(
            f"the request's apiVersion is {_describe(version)}; this plugin speaks {' and '.join(API_VERSIONS)}"
        )
    image = request.get("image")
    if image is None or image == "":
        raise HelperError("the request names no image")
    if not isinstance(image, str):
        raise HelperError(f"the request's image must be a string, got {_describe(image)}")
    assert isinstance(version, str)
    return version, image


def respond(version: str, image: Image, chain: Chain, environ: os._Environ[str] | dict[str, str]) -> dict:
    """The CredentialProviderResponse for ``image`` (``auth`` left out when nothing can be given)."""
    duration = cache_duration(environ)
    response: dict[str, object] = {"apiVersion": version, "kind": RESPONSE_KIND, "cacheKeyType": "Image"}
    try:
        match = chain.lookup(image.address)
    except NotFound:
        chain.trace(f"kubelet: no credentials for {image.repository}: answering without auth")
        match = None
    if match is not None and match.credentials.is_identity_token:
        sys.stderr.write(
            f"{PROGRAM} kubelet: {match.entry} answers {image.repository} with an identity token, which the kubelet "
            "cannot use (it takes only a username and password); answering without credentials\n"
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
        chain.trace(f"kubelet: the kubelet would not apply {key!r} to {image.repository!r}: keyed by the repository")
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
    from .address import match_key, parse_target

    registry = image.registry or HUB_DOMAIN
    patterns: list[str] = []
    try:
        patterns += chain.source("env").patterns()  # type: ignore[attr-defined]
        for name in ("store", "docker"):
            patterns += [match_key(parse_target(k)) for k in chain.source(name).list_keys()]
    except HelperError as err:
        chain.trace(f"kubelet: cannot list every entry ({err})")
        return ["(unknown)"]
    return [p for p in patterns if "/" in p and kubelet_key_matches(p.partition("/")[0], registry)]


def encode_response(response: dict) -> str:
    import json

    return json.dumps(response, separators=(",", ":")) + "\n"  # ASCII: a secret's code points as \u escapes


# --------------------------------------------------------------------------------------------------------------
# command line


def main(args: list[str]) -> int:
    if args:
        if args[0] in ("-h", "--help"):
            sys.stdout.write(USAGE + "\n")
            return 0
        return _fail(f"unexpected argument {_quote(args[0])}; {USAGE}", 2)
    from .chain import Chain
    from .cli import read_stdin

    environ = os.environ
    try:
        version, image = decode_request(read_stdin(MAX_REQUEST_BYTES))
        text = encode_response(respond(version, parse_image(image), Chain(environ), environ))
    except HelperError as err:
        return _fail(str(err), 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 1)
    except Exception as err:  # never a traceback: its text could carry a secret
        from .cli import internal_error

        return _fail(internal_error(err), 1)
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as err:
        return _fail(f"cannot write the response: {err.strerror}", 1)
    return 0


def _fail(message: str, status: int) -> int:
    """One line on stderr (the kubelet logs it with the failure), nothing on stdout."""
    try:
        sys.stderr.write(f"{PROGRAM} kubelet: {' '.join(message.splitlines())}\n")
    except (OSError, ValueError):
        pass
    return status


def _quote(text: str, limit: int = 200) -> str:
    """A request value in a message: quoted, control characters escaped, long values cut."""
    shown = repr(text[:limit])
    return shown + ("..." if len(text) > limit else "")


def _describe(value: object) -> str:
    if isinstance(value, str):
        return _quote(value)
    if value is None:
        return "missing"
    return {dict: "an object", list: "an array", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), "a value"
    )
