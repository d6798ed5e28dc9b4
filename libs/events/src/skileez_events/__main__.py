"""`python -m skileez_events dead-letters list|show|replay` and `... schemas DIR`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from skileez_events.deadletters import list_dead_letters, replay
from skileez_events.schemas import EVENT_MODELS, json_schema
from skileez_events.topology import Names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m skileez_events")
    parser.add_argument(
        "--amqp-url", default=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1/")
    )
    parser.add_argument("--namespace", default=os.environ.get("EVENTS_NAMESPACE", ""))
    commands = parser.add_subparsers(dest="group", required=True)
    dead_letters = commands.add_parser("dead-letters", help="list, show or replay dead letters")
    action = dead_letters.add_subparsers(dest="action", required=True)
    action.add_parser("list", help="one line per dead-lettered message")
    show = action.add_parser("show", help="a dead-lettered message with its body")
    show.add_argument("message_id")
    again = action.add_parser("replay", help="send dead letters back to their consumer")
    target = again.add_mutually_exclusive_group(required=True)
    target.add_argument("--id", dest="message_id")
    target.add_argument("--all", action="store_true")
    snapshot = commands.add_parser("schemas", help="write the JSON Schema snapshots")
    snapshot.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    names = Names(args.namespace)

    if args.group == "schemas":
        for event_type in EVENT_MODELS:
            path = args.directory / f"{event_type}.json"
            path.write_text(json.dumps(json_schema(event_type), indent=2, sort_keys=True) + "\n")
        return 0

    if args.action == "replay":
        done = asyncio.run(replay(args.amqp_url, names, args.message_id))
        for letter in done:
            print(f"replayed {letter.queue}: {letter.summary()}")
        return 0 if done else 1
    letters = asyncio.run(list_dead_letters(args.amqp_url, names))
    if args.action == "list":
        for letter in letters:
            print(f"{letter.queue}: {letter.summary()}")
        return 0
    matching = [letter for letter in letters if letter.message_id == args.message_id]
    for letter in matching:
        print(f"{letter.queue}: {letter.summary()}\n{letter.body.decode(errors='replace')}")
    return 0 if matching else 1


if __name__ == "__main__":
    sys.exit(main())
