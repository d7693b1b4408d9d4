"""A loopback TikTok Shop Partner API built from the recorded payloads: it checks every
signature, timestamp and token like the real API before it answers."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from core.providers import tiktok_shop as tts
from tests.fakes import FakeClock
from tests.providers.fake_server import Answer, FakeServer, Recorded, Reply, json_reply, load

APP_KEY = "test_app_key"
APP_SECRET = "test_app_secret"
ORDER = "576486316948490001"
NEW_TOKEN = "TTP_access_new_xxx"
ERRORS = {c["name"]: c for c in load("tiktok_shop/errors.json")["cases"]}
ORDER_DETAIL = load("tiktok_shop/get_order_detail_202309.in_transit.json")["body"]
ORDER_LIST = load("tiktok_shop/get_order_list_202309.json")["body"]
SHOPS = load("tiktok_shop/get_authorized_shops_202309.json")["body"]
TRACKING = load("tiktok_shop/get_tracking_202309.json")["body"]
PACKAGE = load("tiktok_shop/get_package_detail_202309.json")["body"]
REFRESH = load("tiktok_shop/token_refresh.json")["body"]
NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
SHOPS_PATH = "/authorization/202309/shops"


def error_reply(case: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    """The recorded error envelope ``case`` of errors.json, answered with ``status``."""
    return json_reply(ERRORS[case]["body"], status, headers)


def serve_shops(fake: FakeServer, *answers: Answer) -> None:
    fake.route("GET", SHOPS_PATH, *answers)


class FakeTikTok:
    """Checks signature, timestamp and token like the real API, then serves fixtures."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.valid_tokens = {"TTP_access_old"}
        self.refreshes: list[Recorded] = []
        self.bad_signatures = 0
        self.shops = self.api(lambda r: SHOPS)

    def install(self, server: FakeServer) -> None:
        server.route("GET", SHOPS_PATH, self.shops)
        server.route("GET", "/order/202309/orders", self.api(self._orders))
        server.route("POST", "/order/202309/orders/search", self.api(self._search))
        server.route(
            "GET", f"/fulfillment/202309/orders/{ORDER}/tracking", self.api(lambda r: TRACKING)
        )
        server.route(
            "GET", "/fulfillment/202309/packages/1153132168123859123", self.api(lambda r: PACKAGE)
        )
        server.route("GET", "/api/v2/token/refresh", self.refresh)

    def check(self, request: Recorded) -> Reply | None:
        expected = tts.sign(APP_SECRET, request.path, request.query, request.body)
        if request.query.get("sign") != expected or request.query.get("app_key") != APP_KEY:
            self.bad_signatures += 1
            return error_reply("invalid_sign", 401)
        skew = self.clock.now().timestamp() - int(request.query["timestamp"])
        if not -30 <= skew <= 300:
            return error_reply("invalid_sign", 401)
        if request.headers.get("x-tts-access-token") not in self.valid_tokens:
            return error_reply("access_token_expired", 401)
        scoped = not request.path.startswith("/authorization/")
        if scoped and request.query.get("shop_cipher") != "TTP_abcdefghijklmnopqrstuv":
            return json_reply({"code": 106013, "message": "missing shop_cipher", "data": None})
        if not scoped and "shop_cipher" in request.query:
            return json_reply({"code": 36009004, "message": "unexpected shop_cipher", "data": None})
        return None

    def api(self, produce: Any) -> Any:
        def answer(request: Recorded) -> Reply:
            refused = self.check(request)
            return refused if refused is not None else json_reply(produce(request))

        return answer

    def refresh(self, request: Recorded) -> Reply:
        self.refreshes.append(request)
        if request.query.get("refresh_token") != "TTP_refresh_xxx":
            return json_reply({"code": 36004, "message": "invalid refresh token", "data": None})
        self.valid_tokens = {NEW_TOKEN}
        return json_reply(REFRESH)

    @staticmethod
    def _orders(request: Recorded) -> dict[str, Any]:
        ids = request.query["ids"].split(",")
        assert len(ids) <= tts.MAX_ORDER_IDS
        body = copy.deepcopy(ORDER_DETAIL)
        body["data"]["orders"] = [o for o in body["data"]["orders"] if o["id"] in ids]
        return body  # type: ignore[no-any-return]

    @staticmethod
    def _search(request: Recorded) -> dict[str, Any]:
        assert request.json()["update_time_ge"] == 1767000000
        body = copy.deepcopy(ORDER_LIST)
        if request.query.get("page_token") != "page2":
            body["data"]["orders"] = body["data"]["orders"][:2]
            body["data"]["next_page_token"] = "page2"
        else:
            body["data"]["orders"] = body["data"]["orders"][2:]
        return body  # type: ignore[no-any-return]


def tokens(expires_in: timedelta) -> tts.TokenSet:
    return tts.TokenSet(
        access_token="TTP_access_old",
        access_expires_at=NOW + expires_in,
        refresh_token="TTP_refresh_xxx",
        refresh_expires_at=NOW + timedelta(days=300),
    )
