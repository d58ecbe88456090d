"""The fast name check of ``docker_credential_imgpkg.sources.env`` (counting over joined names) must agree with
the plain rule."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from docker_credential_imgpkg.sources.env import _EXACT_NAMES, _SUFFIXED_PREFIXES, _first_unknown

FIELDS = [b"HOSTNAME", b"USERNAME", b"PASSWORD", b"IDENTITY_TOKEN", b"REGISTRY_TOKEN", b"AZURE_CR_CONFIG", b"BOGUS"]
names = st.builds(
    lambda field, sep, suffix: b"IMGPKG_REGISTRY_" + field + sep + suffix,
    st.sampled_from([*FIELDS, b"HOSTNAMEX", b"hostname", b""]),
    st.sampled_from([b"", b"_", b"X", b"\n"]),
    st.binary(max_size=6),
)


def plain_rule(found: list[bytes]) -> bytes | None:
    return next((n for n in found if n not in _EXACT_NAMES and not n.startswith(_SUFFIXED_PREFIXES)), None)


@given(st.lists(names, unique=True, max_size=12))
def test_fast_name_check_agrees_with_the_rule(found):
    assert _first_unknown(found) == plain_rule(found)
