"""Reading what a buyer pasted: every tracking number in a message, as they meant it.

Buyers paste whatever the shop or carrier sent them: a number printed in groups
(``9400 1118 9900 …``), a carrier's tracking link, a whole shipping e-mail or SMS, text typed
on a phone keyboard with fullwidth digits, or a copy that carries invisible characters. Every
adapter hands the text to :func:`read`, which

1. cleans it (:func:`clean`): Unicode NFKC, zero-width characters, BOM and direction marks
   removed, digits of every script as ASCII digits, every dash as ``-``;
2. takes numbers out of links (query parameters, path segments and ``#`` fragments of any
   URL; a carrier's own host lets its weaker formats count);
3. reads the remaining text in *runs*: letter/digit groups joined by single spaces, dashes or
   dots. A run is split into numbers so that as much of it as possible is covered by readings
   that are valid for some carrier (a verified check digit first, then a distinctive format,
   then a format of a carrier the message names). A run that cannot be read whole gives no
   number at all and is reported in ``Reading.unread``: a truncated or partial number is never
   answered about;
4. looks at the words right after each number: a carrier word (code, name or alias) chooses
   the carrier only when the number fits that carrier's formats; otherwise the words stay
   text (a label) and ``Pasted.named`` says which carrier was named in vain.

Nothing here does I/O or raises on user text.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Final
from urllib.parse import unquote, urlsplit

from core import carriers
from core.carrier_formats import FORMATS, NumberFormat
from core.check_digits import ALPHANUMERIC
from core.models import Carrier, CarrierMatch, OrderId, TrackingNumber

__all__ = [
    "EXAMPLE_NUMBER",
    "HELP_WORDS",
    "INSIST_WORD",
    "MAX_NUMBERS",
    "SAMPLE_NUMBERS",
    "Pasted",
    "Reading",
    "clean",
    "corrections",
    "is_help_word",
    "looks_fake",
    "read",
    "repairs",
]

EXAMPLE_NUMBER: Final = "1Z999AA10123456784"
"""The number shown in examples (UPS's published sample)."""

MAX_NUMBERS: Final = 5
"""A pasted e-mail may hold several numbers; at most this many are read out of one message."""

INSIST_WORD: Final = "anyway"
"""``/track <number> <carrier> anyway`` keeps a carrier whose formats the number does not fit."""

HELP_WORDS: Final = frozenset(
    {
        *("help", "hi", "hello", "hey", "start", "?", "menu", "commands"),
        # The other languages parcelbot speaks: Indonesian and Malay, Thai, Vietnamese,
        # Filipino, Spanish, Portuguese.
        *("halo", "hai", "helo", "bantuan", "tolong", "perintah", "mulai", "mula"),
        *("สวัสดี", "ช่วยด้วย", "ช่วย", "เมนู", "คำสั่ง", "วิธีใช้"),
        *("xin chào", "chào", "giúp", "trợ giúp", "giúp đỡ", "lệnh"),
        *("kumusta", "tulong", "tulungan", "utos"),
        *("hola", "ayuda", "menú", "comandos", "ola", "olá", "oi", "ajuda", "comandos"),
    }
)
"""Plain words (any case, with or without trailing punctuation) that mean "show me help"."""

SAMPLE_NUMBERS: Final = frozenset(
    {
        # UPS's published documentation and developer test numbers.
        "1Z999AA10123456784",
        "1Z12345E0205271688",
        "1Z12345E6605272234",
        "1Z12345E0305271640",
        "1Z12345E1305277940",
        "1Z12345E6205277936",
        "1Z12345E1505270452",
        # FedEx's published sandbox numbers.
        "449044304137821",
        "122816215025810",
        "149331877648230",
        "020207021381215",
        "403934084723025",
        "920241085725456",
        "568838414941",
        "039813852990618",
        "231300687629630",
        "797806677146",
        "123456789012",
        # USPS's example from Publication 199 and its web pages.
        "9400100000000000000000",
        "9400111899223197428490",
        # DHL's documentation example waybill.
        "1234567890",
        "RR123456785GB",
    }
)
"""Numbers printed in carriers' documentation: never a real parcel of a buyer."""

# Zero-width characters, the byte-order mark, the soft hyphen and the direction marks: copied
# along with text from apps and web pages, never meant.
_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"
        "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
    )
)


def clean(text: str) -> str:
    """``text`` as NFKC with invisible characters removed, every script's digits as ASCII and
    every dash as ``-``. Letters keep their case; nothing else changes."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text.translate(_INVISIBLE))
    out: list[str] = []
    for char in text:
        if char.isascii():
            out.append(char)
        elif (digit := unicodedata.decimal(char, None)) is not None:
            out.append(str(digit))
        elif char == "\u2212" or unicodedata.category(char) == "Pd":
            out.append("-")
        else:
            out.append(char)
    return "".join(out)


def is_help_word(text: str) -> bool:
    """Whether the whole message is a plain word asking for help (``hi``, ``Help!``, ``?``)."""
    word = clean(text).strip().casefold()
    return word in HELP_WORDS or word.strip("!.?¿¡ ") in HELP_WORDS


@dataclass(frozen=True, slots=True)
class Pasted:
    """One number read out of a message.

    ``matches`` are the carrier readings of ``number`` (``carriers.detect``), most likely
    first. ``carrier`` is the carrier the message chose: a carrier word after the number that
    the number fits, the host of the tracking link it came from, or a carrier the message
    names elsewhere ("shipped with J&T Express"); None leaves the choice to detection.
    ``named`` is a carrier named right after the number whose formats the number does *not*
    fit (``named_words`` is how it was written); ``insist`` says the buyer added
    :data:`INSIST_WORD`. ``typo`` marks a number that fits a carrier's format only with a
    failed check digit. ``pasted`` is the text as it appeared, from offset ``at`` of
    ``Reading.text``.
    """

    number: TrackingNumber
    pasted: str
    matches: tuple[CarrierMatch, ...]
    at: int = 0
    order_id: OrderId | None = None
    carrier: str | None = None
    named: Carrier | None = None
    named_words: str = ""
    insist: bool = False
    typo: bool = False


@dataclass(frozen=True, slots=True)
class Reading:
    """What a message says: numbers, the rest of its words, and what could not be read.

    ``numbers`` holds at most :data:`MAX_NUMBERS`; ``more`` counts the ones left out.
    ``unread`` lists runs that look like a number but could not be read whole (as pasted).
    ``words`` is the text left once links, numbers and carrier words that chose a carrier are
    taken out (a label, or a question).
    """

    numbers: tuple[Pasted, ...]
    more: int
    unread: tuple[str, ...]
    words: str
    text: str


# --- judging one candidate -------------------------------------------------------------------

_STRONG, _ORDER, _HINTED, _TYPO, _UNKNOWN = 4, 3, 2, 1, 0


@dataclass(frozen=True, slots=True)
class _Judged:
    number: str
    strength: int
    carrier: str | None = None


def _judge(number: str, hints: frozenset[str], *, loose: bool = False) -> _Judged | None:
    """How well ``number`` (normalised) reads as one identifier, or None when it does not.

    ``hints`` are carrier codes the message names (or a link's host): a number fitting one of
    their formats with a check digit that is not wrong counts even when the format is too
    generic to stand alone. ``loose`` (a command's argument) also accepts a number no carrier
    claims, so the buyer can name the carrier.
    """
    return _judge_cached(number, hints, loose)


@lru_cache(maxsize=4096)
def _judge_cached(number: str, hints: frozenset[str], loose: bool) -> _Judged | None:
    if not MIN_LOOSE <= len(number) <= _MAX_JOIN or not any(char.isdigit() for char in number):
        return None
    hinted = next(
        (
            match.carrier.code
            for match in carriers.detect(number)
            if match.carrier.code in hints and match.check_digit_valid is not False
        ),
        None,
    )
    if carriers.stands_out(number):
        return _Judged(number, _STRONG, hinted)
    if hinted is not None:
        return _Judged(number, _HINTED, hinted)
    if carriers.looks_like_order_id(number):
        return _Judged(number, _ORDER)
    if loose and carriers.suspected_typos(number):
        return _Judged(number, _TYPO)
    if loose and len(number) <= 40:
        return _Judged(number, _UNKNOWN)
    return None


MIN_LOOSE: Final = 6


# --- runs of groups ---------------------------------------------------------------------------

_TOKEN = re.compile(r"[0-9A-Za-z]+")
# What may sit between two groups of one printed number.
_GROUP_GAP = re.compile(r"[ \t]{1,3}|[ \t]?[-.][ \t]?")
# Short words that sit next to numbers in messages and never start or end one.
_STOPWORDS = frozenset(
    {
        *("a", "an", "and", "at", "by", "for", "from", "id", "in", "is", "it", "my"),
        *("nr", "no", "of", "on", "or", "our", "ref", "the", "to", "via", "ur", "your"),
        *("box", "item", "code", "this", "that", "here", "with", "will", "has", "was", "are"),
        *("see", "use", "its", "you", "new", "now", "call", "text", "sent", "ship", "pkg"),
        *("resi", "kode", "nomor", "no.", "num", "nr.", "pcs", "qty", "x"),
        *("hi", "hey", "hai", "halo", "hola", "oi", "yo", "ok", "pls", "plz", "thx", "ty"),
    }
)
_MAX_PIECE_LONG = 6
"""Printed groups are short; at most one piece of a joined number may be longer than this."""
_MAX_JOIN = 64


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    start: int
    end: int

    @property
    def has_digit(self) -> bool:
        return any(char.isdigit() for char in self.text)


def _joinable(token: _Token) -> bool:
    if token.has_digit:
        return True
    # Upper-case letters are printed parts of numbers ("RR 123 456 785 ID"); lower-case
    # short words are joined only when they are not everyday words.
    word = token.text.casefold()
    if len(word) > 4 or carriers.get_carrier(word) is not None:
        return False
    return token.text.isupper() or word not in _STOPWORDS


def _runs(text: str) -> list[list[_Token]]:
    """Tokens grouped into runs of groups that may belong to one printed number."""
    runs: list[list[_Token]] = []
    current: list[_Token] = []
    for found in _TOKEN.finditer(text):
        token = _Token(found.group(), found.start(), found.end())
        if (
            current
            and _joinable(token)
            and _joinable(current[-1])
            and _GROUP_GAP.fullmatch(text, current[-1].end, token.start) is not None
            and (token.has_digit or _carrier_at(text, token.start) is None)
        ):
            current.append(token)
            continue
        if current:
            runs.append(current)
        current = [token]
    if current:
        runs.append(current)
    return runs


@dataclass(frozen=True, slots=True)
class _Piece:
    judged: _Judged
    first: int
    last: int


def _split_run(
    run: Sequence[_Token], hints: frozenset[str], *, loose: bool
) -> tuple[list[_Piece], bool]:
    """The best split of ``run`` into numbers and whether every group with a digit is covered.

    Best means: most digit groups covered, then fewest numbers (never a number cut in two),
    then the strongest readings, then the most groups (a suffix such as "CN" stays on).
    """
    size = len(run)
    # best[i]: (covered, -numbers, strength, groups) for run[i:], with the pieces chosen.
    best: list[tuple[tuple[int, int, int, int], list[_Piece]]] = [((0, 0, 0, 0), [])] * (size + 1)
    for first in range(size - 1, -1, -1):
        choice = best[first + 1]
        joined = ""
        long_pieces = 0
        digit_groups = 0
        typed = False
        stray = False
        titled = False
        for last in range(first, size):
            token = run[last]
            joined += token.text.upper()
            long_pieces += len(token.text) > _MAX_PIECE_LONG
            digit_groups += token.has_digit
            if len(joined) > _MAX_JOIN or (last > first and long_pieces > 1):
                break
            typed = typed or (token.has_digit and any(char.islower() for char in token.text))
            # A word of the message anywhere in the join, not only at its edges, keeps the
            # groups apart ("275 Hi 275" is two fragments and a greeting, not one number).
            stray = stray or _stray(token)
            titled = titled or _titled(token)
            # A capitalised word ("Hi", "Box") is a word of the message even next to a number
            # typed in lower case; other lower-case words may be part of such a number.
            if last > first and (titled or (not typed and stray)):
                continue
            judged = _judge(joined, hints, loose=loose and first == 0 and last == size - 1)
            if judged is None:
                continue
            (rest_covered, rest_count, rest_strength, rest_groups), rest = best[last + 1]
            score = (
                rest_covered + digit_groups,
                rest_count - 1,
                rest_strength + judged.strength,
                rest_groups + last - first + 1,
            )
            # On a tie the longer first number wins: never a prefix of a longer valid one.
            if score >= choice[0]:
                choice = (score, [_Piece(judged, first, last), *rest])
        best[first] = choice
    return best[0][1], not _partial(run, best[0][1])


def _stray(edge: _Token) -> bool:
    """Whether a lower-case word at the edge of a join is a word of the message rather than
    part of the number ("NVSGABC1234567 - ok"); a number typed in lower case has lower-case
    letters next to its digits too ("1z sbx 123…")."""
    return not edge.has_digit and not edge.text.isupper()


def _titled(token: _Token) -> bool:
    """Whether ``token`` is a capitalised word ("Hi"), not a printed group of a number."""
    text = token.text
    return len(text) > 1 and not token.has_digit and text[0].isupper() and text[1:].islower()


def _partial(run: Sequence[_Token], pieces: Sequence[_Piece]) -> bool:
    """Whether a short group with a digit is left over right next to a number that may have
    been cut short: one joined from groups, or all digits ("…0000 0000 275")."""
    owner: dict[int, _Piece] = {}
    for piece in pieces:
        for index in range(piece.first, piece.last + 1):
            owner[index] = piece
    for index, token in enumerate(run):
        if index in owner or not token.has_digit or len(token.text) > _MAX_PIECE_LONG:
            continue
        for neighbour in (index - 1, index + 1):
            near = owner.get(neighbour)
            if near is not None and (near.last > near.first or near.judged.number.isdigit()):
                return True
    return False


# --- links ------------------------------------------------------------------------------------

_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'()\[\]]+"
    r"|\b(?:[a-z0-9-]+\.)+[a-z]{2,}/[^\s<>\"'()\[\]]*",
    re.IGNORECASE,
)
_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "gov", "ac", "or", "ne"})
_EXTRA_HOSTS = {
    "dhl.de": "dhl",
    "dhl.co.uk": "dhl",
    "canadapost.ca": "canada_post",
    "postescanada.ca": "canada_post",
    "jtexpress.co.id": "jt_express",
    "jet.co.id": "jt_express",
    "jtexpress.ph": "jt_express",
    "jtexpress.vn": "jt_express",
    "jtexpress.com.cn": "jt_express",
    "shopeexpress.com.my": "spx",
    "spx.co.th": "spx",
    "spx.vn": "spx",
    "spx.com.my": "spx",
    "spx.ph": "spx",
    "flashexpress.com": "flash_express",
    "hermesworld.com": "evri",
    "myhermes.co.uk": "evri",
    "aliexpress.com": "cainiao",
    "parcelsapp.com": "",
    "17track.net": "",
    "aftership.com": "",
}


def _domain(host: str) -> str:
    labels = host.lower().rstrip(".").split(".")
    keep = 3 if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2 else 2
    return ".".join(labels[-keep:])


def _carrier_hosts() -> dict[str, str]:
    hosts: dict[str, str] = {}
    for code, carrier in carriers.CARRIERS.items():
        if not carrier.url_template:
            continue
        host = urlsplit(carrier.url_template).hostname or ""
        if "17track" in host:
            continue
        hosts.setdefault(_domain(host), code)
    hosts.update(_EXTRA_HOSTS)
    return hosts


_HOSTS: Final = MappingProxyType(_carrier_hosts())


def _link_parts(link: str) -> tuple[str | None, list[str]]:
    """The carrier whose site a link is on (None for others) and the texts that may hold a
    number: path segments, query values and the parts of a ``#`` fragment."""
    parts = urlsplit(link if "://" in link else "https://" + link)
    carrier = _HOSTS.get(_domain(parts.hostname or "")) or None
    texts = [unquote(segment) for segment in parts.path.split("/") if segment]
    # Query values, and bare values too ("track?SPXID012…"); a fragment may hold either.
    for chunk in re.split(r"[&;]", parts.query) + re.split(r"[/?&]", parts.fragment):
        texts.append(unquote(chunk.split("=", 1)[-1].replace("+", " ")))
    return carrier, texts


# --- carrier words ----------------------------------------------------------------------------

# Words of any script ("Giao Hàng Nhanh", "Correos de México"); Thai vowel and tone marks are
# part of a Thai word.
_LETTERS = rf"(?:[^\W_]|[{carriers.THAI_RANGE}])+"
_WORD = re.compile(rf"{_LETTERS}(?:&{_LETTERS})*")
_NAME_GAP = re.compile(r"[ \t,:-]*")
_MAX_CARRIER_WORDS = 4  # "Giao Hàng Tiết Kiệm"


def _carrier_at(text: str, start: int) -> tuple[Carrier, int] | None:
    """The carrier named by the 1–4 words starting at ``start`` (longest first), or by a Thai
    name starting there, and where the naming ends, or None."""
    gap = _NAME_GAP.match(text, start)
    spaceless = carriers.spaceless_name_at(text, gap.end() if gap is not None else start)
    if spaceless is not None:
        return spaceless
    words = []
    position = start
    for _ in range(_MAX_CARRIER_WORDS):
        found = _WORD.search(text, position)
        if found is None or _NAME_GAP.fullmatch(text, position, found.start()) is None:
            break
        words.append(found)
        position = found.end()
    for count in range(len(words), 0, -1):
        phrase = " ".join(word.group() for word in words[:count])
        if phrase.isdigit():
            continue
        carrier = carriers.get_carrier(phrase)
        if carrier is not None:
            return carrier, words[count - 1].end()
    return None


def _named_carriers(text: str) -> frozenset[str]:
    """Carrier codes named anywhere in ``text`` ("shipped with J&T Express", "ส่งเคอรี่")."""
    found: set[str] = set(carriers.spaceless_names_in(text))
    words = list(_WORD.finditer(text))
    for word in words:
        if word.group().isdigit():
            continue
        named = _carrier_at(text, word.start())
        if named is not None:
            found.add(named[0].code)
    return frozenset(found)


# --- reading a message ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Found:
    judged: _Judged
    start: int
    end: int
    pasted: str
    via: str | None  # the carrier of the link it came from


def read(text: str, *, command: bool = False, limit: int = MAX_NUMBERS) -> Reading:
    """Every number in ``text`` in order, and what could not be read; never raises.

    ``command`` marks the arguments of a command (``/track <here>``): there a run that fits no
    carrier is still taken as the number, so the buyer can name its carrier.
    """
    try:
        return _read(text, command=command, limit=limit)
    except Exception:  # reading user text must never fail the caller
        return Reading((), 0, (), "", text)


def _read(text: str, *, command: bool, limit: int) -> Reading:
    text = clean(text)
    hints = _named_carriers(text)
    found: list[_Found] = []
    unread: list[str] = []
    blanked = text
    for link in _URL.finditer(text):
        host_carrier, parts = _link_parts(link.group())
        link_hints = hints | {host_carrier} if host_carrier else hints
        for part in parts:
            found.extend(
                _Found(piece.judged, link.start(), link.end(), link.group(), host_carrier)
                for piece in _scan(part, frozenset(link_hints))
            )
        # The link's characters are read no further as text.
        start, end = link.start(), link.end()
        blanked = blanked[:start] + " " * (end - start) + blanked[end:]
    runs = _runs(blanked)
    unknown: list[str] = []
    for index, run in enumerate(runs):
        pasted = blanked[run[0].start : run[-1].end]
        pieces, complete = _split_run(run, hints, loose=False)
        if pieces and not complete:
            # Part of the run reads as a number and part does not: answering about the part
            # would answer about a number the buyer did not paste.
            unread.append(pasted)
            continue
        if not pieces and ((command and index == 0) or len(runs) == 1):
            # A command's first argument, or a message that is one run, is taken whole as the
            # number even when no carrier claims it (or only with a failed check: a typo).
            pieces, complete = _split_run(run, hints, loose=True)
        for piece in pieces:
            start, end = run[piece.first].start, run[piece.last].end
            found.append(_Found(piece.judged, start, end, blanked[start:end], None))
        if not pieces and _looks_like_a_number(run):
            unknown.append(pasted)
    if not found:
        unread.extend(unknown)
    found.sort(key=lambda item: item.start)
    found = _dedupe(found)
    if any(item.judged.strength != _ORDER for item in found):
        # A shop e-mail's order number is not a parcel when the e-mail has one.
        found = [item for item in found if item.judged.strength != _ORDER]
    if len(found) > 1:
        found = [item for item in found if item.judged.strength != _UNKNOWN]
    numbers: list[Pasted] = []
    consumed: list[tuple[int, int]] = [(item.start, item.end) for item in found]
    for position, item in enumerate(found):
        next_start = found[position + 1].start if position + 1 < len(found) else len(text)
        one, taken = _pasted(text, item, hints, next_start)
        if taken is not None:
            consumed.append(taken)
        numbers.append(one)
    words = _rest(text, consumed)
    return Reading(
        numbers=tuple(numbers[:limit]),
        more=max(0, len(numbers) - limit),
        unread=tuple(unread),
        words=words,
        text=text,
    )


def _scan(text: str, hints: frozenset[str]) -> Iterable[_Piece]:
    """The numbers in one part of a link (a path segment, a query value)."""
    for run in _runs(text):
        pieces, complete = _split_run(run, hints, loose=False)
        if complete:
            yield from pieces


def _looks_like_a_number(run: Sequence[_Token]) -> bool:
    joined = "".join(token.text for token in run)
    digits = sum(char.isdigit() for char in joined)
    return len(joined) >= 10 and digits >= 8 and digits * 2 >= len(joined)


def _dedupe(found: list[_Found]) -> list[_Found]:
    seen: set[str] = set()
    kept: list[_Found] = []
    for item in found:
        if item.judged.number in seen:
            continue
        seen.add(item.judged.number)
        kept.append(item)
    return kept


def _pasted(
    text: str, item: _Found, hints: frozenset[str], next_start: int
) -> tuple[Pasted, tuple[int, int] | None]:
    number = TrackingNumber(item.judged.number)
    matches = tuple(carriers.detect(number))
    order_id = OrderId(number) if carriers.looks_like_order_id(number) else None
    typo = item.judged.strength == _TYPO
    chosen = item.judged.carrier or _fitting(number, item.via) or None
    named: Carrier | None = None
    named_words = ""
    insist = False
    taken: tuple[int, int] | None = None
    after = _carrier_at(text, item.end) if item.end < next_start else None
    if after is not None and after[1] <= next_start:
        carrier, end = after
        rest = text[end:next_start]
        insist = rest.strip().casefold().startswith(INSIST_WORD)
        if insist:
            end += rest.casefold().index(INSIST_WORD) + len(INSIST_WORD)
        if _fitting(number, carrier.code) is not None or (not matches and not typo):
            # The number fits the carrier (or fits nobody, so the buyer's word is all we have).
            chosen, taken = carrier.code, (item.end, end)
        elif insist:
            chosen, taken = carrier.code, (item.end, end)
        else:
            named, named_words = carrier, text[item.end : end].strip(" \t-,:")
    elif chosen is None and hints:
        chosen = next((code for code in sorted(hints) if _fitting(number, code)), None)
    return (
        Pasted(
            number=number,
            pasted=item.pasted,
            matches=matches,
            at=item.start,
            order_id=order_id,
            carrier=chosen,
            named=named,
            named_words=named_words,
            insist=insist,
            typo=typo,
        ),
        taken,
    )


def _fitting(number: str, code: str | None) -> str | None:
    """``code`` when ``number`` fits one of that carrier's formats (check digit not wrong)."""
    if not code:
        return None
    match = carriers.validate(number, code)
    return code if match is not None and match.check_digit_valid is not False else None


def _rest(text: str, consumed: Sequence[tuple[int, int]]) -> str:
    keep = [True] * len(text)
    for start, end in consumed:
        for index in range(start, min(end, len(text))):
            keep[index] = False
    rest = "".join(char if kept else " " for char, kept in zip(text, keep, strict=True))
    return " ".join(rest.split())


# --- typos and fakes --------------------------------------------------------------------------


def _formats_of(match: CarrierMatch) -> list[NumberFormat]:
    return [
        number_format
        for number_format in FORMATS
        if match.format_name.startswith(number_format.name)
        and number_format.check is not None
        and number_format.pattern.fullmatch(match.number)
    ]


def corrections(match: CarrierMatch) -> tuple[str, ...]:
    """Every number one typing slip away from ``match.number`` that is valid in the same
    format: one character changed, two neighbours swapped, or one character too many."""
    number = match.number
    results: set[str] = set()
    for number_format in _formats_of(match):
        check = number_format.check
        if check is None:  # pragma: no cover - _formats_of keeps checked formats only
            continue
        options: set[str] = set()
        for index, char in enumerate(number):
            alphabet = "0123456789" if char.isdigit() else ALPHANUMERIC
            options.update(
                number[:index] + other + number[index + 1 :] for other in alphabet if other != char
            )
            options.add(number[:index] + number[index + 1 :])
            if index + 1 < len(number) and number[index + 1] != char:
                options.add(number[:index] + number[index + 1] + char + number[index + 2 :])
        for option in options:
            if number_format.pattern.fullmatch(option) and _checks(check, option):
                results.add(option)
    return tuple(sorted(results))


def _checks(check: object, number: str) -> bool:
    try:
        return bool(check(number))  # type: ignore[operator]
    except ValueError:
        return False


def repairs(pasted: str) -> tuple[str, ...]:
    """Valid numbers one slip away from text that could not be read whole: one character
    too many, or one missing ("9400 1118 9900 0000 0000 275" has one 0 too many)."""
    text = re.sub(r"[^0-9A-Z]+", "", clean(pasted).upper())
    if not 6 <= len(text) <= _MAX_JOIN:
        return ()
    options = {text[:index] + text[index + 1 :] for index in range(len(text))}
    options.update(
        text[:index] + digit + text[index:]
        for index in range(len(text) + 1)
        for digit in "0123456789"
    )
    return tuple(sorted(option for option in options if carriers.stands_out(option)))


def looks_fake(number: str) -> bool:
    """A published sample number, or digits no real label carries (all one digit, or counting
    straight up or down)."""
    if number in SAMPLE_NUMBERS:
        return True
    digits = "".join(char for char in number if char.isdigit())
    if len(digits) < 8:
        return False
    body = digits[:-1]
    if len(set(body)) == 1:
        return True
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(body)}
    return steps in ({1}, {9})
