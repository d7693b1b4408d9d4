"""One message for many held alerts: the digest sent when quiet hours end or a chat is back.

Alerts held for a chat (quiet hours, or the chat could not be reached) are never dropped; they
arrive together in one ``Reply``, one line per parcel naming every change in order. A very busy
chat gets the first ``MAX_PARCELS`` parcels in full and a count of the rest, with a pointer to
``/list``; every held alert is still counted in the title.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.alerts import alert_reply
from core.i18n import _, ngettext
from core.models import Alert, Shipment, ShipmentKey
from core.privacy import Field, View
from core.replies import Button, Reply, ReplyKind

__all__ = ["MAX_PARCELS", "digest_reply"]

MAX_PARCELS = 15
"""Parcels shown one by one in a digest; more are summarised (chat messages have limits)."""


def _headline(alert: Alert, shipment: Shipment | None, label: str, seen: View | None) -> str:
    """The alert's own title without the parcel name (``Out for delivery``)."""
    if shipment is None:
        return alert.kind.value.replace("_", " ").capitalize()
    title = alert_reply(alert, shipment, label=label, seen=seen).title
    name = (seen.name(label, shipment.number) if seen else label.strip()) or shipment.number
    for suffix in (f": {name}", f" {name}"):
        if title.endswith(suffix):
            return title[: -len(suffix)]
    return title


def digest_reply(
    alerts: Sequence[Alert],
    shipments: Mapping[ShipmentKey, Shipment],
    labels: Mapping[ShipmentKey, str],
    *,
    reason: str = "",
    seen: View | None = None,
) -> Reply:
    """The digest for ``alerts`` (oldest first), grouped by parcel in order of first alert.

    ``reason`` is why they were held, in words (default: notifications were paused).
    Parcels are named as ``seen`` allows (``core.privacy``; default: a private chat); where
    others read there are no Timeline buttons (they carry the number)."""
    by_parcel: dict[ShipmentKey, list[Alert]] = {}
    for alert in alerts:
        by_parcel.setdefault(alert.key, []).append(alert)
    count = len(alerts)
    lines: list[str] = []
    buttons: list[Button] = []
    for index, (key, items) in enumerate(by_parcel.items()):
        if index == MAX_PARCELS:
            rest = len(by_parcel) - MAX_PARCELS
            lines.append(
                ngettext(
                    "…and {count} more parcel: send /list.",
                    "…and {count} more parcels: send /list.",
                    rest,
                ).format(count=rest)
            )
            break
        label = labels.get(key, "")
        shipment = shipments.get(key)
        changes = "; ".join(_headline(alert, shipment, label, seen) for alert in items)
        if seen is None or seen.has(Field.NUMBER):
            name = f"{label} ({key.number})" if label else str(key.number)
        else:
            name = seen.name(label, key.number)
        lines.append(f"• {name}: {changes}")
        if len(buttons) < 5 and (seen is None or seen.has(Field.NUMBER_BUTTONS)):
            shown = _("Timeline {parcel}").format(parcel=label or key.number)
            buttons.append(Button(shown[:40], "history", (key.number,)))
    reason = reason or _("while notifications were paused")
    return Reply(
        ngettext("{count} update {reason}", "{count} updates {reason}", count).format(
            count=count, reason=reason
        ),
        tuple(lines),
        buttons=tuple(buttons),
        kind=ReplyKind.ALERT,
        owner=seen.mention() if seen is not None else "",
    )
