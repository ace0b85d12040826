"""Path F: the least a Python relay can do, on the gateway's own server stack.

A raw ASGI app on uvicorn (httptools, uvloop), one aiohttp session to the upstream, as the
gateway uses: every request's body is posted upstream as it came, and every chunk the
upstream sends is written to the client as it came. No framework, no auth, no parsing, no
usage rows, no deadlines: what is left is the event loop, the HTTP parsers and the socket
calls. The distance between this row and nginx's (C) is what Python and these libraries
cost; between this row and gpuchat's (B), what gpuchat adds on top.

    python floor.py --port 9200 --upstream http://127.0.0.1:9100
"""

from __future__ import annotations

import argparse
from typing import Any

import aiohttp
import uvicorn

Scope = dict[str, Any]


class Relay:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.http: aiohttp.ClientSession | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["path"] == "/health":
            await _answer(send, 200, b"ok")
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        assert self.http is not None
        headers = {"Content-Type": "application/json"}
        async with self.http.post(self.upstream + scope["path"], data=body, headers=headers) as up:
            await send(
                {
                    "type": "http.response.start",
                    "status": up.status,
                    "headers": [(b"content-type", up.headers["Content-Type"].encode())],
                }
            )
            async for chunk in up.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=300)
                self.http = aiohttp.ClientSession(connector=connector, auto_decompress=False)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.http is not None:
                    await self.http.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _answer(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", required=True, help="the upstream's base URL")
    args = ap.parse_args()
    uvicorn.run(
        Relay(args.upstream),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
