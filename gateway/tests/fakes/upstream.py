"""A scripted fake OpenAI upstream for relay, fault and load tests.

Run as a `command` profile: `python tests/fakes/upstream.py --port {port}`.
The last user message picks the behaviour; anything not starting with `!` is answered by
streaming `echo: <message>` word by word. Scripts (space-separated, combinable):

    !reject 400        answer that status with an OpenAI error body before streaming
    !fail 500          same for a server error
    !die 3             stream 3 chunks, then drop the connection
    !stall 2           stream 2 chunks, then go silent (connection kept open)
    !hang              never send the status line
    !slow 1.5          wait that many seconds before the status line
    !prefill 1.5       send the status line and role chunk, then wait before the first token
    !tokens 50         stream that many tokens ("t0 t1 ...")
    !think 3           first "think" that many tokens ("r0 r1 ..."), as vLLM's reasoning
                       parser sends them (`delta.reasoning`; the message's `reasoning`)
    !gap 0.05          seconds between chunks
    !error-frame 2     stream 2 chunks, then an in-stream error frame and [DONE]
    !no-usage          never send a usage chunk
    !title-fail        (anywhere in the text) non-stream requests, like titles, answer 500

Engine-side behaviour for supervisor tests (command-line options):

    --load-seconds 2   take that long to "load" before the port opens
    --progress         print vLLM-style weight-loading lines (0..100 %) while loading
    --crash-after 1.5  exit with code 1 that long after the port opened
    --hang-health      /health never answers (the start times out)
    --max-model-len N  report N as the model's context in /v1/models, as vLLM does
    --batch 2          like vLLM: at most 2 streams generate at once, the others wait inside
                       the engine for a batch slot; GET /metrics says how many of each (in
                       vLLM's metric names)
    --gap 0.05         seconds between chunks when the script sets none (a steady engine
                       for load tests: `echo:` answers take words x gap)

Faults at run time (the chaos suite, tests/utils/stack): `POST /_fault {"gap": 10}` makes
every chunk from then on, in new and in-flight streams, wait that long (a slow engine);
`{"gap": null}` restores the default.

Every request is recorded by its X-Request-Id: `GET /_requests/{id}` says whether the
client (the gateway) closed the connection, and when; `GET /_last` returns the last body.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

from aiohttp import web

RECORDS: dict[str, dict[str, Any]] = {}
LAST: dict[str, Any] = {}
BATCH: asyncio.Semaphore | None = None  # --batch: the engine's own batch slots
BATCH_SIZE = 0
ENGINE = {"running": 0, "waiting": 0}
DEFAULT_GAP = 0.0  # --gap
FAULT: dict[str, float] = {}  # POST /_fault: "gap" overrides every chunk's gap


def parse_script(text: str) -> dict[str, Any]:
    script: dict[str, Any] = {"gap": DEFAULT_GAP, "slow": 0.0, "thoughts": []}
    words = text.split()
    if not words or not words[0].startswith("!"):
        script["words"] = ["echo:", *words] if words else ["echo:"]
        return script
    i = 0
    while i < len(words):
        key = words[i].lstrip("!")
        takes_value = key in {
            "reject",
            "fail",
            "die",
            "stall",
            "slow",
            "prefill",
            "tokens",
            "think",
            "gap",
            "error-frame",
        }
        value = words[i + 1] if takes_value and i + 1 < len(words) else None
        script[key] = float(value) if value is not None else True
        i += 2 if takes_value else 1
    count = int(script.get("tokens", 5))
    script["words"] = [f"t{n}" for n in range(count)]
    script["thoughts"] = [f"r{n}" for n in range(int(script.get("think", 0)))]
    return script


def chunk(
    model: str,
    content: str | None = None,
    *,
    role: bool = False,
    finish: str | None = None,
    reasoning: str | None = None,
) -> bytes:
    delta: dict[str, Any] = {}
    if role:
        delta["role"] = "assistant"
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta["reasoning"] = reasoning
    payload = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"


def usage_chunk(model: str, prompt: int, completion: int) -> bytes:
    payload = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


async def watch_close(request: web.Request, record: dict[str, Any], seconds: float) -> None:
    """Sleep, noticing a closed connection every 20 ms."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        transport = request.transport
        if transport is None or transport.is_closing():
            record.setdefault("closed_at", time.time())
            raise ConnectionResetError
        await asyncio.sleep(min(0.02, max(end - time.monotonic(), 0)))


async def pause(request: web.Request, record: dict[str, Any], gap: float) -> None:
    """The gap after a chunk; a fault's gap, set or cleared meanwhile, applies at once."""
    start = time.monotonic()
    while time.monotonic() - start < FAULT.get("gap", gap):
        await watch_close(request, record, 0.02)


async def chat(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    LAST.clear()
    LAST.update(body)
    request_id = request.headers.get("X-Request-Id", f"anon-{len(RECORDS)}")
    record: dict[str, Any] = {"started_at": time.time(), "completed": False, "body": body}
    RECORDS[request_id] = record
    # Tests know the id they sent; the gateway forwards it beside its own.
    client_id = request.headers.get("X-Client-Request-Id")
    if client_id:
        RECORDS[client_id] = record
    user_messages = [m for m in body.get("messages", []) if m.get("role") == "user"]
    text = user_messages[-1].get("content", "") if user_messages else ""
    script = parse_script(text if isinstance(text, str) else "")
    if not body.get("stream") and "!title-fail" in str(text):
        script["fail"] = 500
    model = body.get("model", "fake")
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    try:
        if script.get("hang"):
            await watch_close(request, record, 3600)
        for status_key in ("reject", "fail"):
            if status_key in script:
                status = int(script[status_key])
                record["completed"] = True
                return web.json_response(
                    {
                        "error": {
                            "message": f"fake {status_key} {status}",
                            "type": "fake",
                            "code": None,
                        }
                    },
                    status=status,
                )
        await watch_close(request, record, script["slow"])
        if not body.get("stream"):
            return await _complete_json(body, script, record, model, prompt_tokens)
        return await _stream(request, body, script, record, model, prompt_tokens)
    except (ConnectionResetError, asyncio.CancelledError):
        record.setdefault("closed_at", time.time())
        raise


async def _complete_json(
    body: dict[str, Any],
    script: dict[str, Any],
    record: dict[str, Any],
    model: str,
    prompt_tokens: int,
) -> web.Response:
    words = script["words"]
    record["completed"] = True
    return web.json_response(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": " ".join(words),
                        "reasoning": " ".join(script["thoughts"]) or None,
                    },
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(words) + len(script["thoughts"]),
                "total_tokens": prompt_tokens + len(words) + len(script["thoughts"]),
            },
        }
    )


async def _stream(
    request: web.Request,
    body: dict[str, Any],
    script: dict[str, Any],
    record: dict[str, Any],
    model: str,
    prompt_tokens: int,
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    if BATCH is None:
        return await _generate(request, response, body, script, record, model, prompt_tokens)
    ENGINE["waiting"] += 1
    try:
        await BATCH.acquire()
    finally:
        ENGINE["waiting"] -= 1
    ENGINE["running"] += 1
    try:
        return await _generate(request, response, body, script, record, model, prompt_tokens)
    finally:
        ENGINE["running"] -= 1
        BATCH.release()


async def _generate(
    request: web.Request,
    response: web.StreamResponse,
    body: dict[str, Any],
    script: dict[str, Any],
    record: dict[str, Any],
    model: str,
    prompt_tokens: int,
) -> web.StreamResponse:
    await response.write(chunk(model, role=True, content=""))
    await watch_close(request, record, script.get("prefill", 0.0))
    for n, thought in enumerate(script["thoughts"]):
        await response.write(chunk(model, reasoning=(" " if n else "") + thought))
        await pause(request, record, script["gap"])
    words = script["words"]
    for n, word in enumerate(words):
        if "die" in script and n >= script["die"]:
            record["died"] = True
            await asyncio.sleep(0.2)  # let the reader take what was sent: a reset drops it
            assert request.transport is not None
            request.transport.abort()
            return response
        if "stall" in script and n >= script["stall"]:
            await watch_close(request, record, 3600)
        if "error-frame" in script and n >= script["error-frame"]:
            error = {"error": {"message": "fake engine error", "type": "server_error", "code": 500}}
            await response.write(b"data: " + json.dumps(error).encode() + b"\n\n")
            await response.write(b"data: [DONE]\n\n")
            record["completed"] = True
            return response
        await response.write(chunk(model, (" " if n else "") + word))
        await pause(request, record, script["gap"])
    await response.write(chunk(model, finish="stop"))
    include_usage = (body.get("stream_options") or {}).get("include_usage")
    if include_usage and not script.get("no-usage"):
        generated = len(words) + len(script["thoughts"])
        await response.write(usage_chunk(model, prompt_tokens, generated))
    await response.write(b"data: [DONE]\n\n")
    record["completed"] = True
    return response


async def request_record(request: web.Request) -> web.Response:
    record = RECORDS.get(request.match_info["request_id"])
    if record is None:
        return web.json_response({"error": "unknown"}, status=404)
    return web.json_response(record)


async def fault(request: web.Request) -> web.Response:
    body = await request.json()
    if body.get("gap") is None:
        FAULT.pop("gap", None)
    else:
        FAULT["gap"] = float(body["gap"])
    return web.json_response(FAULT)


async def last(_: web.Request) -> web.Response:
    return web.json_response(LAST)


HANG_HEALTH = False


async def health(_: web.Request) -> web.Response:
    if HANG_HEALTH:
        await asyncio.sleep(3600)
    return web.json_response({"status": "ok"})


MAX_MODEL_LEN: int | None = None  # --max-model-len: reported in /v1/models, as vLLM does


async def models(_: web.Request) -> web.Response:
    entry: dict[str, Any] = {"id": "fake", "object": "model"}
    if MAX_MODEL_LEN is not None:
        entry["max_model_len"] = MAX_MODEL_LEN
    return web.json_response({"object": "list", "data": [entry]})


async def metrics(_: web.Request) -> web.Response:
    """The gauges gpuchat reads from vLLM, under vLLM's names (only with --batch)."""
    if BATCH is None:
        raise web.HTTPNotFound
    labels = '{engine="0",model_name="fake"}'
    text = (
        f"# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{labels} "
        f"{ENGINE['running']}.0\n"
        f"# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{labels} "
        f"{ENGINE['waiting']}.0\n"
        f"# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{labels} "
        f"{ENGINE['running'] / BATCH_SIZE}\n"
    )
    return web.Response(text=text, content_type="text/plain")


async def tokenize(request: web.Request) -> web.Response:
    """vLLM's `/tokenize` for chat messages: here one token per word."""
    body = await request.json()
    count = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    return web.json_response({"count": count, "max_model_len": MAX_MODEL_LEN})


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/tokenize", tokenize)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/health", health)
    app.router.add_get("/_requests/{request_id}", request_record)
    app.router.add_get("/_last", last)
    app.router.add_post("/_fault", fault)
    return app


def load(seconds: float, progress: bool) -> None:
    """Pretend to load weights, printing what vLLM prints (tqdm redraws with \\r)."""
    steps = 4
    for step in range(steps + 1):
        if progress:
            percent = step * 100 // steps
            end = "\n" if step == steps else "\r"
            line = (
                f"Loading safetensors checkpoint shards: {percent:3d}% Completed | {step}/{steps}"
            )
            print(line, end=end, flush=True)
        if step < steps:
            time.sleep(seconds / steps)
    if progress:
        print(f"Loading weights took {seconds:.2f} seconds", flush=True)


def crash_later(seconds: float) -> Any:
    async def on_startup(_: web.Application) -> None:
        async def crash() -> None:
            await asyncio.sleep(seconds)
            print("fatal: simulated engine crash", flush=True)
            os._exit(1)

        asyncio.get_running_loop().create_task(crash())

    return on_startup


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--load-seconds", type=float, default=0.0)
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--crash-after", type=float, default=None)
    parser.add_argument("--hang-health", action="store_true")
    parser.add_argument("--batch", type=int, default=0)
    parser.add_argument("--max-model-len", type=int, default=None)
    parser.add_argument("--gap", type=float, default=0.0)
    args = parser.parse_args()
    DEFAULT_GAP = args.gap
    MAX_MODEL_LEN = args.max_model_len
    HANG_HEALTH = args.hang_health
    if args.batch:
        BATCH, BATCH_SIZE = asyncio.Semaphore(args.batch), args.batch
    load(args.load_seconds, args.progress)
    app = make_app()
    if args.crash_after is not None:
        app.on_startup.append(crash_later(args.crash_after))
    print(f"fake upstream listening on port {args.port}", flush=True)
    # A short shutdown: SIGTERM must not wait for a hanging /health or a long stream.
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, shutdown_timeout=1.0)
