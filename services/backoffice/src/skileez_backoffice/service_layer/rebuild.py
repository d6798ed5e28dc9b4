"""`rebuild`: the read model emptied and filled again from the event archive, through the same
projection as live events, in one transaction (the console sees the old tables or the new ones,
never half of either). A report added later is filled for the past this way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from skileez_backoffice.service_layer.projection import project
from skileez_backoffice.service_layer.unit_of_work import Archive, UnitOfWork
from skileez_events import CloudEvent
from skileez_events.schemas import EVENT_MODELS

BATCH = 500
"""Archived events read per round trip."""


class Replay(Protocol):
    @property
    def archive(self) -> Archive: ...

    async def clear_read_model(self) -> None:
        """Empty every table of the read model (the archive and the audit log stay)."""
        ...

    def unit_of_work(self, envelope: CloudEvent) -> UnitOfWork:
        """A unit of work for projecting `envelope`, in the replay's transaction."""
        ...


@dataclass(frozen=True)
class Rebuilt:
    replayed: int
    unknown: int
    """Archived events of a type this version does not know (kept, not projected)."""


async def rebuild(replay: Replay) -> Rebuilt:
    await replay.clear_read_model()
    replayed = unknown = 0
    seq = 0
    while batch := await replay.archive.after(seq, BATCH):
        for archived in batch:
            seq = archived.seq
            model = EVENT_MODELS.get(archived.envelope.type)
            if model is None:
                unknown += 1
                continue
            data = model.model_validate(archived.envelope.data)
            await project(data, replay.unit_of_work(archived.envelope))
            replayed += 1
    return Rebuilt(replayed, unknown)
