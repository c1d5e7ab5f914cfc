"""A stock Python Yjs client (pycrdt's provider over pycrdt-websocket's httpx channel) that stays
on a board until every card reads TEXT and there are COUNT of them (say, after a restore in
place), then prints the cards and leaves. Fails if its connection dropped on the way (a restore
must not need a reload) or after TIMEOUT_MS.

    python follower.py SERVER_URL ROOM COUNT TEXT TIMEOUT_MS
"""

import json
import sys

import anyio
from httpx_ws import aconnect_ws
from pycrdt import Doc, Map, Provider
from pycrdt.websocket.websocket import HttpxWebsocket


async def follow(server_url: str, room: str, count: int, text: str) -> tuple[list, bool]:
    doc = Doc()
    cards = doc.get("cards", type=Map)
    changed = anyio.Event()

    def on_change(_event) -> None:
        changed.set()

    doc.observe(on_change)
    async with aconnect_ws(f"{server_url.rstrip('/')}/{room}") as ws:
        async with Provider(doc, HttpxWebsocket(ws, room)) as provider:
            await provider.synced.wait()
            waited = False
            while True:
                shown = list(cards.to_py().values())
                if len(shown) == count and all(c.get("text") == text for c in shown):
                    return shown, waited
                waited = True
                changed = anyio.Event()
                await changed.wait()


async def main() -> int:
    server_url, room, count, text, timeout_ms = sys.argv[1:6]
    try:
        with anyio.fail_after(int(timeout_ms) / 1000):
            shown, waited = await follow(server_url, room, int(count), text)
    except TimeoutError:
        print("timed out before the board converged", file=sys.stderr)
        return 1
    # `waited` says the board changed into the awaited state while this client was connected.
    print(json.dumps({"cards": shown, "waited": waited}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
