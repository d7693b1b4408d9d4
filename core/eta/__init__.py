"""Arrival estimates: learning transit times from delivered parcels and telling chats about them.

What lives here:

- :mod:`core.eta.model` — ``EtaModel``: two stage distributions (order → delivery, first
  carrier scan → delivery) learned online from every delivery, windows per parcel; it
  learns from ``core.models.Observation`` rows kept behind ``core.ports.ObservationRepository``.
- :mod:`core.eta.learn` — one stage's online learner: shrunk group levels, parcel effects and
  conformal windows from recent residuals.
- :mod:`core.eta.effects` — parcel details (``core.models.ParcelDetails``) as effect keys.
- :mod:`core.eta.stats` — quantile grids, the distribution shape estimates are read from.
- :mod:`core.eta.calendar` — working-day arithmetic per carrier: weekends, holidays, zones;
  holiday dates come through the ``HolidaySource`` port.
- :mod:`core.eta.markets` — which countries each carrier delivers in and on which weekdays.
- :mod:`core.eta.priors` — carriers' published transit times, used before any history.
- :mod:`core.eta.news` — what one chat was told about a parcel's arrival and when that
  deserves a "new estimate" or "running late" alert.
- :mod:`core.eta.provider` — ``EstimatingProvider``: a ``TrackingProvider`` wrapper adding the
  window to every snapshot and recording every delivery.

What it may import: the standard library, :mod:`core.models` and :mod:`core.ports`; the provider
wrapper also uses the core's small helpers (:mod:`core.budgets`, :mod:`core.cooperative`,
:mod:`core.incidents`). Nothing here imports the use cases (``core.service``), providers,
storage or adapters (enforced by the import-linter contracts in ``pyproject.toml``).
"""
