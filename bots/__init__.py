"""The adapters: everything between the core and the world that is not a tracking source.

What lives here:

- the one composition root (``runtime``): settings → storage → sources → ``ParcelService``,
  then the chat platforms, the scheduler, the webhook server and the ops server, started and
  stopped together; ``settings`` is the only place that reads the environment;
- the chat adapters ``telegram_bot``, ``discord_bot`` and ``console_bot``: platform message →
  ``core.commands.CommandRouter`` → platform-neutral ``Reply`` → platform rendering, each with
  its ``Notifier`` for alerts (``notifier`` picks one per chat);
- the push endpoints (``webhooks``, ``webhook_inbox``): verify → parse → call ``core.pushes``
  or ``core.shop_sync``;
- operations: ``scheduler``, ``ops``, ``readiness``, ``metrics``, ``metrics_http``, ``logs``,
  ``gc_settings``, ``locales``, ``public_holidays``, ``shop_tokens``; ``cli`` holds command-line
  tools that are not the running bot.

What it may import: the core and the platform libraries (python-telegram-bot, discord.py,
aiohttp, APScheduler, prometheus-client, pydantic-settings, Babel). Storage only through the
``storage`` package's exports and only in the composition root and the command-line entry
(``__main__``); a provider only through its package's exports (its inner modules are its
own); the chat adapters never import each other. Nothing imports the adapters. import-linter
holds these rules.
"""
