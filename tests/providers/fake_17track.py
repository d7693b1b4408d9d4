"""A stateful 17TRACK v2.2 stand-in built from the recorded fixture payloads.

It keeps the registered numbers and the quota, answers ``register``/``gettrackinfo``/
``getquota``/``retrack`` in the documented envelope (a stopped number restarts once),
enforces the 40-numbers limit and, when asked, the 3-requests-per-second limit over a
sliding one-second window (answering 429 beyond it).
"""

from __future__ import annotations

import copy
import time
from collections import deque
from typing import Any

from tests.providers.fake_server import FakeServer, Recorded, Reply, json_reply, load

__all__ = ["KEY", "PREFIX", "Fake17Track"]

KEY = "TEST17TRACKSECURITYKEY0000000000"
PREFIX = "/track/v2.2"

_IN_TRANSIT = load("seventeen_track/gettrackinfo_in_transit.json")["body"]["data"]["accepted"][0]
_RETURNING = load("seventeen_track/gettrackinfo_exception_returning.json")["body"]["data"][
    "accepted"
][0]


class Fake17Track:
    """Answers like 17TRACK; ``infos`` picks the track_info per number (default in transit)."""

    def __init__(
        self, *, quota: int = 200, rate_limit: int | None = None, window: float = 1.0
    ) -> None:
        self.registered: set[str] = set()
        self.stopped: set[str] = set()
        self.retracked: set[str] = set()
        self.invalid: set[str] = set()
        self.no_info: set[str] = set()
        self.infos: dict[str, dict[str, Any]] = {}
        self.quota = quota
        self.rate_limit = rate_limit
        self.window = window
        self.arrivals: deque[float] = deque()
        self.too_many = 0
        self.calls: dict[str, int] = {}
        self.numbers_tracked = 0

    def install(self, server: FakeServer) -> None:
        for action in ("register", "gettrackinfo", "getquota", "retrack"):
            server.route("POST", f"{PREFIX}/{action}", self.answer)

    def returning(self, number: str) -> None:
        self.infos[number] = _RETURNING["track_info"]

    # -- the API --

    def answer(self, request: Recorded) -> Reply:
        action = request.path.rsplit("/", 1)[-1]
        self.calls[action] = self.calls.get(action, 0) + 1
        if self.rate_limit is not None and self._over_limit():
            self.too_many += 1
            return json_reply(
                {"code": 429, "data": {"errors": [{"code": 429, "message": "Too many requests."}]}},
                status=429,
                headers={"retry-after": "1"},
            )
        if request.headers.get("17token") != KEY:
            return json_reply(load("seventeen_track/errors.json")["cases"][0]["body"], status=401)
        items = request.json()
        if len(items) > 40:
            return json_reply(load("seventeen_track/errors.json")["cases"][2]["body"])
        if action == "register":
            return json_reply(self._register(items))
        if action == "gettrackinfo":
            return json_reply(self._gettrackinfo(items))
        if action == "retrack":
            return json_reply(self._retrack(items))
        if action == "getquota":
            data = dict(load("seventeen_track/getquota_response.json")["body"]["data"])
            data["quota_remain"] = self.quota
            return json_reply({"code": 0, "data": data})
        return json_reply({"code": -1, "data": {"errors": []}}, status=404)

    def _over_limit(self) -> bool:
        now = time.monotonic()
        while self.arrivals and now - self.arrivals[0] >= self.window:
            self.arrivals.popleft()
        if self.rate_limit is not None and len(self.arrivals) >= self.rate_limit:
            return True
        self.arrivals.append(now)
        return False

    def _register(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        accepted, rejected = [], []
        for item in items:
            number = item["number"]
            if number in self.invalid:
                rejected.append(_badly_formed(number))
            elif number in self.registered:
                rejected.append(_rejected(number, -18019901, "Already registered."))
            elif self.quota <= 0:
                rejected.append(_rejected(number, -18019908, "Quota exhausted."))
            else:
                self.quota -= 1
                self.registered.add(number)
                accepted.append(
                    {"origin": 1, "number": number, "carrier": item.get("carrier", 21051)}
                )
        return {"code": 0, "data": {"accepted": accepted, "rejected": rejected}}

    def _retrack(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        accepted, rejected = [], []
        for item in items:
            number = item["number"]
            if number not in self.registered:
                rejected.append(
                    _rejected(number, -18019902, f"'{number}' does not register, register first.")
                )
            elif number in self.retracked:
                rejected.append(_rejected(number, -18019904, "Retrack is allowed only once."))
            elif number not in self.stopped:
                rejected.append(_rejected(number, -18019905, "The number is being tracked."))
            else:
                self.stopped.discard(number)
                self.retracked.add(number)
                accepted.append({"number": number, "carrier": item.get("carrier", 21051)})
        return {"code": 0, "data": {"accepted": accepted, "rejected": rejected}}

    def _gettrackinfo(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        accepted, rejected = [], []
        for item in items:
            number = item["number"]
            if number in self.invalid:
                rejected.append(_badly_formed(number))
            elif number not in self.registered:
                rejected.append(
                    _rejected(number, -18019902, f"'{number}' does not register, register first.")
                )
            elif number in self.no_info:
                rejected.append(_rejected(number, -18019909, "No tracking information yet."))
            else:
                self.numbers_tracked += 1
                entry = copy.deepcopy(_IN_TRANSIT)
                entry["number"] = number
                entry["carrier"] = item.get("carrier", 21051)
                if number in self.infos:
                    entry["track_info"] = copy.deepcopy(self.infos[number])
                accepted.append(entry)
        return {"code": 0, "data": {"accepted": accepted, "rejected": rejected}}


def _rejected(number: str, code: int, message: str) -> dict[str, Any]:
    return {"number": number, "error": {"code": code, "message": message}}


def _badly_formed(number: str) -> dict[str, Any]:
    return _rejected(number, -18010012, f"The format of '{number}' is invalid.")
