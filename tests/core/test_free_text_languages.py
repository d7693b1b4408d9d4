"""Words buyers type are understood in every language parcelbot speaks, whatever the chat's
language is: greetings and "help" show the help, questions get their answer."""

from __future__ import annotations

import pytest

from core import faq, reader
from core.commands import CommandRouter
from tests.fakes import chat

HELP = [
    "help", "Hi!", "bantuan", "Halo", "tolong", "สวัสดี", "ช่วยด้วย", "xin chào", "Trợ giúp",
    "tulong", "Kumusta?", "ayuda", "¡Hola!", "ajuda", "Olá",
]  # fmt: skip

QUESTIONS = [
    ("id", "paket saya tidak update dari kemarin", "not_updating"),
    ("ms", "parcel saya tiada kemaskini", "not_updating"),
    ("th", "พัสดุไม่อัปเดตเลยค่ะ", "not_updating"),
    ("vi", "đơn hàng không cập nhật mấy ngày rồi", "not_updating"),
    ("fil", "hindi gumagalaw yung parcel ko", "not_updating"),
    ("es", "mi paquete no se actualiza", "not_updating"),
    ("pt_BR", "meu pacote não atualiza", "not_updating"),
    ("id", "status terkirim tapi belum diterima", "delivered_not_received"),
    ("th", "ขึ้นว่าส่งแล้วแต่ยังไม่ได้รับ", "delivered_not_received"),
    ("vi", "báo đã giao nhưng tôi chưa nhận được", "delivered_not_received"),
    ("fil", "delivered na pero hindi ko natanggap", "delivered_not_received"),
    ("es", "dice entregado pero no lo recibí", "delivered_not_received"),
    ("pt_BR", "diz entregue mas não recebi", "delivered_not_received"),
    ("id", "paketnya rusak", "damaged"),
    ("es", "quiero cambiar dirección", "change_address"),
    ("vi", "khi nào đến vậy", "estimate_accuracy"),
]


@pytest.mark.parametrize("word", HELP)
async def test_help_words_in_every_language_show_the_help(router: CommandRouter, word: str) -> None:
    assert reader.is_help_word(word)
    (reply,) = await router.handle_text(chat(), word)
    assert any(line.startswith("/track") for line in reply.lines)


@pytest.mark.parametrize(("language", "text", "topic"), QUESTIONS)
async def test_questions_in_every_language_are_answered(
    router: CommandRouter, language: str, text: str, topic: str
) -> None:
    found = faq.match(text)
    assert found is not None and found.key == topic, (language, text)
    (reply,) = await router.handle_text(chat(), text)
    assert reply.title == faq.topic(topic).title  # type: ignore[union-attr]


def test_phrases_match_whole_words_only_outside_thai() -> None:
    # "rusak" (damaged) inside another word is no question; a Thai phrase has no spaces.
    assert faq.match("perusakan") is None
    assert faq.match("พัสดุไม่อัปเดต") is not None
