"""Properties of the reader over generated messages.

- What it extracts appears in the message, in order, once separators are ignored: it never
  answers about a number the buyer did not paste.
- It never returns a truncated prefix of a longer valid number in the same message.
- It never raises, whatever the text.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core import carriers
from core.reader import clean, read
from tests.core.paste_forms import MAIN_NUMBERS

POOL = sorted({number for numbers in MAIN_NUMBERS.values() for number in numbers})
FILLERS = (
    "Hi",
    "your order",
    "tracking number:",
    "thanks!",
    "Box 2",
    "Call 0800 123 4567",
    "ref 60120172242323",
    "on 2025-12-31",
    "275",
    "0000",
    "12",
    "ups",
    "J&T Express",
    "https://www.ups.com/track?tracknum=",
)
_FULLWIDTH = {ord(char): ord(char) + 0xFEE0 for char in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_NOT_ALNUM = re.compile(r"[^0-9A-Z]+")


def _render(number: str, style: int) -> str:
    if style == 1:
        return number.lower()
    if style == 2:
        return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    if style == 3:
        return "-".join(number[i : i + 4] for i in range(0, len(number), 4))
    if style == 4:
        return number.translate(_FULLWIDTH)
    if style == 5:
        return number[:5] + "\u200b" + number[5:]
    return number


ITEMS = st.one_of(
    st.builds(_render, st.sampled_from(POOL), st.integers(0, 5)),
    st.sampled_from(FILLERS),
    st.text(alphabet="0123456789 ", min_size=1, max_size=6),
)
MESSAGES = st.lists(
    st.tuples(ITEMS, st.sampled_from([" ", "\n", ", ", " - ", ". ", "  "])),
    min_size=1,
    max_size=8,
).map(lambda parts: "".join(item + gap for item, gap in parts))


def _stripped(text: str) -> str:
    return _NOT_ALNUM.sub("", clean(text).upper())


@settings(max_examples=300, deadline=None)
@given(MESSAGES)
def test_extracted_numbers_appear_in_the_message_in_order(text: str) -> None:
    stripped = _stripped(text)
    position = 0
    for pasted in read(text).numbers:
        found = stripped.find(pasted.number, position)
        assert found >= 0, (pasted.number, text)
        position = found + len(pasted.number)


@settings(max_examples=300, deadline=None)
@given(MESSAGES)
def test_never_a_truncated_prefix_of_a_longer_valid_number(text: str) -> None:
    reading = read(text)
    for pasted in reading.numbers:
        if not reading.text.startswith(pasted.pasted, pasted.at) or "/" in pasted.pasted:
            continue  # a number taken out of a link
        # The message as written from where the number starts, groups joined the way a
        # printed number's are (single spaces or dashes): no longer prefix may be valid.
        written = _GROUPED.match(reading.text, pasted.at)
        assert written is not None
        message = reading.text[pasted.at :]
        groups = [group.upper() for group in _words(written.group(), pasted.pasted, message)]
        assert "".join(groups).startswith(pasted.number), (pasted, text)
        read_numbers = {other.number for other in reading.numbers}
        for end in range(1, len(groups) + 1):
            longer, rest = "".join(groups[:end]), "".join(groups[end:])
            # A longer valid number the buyer wrote: it leaves nothing of its run behind, or
            # only another number that was read.
            written_whole = not rest or rest in read_numbers
            # Whole numbers side by side stay separate: a join of the number with the next
            # numbers read is not a longer number the reader cut short.
            others = _made_of(longer[len(pasted.number) :], read_numbers)
            if len(longer) > len(pasted.number) and written_whole and not others:
                assert not carriers.stands_out(longer), (pasted.number, longer, text)


def _made_of(text: str, numbers: Collection[str]) -> bool:
    """Whether ``text`` is one or more of ``numbers`` written one after another."""
    if not text:
        return False
    return any(
        text == number or (text.startswith(number) and _made_of(text[len(number) :], numbers))
        for number in numbers
        if number
    )


def _names_a_carrier(text: str) -> bool:
    """Whether ``text`` starts with a carrier's name of one to four words ("J&T Express")."""
    words = re.findall(r"[0-9A-Za-z]+(?:&[0-9A-Za-z]+)*", text)[:4]
    return any(carriers.get_carrier(" ".join(words[:n])) is not None for n in range(1, 5))


def _words(written: str, pasted: str, message: str) -> list[str]:
    """The groups of ``written`` up to the first word: a capitalised one, or a lower-case one
    unless the number itself was typed in lower case ("NVSGABC1234567 ok" is a number and a
    word, "1z sbx 123 03 0000 0263" one number), or a carrier's name ("KEX1234567890 J&T" is a
    number and the carrier the buyer names). ``message`` is the message from where ``written``
    starts, where a name reads on past the groups ("J&T")."""
    typed_lower = any(char.islower() for char in pasted)
    size = len(re.sub(r"[^0-9A-Za-z]", "", pasted))
    groups: list[str] = []
    for found in re.finditer(r"[0-9A-Za-z]+", written):
        group = found.group()
        word = not any(c.isdigit() for c in group)
        if word and groups and _names_a_carrier(message[found.start() :]):
            break
        # Past the number, a lower-case word is a word of the message ("nvsgabc1234567 your
        # order"): the reader never glues one onto the end of a number, by design.
        past = sum(len(g) for g in groups) >= size
        # A capitalised word ("Box") is a word of the message even next to a typed number.
        if word and not group.isupper() and (group.istitle() or not typed_lower or past):
            break
        groups.append(group)
    return groups


_GROUPED = re.compile(r"[0-9A-Za-z]+(?:(?:[ \t]{1,3}|[ \t]?[-.][ \t]?)[0-9A-Za-z]+)*")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_reading_any_text_never_raises(text: str) -> None:
    reading = read(text)
    for pasted in reading.numbers:
        assert pasted.number.isascii() and pasted.number.isalnum()
    read(text, command=True)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(POOL), st.integers(0, 5), st.sampled_from(["", "Tracking: ", "/track "]))
def test_a_lone_number_in_any_form_is_read_whole(number: str, style: int, prefix: str) -> None:
    command = prefix == "/track "
    assume(command or prefix == "" or carriers.stands_out(number))
    text = prefix.removeprefix("/track ") + _render(number, style)
    assert [p.number for p in read(text, command=command).numbers] == [number]
