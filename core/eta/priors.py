"""Published transit times: what the ETA model believes before it has seen any delivery.

Each row is a carrier's own public service standard, in working days from the first carrier
scan to delivery, read as a P10–P90 range (carriers quote the typical range, not the worst
case). Rows are matched most specific first: carrier + service + region, carrier + service,
carrier, then :data:`GENERIC_PRIOR`. ``region`` is ``"domestic"`` or ``"international"``.
Names are compared in :func:`normalise` form, so the carrier catalogue's service names
(``"Next Day Air"``) match the table's (``next_day_air``).

Sources (carriers' public service pages, as published in 2024–2025):

* USPS: Priority Mail Express 1–2 days, Priority Mail 1–3, Ground Advantage 2–5 business days.
* UPS: Ground 1–5 business days in the contiguous US; 2nd Day Air 2; Next Day Air 1.
* FedEx: Ground / Home Delivery 1–5 business days (contiguous US); Express and International
  Priority 1–3.
* DHL: Express Worldwide "next possible business day" to most major cities (1–3 in practice),
  Paket (Germany) 1–2, eCommerce 2–8.
* Correios (``post_br``): SEDEX 1–6 and PAC 3–12 working days between Brazilian states.
* Royal Mail: Tracked 24 next working day (1–2), Tracked 48 2–3, Special Delivery by 1 pm
  next working day.
* Amazon Logistics: 1–4 days for standard shipping.
* Canada Post: Expedited Parcel 1–7 business days; Xpresspost 1–3.
* J&T Express (Indonesia): EZ 2–4 days within Java, up to 7 to the outer islands.
* SPX Express: Standard 2–5 days (Indonesia, Philippines, Malaysia, Thailand, Vietnam).
* Ninja Van: 1–3 days within Singapore, West Malaysia and Metro Manila; up to 7 to East
  Malaysia and the Philippine provinces.
* Flash Express and Kerry Express (Thailand): next day in Bangkok, 1–3 days up-country.
* JNE (Indonesia): YES next day, REG 1–3 days in Java (2–7 beyond), OKE 2–7.
* SiCepat (Indonesia): BEST next day, REG 1–3 days in Java (2–7 beyond), HALU 2–5.
* GHN and GHTK (Vietnam): 1 day within a city, 2–4 between regions (up to 5 to remote areas).
* LBC Express (Philippines): 1–3 days within Metro Manila, 3–7 to the provinces.
* Pos Malaysia (Pos Laju): 1–3 working days in Peninsular Malaysia, 2–5 to Sabah and Sarawak.
* Correos (Spain): Paq Premium 1–2 working days, Paq Estándar 2–3, Paq Ligero 3–5.
* Estafeta (Mexico): Día Siguiente next working day, Dos Días 2, Terrestre 2–7.
* Seller processing (order to first scan): TikTok Shop asks sellers to ship within 1–3
  working days; :data:`PROCESSING_PRIOR` uses that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "GENERIC_PRIOR",
    "PRIORS",
    "PROCESSING_PRIOR",
    "TransitPrior",
    "find_prior",
    "normalise",
    "prior_index",
]


@dataclass(frozen=True, slots=True)
class TransitPrior:
    """A published transit-time range for a carrier service, in working days (P10–P90)."""

    carrier: str
    low_days: float
    high_days: float
    service: str = ""
    region: str = ""
    country: str = ""


GENERIC_PRIOR = TransitPrior(carrier="", low_days=2.0, high_days=8.0)
"""Used for carriers the table does not know."""

PROCESSING_PRIOR = TransitPrior(carrier="", low_days=0.5, high_days=3.0)
"""Order placed to first carrier scan, in working days."""

PRIORS: tuple[TransitPrior, ...] = (
    TransitPrior("usps", 1.0, 5.0, country="US"),
    TransitPrior("usps", 1.0, 2.0, service="priority_mail_express", country="US"),
    TransitPrior("usps", 1.0, 3.0, service="priority_mail", country="US"),
    TransitPrior("usps", 2.0, 5.0, service="ground_advantage", country="US"),
    TransitPrior("usps", 1.0, 5.0, service="first_class_package", country="US"),
    TransitPrior("usps", 2.0, 8.0, service="parcel_select", country="US"),
    TransitPrior("usps", 6.0, 15.0, service="international", country="US"),
    TransitPrior("ups", 1.0, 5.0, country="US"),
    TransitPrior("ups", 1.0, 5.0, service="ground", country="US"),
    TransitPrior("ups", 2.0, 2.5, service="2nd_day_air", country="US"),
    TransitPrior("ups", 1.0, 1.5, service="next_day_air", country="US"),
    TransitPrior("ups", 1.0, 3.0, service="worldwide_express", country="US"),
    TransitPrior("ups", 2.0, 7.0, service="surepost", country="US"),
    TransitPrior("fedex", 1.0, 5.0, country="US"),
    TransitPrior("fedex", 1.0, 5.0, service="ground", country="US"),
    TransitPrior("fedex", 1.0, 5.0, service="home_delivery", country="US"),
    TransitPrior("fedex", 2.0, 7.0, service="ground_economy", country="US"),
    TransitPrior("fedex", 1.0, 3.0, service="express", country="US"),
    TransitPrior("fedex", 1.0, 3.0, service="international", country="US"),
    TransitPrior("dhl", 1.0, 3.0, country="DE"),
    TransitPrior("dhl", 1.0, 2.0, region="domestic", country="DE"),
    TransitPrior("dhl", 1.0, 3.0, service="express", country="DE"),
    TransitPrior("dhl", 2.0, 8.0, service="ecommerce", country="DE"),
    TransitPrior("dhl", 1.0, 2.0, service="parcel", country="DE"),
    TransitPrior("amazon", 1.0, 4.0, country="US"),
    TransitPrior("post_br", 2.0, 12.0, country="BR"),
    TransitPrior("post_br", 1.0, 6.0, service="sedex", country="BR"),
    TransitPrior("post_br", 3.0, 12.0, service="pac", country="BR"),
    TransitPrior("royal_mail", 1.0, 3.0, country="GB"),
    TransitPrior("royal_mail", 1.0, 2.0, service="tracked_24", country="GB"),
    TransitPrior("royal_mail", 2.0, 3.0, service="tracked_48", country="GB"),
    TransitPrior("royal_mail", 1.0, 1.5, service="special_delivery", country="GB"),
    TransitPrior("canada_post", 1.0, 7.0, country="CA"),
    TransitPrior("canada_post", 1.0, 3.0, service="xpresspost", country="CA"),
    TransitPrior("jt_express", 2.0, 7.0, country="ID"),
    TransitPrior("jt_express", 2.0, 7.0, service="ez", country="ID"),
    TransitPrior("spx", 2.0, 5.0, country="ID"),
    TransitPrior("spx", 2.0, 5.0, service="standard", country="ID"),
    TransitPrior("ninja_van", 1.0, 7.0, country="SG"),
    TransitPrior("ninja_van", 1.0, 7.0, service="standard", country="SG"),
    TransitPrior("ninja_van", 1.0, 2.0, service="next_day", country="SG"),
    TransitPrior("flash_express", 1.0, 3.0, country="TH"),
    TransitPrior("kerry_express", 1.0, 3.0, country="TH"),
    TransitPrior("jne", 1.0, 7.0, country="ID"),
    TransitPrior("jne", 1.0, 7.0, service="reg", country="ID"),
    TransitPrior("jne", 1.0, 1.5, service="yes", country="ID"),
    TransitPrior("jne", 2.0, 7.0, service="oke", country="ID"),
    TransitPrior("sicepat", 1.0, 7.0, country="ID"),
    TransitPrior("sicepat", 1.0, 7.0, service="reg", country="ID"),
    TransitPrior("sicepat", 1.0, 1.5, service="best", country="ID"),
    TransitPrior("sicepat", 2.0, 5.0, service="halu", country="ID"),
    TransitPrior("ghn", 1.0, 5.0, country="VN"),
    TransitPrior("ghtk", 1.0, 5.0, country="VN"),
    TransitPrior("lbc", 1.0, 7.0, country="PH"),
    TransitPrior("post_my", 1.0, 5.0, country="MY"),
    TransitPrior("post_es", 1.0, 5.0, country="ES"),
    TransitPrior("post_es", 1.0, 2.0, service="paq_premium", country="ES"),
    TransitPrior("post_es", 2.0, 3.0, service="paq_estandar", country="ES"),
    TransitPrior("post_es", 3.0, 5.0, service="paq_ligero", country="ES"),
    TransitPrior("estafeta", 1.0, 7.0, country="MX"),
    TransitPrior("estafeta", 1.0, 1.5, service="dia_siguiente", country="MX"),
    TransitPrior("estafeta", 2.0, 2.5, service="dos_dias", country="MX"),
    TransitPrior("estafeta", 2.0, 7.0, service="terrestre", country="MX"),
)

PriorKey = tuple[str, str, str]


def normalise(name: str) -> str:
    """A carrier, service or region name as a table key: ``"Next Day Air"`` → ``next_day_air``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def prior_index(priors: Iterable[TransitPrior]) -> dict[PriorKey, TransitPrior]:
    """Priors keyed by normalised (carrier, service, region)."""
    return {(normalise(p.carrier), normalise(p.service), normalise(p.region)): p for p in priors}


def find_prior(
    index: Mapping[PriorKey, TransitPrior], carrier: str, service: str = "", region: str = ""
) -> TransitPrior | None:
    """The most specific prior for a carrier service in a region, or None when unknown."""
    c, s, r = normalise(carrier), normalise(service), normalise(region)
    for key in ((c, s, r), (c, s, ""), (c, "", r), (c, "", "")):
        found = index.get(key)
        if found is not None:
            return found
    return None
