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
(`settled`), so a later multiple ack is behind it on the wire. A tag the consumer never sees
(none today) only stops the batching at it: every later ack is then sent one by one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aio_pika.abc import AbstractIncomingMessage


class ChannelAcks:
    """The settled deliveries of one channel; lives and dies with it."""

    def __init__(self) -> None:
        self._lowest_open = 1
        self._settled_above: set[int] = set()
        self._lock = asyncio.Lock()

    async def ack(self, messages: Sequence[AbstractIncomingMessage]) -> None:
        """Ack `messages` (deliveries of this channel): in one frame for those whose lower tags
        are all settled, one by one for the others."""
        async with self._lock:
            for message in messages:
                self._settle(_tag(message))
            covered = [message for message in messages if _tag(message) < self._lowest_open]
            alone = [message for message in messages if _tag(message) >= self._lowest_open]
            if covered:
                await max(covered, key=_tag).ack(multiple=True)
            for message in alone:
                await message.ack()

    def settled(self, message: AbstractIncomingMessage) -> None:
        """Count a delivery settled once its reject or nack frame is queued."""
        self._settle(_tag(message))

    def _settle(self, tag: int) -> None:
        self._settled_above.add(tag)
        while self._lowest_open in self._settled_above:
            self._settled_above.remove(self._lowest_open)
            self._lowest_open += 1


def _tag(message: AbstractIncomingMessage) -> int:
    if message.delivery_tag is None:
        raise ValueError("a delivery without a tag (no_ack) cannot be acked")
    return message.delivery_tag
