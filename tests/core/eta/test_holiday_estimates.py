"""Arrival windows across public holidays of the country a parcel is delivered in.

The model gets its holidays the way the running bot does (``bots.public_holidays``); the same
model without a holiday source is the baseline each window is compared with.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bots.public_holidays import PublicHolidays
from core.eta.markets import calendar_country, work_week
from core.eta.model import EtaModel
from core.models import Eta

JAKARTA = ZoneInfo("Asia/Jakarta")
BANGKOK = ZoneInfo("Asia/Bangkok")
HO_CHI_MINH = ZoneInfo("Asia/Ho_Chi_Minh")


def estimate(model: EtaModel, carrier: str, destination: str, handed: datetime) -> Eta:
    return model.estimate(
        carrier=carrier,
        origin="",
        destination=destination,
        ordered_at=handed - timedelta(days=1),
        handed_over_at=handed,
        now=handed,
    )


def local_days(eta: Eta, zone: ZoneInfo) -> tuple[date, date, date]:
    return (
        eta.earliest.astimezone(zone).date(),
        eta.most_likely.astimezone(zone).date(),
        eta.latest.astimezone(zone).date(),
    )


def test_a_jne_parcel_handed_over_before_idul_fitri_waits_for_it() -> None:
    # JNE delivers Monday to Saturday; Idul Fitri 1445 H fell on Wednesday 10 and Thursday
    # 11 April 2024.
    handed = datetime(2024, 4, 8, 10, tzinfo=JAKARTA)
    with_holidays = estimate(EtaModel(holidays=PublicHolidays()), "jne", "ID", handed)
    baseline = estimate(EtaModel(), "jne", "ID", handed)
    eid = {date(2024, 4, 10), date(2024, 4, 11)}
    assert not eid & set(local_days(with_holidays, JAKARTA))
    # Both working days of Idul Fitri come on top of the same transit time.
    assert with_holidays.most_likely - baseline.most_likely == timedelta(days=2)
    assert with_holidays.latest - baseline.latest == timedelta(days=2)
    # Without holidays the same window spans them.
    assert baseline.earliest.astimezone(JAKARTA).date() < date(2024, 4, 10)
    assert baseline.latest.astimezone(JAKARTA).date() > date(2024, 4, 11)


def test_jt_express_to_thailand_skips_songkran_but_not_in_indonesia() -> None:
    # J&T delivers every day; Songkran 2024 was 13–15 April, with 16 April in lieu and 12 April
    # a bridge holiday. Indonesia worked those days.
    handed = datetime(2024, 4, 11, 18, tzinfo=BANGKOK)
    model = EtaModel(holidays=PublicHolidays())
    thailand = estimate(model, "jt_express", "TH", handed)
    indonesia = estimate(model, "jt_express", "ID", handed)
    songkran = {date(2024, 4, day) for day in range(12, 17)}
    assert not songkran & set(local_days(thailand, BANGKOK))
    assert thailand.earliest.astimezone(BANGKOK).date() >= date(2024, 4, 17)
    # The five days off in Thailand are working days in Indonesia, where instead the last six
    # hours of 11 April (Idul Fitri's second day) are off; both zones are UTC+7.
    assert thailand.most_likely - indonesia.most_likely == timedelta(days=4, hours=18)
    assert model.calendar("jt_express", "TH").country == "TH"
    assert model.calendar("jt_express", "ID").country == "ID"


def test_ghn_across_tet() -> None:
    # Tết 2024: 8–14 February were public holidays in Vietnam.
    handed = datetime(2024, 2, 7, 9, tzinfo=HO_CHI_MINH)
    with_holidays = estimate(EtaModel(holidays=PublicHolidays()), "ghn", "VN", handed)
    baseline = estimate(EtaModel(), "ghn", "VN", handed)
    tet = {date(2024, 2, 8) + timedelta(days=n) for n in range(7)}
    assert not tet & set(local_days(with_holidays, HO_CHI_MINH))
    assert with_holidays.most_likely.astimezone(HO_CHI_MINH).date() > date(2024, 2, 14)
    assert baseline.most_likely.astimezone(HO_CHI_MINH).date() < date(2024, 2, 14)


def test_a_royal_mail_parcel_skips_the_one_off_bank_holidays_of_2022() -> None:
    london = ZoneInfo("Europe/London")
    handed = datetime(2022, 6, 1, 12, tzinfo=london)
    eta = estimate(EtaModel(holidays=PublicHolidays()), "royal_mail", "GB", handed)
    jubilee = {date(2022, 6, 2), date(2022, 6, 3)}
    assert not jubilee & set(local_days(eta, london))
    assert eta.earliest.astimezone(london).date() >= date(2022, 6, 6)


def test_a_ups_parcel_delivered_in_mexico_waits_for_independence_day() -> None:
    # Día de la Independencia fell on Monday 16 September 2024; UPS delivers in Mexico on
    # weekdays, through UPS Mexico, on Mexico's calendar and in its zone.
    mexico = ZoneInfo("America/Mexico_City")
    handed = datetime(2024, 9, 13, 10, tzinfo=mexico)
    model = EtaModel(holidays=PublicHolidays())
    with_holidays = estimate(model, "ups", "MX", handed)
    baseline = estimate(EtaModel(), "ups", "MX", handed)
    assert model.calendar("ups", "MX").country == "MX"
    assert date(2024, 9, 16) not in set(local_days(with_holidays, mexico))
    assert baseline.earliest.astimezone(mexico).date() == date(2024, 9, 16)
    assert with_holidays.most_likely - baseline.most_likely == timedelta(days=1)


def test_calendars_follow_the_destination_only_where_the_carrier_delivers() -> None:
    assert calendar_country("jt_express", "my") == "MY"
    assert calendar_country("ups", "MX") == "MX"
    assert calendar_country("fedex", "br") == "BR"
    assert calendar_country("dhl", "US") == "US"  # DHL eCommerce's US parcels
    assert calendar_country("dhl", "") == "DE"  # unknown destination: its home
    assert calendar_country("ups", "ZZ") == "US"
    assert calendar_country("jt_express", "US") == "ID"  # not a J&T market: its home
    assert calendar_country("usps", "ID", home="US") == "US"  # Idaho, or a stray code
    assert calendar_country("acme", "ID") == ""
    assert work_week("jt_express")[6] == 1.0
    assert work_week("usps") == (1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0)
    model = EtaModel(holidays=PublicHolidays())
    assert model.calendar("acme", "ID").zone == UTC or str(model.calendar("acme").zone) == "UTC"
