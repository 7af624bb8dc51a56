"""A background FITS writer with a bounded queue, so the next exposure starts
while the last flat is written. The session drains its results between frames."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from astropy.io import fits

from app.fits_store import write_flat
from app.stats import Frame


@dataclass(frozen=True, slots=True)
class WriteJob:
    """One flat to write."""

    index: int
    name: str
    frame: Frame
    header: fits.Header
    exposure_s: float
    mean_native: float
    mean_16bit: float
    channels_16bit: Mapping[str, float] | None = None
    #: folder below the writer's folder ("" = the folder itself)
    subdir: str = ""
    #: the record section the file belongs to (a filter), None for a one-filter run
    section: str | None = None
    #: 'FLAT' or 'DARK'
    image_type: str = "FLAT"


@dataclass(frozen=True, slots=True)
class WriteResult:
    """A finished job: the path written, or the error that stopped it."""

    job: WriteJob
    path: Path | None
    error: Exception | None


class FitsWriter:
    """Writes jobs in order on one thread; ``on_written`` runs on that thread."""

    def __init__(
        self,
        folder: Path,
        *,
        max_pending: int = 2,
        on_written: Callable[[WriteJob, Path], None] | None = None,
        release: Callable[[Frame], None] | None = None,
    ) -> None:
        self.folder = folder
        self._jobs: queue.Queue[WriteJob | None] = queue.Queue(maxsize=max_pending)
        self.results: queue.Queue[WriteResult] = queue.Queue()
        self._on_written = on_written
        self._release = release
        self._failed = threading.Event()
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name="fits-writer", daemon=True)
        self._thread.start()

    @property
    def failed(self) -> bool:
        """True once a write has failed; later jobs are refused."""
        return self._failed.is_set()

    def submit(self, job: WriteJob, cancel: threading.Event | None = None) -> None:
        """Queue a job, waiting while the queue is full."""
        while True:
            try:
                self._jobs.put(job, timeout=0.1)
                return
            except queue.Full:
                if self._failed.is_set() or not self._thread.is_alive():
                    raise OSError(f"could not write flats: {self.error}") from None

    def close(self) -> None:
        """Finish every queued job, then stop the thread."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()

    def _publisher(self, job: WriteJob) -> Callable[[Path], None] | None:
        """The callback that records ``job``'s file the moment it is published."""
        on_written = self._on_written
        if on_written is None:
            return None

        def published(path: Path) -> None:
            on_written(job, path)

        return published

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                if self._failed.is_set():
                    raise OSError("not written: an earlier write failed")
                folder = self.folder / job.subdir if job.subdir else self.folder
                if job.subdir:
                    folder.mkdir(parents=True, exist_ok=True)
                path = write_flat(folder, job.name, job.frame, job.header,
                                  on_published=self._publisher(job))
            except Exception as error:  # reported to the session, never lost
                self.error = self.error or error
                self._failed.set()
                self.results.put(WriteResult(job, None, error))
            else:
                self.results.put(WriteResult(job, path, None))
            finally:
                if self._release is not None:
                    self._release(job.frame)
