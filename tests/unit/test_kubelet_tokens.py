"""``docker_credential_imgpkg.kubelet_tokens`` in process: the claim checks on payloads no real token has (the
suites through the program cover the ordinary ones), the limits' syntax, and the env source's limited groups."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from docker_credential_imgpkg.errors import HelperError
from docker_credential_imgpkg.kubelet_tokens import Account, AccountLimit, TokenError, check_token, is_known_name
from docker_credential_imgpkg.sources.env import EnvSource

NOW = 1_800_000_000.0
AUD = "pull.example.com"


def token(payload: bytes) -> str:
    return "eyJhbGciOiJFUzI1NiJ9." + base64.urlsafe_b64encode(payload).rstrip(b"=").decode() + ".c2ln"


def claims(**changes: object) -> dict[str, object]:
    found: dict[str, object] = {
        "aud": [AUD],
        "exp": NOW + 600,
        "kubernetes.io": {"namespace": "team-a", "serviceaccount": {"name": "builder"}},
    }
    found.update(changes)
    return found


def test_a_good_token_names_its_account_and_expiry():
    facts = check_token(token(json.dumps(claims()).encode()), AUD, NOW)
    assert (str(facts.account), facts.expires) == ("team-a/builder", NOW + 600)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"aud": [1, 2]}, "audience"),
        ({"aud": {"x": AUD}}, "audience"),
        ({"exp": True}, "exp claim"),
        ({"exp": NOW}, "expired at"),  # exp must be later than now
        ({"nbf": "soon"}, "nbf claim"),
        ({"kubernetes.io": {"namespace": "", "serviceaccount": {"name": "x"}}}, "namespace"),
        ({"kubernetes.io": {"namespace": "a", "serviceaccount": {"name": 7}}}, "service account"),
    ],
)
def test_claims_of_the_wrong_type_are_refused(changes, fragment):
    with pytest.raises(TokenError, match=fragment):
        check_token(token(json.dumps(claims(**changes)).encode()), AUD, NOW)


@pytest.mark.parametrize(
    "payload", [b'{"exp": NaN}', b'{"exp": Infinity}', b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe", b"null"]
)
def test_payloads_that_are_not_plain_json_objects_are_refused(payload):
    with pytest.raises(TokenError) as caught:
        check_token(token(payload), AUD, NOW)
    assert "payload" in str(caught.value) or "exp" in str(caught.value)


def test_an_absurd_expiry_is_bounded_and_an_absurd_past_one_is_shown():
    facts = check_token(token(json.dumps(claims(exp=10**400)).encode()), AUD, NOW)
    assert facts.expires == 1e18
    with pytest.raises(TokenError, match="seconds since 1970"):
        check_token(token(json.dumps(claims(exp=-1e300)).encode()), AUD, NOW)


def test_nbf_allows_a_minute_of_clock_skew():
    check_token(token(json.dumps(claims(nbf=NOW + 59)).encode()), AUD, NOW)
    with pytest.raises(TokenError, match="not valid before"):
        check_token(token(json.dumps(claims(nbf=NOW + 61)).encode()), AUD, NOW)


@given(st.text(max_size=40))
def test_no_message_ever_shows_the_token(text):
    raw = token(text.encode("utf-8", "surrogatepass")) + text
    try:
        check_token(raw, AUD, NOW)
    except TokenError as err:
        for part in raw.split("."):
            if len(part) > 8:
                assert part not in str(err)


@pytest.mark.parametrize(
    ("value", "team_a_x", "team_b_builder", "team_b_other"),
    [
        ("team-a/*", True, False, False),
        ("team-b/builder", False, True, False),
        (" team-a/* ,, team-b/builder ,", True, True, False),
        ("team-b/builder.v2,team-b/builder", False, True, False),
    ],
)
def test_limits(value, team_a_x, team_b_builder, team_b_other):
    limit = AccountLimit("V", value)
    assert limit.allows(Account("team-a", "x")) is team_a_x
    assert limit.allows(Account("team-b", "builder")) is team_b_builder
    assert limit.allows(Account("team-b", "other")) is team_b_other
    assert limit.allows(None) is False


@pytest.mark.parametrize("value", ["Team-A/*", "team_a/x", "-a/x", "a/x..y", "a/" + "x" * 254, "a" * 64 + "/*", ""])
def test_limits_kubernetes_names_could_never_match_are_refused(value):
    with pytest.raises(HelperError, match=r"^V"):
        AccountLimit("V", value)


def test_known_names():
    prefix = "DOCKER_CREDENTIAL_IMGPKG_KUBELET_"
    assert is_known_name(prefix + "CACHE") and is_known_name(prefix + "SERVICE_ACCOUNTS_x")
    assert is_known_name(prefix + "TOKEN_REGISTRY") and is_known_name(prefix + "TOKEN_USERNAME_1")
    assert not is_known_name(prefix + "CACHE_1") and not is_known_name(prefix + "SERVICE_ACCOUNTSX")


def env(**limits: str) -> dict[str, str]:
    groups = {
        "IMGPKG_REGISTRY_HOSTNAME_A": "reg.example.com",
        "IMGPKG_REGISTRY_USERNAME_A": "a",
        "IMGPKG_REGISTRY_PASSWORD_A": "a-secret",
        "IMGPKG_REGISTRY_HOSTNAME_B": "reg.example.com/team",
        "IMGPKG_REGISTRY_USERNAME_B": "b",
        "IMGPKG_REGISTRY_PASSWORD_B": "b-secret",
    }
    return groups | {f"DOCKER_CREDENTIAL_IMGPKG_KUBELET_SERVICE_ACCOUNTS_{k}": v for k, v in limits.items()}


def test_limited_groups_are_left_out_of_list_keys_and_patterns_unless_they_apply():
    from docker_credential_imgpkg.debug import Trace

    off = Trace(False)
    plain = EnvSource(env(B="team-a/*"))
    assert plain.patterns(off) == ["reg.example.com"]
    assert [e.label for e in plain.limited()] == ["IMGPKG_REGISTRY_HOSTNAME_B=reg.example.com/team"]
    for_team_a = EnvSource(env(B="team-a/*"), Account("team-a", "x"))
    assert for_team_a.patterns(off) == ["reg.example.com", "reg.example.com/team"]
    assert EnvSource(env(B="team-a/*"), Account("team-b", "x")).patterns(off) == ["reg.example.com"]
