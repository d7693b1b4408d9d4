"""The sandbox carrier and shop: simulated parcels and orders, so parcelbot works with no keys.

Every tracking number gets a **journey** chosen from its characters (``scenario_of``): a fixed
list of carrier scans, each at an offset from the journey's start. The journey starts at
``TrackRequest.first_seen``, or, when that is None, the first time the provider instance sees
the number. A scan is visible once ``start + offset / speed`` has passed on the clock, so
``speed=1440`` plays a virtual day in one real minute. The same number, carrier, start and
clock always give the same ``Shipment``.

Scenarios and where they end (virtual time from the start, when the label is created)::

    not_yet_active           label created, never scanned          info_received, no incident
    normal                   ~3.6 days                              delivered, photo
    out_for_delivery_signed  ~2.1 days                              delivered, signature (name)
    left_at_door             ~3.3 days                              delivered, left at front door
    failed_attempt           receiver out once, ~4.1 days           delivered, to a neighbour
    weather_delay            storm hold at a hub, ~5.4 days         delivered, photo
    address_issue            address incomplete, fixed, ~4.6 days   delivered, signature
    customs_duties           customs hold, duties due, ~7.8 days    delivered, signature
    pickup_point             held at a pickup point, ~4.9 days      delivered, collected
    returned                 refused, returned, ~7.3 days           exception: returned
    lost                     scans stop ~1 day in, ~8.5 days        exception: lost

``address_issue`` is resolved: the receiver corrects the address and the parcel is delivered,
so it shows an incident that opens (exception) and closes again (back in transit).

Test triggers (documented so demos can show the error paths):

- a number containing ``ERR`` (after normalisation) is reported as not found: its request
  lands in ``TrackBatch.errors`` as ``ShipmentNotFound`` while the rest of the batch succeeds
  (``SAMPLE_NOT_FOUND`` is such a number with a valid UPS check digit);
- ``SandboxProvider.unavailable = True`` makes the whole source fail with
  ``ProviderUnavailable`` until it is set back to False (likewise for ``SandboxShop``).

``SAMPLES`` holds a UPS, a USPS and a FedEx number with a valid check digit for every
scenario; ``SAMPLE_NUMBERS`` is the UPS one. ``SAMPLE_ORDERS`` are sandbox shop orders.

Inside (private: outside this package import only what this module exports, import-linter
holds it): ``scenarios`` (which scenario a number plays, each scenario's scripted scans, the
sample numbers), ``journey`` (a number's scans on its route and the snapshot visible at a
moment), ``provider`` (``SandboxProvider``) and ``shop`` (sample orders, ``SandboxShop``).
The package imports only the standard library and ``core``'s domain modules: no HTTP.
"""

from __future__ import annotations

from core.providers.sandbox.journey import Journey, Step, build_shipment, journey
from core.providers.sandbox.provider import SandboxProvider
from core.providers.sandbox.scenarios import (
    ERROR_TRIGGER,
    SAMPLE_NOT_FOUND,
    SAMPLE_NUMBERS,
    SAMPLES,
    Scenario,
    scenario_of,
)
from core.providers.sandbox.shop import (
    SAMPLE_ORDERS,
    SandboxOrder,
    SandboxParcel,
    SandboxShop,
    build_order,
)

__all__ = [
    "ERROR_TRIGGER",
    "SAMPLES",
    "SAMPLE_NOT_FOUND",
    "SAMPLE_NUMBERS",
    "SAMPLE_ORDERS",
    "Journey",
    "SandboxOrder",
    "SandboxParcel",
    "SandboxProvider",
    "SandboxShop",
    "Scenario",
    "Step",
    "build_order",
    "build_shipment",
    "journey",
    "scenario_of",
]
