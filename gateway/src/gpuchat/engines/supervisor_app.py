"""`gpuchat supervisor`: the engine manager behind an HTTP control API (aiohttp.web).

Routes (all `/control/...` need `Authorization: Bearer <GPUCHAT_SUPERVISOR_SECRET>`):

    GET  /control/profiles                  the profile set (the file, or the gateway's)
    PUT  /control/profiles?revision=N       the gateway's profile set (its database's);
                                            an older revision than held: applied=false
    GET  /control/statuses                  every engine's status
    POST /control/start                     {"launch_default": bool}
    POST /control/ensure-ready              {"alias"}
    POST /control/acquire                   {"alias", "affinity"} -> upstream with a lease id
    POST /control/poll                      {"leases": [...]}: renew; revoked ids come back
    POST /control/leases/{id}/release       {"failed": bool}
    POST /control/profiles/{name}/activate  {"wait": bool}
    POST /control/profiles/{name}/stop      {"wait": bool}
    GET  /control/engines/{name}/logs?tail=N
    GET  /control/engines/{name}/logs/follow   text/plain, one line per log line, forever
    GET  /control/gpus
    GET  /healthz                           no secret: for the container's health check
    *    /proxy/{token}/v1/...              no secret: the token (a lease id) is the key

Every control answer carries `statuses`, so the client's view is fresh after each call.

The API is reachable only as intended: the control routes always need the secret (a
generated one when none is configured, `Settings.supervisor_control_secret`); a request
with a body must say JSON (a browser page cannot send that cross-origin without a CORS
preflight, which this server never answers); bound to loopback, it answers only to a
loopback `Host` (a DNS-rebinding page names its own); and a proxy path stays under the
engine's `/v1` (no `..` or `.` segments).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final, TypeVar

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ValidationError

from gpuchat.engines.control import (
    ControlRefused,
    EngineControl,
    EngineUnavailable,
    SwitchConflict,
    UnknownModel,
)
from gpuchat.engines.manager import EngineManager
from gpuchat.engines.profiles import ProfilesFile
from gpuchat.engines.supervisor import LEASE_TTL_S, Supervisor
from gpuchat.engines.wire import CONTROL_PREFIX, PROXY_PREFIX, ControlReply, error_reply

log = logging.getLogger(__name__)

SUPERVISOR: Final = web.AppKey("supervisor", Supervisor)
HTTP: Final = web.AppKey("http", aiohttp.ClientSession)
MAX_BODY_BYTES: Final = 16 * 1024 * 1024  # the gateway caps bodies itself (2 MiB default)
PROXIED_HEADERS: Final = ("Content-Type", "Accept")
LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "[::1]"})
JSON_TYPES: Final = frozenset({"application/json"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)
routes = web.RouteTableDef()


class _Alias(BaseModel):
    alias: str
    affinity: str | None = None
    avoid: tuple[str, ...] = ()  # replica URLs the request failed on (acquire only)


class _Start(BaseModel):
    launch_default: bool = False
    active: str | None = None


class _Wait(BaseModel):
    wait: bool = False


class _Revision(BaseModel):
    revision: int | None = None


def create_supervisor_app(
    control: EngineControl,
    profiles: ProfilesFile,
    *,
    secret: str,
    allowed_hosts: frozenset[str] | None = None,
    lease_ttl_s: float = LEASE_TTL_S,
) -> web.Application:
    """The control API over `control`; whoever built `control` starts and closes it.
    `allowed_hosts`: the `Host` names it answers to (None: any)."""
    if not secret:
        raise ValueError("the supervisor's control API needs a secret")
    app = web.Application(
        middlewares=[_screen(allowed_hosts), _authenticate(secret), _control_errors],
        client_max_size=MAX_BODY_BYTES,
    )
    app[SUPERVISOR] = Supervisor(control, lease_ttl_s=lease_ttl_s)
    app[SUPERVISOR].take_profiles(profiles)
    app.add_routes(routes)
    app.cleanup_ctx.append(_lifetime)
    return app


def run_supervisor(
    profiles: ProfilesFile,
    *,
    host: str,
    port: int,
    secret: str,
    models_dir: Path,
    logs_dir: Path,
    start_engines: bool,
    vllm_command: tuple[str, ...] | None = None,
) -> None:
    """`gpuchat supervisor`: serve until SIGTERM/SIGINT, then stop every engine."""
    manager = EngineManager(
        profiles, models_dir=models_dir, logs_dir=logs_dir, vllm_command=vllm_command
    )

    async def engines(_: web.Application) -> Any:
        await manager.start(launch_default=start_engines)
        yield
        await manager.close()

    allowed = LOOPBACK_HOSTS if _is_loopback(host) else None
    app = create_supervisor_app(manager, profiles, secret=secret, allowed_hosts=allowed)
    app.cleanup_ctx.insert(0, engines)  # started first, closed last
    log.info("engine supervisor listening on %s:%d", host, port)
    web.run_app(app, host=host, port=port, handler_cancellation=True, access_log=None, print=None)


async def _lifetime(app: web.Application) -> Any:
    # No pool limit, no proxy from the environment, no timeout on a stream's length.
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=5)
    connector = aiohttp.TCPConnector(limit=0)
    app[HTTP] = aiohttp.ClientSession(timeout=timeout, connector=connector, trust_env=False)
    app[SUPERVISOR].start()
    yield
    await app[SUPERVISOR].close()
    await app[HTTP].close()


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_name(request: web.Request) -> str:
    host = request.headers.get("Host", "").lower()
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0]


def _screen(allowed_hosts: frozenset[str] | None) -> Any:
    @web.middleware
    async def screen(request: web.Request, handler: Handler) -> web.StreamResponse:
        if allowed_hosts is not None and _host_name(request) not in allowed_hosts:
            return web.json_response({"type": "invalid_host"}, status=421)
        if request.can_read_body and request.content_type not in JSON_TYPES:
            return web.json_response({"type": "unsupported_media_type"}, status=415)
        return await handler(request)

    return screen


def _authenticate(secret: str) -> Any:
    expected = f"Bearer {secret}".encode()

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return web.json_response({"type": "unauthorized"}, status=401)
        return await handler(request)

    return authenticate


@web.middleware
async def _control_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except (UnknownModel, EngineUnavailable, SwitchConflict, ControlRefused) as exc:
        status, body = error_reply(exc)
        supervisor = request.app[SUPERVISOR]
        seq, statuses = supervisor.snapshot()
        body |= {"boot": supervisor.boot, "seq": seq, "profiles": supervisor.profiles_version}
        body["statuses"] = [s.model_dump(mode="json") for s in statuses]
        return web.json_response(body, status=status)
    except ValidationError as exc:
        return web.json_response({"type": "invalid", "message": str(exc)}, status=422)


async def _body(request: web.Request, model: type[M]) -> M:
    return model.model_validate_json(await request.read() or b"{}")


def _reply(request: web.Request, **parts: Any) -> web.Response:
    supervisor = request.app[SUPERVISOR]
    seq, statuses = supervisor.snapshot()
    reply = ControlReply(
        boot=supervisor.boot,
        seq=seq,
        statuses=statuses,
        profiles=supervisor.profiles_version,
        **parts,
    )
    return web.json_response(text=reply.model_dump_json())


@routes.get("/healthz")
async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get(f"{CONTROL_PREFIX}/profiles")
async def profiles(request: web.Request) -> web.Response:
    profiles = request.app[SUPERVISOR].profiles
    assert profiles is not None  # set when the app is built
    return web.json_response(text=profiles.model_dump_json())


@routes.put(f"{CONTROL_PREFIX}/profiles")
async def replace_profiles(request: web.Request) -> web.Response:
    """The gateway's profile set (kept in its database) replaces this one; the engine
    manager refuses (409) to drop a profile that runs. `?revision=N` (the database's):
    a set older than the one held is ignored, 200 with `applied: false`."""
    profiles = await _body(request, ProfilesFile)
    revision = _Revision.model_validate(dict(request.query)).revision
    supervisor = request.app[SUPERVISOR]
    applied = await supervisor.replace_profiles(profiles, revision)
    return _reply(request, applied=applied, revision=supervisor.profiles_revision)


@routes.get(f"{CONTROL_PREFIX}/statuses")
async def statuses(request: web.Request) -> web.Response:
    return _reply(request)


@routes.post(f"{CONTROL_PREFIX}/start")
async def start(request: web.Request) -> web.Response:
    body = await _body(request, _Start)
    control = request.app[SUPERVISOR].control
    await control.start(launch_default=body.launch_default, active=body.active)
    return _reply(request)


@routes.post(f"{CONTROL_PREFIX}/ensure-ready")
async def ensure_ready(request: web.Request) -> web.Response:
    body = await _body(request, _Alias)
    return _reply(request, upstream=await request.app[SUPERVISOR].ensure_ready(body.alias))


@routes.post(f"{CONTROL_PREFIX}/acquire")
async def acquire(request: web.Request) -> web.Response:
    body = await _body(request, _Alias)
    upstream = await request.app[SUPERVISOR].acquire(body.alias, body.affinity, body.avoid)
    return _reply(request, upstream=upstream)


@routes.post(f"{CONTROL_PREFIX}/poll")
async def poll(request: web.Request) -> web.Response:
    body = await request.json()
    leases = [str(lease) for lease in body.get("leases", [])]
    return _reply(request, revoked=request.app[SUPERVISOR].renew(leases))


@routes.post(CONTROL_PREFIX + "/leases/{lease}/release")
async def release(request: web.Request) -> web.Response:
    body = await request.json() if request.can_read_body else {}
    failed = bool(body.get("failed"))
    request.app[SUPERVISOR].release(request.match_info["lease"], failed=failed)
    return web.json_response({})


@routes.post(CONTROL_PREFIX + "/profiles/{name}/activate")
async def activate(request: web.Request) -> web.Response:
    body = await _body(request, _Wait)
    control = request.app[SUPERVISOR].control
    status = await control.activate(request.match_info["name"], wait=body.wait)
    return _reply(request, status=status)


@routes.post(CONTROL_PREFIX + "/profiles/{name}/stop")
async def stop(request: web.Request) -> web.Response:
    body = await _body(request, _Wait)
    control = request.app[SUPERVISOR].control
    status = await control.stop(request.match_info["name"], wait=body.wait)
    return _reply(request, status=status)


@routes.get(CONTROL_PREFIX + "/engines/{name}/logs")
async def read_log(request: web.Request) -> web.Response:
    try:
        tail = int(request.query.get("tail", "200"))
    except ValueError:
        return web.json_response({"type": "invalid", "message": "tail: an integer"}, status=422)
    control = request.app[SUPERVISOR].control
    return web.json_response({"lines": await control.read_log(request.match_info["name"], tail)})


@routes.get(CONTROL_PREFIX + "/engines/{name}/logs/follow")
async def follow_log(request: web.Request) -> web.StreamResponse:
    lines = request.app[SUPERVISOR].control.follow_log(request.match_info["name"])
    response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    await response.prepare(request)
    async for line in lines:
        await response.write(line.encode() + b"\n")
    return response


@routes.get(f"{CONTROL_PREFIX}/gpus")
async def gpus(request: web.Request) -> web.Response:
    report = await request.app[SUPERVISOR].control.gpus()
    return web.json_response(text=report.model_dump_json())


@routes.route("*", PROXY_PREFIX + "/{token}/{tail:.*}")
async def proxy(request: web.Request) -> web.StreamResponse:
    """Forward a request to the engine behind a token, streaming the answer back."""
    tail = request.match_info["tail"]
    target = request.app[SUPERVISOR].target(request.match_info["token"])
    if target is None or not (tail == "tokenize" or _under_v1(tail)):
        body = {"error": {"message": "no such engine lease", "type": "not_found"}}
        return web.json_response(body, status=404)
    # vLLM counts a prompt's tokens at its root, beside /v1 (the web chat fits its context).
    url = target.base_url + tail[2:] if tail != "tokenize" else _root(target.base_url) + "/tokenize"
    headers = {name: request.headers[name] for name in PROXIED_HEADERS if name in request.headers}
    try:
        upstream = await request.app[HTTP].request(
            request.method,
            url,
            params=request.query,
            data=await request.read(),
            headers=headers,
            allow_redirects=False,
        )
    except (aiohttp.ClientError, OSError) as exc:
        body = {"error": {"message": f"engine unreachable: {exc}", "type": "bad_gateway"}}
        return web.json_response(body, status=502)
    lease = target.lease
    if lease is not None:
        lease.responses.add(upstream)
    try:
        return await _relay(request, upstream, revoked=lambda: bool(lease and lease.revoked))
    finally:
        if upstream.content.is_eof():
            upstream.release()  # the connection goes back to the pool
        else:
            upstream.close()  # the engine sees its client gone and stops generating
        if lease is not None:
            lease.responses.discard(upstream)


def _root(base_url: str) -> str:
    return base_url.removesuffix("/v1")


def _under_v1(tail: str) -> bool:
    """`v1` or a path below it, with no segment that could climb out (`..`, `.`, empty)."""
    segments = tail.split("/")
    if segments[0] != "v1" or "\\" in tail:
        return False
    return all(segment not in ("", ".", "..") for segment in segments[1:])


async def _relay(
    request: web.Request, upstream: aiohttp.ClientResponse, revoked: Callable[[], bool]
) -> web.StreamResponse:
    response = web.StreamResponse(status=upstream.status)
    if "Content-Type" in upstream.headers:
        response.content_type = upstream.content_type
        if upstream.charset:
            response.charset = upstream.charset
    await response.prepare(request)
    try:
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
    except aiohttp.ClientError:
        pass  # cut below: the caller must see a broken stream, never a clean end
    if revoked() or not upstream.content.is_eof():
        if request.transport is not None:
            request.transport.abort()  # no final chunk: the client sees a broken stream
        return response
    await response.write_eof()
    return response
