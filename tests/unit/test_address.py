"""Pure unit tests of client addresses (``address``) and imgpkg's hostname patterns (``sources.env_hostnames``);
the subprocess suite in tests/protocol is the contract, this pins pieces."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docker_credential_imgpkg.address import HUB_KEY, canonical_host, parse_target, split_port, store_key
from docker_credential_imgpkg.errors import HelperError
from docker_credential_imgpkg.sources.env_hostnames import parse_host_pattern, quick_host


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("gcr.io", ("gcr.io", "")),
        ("localhost:5000", ("localhost", "5000")),
        ("[::1]:5000", ("[::1]", "5000")),
        ("[::1]", ("[::1]", "")),
        ("host:", ("host:", "")),
        ("host:http", ("host:http", "")),
    ],
)
def test_split_port(value, expected):
    assert split_port(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("docker.io", "index.docker.io"),
        ("Registry-1.Docker.IO", "index.docker.io"),
        ("docker.io:443", "index.docker.io:443"),
        ("GCR.io:5000", "gcr.io:5000"),
        ("mydocker.io", "mydocker.io"),
    ],
)
def test_canonical_host(value, expected):
    assert canonical_host(value) == expected


@pytest.mark.parametrize(
    ("address", "host", "segments"),
    [
        ("gcr.io", "gcr.io", ()),
        ("https://GCR.io/v2/proj/img/", "gcr.io", ("proj", "img")),
        ("http://gcr.io/v1/", "gcr.io", ()),
        ("gcr.io//proj//img", "gcr.io", ("proj", "img")),
        ("docker.io/ubuntu", "index.docker.io", ("library", "ubuntu")),
        ("https://index.docker.io/v1/", "index.docker.io", ()),
        ("registry-1.docker.io/myorg/app", "index.docker.io", ("myorg", "app")),
        ("localhost:5000/a", "localhost:5000", ("a",)),
        ("gcr.io/v2x/a", "gcr.io", ("v2x", "a")),
    ],
)
def test_parse_target(address, host, segments):
    target = parse_target(address)
    assert (target.host, target.segments) == (host, segments)


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("https://index.docker.io/v1/", HUB_KEY),
        ("docker.io", HUB_KEY),
        ("https://index.docker.io/v1/access-token", "https://index.docker.io/v1/access-token"),
        ("https://index.docker.io/v1/refresh-token", "https://index.docker.io/v1/refresh-token"),
        ("https://myreg.example.com:5000/v2/", "myreg.example.com:5000"),
        ("gcr.io/proj/", "gcr.io/proj"),
        ("docker.io/library/ubuntu", "index.docker.io/library/ubuntu"),
    ],
)
def test_store_key(address, key):
    assert store_key(address) == key


def test_hub_token_keys_are_verbatim_only():
    key = "https://index.docker.io/v1/access-token"
    assert parse_target(key).web_login_key == key
    assert not parse_target("docker.io/v1/access-token").web_login_key
    assert not parse_target("https://index.docker.io/v1/").web_login_key


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("gcr.io", "gcr.io"),
        ("https://gcr.io/v2/", "gcr.io"),
        ("HTTPS://GCR.IO/v1/proj/", "gcr.io/proj"),
        ("gcr.io/v2", "gcr.io/v2"),
        ("gcr.io?x=1", "gcr.io"),
        ("docker.io", "index.docker.io"),
        ("*.gcr.io:5000/a/b/", "*.gcr.io:5000/a/b"),
        ("[::1]:5000", "[::1]:5000"),
    ],
)
def test_host_pattern_key(value, key):
    assert parse_host_pattern(value).key == key


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[gq]cr.io", 'Parsing registry hostname: parse "https://[gq]cr.io": invalid port "cr.io" after host'),
        ("gcr.io quay.io", 'parse "https://gcr.io quay.io": invalid character " " in host name'),
        ("http://%41:8080/", 'parse "http://%41:8080/": invalid URL escape "%41"'),
        ("[", "missing ']' in host"),
    ],
)
def test_host_pattern_errors(value, message):
    with pytest.raises(HelperError) as info:
        parse_host_pattern(value)
    assert message in str(info.value)
    assert str(info.value).endswith("(e.g. gcr.io, index.docker.io)")


@pytest.mark.parametrize(
    ("pattern", "target", "matches"),
    [
        ("gcr.io", "gcr.io/a", True),
        ("*.gcr.io", "us.gcr.io", True),
        ("*.gcr.io", "gcr.io", False),
        ("u*s.gcr.io", "us.gcr.io", True),
        ("u*x*s.gcr.io", "uxs.gcr.io", True),
        ("u*x*s.gcr.io", "us.gcr.io", False),
        ("gcr.io/a", "gcr.io/ab", False),
        ("gcr.io/a", "gcr.io/a/b", True),
        ("gcr.io:5000", "gcr.io", False),
        ("", "gcr.io", False),
    ],
)
def test_host_pattern_matches(pattern, target, matches):
    assert parse_host_pattern(pattern).matches(parse_target(target)) is matches


_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=8).filter(
    lambda label: label not in ("v1", "v2")  # a leading /v1/ or /v2/ is API noise, stripped once
)
_host = st.lists(_label, min_size=1, max_size=4).map(".".join)
_path = st.lists(_label, max_size=3).map(lambda parts: "".join("/" + p for p in parts))
_address = st.builds(
    lambda scheme, host, port, path, slash: scheme + host + port + path + slash,
    st.sampled_from(["", "https://", "http://", "HTTPS://"]),
    _host,
    st.sampled_from(["", ":5000", ":443"]),
    _path,
    st.sampled_from(["", "/"]),
)


@settings(max_examples=300, deadline=None)
@given(_address)
def test_store_key_is_idempotent(address):
    key = store_key(address)
    assert store_key(key) == key


@settings(max_examples=300, deadline=None)
@given(_address)
def test_an_address_matches_its_own_plain_hostname_pattern(address):
    target = parse_target(address)
    assert parse_host_pattern(target.host + target.path).matches(target)


@given(
    st.text(alphabet="abcXYZ019.-_:/*", max_size=24)
    | st.sampled_from(["docker.io", "DOCKER.IO:5000", "registry-1.docker.io/x", "a.b:", ":5000", "gcr.io:abc"]),
    st.sampled_from(["", "https://", "http://", "HTTPS://", "Http://"]),
)
def test_quick_host_agrees_with_the_full_parse(body, scheme):
    """The fast index used for thousands of HOSTNAME variables must agree with the full Go-style parse."""
    value = scheme + body
    quick = quick_host(value)
    if quick is None:
        return
    pattern = parse_host_pattern(value)
    assert quick == pattern.host + (":" + pattern.port if pattern.port else "")
