"""Prefect's temporary API server, started early and in the background by the CLI.

Kept apart from flows/archive.py, which imports Prefect (a second): a run that turns out to have
nothing to do (every class already archived from the same data) never imports Prefect at all.
"""

from __future__ import annotations

import os
import threading
from contextlib import suppress

from pipeline.settings import Settings


class TemporaryServerStart:
    """Prefect's temporary API server (no server configured), started in a thread as soon as a run
    knows it has work: its start (~8 s, STACK-NOTES) then overlaps the work the CLI has already
    started instead of preceding it. The flow finds the same server (Prefect keeps one per
    process) already running."""

    def __init__(self, settings: Settings) -> None:
        self._needed = not (settings.prefect_api_url or os.environ.get("PREFECT_API_URL"))
        self._thread: threading.Thread | None = None

    def begin(self) -> None:
        if self._needed and self._thread is None:
            self._thread = threading.Thread(
                target=_start_temporary_server, name="prefect-server", daemon=True
            )
            self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()


def _start_temporary_server() -> None:
    from prefect.server.api.server import SubprocessASGIServer

    with suppress(Exception):  # the flow starts it again and reports what went wrong
        SubprocessASGIServer().start()
