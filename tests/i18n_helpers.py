"""Catalogs written for a test: a few known translations per language, so a test can tell
which language a reply came out in whatever the shipped catalogs hold today."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from bots.locales import BabelDates, PoCatalogs
from core.i18n import DOMAIN, Voices

Translations = Mapping[str, str | tuple[str, ...]]

SAMPLE: dict[str, dict[str, str | tuple[str, ...]]] = {
    "id": {
        "Status: {status}": "Status: {status}",
        "In transit": "Dalam perjalanan",
        "Subscribed “{label}” — I will tell you when it moves.": (
            "Dilanggan “{label}” — saya kabari saat paket bergerak."
        ),
        "Language: {language}": "Bahasa: {language}",
        "Tracking update: {parcel}": "Kabar terbaru: {parcel}",
        "On its way: {parcel}": "Dalam perjalanan: {parcel}",
        "Out for delivery: {parcel}": "Sedang diantar: {parcel}",
        "Delivered: {parcel}": "Terkirim: {parcel}",
        "Refresh": "Segarkan",
        "Your parcels": "Paket Anda",
        "No parcels yet": "Belum ada paket",
        "parcelbot console — the sandbox carrier is running (no keys needed).": (
            "parcelbot console — kurir sandbox berjalan (tanpa kunci)."
        ),
    },
    "es": {
        "Status: {status}": "Estado: {status}",
        "In transit": "En tránsito",
        "Subscribed “{label}” — I will tell you when it moves.": (
            "Suscrito “{label}”: te aviso cuando se mueva."
        ),
        "Language: {language}": "Idioma: {language}",
        "Tracking update: {parcel}": "Novedad de seguimiento: {parcel}",
        "On its way: {parcel}": "En camino: {parcel}",
        "Out for delivery: {parcel}": "En reparto: {parcel}",
        "Delivered: {parcel}": "Entregado: {parcel}",
        "Refresh": "Actualizar",
        "Your parcels": "Tus paquetes",
        "No parcels yet": "Aún no hay paquetes",
        "Let's continue in private": "Sigamos en privado",
        "parcelbot console — the sandbox carrier is running (no keys needed).": (
            "consola de parcelbot: el transportista de prueba está activo (sin claves)."
        ),
    },
    "th": {
        "Status: {status}": "สถานะ: {status}",
        "In transit": "อยู่ระหว่างขนส่ง",
        "Subscribed “{label}” — I will tell you when it moves.": (
            "ติดตาม “{label}” แล้ว — จะแจ้งเมื่อพัสดุเคลื่อนที่"
        ),
        "Language: {language}": "ภาษา: {language}",
        "Tracking update: {parcel}": "อัปเดตพัสดุ: {parcel}",
        "On its way: {parcel}": "กำลังเดินทาง: {parcel}",
        "Out for delivery: {parcel}": "กำลังนำส่ง: {parcel}",
        "Delivered: {parcel}": "ส่งถึงแล้ว: {parcel}",
        "Refresh": "รีเฟรช",
        "Your parcels": "พัสดุของคุณ",
        "No parcels yet": "ยังไม่มีพัสดุ",
        "parcelbot console — the sandbox carrier is running (no keys needed).": (
            "คอนโซล parcelbot — ผู้ขนส่งจำลองกำลังทำงาน (ไม่ต้องใช้คีย์)"
        ),
    },
}
"""Known translations, written into test catalogs by ``write_catalogs``."""


def write_catalogs(root: Path, translations: Mapping[str, Translations] = SAMPLE) -> Path:
    """``root/<language>/LC_MESSAGES/parcelbot.po`` for each language; returns ``root``."""
    for language, messages in translations.items():
        catalog = Catalog(locale=language, domain=DOMAIN)
        for source, text in messages.items():
            catalog.add(source, text)
        folder = root / language / "LC_MESSAGES"
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / f"{DOMAIN}.po").open("wb") as out:
            write_po(out, catalog)
    return root


def sample_voices(root: Path) -> Voices:
    """Voices over the sample catalogs (written under ``root``) and Babel's dates."""
    return Voices(PoCatalogs(write_catalogs(root)), BabelDates())


ALERT_TITLES: dict[str, tuple[str, ...]] = {
    language: tuple(
        str(SAMPLE[language][source]).split("{", 1)[0]
        for source in (
            "Tracking update: {parcel}",
            "On its way: {parcel}",
            "Out for delivery: {parcel}",
            "Delivered: {parcel}",
        )
    )
    for language in SAMPLE
}
"""The start of each sample alert title, per language."""
