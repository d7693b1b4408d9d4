"""Slash commands in every language: names, descriptions, options and choices from the catalogs.

Discord asks an ``app_commands.Translator`` for each string in each of its locales when the
command tree is synced. Descriptions, option descriptions and choice names are the catalog's
messages (a core command's description is the core's own, ``core.commands``); command and
option names are translated in the ``SLASH_NAME`` context and used only when Discord would
accept them (lower case, no spaces, at most 32 characters). Locales parcelbot does not speak,
and untranslated strings, keep the English text (``None``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation, TranslationContextTypes, locale_str

from core.commands import CommandSpec, describe_command
from core.i18n import DEFAULT_LANGUAGE, NC_, Voices, match_language, pgettext
from core.i18n import _ as translate

__all__ = ["NAMES", "SLASH_NAME", "CatalogTranslator", "valid_name"]

log = logging.getLogger(__name__)

SLASH_NAME = "slash command name"
"""The catalog context of command and option names."""

NAMES = (
    *(
        NC_("slash command name", "track"),
        NC_("slash command name", "subscribe"),
        NC_("slash command name", "unsubscribe"),
    ),
    *(
        NC_("slash command name", "list"),
        NC_("slash command name", "history"),
        NC_("slash command name", "notify"),
    ),
    *(
        NC_("slash command name", "mute"),
        NC_("slash command name", "unmute"),
        NC_("slash command name", "quiet"),
    ),
    *(
        NC_("slash command name", "explain"),
        NC_("slash command name", "report"),
        NC_("slash command name", "orders"),
    ),
    *(
        NC_("slash command name", "verify"),
        NC_("slash command name", "forget"),
        NC_("slash command name", "help"),
    ),
    *(
        NC_("slash command name", "language"),
        NC_("slash command name", "alerts"),
        NC_("slash command name", "setup"),
    ),
    *(NC_("slash command name", "alerts-channel"), NC_("slash command name", "allow-public")),
    *(
        NC_("slash command name", "number"),
        NC_("slash command name", "carrier"),
        NC_("slash command name", "label"),
    ),
    *(
        NC_("slash command name", "parcel"),
        NC_("slash command name", "level"),
        NC_("slash command name", "hours"),
    ),
    *(
        NC_("slash command name", "code"),
        NC_("slash command name", "order_id"),
        NC_("slash command name", "proof"),
    ),
    *(
        NC_("slash command name", "where"),
        NC_("slash command name", "channel"),
        NC_("slash command name", "state"),
    ),
    *(NC_("slash command name", "choice"),),
)
"""Every command and option name the adapter registers (for the catalog)."""

_TEXT_MAX = 100
"""Discord's limit for descriptions and choice names."""

# Discord's rule for command and option names (its documented CHAT_INPUT name pattern).
_NAME = re.compile(r"^[-_'\w\u0900-\u097f\u0e00-\u0e7f]{1,32}$")
_NAME_LOCATIONS = frozenset(
    {
        TranslationContextLocation.command_name,
        TranslationContextLocation.group_name,
        TranslationContextLocation.parameter_name,
    }
)


def valid_name(name: str) -> bool:
    """Whether Discord accepts ``name`` as a command or option name."""
    return name == name.lower() and _NAME.fullmatch(name) is not None


class CatalogTranslator(app_commands.Translator):
    """``app_commands.Translator`` over parcelbot's catalogs (``voices``); ``specs`` are the
    core's commands, whose descriptions the slash commands share."""

    def __init__(self, voices: Voices, specs: Mapping[str, CommandSpec]) -> None:
        self._voices = voices
        self._specs = specs

    async def translate(
        self, string: locale_str, locale: discord.Locale, context: TranslationContextTypes
    ) -> str | None:
        language = match_language(locale.value)
        if language is None or language == DEFAULT_LANGUAGE:
            return None
        with self._voices.speaking(language):
            if context.location in _NAME_LOCATIONS:
                text = pgettext(SLASH_NAME, string.message)
                return text if text != string.message and valid_name(text) else None
            spec = self._spec(context)
            source = spec.description if spec is not None else string.message
            text = describe_command(spec) if spec is not None else translate(source)
        if not text or text == source:
            return None
        if len(text) > _TEXT_MAX:
            # Discord refuses the whole command list over one long string: keep English here.
            log.warning("%s translation longer than %d characters: %r", language, _TEXT_MAX, text)
            return None
        return text

    def _spec(self, context: TranslationContextTypes) -> CommandSpec | None:
        """The core command whose description ``context`` asks for, if it is one."""
        if context.location is not TranslationContextLocation.command_description:
            return None
        command = context.data
        if getattr(command, "parent", None) is not None:
            return None
        return self._specs.get(getattr(command, "name", ""))
