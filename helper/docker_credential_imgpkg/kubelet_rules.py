"""The kubelet's own rules, where the provider and ``configure kubelet`` both need them: the API versions of the
plugin protocol and of its config file, how its keyring matches an ``auth`` key against an image
(kubernetes ``pkg/credentialprovider/keyring.go``: ``URLsMatchStr``, ``isDefaultRegistryMatch``), and Go's
duration syntax (``time.ParseDuration``), in which the kubelet reads cache durations."""

from __future__ import annotations

PLUGIN_GROUP = "credentialprovider.kubelet.k8s.io"
PLUGIN_API = PLUGIN_GROUP + "/v1"
PLUGIN_APIS = (PLUGIN_API, PLUGIN_GROUP + "/v1beta1")  # what the provider answers, in the request's version
CONFIG_API = "kubelet.config.k8s.io/v1"
CONFIG_APIS = (CONFIG_API, "kubelet.config.k8s.io/v1beta1", "kubelet.config.k8s.io/v1alpha1")
CONFIG_KIND = "CredentialProviderConfig"
REQUEST_KIND = "CredentialProviderRequest"
RESPONSE_KIND = "CredentialProviderResponse"
DOCKER_HUB_KEY = "index.docker.io"  # the auth key the keyring also applies to images without a registry part


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
    return key == DOCKER_HUB_KEY and _is_default_registry_match(image)


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
