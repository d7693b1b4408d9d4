"""17TRACK Tracking API v2.2: a ``TrackingProvider`` for any carrier 17TRACK knows.

Every endpoint is ``POST <base>/<action>`` with a JSON array body and the ``17token`` header.
Limits: 40 numbers per request and 3 requests per second per key, so all calls of a client
share one rate limiter. A number must be registered (billed once) before ``gettrackinfo``
returns anything; the client asks ``gettrackinfo`` first and registers only the numbers
17TRACK does not know yet, so steady-state polling costs one call per 40 numbers and no quota.
Vendor vocabulary becomes ``Status``/``IncidentReason`` here (statuses.md §4).

Inside (private: outside this package import only what this module exports, import-linter
holds it): ``units`` (17TRACK's vocabulary → our enums and errors), ``parse`` (answers →
``Shipment``/``Quota``), ``push`` (push bodies), ``signing`` (push signatures) and ``client``
(``SeventeenTrackClient``, the only I/O). The package may import the standard library,
``core.models``/``errors``/``ports``, the shared ``core.providers.http`` and ``_common``,
httpx; nothing from storage or bots.
"""

from __future__ import annotations

from core.providers.seventeen_track.client import SeventeenTrackClient, make_limiter
from core.providers.seventeen_track.parse import Quota, build_items, parse_quota, parse_track_info
from core.providers.seventeen_track.push import PushEvent, parse_push
from core.providers.seventeen_track.signing import push_signature, verify_push_signature
from core.providers.seventeen_track.units import (
    BASE_URL,
    CARRIER_CODES,
    MAIN_STATUS_MAP,
    MAX_BATCH,
    QUOTA_MESSAGE,
    SUB_STATUS_MAP,
    TAG_PREFIX,
    carrier_from_code,
    carrier_from_tag,
    map_status,
    number_error,
    retrack_error,
)

__all__ = [
    "BASE_URL",
    "CARRIER_CODES",
    "MAIN_STATUS_MAP",
    "MAX_BATCH",
    "QUOTA_MESSAGE",
    "SUB_STATUS_MAP",
    "TAG_PREFIX",
    "PushEvent",
    "Quota",
    "SeventeenTrackClient",
    "build_items",
    "carrier_from_code",
    "carrier_from_tag",
    "make_limiter",
    "map_status",
    "number_error",
    "parse_push",
    "parse_quota",
    "parse_track_info",
    "push_signature",
    "retrack_error",
    "verify_push_signature",
]
