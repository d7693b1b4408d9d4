"""parcelbot's gettext catalogs (``<language>/LC_MESSAGES/parcelbot.po``), shipped as package
data so an installed parcelbot finds them as a checkout does (``bots.locales``)."""
