"""Real-world paste forms: what buyers send, and what they meant.

Shared by ``tests/core/test_paste_forms.py`` and ``benchmarks/paste_forms.py``. Every form has
the outcome the buyer meant, written down from how the number was built (never from what the
reader says):

- ``("NUMBER@carrier", …)``: these parcels, in this order;
- ``("unread",)``: the text holds something like a number that cannot be read whole;
- ``("typo",)``: a number whose check digit fails, answered with a request to check it;
- ``("ask",)``: a carrier named that the number does not fit, answered with a question;
- ``("fake",)``: a published sample or made-up number that fits no carrier, with a warning;
- ``("help",)``, ``("faq",)``: the help text, or an answer to a common question;
- ``("none",)``: no number, and the buyer is told so.

The outcome of a message is read off the router's replies by :func:`outcome`, which relies
only on the reply shapes (a shipment reply's buttons carry ``number, carrier``), so the same
table can score older versions of the router.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from core.carriers import CARRIERS
from core.check_digits import s10

__all__ = ["FORMS", "MAIN_NUMBERS", "Form", "outcome"]


@dataclass(frozen=True, slots=True)
class Form:
    """One pasted message and the outcome the buyer meant."""

    category: str
    text: str
    expected: tuple[str, ...]

    @property
    def refusal(self) -> bool:
        return "@" not in self.expected[0]


# One number per carrier (two where formats differ a lot), each built for that carrier: public
# test vectors (tracking_number_data) where they exist, else numbers made to its documented
# format. Listed as carrier → numbers; a number is only listed where the carrier is the one
# reading the format fits (plain numbers that also fit another carrier are in MESSAGES, with
# the carrier named in the message).
MAIN_NUMBERS: dict[str, tuple[str, ...]] = {
    "ups": ("1Z5R89390357567127", "1ZSBX1230300000263"),
    "usps": ("9400111899000000000275", "9400111201080805483016"),
    "fedex": ("771200000041", "986578788855"),
    "dhl": ("3318810025", "JVGL0999999990"),
    "amazon": ("TBA123456789012", "TBM502887274000"),
    "royal_mail": ("RB123456785GB",),
    "canada_post": ("0073938000549297",),
    "purolator": ("320595463938",),
    "ontrac": ("C11031500001879",),
    "lasership": ("LX17635036", "1LSCXABCDE12345"),
    "dpd": ("008182709980000020033350276C",),
    "evri": ("H01HYA0012345678",),
    "yodel": ("JJD0002257639032011",),
    "jt_express": ("JP1234567890", "JT0012345678901"),
    "spx": ("SPXID012345678901",),
    "ninja_van": ("NVSGABC1234567",),
    "flash_express": ("TH20123456789A",),
    "kerry_express": ("KEX1234567890",),
    "cainiao": ("LP00123456789012",),
    "yanwen": ("UG123456785YP",),
    "4px": ("4PX3000123456789CN",),
    "yunexpress": ("YT2229521272164446",),
    "landmark": ("LTN74207623N1",),
    "canpar": ("D576002440000001718010",),
    "old_dominion": ("07209562763",),
    "gofo": ("GFUS01011884214464",),
    "speedee": ("SP029692510000920746",),
}

_FULLWIDTH = {ord(char): ord(char) + 0xFEE0 for char in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def _groups(number: str, size: int = 4, gap: str = " ") -> str:
    return gap.join(number[start : start + size] for start in range(0, len(number), size))


def _zero_width(number: str) -> str:
    middle = len(number) // 2
    return "\ufeff" + number[:middle] + "\u200b" + number[middle:] + "\u200d"


# Plain digit runs that fit more than one carrier's format: the buyer names the carrier.
_PLAIN = frozenset(
    {"3318810025", "320595463938", "0073938000549297", "07209562763", "986578788855"}
    | {"TH20123456789A"}
)


def _forms_for(code: str, number: str) -> Iterator[Form]:
    carrier = CARRIERS[code]
    want = (f"{number}@{code}",)
    word = f" {code}" if number in _PLAIN else ""
    yield Form("plain", f"{number}{word}", want)
    yield Form("lower case", f"{number.lower()} {carrier.name.lower()}", want)
    yield Form("command", f"/track {number} {carrier.name}", want)
    yield Form("grouped", f"/track {_groups(number)}{word}", want)
    yield Form("dashes", f"{_groups(number, 4, '-')}{word}", want)
    yield Form("dots", f"{_groups(number, 4, '.')}{word}", want)
    yield Form("fullwidth", f"{number.translate(_FULLWIDTH)}{word}", want)
    yield Form("zero-width", f"{_zero_width(number)}{word}", want)
    url = carrier.tracking_url(number)
    yield Form("link", url, want)
    yield Form("link in command", f"/track {url}", want)
    yield Form(
        "e-mail",
        f"Hello,\n\nGood news! Your order has shipped with {carrier.name}.\n"
        f"Tracking number: {number}\nYou can follow it at {url}\n\nThanks for shopping!",
        want,
    )
    yield Form(
        "sms",
        f"[{carrier.name}] Your parcel {number} is on its way. Reply STOP to opt out.",
        want,
    )


def _s10(serial: str, service: str, country: str) -> str:
    return f"{service}{serial}{s10(serial)}{country}"


def _posts() -> Iterator[Form]:
    """One S10 form for every national post in the catalogue, rotating through the forms."""
    services = ("RR", "CP", "EE", "LX", "RB", "UA", "VV")
    shapes = (
        lambda number: number,
        lambda number: number.lower(),
        lambda number: (
            f"/track {number[:2]} {number[2:5]} {number[5:8]} {number[8:11]} {number[11:]}"
        ),
        lambda number: f"Your parcel {number} has left the sorting centre.",
        lambda number: f"https://t.17track.net/en#nums={number}",
        lambda number: number.translate(_FULLWIDTH),
    )
    codes = sorted(code for code in CARRIERS if code.startswith("post_"))
    codes += ["royal_mail", "usps", "canada_post"]
    countries = {"royal_mail": "GB", "usps": "US", "canada_post": "CA"}
    for index, code in enumerate(codes):
        country = countries.get(code, code.removeprefix("post_").upper())
        serial = f"{(index * 7919 + 1234567) % 100_000_000:08d}"
        number = _s10(serial, services[index % len(services)], country)
        yield Form("national post", shapes[index % len(shapes)](number), (f"{number}@{code}",))


UPS, USPS, FEDEX = "1ZSBX1230300000263", "9400111899000000000275", "771200000041"

MESSAGES: tuple[Form, ...] = (
    # Several numbers in one message.
    Form("several", f"{UPS} {FEDEX}", (f"{UPS}@ups", f"{FEDEX}@fedex")),
    Form("several", f"{UPS}, {FEDEX} and {USPS}", (f"{UPS}@ups", f"{FEDEX}@fedex", f"{USPS}@usps")),
    Form(
        "several",
        f"Box 1: {_groups(UPS)}\nBox 2: {_groups(USPS)}",
        (f"{UPS}@ups", f"{USPS}@usps"),
    ),
    Form(
        "several",
        f"/track {UPS} RB123456785GB LTN74207623N1",
        (f"{UPS}@ups", "RB123456785GB@royal_mail", "LTN74207623N1@landmark"),
    ),
    Form(
        "several",
        f"Your items ship separately:\n- {UPS} (UPS)\n- {FEDEX} (FedEx)\nThanks!",
        (f"{UPS}@ups", f"{FEDEX}@fedex"),
    ),
    # Printed the carrier's way.
    Form("grouped", "9400 1118 9900 0000 0002 75", (f"{USPS}@usps",)),
    Form("grouped", "1z sbx 123 03 0000 0263", (f"{UPS}@ups",)),
    Form("grouped", "/track 1Z SBX 123 03 0000 0263", (f"{UPS}@ups",)),
    Form("grouped", "7712 0000 0041", (f"{FEDEX}@fedex",)),
    Form("grouped", "RB 123 456 785 GB", ("RB123456785GB@royal_mail",)),
    Form("grouped", "C 110 31 500 00187 9", ("C11031500001879@ontrac",)),
    Form("grouped", "0307 1790 0005 2348 3741 usps", ("03071790000523483741@usps",)),
    Form("grouped", "TBA 123456789012", ("TBA123456789012@amazon",)),
    # Shop and carrier e-mails and SMS.
    Form(
        "e-mail",
        "Your order 576461413038785752 has shipped!\nCarrier: UPS\nTracking: 1Z5R89390357567127",
        ("1Z5R89390357567127@ups",),
    ),
    Form(
        "e-mail",
        "Your order has shipped with J&T Express, tracking number 812345678901.",
        ("812345678901@jt_express",),
    ),
    Form(
        "sms",
        "DHL: your shipment 3318810025 will be delivered today between 10:00 and 14:00.",
        ("3318810025@dhl",),
    ),
    Form(
        "sms",
        "Purolator: shipment 320595463938 is out for delivery.",
        ("320595463938@purolator",),
    ),
    Form(
        "e-mail",
        "Canada Post\nItem 0073938000549297 was delivered to your community mailbox.",
        ("0073938000549297@canada_post",),
    ),
    Form(
        "sms",
        "Paket Anda dengan J&T Express nomor resi JP1234567890 sedang dikirim.",
        ("JP1234567890@jt_express",),
    ),
    Form(
        "sms",
        "Pedido enviado! Código de rastreio: NVSGABC1234567 (Ninja Van)",
        ("NVSGABC1234567@ninja_van",),
    ),
    # Fullwidth keyboards and invisible characters.
    Form("fullwidth", "１ＺＳＢＸ１２３０３０００００２６３", (f"{UPS}@ups",)),
    Form("fullwidth", "/track １ｚｓｂｘ１２３０３０００００２６３", (f"{UPS}@ups",)),
    Form("fullwidth", "７７１２　００００　００４１", (f"{FEDEX}@fedex",)),
    Form("zero-width", f"{UPS[:6]}\u200b{UPS[6:]}", (f"{UPS}@ups",)),
    Form("zero-width", f"\ufeff{UPS}", (f"{UPS}@ups",)),
    Form("zero-width", f"/track \u2066{FEDEX}\u2069", (f"{FEDEX}@fedex",)),
    Form("lower case", "1zsbx1230300000263", (f"{UPS}@ups",)),
    Form("lower case", "rb123456785gb", ("RB123456785GB@royal_mail",)),
    # Carrier words and labels.
    Form("carrier word", f"/track {FEDEX} FedEx", (f"{FEDEX}@fedex",)),
    Form("carrier word", f"{FEDEX} fedex", (f"{FEDEX}@fedex",)),
    Form("carrier word", "RB123456785GB royal mail", ("RB123456785GB@royal_mail",)),
    Form("carrier word", "812345678901 J&T", ("812345678901@jt_express",)),
    Form("carrier word", "812345678901 jnt", ("812345678901@jt_express",)),
    Form("carrier word", f"{FEDEX} evri anyway", (f"{FEDEX}@evri",)),
    # Carriers that publish no number format are taken at the buyer's word.
    Form("carrier word", "/track 010190001491925 JNE anyway", ("010190001491925@jne",)),
    Form("carrier word", "/track 002927168687 sicepat anyway", ("002927168687@sicepat",)),
    Form("carrier word", "/track G8PKXY7Q GHN anyway", ("G8PKXY7Q@ghn",)),
    Form("carrier word", "/track S22864041MB6 GHTK anyway", ("S22864041MB6@ghtk",)),
    Form("carrier word", "/track 131244790085 LBC Express anyway", ("131244790085@lbc",)),
    Form(
        "carrier word",
        "/track 8055241528464720099314 estafeta anyway",
        ("8055241528464720099314@estafeta",),
    ),
    Form("plain", "PQ4F6P0703673180128001V", ("PQ4F6P0703673180128001V@post_es",)),
    Form("label", f"/subscribe {UPS} amazon headphones", (f"{UPS}@ups",)),
    Form("label", f"/subscribe {FEDEX} fedex birthday present", (f"{FEDEX}@fedex",)),
    Form("label", f"/subscribe {_groups(USPS)} shoes", (f"{USPS}@usps",)),
    Form("ask", f"/track {FEDEX} evri", ("ask",)),
    Form("ask", f"/subscribe {FEDEX} evri", ("ask",)),
    Form("ask", f"{UPS} dhl", ("ask",)),
    Form("ask", "/track RB123456785GB ups", ("ask",)),
    # Typos: a check digit that does not match.
    Form("typo", "771200000042", ("typo",)),
    Form("typo", "1ZSBX1230300000264", ("typo",)),
    Form("typo", "/track 1Z5R89390357567128", ("typo",)),
    Form("typo", "9400111899000000000276", ("typo",)),
    Form("typo", "RB402137652GB", ("typo",)),
    Form("typo", "1z sbx 123 03 0000 0264", ("typo",)),
    # Cannot be read whole: never answered about a part.
    Form("unread", "9400 1118 9900 0000 0000 275", ("unread",)),
    Form("unread", "/track 9400 1118 9900 0000 0000 275", ("unread",)),
    Form("unread", "7712 0000 0041 5", ("unread",)),
    Form("unread", "/track 94001118990000000000 275", ("unread",)),
    # Published samples and made-up numbers are tracked, with a warning (see the tests).
    Form("sample", "1Z999AA10123456784", ("1Z999AA10123456784@ups",)),
    # UPS's developer test numbers do not even pass the check digit.
    Form("sample", "/track 1Z12345E0205271688", ("fake",)),
    Form("sample", "111111111111", ("fake",)),
    # Plain words and questions.
    *(Form("help", word, ("help",)) for word in ("help", "hi", "Hello", "START", "?", "hey!")),
    *(
        Form("faq", text, ("faq",))
        for text in (
            "my tracking is not updating",
            "why is it stuck?",
            "is there a delay because of peak season",
            "it says delivered but I did not receive it",
            "the box arrived damaged",
            "can I change the address after shipping?",
            "how often does tracking update",
            "how accurate is the estimate",
            "tracking says label created, no scans",
        )
    ),
    Form("none", "thanks a lot, have a nice day", ("none",)),
    Form("none", "Your order will ship soon. We will send a tracking link.", ("none",)),
)

FORMS: tuple[Form, ...] = (
    *(
        form
        for code, numbers in MAIN_NUMBERS.items()
        for n in numbers
        for form in _forms_for(code, n)
    ),
    *_posts(),
    *MESSAGES,
)
"""Every form: each main carrier in twelve ways, every national post once, and messages."""


def outcome(replies: Sequence[object] | None, error: str = "") -> tuple[str, ...]:
    """What the router did with a message, in the terms of :class:`Form`.expected.

    ``replies`` are the router's replies (None when it raised); ``error`` the user message of
    the error it raised.
    """
    if replies is None:
        if "could not read" in error:
            return ("unread",)
        if "check digit" in error:
            return ("typo",)
        if "no tracking number" in error:
            return ("none",)
        return ("refused",)
    found: list[str] = []
    for reply in replies:
        title = str(getattr(reply, "title", ""))
        kind = str(getattr(reply, "kind", ""))
        buttons = getattr(reply, "buttons", ())
        if kind == "shipment":
            args = next((b.args for b in buttons if len(getattr(b, "args", ())) >= 2), ())
            if args:
                found.append(f"{args[0]}@{args[1]}")
                continue
        if title.startswith("Sample or made-up"):
            return ("fake",)
        if title.startswith("Please check"):
            return ("typo",)
        if title.startswith("Is ") and "really" in title:
            return ("ask",)
        if title.startswith("Which one is"):
            return ("choice",)
        if title.startswith(("What I can do", "Hi! I track")):
            return ("help",)
        if not found and kind in {"info", "ReplyKind.INFO"} and len(getattr(reply, "lines", ())):
            return ("faq",)
    return tuple(found) if found else ("unknown",)
