"""The acks of one channel's deliveries, many in one frame where that is safe.

A channel numbers its deliveries 1, 2, 3... (AMQP delivery tags), and `basic.ack` with
`multiple` settles, in one frame, every delivery of the channel up to a tag. The consumer
settles its deliveries out of order (batches commit in any order; a failed delivery is nacked
after a pause, a malformed one rejected), so a multiple ack must never reach a delivery that is
still open, or that is about to be rejected or nacked: the broker would take it as acked.

`ChannelAcks` keeps the lowest tag not yet settled. The deliveries of a batch below it (all the
lower tags are settled) are acked with one multiple ack at the highest of them; the rest one
by one, as before. Deciding and sending happen under one lock, so frames leave in the order
they were decided; a reject or nack counts as settled only once its frame is queued
(`settled`), so a later multiple ack is behind it on the wire. A tag that is never settled
(none should be) only stops the batching at it: every later ack is then sent one by one, and
past `TRACKED` settled tags above it, they are no longer tracked.

It is for a channel that is never restored under it (`aio_pika.connect`, not
`connect_robust`): a new channel numbers its deliveries from 1 again, and needs new
`ChannelAcks`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aio_pika.abc import AbstractIncomingMessage

log = logging.getLogger(__name__)

TRACKED = 10_000
"""Settled tags kept above an open one at most (the consumer's prefetch is 50)."""


class ChannelAcks:
    """The settled deliveries of one channel; lives and dies with it."""

    def __init__(self) -> None:
        self._lowest_open: int | None = 1  # None: not tracked any more, every ack alone
        self._settled_above: set[int] = set()
        self._lock = asyncio.Lock()

    async def ack(self, messages: Sequence[AbstractIncomingMessage]) -> None:
        """Ack `messages` (deliveries of this channel): in one frame for those whose lower tags
        are all settled, one by one for the others."""
        async with self._lock:
            for message in messages:
                self._settle(_tag(message))
            lowest_open = self._lowest_open or 0
            covered = [message for message in messages if _tag(message) < lowest_open]
            alone = [message for message in messages if _tag(message) >= lowest_open]
            if covered:
                await max(covered, key=_tag).ack(multiple=True)
            for message in alone:
                await message.ack()

    def settled(self, message: AbstractIncomingMessage) -> None:
        """Count a delivery settled once its reject or nack frame is queued."""
        self._settle(_tag(message))

    def _settle(self, tag: int) -> None:
        if self._lowest_open is None:
            return
        self._settled_above.add(tag)
        while self._lowest_open in self._settled_above:
            self._settled_above.remove(self._lowest_open)
            self._lowest_open += 1
        if len(self._settled_above) > TRACKED:
            log.warning(
                "delivery %d is unsettled %d deliveries later: acks go one by one from now on",
                self._lowest_open,
                TRACKED,
            )
            self._lowest_open = None
            self._settled_above.clear()


def _tag(message: AbstractIncomingMessage) -> int:
    if message.delivery_tag is None:
        raise ValueError("a delivery without a tag (no_ack) cannot be acked")
    return message.delivery_tag
