"""Every service serves its own dead letters to admins (`/admin/dead-letters`), so the console
lists and replays those of each one."""

from __future__ import annotations

from skileez_system.client import Parties
from skileez_system.system import ALL_SERVICES


async def test_every_service_lists_its_dead_letters_to_an_admin_only(parties: Parties) -> None:
    for service in ALL_SERVICES:
        listed = await parties.admin.call("GET", service, "/admin/dead-letters")
        assert listed.status == 200, (service, listed.body)
        assert listed.body["dead_letters"] == []
        for someone in (parties.student, parties.coach):
            refused = await someone.call("GET", service, "/admin/dead-letters")
            assert refused.status == 403, (service, refused.body)
        missing = await parties.admin.call(
            "POST", service, "/admin/dead-letters/no-such-message/replay"
        )
        assert (missing.status, missing.body["code"]) == (404, "dead_letter_not_found")
