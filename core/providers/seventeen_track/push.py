"""17TRACK pushes: a raw body → ``PushEvent`` (``TRACKING_UPDATED`` carries a snapshot,
``TRACKING_STOPPED`` none). Pure; the signature is checked first (``signing``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.models import Shipment, TrackingNumber, TrackRequest
from core.providers._common import decode_push
from core.providers.seventeen_track.parse import parse_track_info, to_int
from core.providers.seventeen_track.units import carrier_from_code, carrier_from_tag

__all__ = ["PushEvent", "parse_push"]


@dataclass(frozen=True, slots=True)
class PushEvent:
    """A decoded push: ``TRACKING_UPDATED`` carries ``track_info``, ``TRACKING_STOPPED`` not.

    ``carrier`` is our catalogue code (from the registration tag, else the carrier key), or ""
    when neither tells.
    """

    event: str
    number: TrackingNumber
    carrier: str
    carrier_code: int | None
    tag: str = ""
    track_info: Mapping[str, Any] | None = field(default=None, repr=False)

    def shipment(self, carrier: str | None = None, now: datetime | None = None) -> Shipment | None:
        """The snapshot it carries, keyed with ``carrier`` (default: the mapped carrier)."""
        if self.track_info is None:
            return None
        request = TrackRequest(self.number, carrier if carrier is not None else self.carrier)
        return parse_track_info(self.track_info, request, now)


def parse_push(body: bytes) -> PushEvent:
    """Decode a push body; raise ``ValueError`` when it is not a 17TRACK push."""
    doc, data = decode_push(body, "data", "not a 17TRACK push")
    number = str(data.get("number") or "").strip()
    if not number:
        raise ValueError("push without a number")
    code = to_int(data.get("carrier"))
    info = data.get("track_info")
    tag = str(data.get("tag") or "")
    return PushEvent(
        event=str(doc.get("event") or ""),
        number=TrackingNumber(number),
        carrier=carrier_from_tag(tag) or carrier_from_code(code),
        carrier_code=code,
        tag=tag,
        track_info=info if isinstance(info, Mapping) else None,
    )
