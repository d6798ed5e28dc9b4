"""The audit log: every operator action, who took it, when, on what, why and with what outcome.
Append-only (the database refuses UPDATE, DELETE and TRUNCATE on it)."""

from __future__ import annotations

import asyncpg

from skileez_backoffice.domain.audit import Action


class AuditLog:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def record(self, action: Action) -> int:
        """Append the action; its entry's id."""
        entry_id: int = await self._connection.fetchval(
            "INSERT INTO audit_log (actor_id, actor_name, action, subject, note, outcome,"
            " succeeded) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            action.actor_id,
            action.actor_name,
            action.kind,
            action.subject,
            action.note,
            action.outcome,
            action.succeeded,
        )
        return entry_id

    async def page(
        self, before: int | None, limit: int, subject: str | None = None
    ) -> list[asyncpg.Record]:
        """Up to `limit` entries, the latest first, older than entry `before`; of `subject` only
        if given."""
        rows: list[asyncpg.Record] = await self._connection.fetch(
            "SELECT * FROM audit_log WHERE ($1::bigint IS NULL OR id < $1)"
            " AND ($2::text IS NULL OR subject = $2) ORDER BY id DESC LIMIT $3",
            before,
            subject,
            limit,
        )
        return rows

    async def entry(self, entry_id: int) -> asyncpg.Record | None:
        return await self._connection.fetchrow("SELECT * FROM audit_log WHERE id = $1", entry_id)
