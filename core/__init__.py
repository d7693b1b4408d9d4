"""parcelbot's core: the product, independent of chat platform, tracking source and database.

What lives here:

- the value objects every part exchanges (``models``) and every contract between the core and
  the parts around it (``ports``); the errors a person can cause (``errors``); the tunables
  (``config``);
- the domain rules, pure functions over the models: reading numbers out of what people paste
  (``reader``, ``identifiers``, ``carriers``, ``carrier_formats``, ``check_digits``), what
  went wrong with a parcel (``incidents``: derivation and the once-per-snapshot
  ``Assessment``) and what that means for the buyer (``explanations``, ``faq``, ``advice``),
  which changes are worth an alert and when to look again (``alerts``, ``polling``,
  ``preferences``, ``digest``), who may read what (``privacy``), the replies (``replies``,
  ``report``, ``i18n``), and keeping requests under a rate limit as the server counts them
  (``pacing``);
- the use cases: the chat use cases (``service``, reached through the platform-neutral command
  router ``commands``), the refresh pipeline (``refresh``: fetching, enrichment, polling,
  pushed snapshots, archiving), order access (``ownership``), alert delivery (``flusher``),
  pushes and the shop's order index (``pushes``, ``shop_sync``), the named sources and their
  health (``sources``);
- sub-packages: ``core.eta`` (arrival estimates) and ``core.providers`` (the outside sources
  and the registry that names them).

What it may import: the standard library only (``core.providers`` alone reaches httpx, and
only the composition root and the registry's callers import it). Nothing in
the core imports storage or the adapters. Inside, the use cases sit on top: ``service``
composes ``refresh``, ``ownership`` and ``flusher``, none of which reaches back up; ``pushes``
and ``shop_sync`` reach everything through ``ports``; the domain rules import no use case.
import-linter holds these rules (``[tool.importlinter]`` in ``pyproject.toml``).
"""
