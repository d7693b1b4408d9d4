"""Request signing and webhook signatures on every published and synthetic vector."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from core.providers import aftership, seventeen_track, tiktok_shop
from tests.providers.fake_server import load

SIGNING = load("tiktok_shop/request_signing_vectors.json")["vectors"]
TIKTOK_HOOKS = load("tiktok_shop/webhook_signature_vectors.json")["vectors"]
SEVENTEEN = load("seventeen_track/webhook_vectors.json")
AFTERSHIP = load("aftership/webhook_vectors.json")


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["name"] for v in vectors]


@dataclass(frozen=True)
class BodySignature:
    """A push signature over the raw body with one secret, and its published vectors."""

    verify: Callable[[str, bytes, str], bool]
    secret: str
    header: str  # the vector field holding the expected header value
    vectors: list[dict[str, Any]]
    edit: tuple[bytes, bytes]  # a change to a vector's body that must break its signature


BODY_SIGNATURES = {
    "seventeen_track": BodySignature(
        seventeen_track.verify_push_signature,
        SEVENTEEN["security_key"],
        "expected_sign",
        SEVENTEEN["vectors"],
        (b"InTransit_Other", b"Delivered_Other"),
    ),
    "aftership": BodySignature(
        aftership.verify_webhook_signature,
        AFTERSHIP["webhook_secret"],
        "expected_header",
        AFTERSHIP["vectors"],
        (b"InTransit_007", b"Delivered_001"),
    ),
}


@pytest.mark.parametrize("vector", SIGNING, ids=_ids(SIGNING))
def test_tiktok_base_string_and_sign_match_every_vector(vector: dict[str, Any]) -> None:
    body = vector["body"].encode()
    base = tiktok_shop.build_base_string(vector["path"], vector["query"], body)
    assert base == vector["base_string"].encode()
    assert (
        tiktok_shop.sign(vector["app_secret"], vector["path"], vector["query"], body)
        == (vector["expected_sign"])
    )


def test_signing_vectors_cover_the_documented_cases() -> None:
    signs = {v["expected_sign"][:8] for v in SIGNING}
    assert {"b596b73e", "ed58e1b5", "701dd6de", "cd0d6268", "d3cb7fe1"} <= signs
    assert len(SIGNING) == 6


def test_json_key_order_changes_the_signature() -> None:
    by_name = {v["name"]: v for v in SIGNING}
    a = by_name["sdk_update_webhook_put_with_body"]
    b = by_name["doc_update_webhook_body_doc_order"]
    assert json.loads(a["body"]) == json.loads(b["body"])
    assert a["expected_sign"] != b["expected_sign"]


def test_multipart_bodies_are_not_signed() -> None:
    vector = SIGNING[0]
    plain = tiktok_shop.sign(vector["app_secret"], vector["path"], vector["query"])
    multipart = tiktok_shop.sign(
        vector["app_secret"], vector["path"], vector["query"], b"--boundary", multipart=True
    )
    assert plain == multipart == vector["expected_sign"]


def test_build_request_signs_the_bytes_it_sends() -> None:
    vector = {v["name"]: v for v in SIGNING}["sdk_update_webhook_put_with_body"]
    request = tiktok_shop.build_request(
        "PUT",
        vector["path"],
        app_key=vector["query"]["app_key"],
        app_secret=vector["app_secret"],
        access_token="TTP_token",
        timestamp=int(vector["query"]["timestamp"]),
        body={"event_type": "PACKAGE_UPDATE", "address": "https://partner.tiktokshop.com"},
        shop_cipher=vector["query"]["shop_cipher"],
    )
    assert request.body == vector["body"].encode()
    assert request.query["sign"] == vector["expected_sign"]
    assert request.headers["x-tts-access-token"] == "TTP_token"
    assert "access_token" not in request.query


def test_build_request_leaves_shop_cipher_off_authorization_paths() -> None:
    vector = SIGNING[0]
    request = tiktok_shop.build_request(
        "GET",
        vector["path"],
        app_key=vector["query"]["app_key"],
        app_secret=vector["app_secret"],
        access_token="t",
        timestamp=int(vector["query"]["timestamp"]),
        shop_cipher="ROW_cipher",
    )
    assert "shop_cipher" not in request.query
    assert request.query["sign"] == vector["expected_sign"]
    assert request.body is None


def test_array_params_are_comma_joined_before_signing() -> None:
    request = tiktok_shop.build_request(
        "GET",
        "/order/202309/orders",
        app_key="k",
        app_secret="s",
        access_token="t",
        timestamp=1,
        query={"ids": ["1", "2"]},
    )
    assert request.query["ids"] == "1,2"
    assert request.query["sign"] == tiktok_shop.sign(
        "s", "/order/202309/orders", {"ids": "1,2", "app_key": "k", "timestamp": "1"}
    )


@pytest.mark.parametrize("vector", TIKTOK_HOOKS, ids=_ids(TIKTOK_HOOKS))
def test_tiktok_webhook_vectors(vector: dict[str, Any]) -> None:
    valid = tiktok_shop.verify_webhook_signature(
        vector["app_key"],
        vector["app_secret"],
        vector["raw_body"].encode(),
        vector["expected_authorization"],
    )
    assert valid is vector.get("expect_valid", True)


def test_tiktok_webhook_rejects_wrong_key_and_empty_header() -> None:
    vector = TIKTOK_HOOKS[0]
    body = vector["raw_body"].encode()
    header = vector["expected_authorization"]
    assert not tiktok_shop.verify_webhook_signature("other", vector["app_secret"], body, header)
    assert not tiktok_shop.verify_webhook_signature(vector["app_key"], "x", body, header)
    assert not tiktok_shop.verify_webhook_signature(
        vector["app_key"], vector["app_secret"], body, ""
    )


@pytest.mark.parametrize(
    ("scheme", "vector"),
    [
        pytest.param(scheme, vector, id=f"{name}-{vector['name']}")
        for name, scheme in BODY_SIGNATURES.items()
        for vector in scheme.vectors
    ],
)
def test_body_signature_vectors(scheme: BodySignature, vector: dict[str, Any]) -> None:
    valid = scheme.verify(scheme.secret, vector["raw_body"].encode(), vector[scheme.header])
    assert valid is vector.get("expect_valid", True)


@pytest.mark.parametrize("scheme", BODY_SIGNATURES.values(), ids=BODY_SIGNATURES.keys())
def test_body_signature_rejects_a_changed_body(scheme: BodySignature) -> None:
    vector = scheme.vectors[0]
    body = vector["raw_body"].encode().replace(*scheme.edit)
    assert not scheme.verify(scheme.secret, body, vector[scheme.header])
