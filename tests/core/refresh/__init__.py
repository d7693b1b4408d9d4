"""The refresh pipeline (``core.refresh``): polls, pushes stored as polls, archiving, fetches."""
