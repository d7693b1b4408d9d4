"""Command-line tools behind ``parcelbot`` subcommands that are not the running bot.

:mod:`bots.cli.bench_eta` is ``parcelbot bench eta``: the arrival-estimate backtest on
delivered-order files. Modules here may import the core, the standard library and the
holiday calendars (``bots.public_holidays``); they do not start bots or open the database.
"""
