"""A local stand-in for Discord's HTTP API, plus builders of real interaction payloads.

The real discord.py client logs in against this aiohttp server on 127.0.0.1 (point
`discord.http.Route.BASE` at `api.base`), syncs its slash commands to it, and
answers interactions through it (callbacks, followups, edits of the original
response). Tests feed `INTERACTION_CREATE` payloads, shaped as Discord sends them,
to the client's real `ConnectionState`, so the real `app_commands.CommandTree`,
autocomplete and component dispatch run; then they assert on the recorded calls.
No gateway: interactions come in through `dispatch_interaction`.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

from loopback import LoopbackServer

APP_ID = 900000000000000001
BOT_USER_ID = 900000000000000002
GUILD_ID = 900000000000000003
CHANNEL_ID = 900000000000000004
DM_CHANNEL_BASE = 900000000001000000

# Interaction types and callback types, as Discord numbers them.
APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE = 2, 3, 4
CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, AUTOCOMPLETE_RESULT = 4, 5, 6, 7, 8
# Option types.
SUB_COMMAND, SUB_COMMAND_GROUP, STRING, INTEGER, BOOLEAN, ATTACHMENT = 1, 2, 3, 4, 5, 11


@dataclass
class Call:
    """One HTTP request the bot made."""

    method: str
    path: str
    json: Any
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)

    @property
    def callback_type(self) -> int | None:
        return self.json.get("type") if isinstance(self.json, dict) else None

    @property
    def data(self) -> dict:
        """The message part of a callback (its "data") or of a followup/edit (the body itself)."""
        if not isinstance(self.json, dict):
            return {}
        return self.json.get("data") or {} if self.path.endswith("/callback") else self.json

    @property
    def text(self) -> str:
        """Content plus embed titles, descriptions and field texts, for assertions."""
        data = self.data
        parts = [data.get("content") or ""]
        for embed in data.get("embeds") or []:
            parts += [embed.get("title", ""), embed.get("description", ""),
                      (embed.get("footer") or {}).get("text", "")]
            parts += [f"{f.get('name', '')} {f.get('value', '')}" for f in embed.get("fields", [])]
        return "\n".join(p for p in parts if p)

    @property
    def buttons(self) -> list[dict]:
        rows = self.data.get("components") or []
        return [c for row in rows for c in row.get("components", []) if c.get("type") == 2]


def message_problems(data: dict) -> list[str]:
    """What Discord would refuse in a message body (as "Invalid Form Body"): its documented limits."""
    problems = []
    if len(data.get("content") or "") > 2000:
        problems.append("content over 2000 characters")
    embeds = data.get("embeds") or []
    if len(embeds) > 10:
        problems.append("more than 10 embeds")
    for embed in embeds:
        if len(embed.get("title") or "") > 256:
            problems.append("embed title over 256 characters")
        if len(embed.get("description") or "") > 4096:
            problems.append("embed description over 4096 characters")
        for key, url in (("url", embed.get("url")), ("thumbnail", (embed.get("thumbnail") or {}).get("url"))):
            if url is not None and not str(url).startswith(("https://", "http://")):
                problems.append(f"embed {key} is not an http(s) URL")
    if sum(len(e.get("title") or "") + len(e.get("description") or "") + len((e.get("footer") or {}).get("text") or "")
           + sum(len(f.get("name", "")) + len(f.get("value", "")) for f in e.get("fields", [])) for e in embeds) > 6000:
        problems.append("embeds over 6000 characters in all")
    rows = data.get("components") or []
    if len(rows) > 5:
        problems.append(f"{len(rows)} action rows (at most 5)")
    ids = []
    for row in rows:
        items = row.get("components", [])
        buttons = [c for c in items if c.get("type") == 2]
        selects = [c for c in items if c.get("type") == 3]
        if len(buttons) > 5:
            problems.append(f"{len(buttons)} buttons in one row (at most 5)")
        if selects and len(items) > 1:
            problems.append("a select menu shares its row")
        for item in items:
            ids.append(item.get("custom_id"))
            if len(item.get("custom_id") or "") > 100:
                problems.append("custom_id over 100 characters")
            if item.get("type") == 2 and len(item.get("label") or "") > 80:
                problems.append("button label over 80 characters")
            if item.get("type") == 3:
                options = item.get("options") or []
                if not 1 <= len(options) <= 25:
                    problems.append(f"select with {len(options)} options (1 to 25)")
                if any(len(o.get("label", "")) > 100 or len(o.get("value", "")) > 100 for o in options):
                    problems.append("select option label or value over 100 characters")
                if len(item.get("placeholder") or "") > 150:
                    problems.append("select placeholder over 150 characters")
    if len(ids) != len(set(ids)):
        problems.append("custom_id used twice in one message")
    return problems


def _json(data, status: int = 200) -> web.Response:
    # discord.py parses a body only when Content-Type is exactly "application/json", as Discord sends it
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


def _snowflakes():
    return itertools.count(1_100_000_000_000_000_000)


class DiscordStandIn(LoopbackServer):
    """Answers the bot's HTTP requests like Discord would and records them."""

    def __init__(self, token: str, token_lifetime: float = 15 * 60, forbidden_channels: tuple[int, ...] = ()):
        self.token = token
        self.forbidden_channels = {str(c) for c in forbidden_channels}  # the bot may not post there
        self.token_lifetime = token_lifetime  # interaction tokens stop working after this (15 min at Discord)
        self._born: dict[str, float] = {}
        self.calls: list[Call] = []
        self.commands: dict[str, list[dict]] = {}  # "global" or guild id -> synced commands
        self.attachments: dict[str, bytes] = {}
        self.refused: list[tuple[Call, list[str]]] = []  # messages refused as Discord would, with why
        self._sockets: list = []  # gateway connections that said IDENTIFY: (send, [shard id, shard count])
        self.shards: list[list[int]] = []  # the [id, count] of every IDENTIFY, in order
        self.identified = asyncio.Event()
        self._ids = _snowflakes()
        self._new_call = asyncio.Event()

    # --- server ------------------------------------------------------------------------
    def routes(self, app: web.Application) -> None:
        app.router.add_get("/attachments/{name}", self._attachment)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._api)

    @property
    def base(self) -> str:
        """Value for `discord.http.Route.BASE`."""
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway(self) -> str:
        """Value for `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY` (as a yarl.URL): the gateway a
        client given its shard count connects to without asking."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    # --- payload builders -----------------------------------------------------------------
    def user(self, user_id: int, name: str = "reader") -> dict:
        return {"id": str(user_id), "username": f"{name}{user_id}", "discriminator": "0", "global_name": name,
                "avatar": None, "public_flags": 0}

    def _interaction(self, type_: int, user_id: int, data: dict, guild: bool = True, guild_id: int = GUILD_ID,
                     **extra) -> dict:
        payload = {
            "id": str(next(self._ids)), "application_id": str(APP_ID), "type": type_,
            "token": self._new_token(), "version": 1, "data": data,
            "channel_id": str(CHANNEL_ID), "locale": "en-US", "app_permissions": "2248473465835073",
            "entitlements": [], "authorizing_integration_owners": {"0": str(guild_id)} if guild else {"1": str(user_id)},
            "context": 0 if guild else 1, "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild:
            payload["guild_id"] = str(guild_id)
            payload["guild_locale"] = "en-US"
            payload["channel"] = {"id": str(CHANNEL_ID), "type": 0, "guild_id": str(guild_id), "name": "books",
                                  "position": 0, "permission_overwrites": [], "nsfw": False, "parent_id": None}
            payload["member"] = {"user": self.user(user_id), "roles": [], "joined_at": "2024-01-01T00:00:00+00:00",
                                 "deaf": False, "mute": False, "flags": 0, "pending": False,
                                 "permissions": "2248473465835073", "nick": None, "avatar": None}
        else:
            payload["channel"] = {"id": str(CHANNEL_ID), "type": 1, "recipients": [self.user(user_id)]}
            payload["user"] = self.user(user_id)
        payload.update(extra)
        return payload

    def command(self, user_id: int, name: str, options: dict[str, Any] | None = None, *, sub: str | None = None,
                attachment: tuple[str, bytes] | None = None, guild: bool = True, guild_id: int = GUILD_ID) -> dict:
        """A slash command: `/name [sub] option:value ...`; `attachment` = (filename, bytes) for option "file";
        `guild_id`: the server it comes from (which decides the gateway shard it is delivered on)."""
        opts = [self._option(k, v) for k, v in (options or {}).items()]
        data: dict[str, Any] = {"id": str(next(self._ids)), "name": name, "type": 1}
        if guild:
            data["guild_id"] = str(guild_id)
        if attachment is not None:
            attachment_id = str(next(self._ids))
            filename, content = attachment
            self.attachments[attachment_id] = content
            url = f"http://127.0.0.1:{self.port}/attachments/{attachment_id}"
            opts.append({"name": "file", "type": ATTACHMENT, "value": attachment_id})
            data["resolved"] = {"attachments": {attachment_id: {
                "id": attachment_id, "filename": filename, "size": len(content), "url": url, "proxy_url": url,
                "content_type": "text/csv; charset=utf-8"}}}
        if sub is not None:
            opts = [{"name": sub, "type": SUB_COMMAND, "options": opts}]
        if opts:
            data["options"] = opts
        return self._interaction(APPLICATION_COMMAND, user_id, data, guild, guild_id)

    def autocomplete(self, user_id: int, name: str, focused: str, value: str, others: dict | None = None,
                     sub: str | None = None) -> dict:
        """The user is typing `value` into option `focused` of `/name [sub]`."""
        opts = [self._option(k, v) for k, v in (others or {}).items()]
        opts.append({"name": focused, "type": STRING, "value": value, "focused": True})
        if sub is not None:
            opts = [{"name": sub, "type": SUB_COMMAND, "options": opts}]
        data = {"id": str(next(self._ids)), "name": name, "type": 1, "options": opts, "guild_id": str(GUILD_ID)}
        return self._interaction(AUTOCOMPLETE, user_id, data)

    def press(self, user_id: int, custom_id: str, reply: "Call") -> dict:
        """The user presses the button `custom_id` under the message the bot sent with `reply`."""
        message = self.message_payload(reply.data.get("content") or "", reply.data.get("components") or [],
                                       reply.data.get("embeds"))
        data = {"custom_id": custom_id, "component_type": 2}
        return self._interaction(MESSAGE_COMPONENT, user_id, data, message=message)

    def message_payload(self, content: str, components: list, embeds: list | None = None,
                        message_id: int | None = None) -> dict:
        return {"id": str(message_id or next(self._ids)), "channel_id": str(CHANNEL_ID), "type": 0,
                "content": content, "author": {**self.user(BOT_USER_ID, "rarereads"), "bot": True},
                "embeds": embeds or [], "attachments": [], "mentions": [], "mention_roles": [], "pinned": False,
                "mention_everyone": False, "tts": False, "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(),
                "edited_timestamp": None, "flags": 0, "components": components,
                "application_id": str(APP_ID)}

    def _new_token(self) -> str:
        token = f"interaction-token-{next(self._ids)}"
        self._born[token] = time.monotonic()
        return token

    def _expired(self, path: str) -> bool:
        parts = path.split("/")  # /webhooks/{app id}/{token}/...
        born = self._born.get(parts[3]) if len(parts) > 3 else None
        return born is not None and time.monotonic() - born > self.token_lifetime

    @staticmethod
    def _option(name: str, value: Any) -> dict:
        kind = BOOLEAN if isinstance(value, bool) else INTEGER if isinstance(value, int) else STRING
        return {"name": name, "type": kind, "value": value}

    # --- waiting for the bot ------------------------------------------------------------------
    def interaction_calls(self, payload: dict) -> list[Call]:
        """Every call answering the interaction `payload` (callback, followups, edits)."""
        return [c for c in self.calls if payload["token"] in c.path]

    async def wait_for(self, predicate: Callable[[Call], bool], after: int = 0, timeout: float = 10.0) -> Call:
        deadline = time.monotonic() + timeout
        while True:
            for call in self.calls[after:]:
                if predicate(call):
                    return call
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [(c.method, c.path[:60], c.text[:80]) for c in self.calls[after:]]
                raise AssertionError(f"the bot never sent the expected request; it sent {seen}")
            self._new_call.clear()
            try:
                await asyncio.wait_for(self._new_call.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def reply_to(self, payload: dict, *, final: bool = True, timeout: float = 10.0) -> Call:
        """The message answering `payload`: its callback, or (after a defer) its edit or followup."""
        token = payload["token"]

        def answers(call: Call) -> bool:
            if token not in call.path:
                return False
            if call.path.endswith("/callback"):
                return not final or call.callback_type in (CHANNEL_MESSAGE, UPDATE_MESSAGE, AUTOCOMPLETE_RESULT)
            return call.method in ("PATCH", "POST")

        return await self.wait_for(answers, timeout=timeout)

    # --- the gateway (for a bot in another process) ----------------------------------------------
    async def dispatch(self, payload: dict) -> None:
        """Deliver an INTERACTION_CREATE over the gateway, as Discord does: on the connection of the
        shard its server belongs to (`(guild_id >> 22) % shard count`; direct messages on shard 0)."""
        guild = int(payload.get("guild_id") or 0)
        for send, (shard, count) in list(self._sockets):
            if shard == ((guild >> 22) % count if guild else 0):
                await send({"op": 0, "t": "INTERACTION_CREATE", "d": payload})

    @staticmethod
    def guild_on_shard(shard: int, count: int, n: int = 0) -> int:
        """The id of a server (the `n`-th such) whose interactions Discord delivers on `shard` of `count`."""
        return ((GUILD_ID >> 22) // count * count + shard + n * count) << 22 | 3

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        """Discord's gateway, as far as a slash-command bot uses it: HELLO, IDENTIFY -> READY,
        heartbeats, and INTERACTION_CREATE dispatches (zlib-stream compressed when asked)."""
        import zlib

        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        compress = zlib.compressobj() if request.query.get("compress") == "zlib-stream" else None
        sequence = itertools.count(1)

        async def send(message: dict) -> None:
            if message.get("op") == 0:
                message["s"] = next(sequence)
            raw = json.dumps(message).encode()
            if compress is None:
                await ws.send_str(raw.decode())
            else:
                await ws.send_bytes(compress.compress(raw) + compress.flush(zlib.Z_SYNC_FLUSH))

        await send({"op": 10, "d": {"heartbeat_interval": 41_250}})
        try:
            async for frame in ws:
                if frame.type != web.WSMsgType.TEXT:
                    continue
                message = json.loads(frame.data)
                if message.get("op") == 1:
                    await send({"op": 11})
                elif message.get("op") == 2:
                    shard = (message["d"].get("shard") or [0, 1])
                    self.shards.append(list(shard))
                    await send({"op": 0, "t": "READY", "d": {
                        "v": 10, "user": {**self.user(BOT_USER_ID, "rarereads"), "bot": True}, "guilds": [],
                        "session_id": "soak-session", "resume_gateway_url": f"ws://127.0.0.1:{self.port}/gateway",
                        "application": {"id": str(APP_ID), "flags": 0}, "shard": shard}})
                    self._sockets.append((send, tuple(shard)))
                    self.identified.set()
        finally:
            self._sockets[:] = [(s, shard) for s, shard in self._sockets if s is not send]
        return ws

    # --- handlers -----------------------------------------------------------------------------
    async def _attachment(self, request: web.Request) -> web.Response:
        content = self.attachments.get(request.match_info["name"])
        return web.Response(body=content) if content is not None else web.Response(status=404)

    async def _body(self, request: web.Request) -> tuple[Any, dict[str, bytes]]:
        if request.content_type.startswith("multipart/"):
            payload, files = None, {}
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":
                    payload = json.loads(await part.text())
                else:
                    files[part.filename or part.name] = await part.read()
            return payload, files
        raw = await request.read()
        return (json.loads(raw) if raw else None), {}

    async def _api(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        body, files = await self._body(request)
        if request.headers.get("Authorization") not in (None, f"Bot {self.token}"):
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        if path in ("/users/@me", "/oauth2/applications/@me") and request.headers.get("Authorization") != f"Bot {self.token}":
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        call = Call(request.method, path, body, files)
        self.calls.append(call)
        self._new_call.set()
        problems = message_problems(call.data) if request.method in ("POST", "PATCH") else []
        if problems:
            self.refused.append((call, problems))
            return _json({"message": "Invalid Form Body", "code": 50035, "errors": problems}, status=400)
        if path == "/gateway/bot":
            return _json({"url": f"ws://127.0.0.1:{self.port}/gateway", "shards": 1,
                          "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0,
                                                  "max_concurrency": 1}})
        if path == "/users/@me":
            return _json({**self.user(BOT_USER_ID, "rarereads"), "bot": True, "verified": True,
                                       "mfa_enabled": False, "flags": 0})
        if path == "/oauth2/applications/@me":
            return _json({"id": str(APP_ID), "name": "rarereads", "description": "", "icon": None,
                                      "bot_public": True, "bot_require_code_grant": False,
                                      "owner": self.user(1, "owner"), "verify_key": "00", "flags": 0,
                                      "summary": "", "rpc_origins": [], "team": None})
        if path.startswith("/applications/") and path.endswith("/commands") and request.method == "PUT":
            parts = path.split("/")
            scope = parts[4] if len(parts) > 5 and parts[3] == "guilds" else "global"
            synced = [{**c, "id": str(next(self._ids)), "application_id": str(APP_ID), "version": "1",
                       "default_member_permissions": c.get("default_member_permissions"), "type": c.get("type", 1)}
                      for c in body or []]
            self.commands[scope] = synced
            return _json(synced)
        if path.endswith("/callback"):
            kind = (body or {}).get("type")
            if kind == AUTOCOMPLETE_RESULT:
                return web.Response(status=204)
            interaction_id = path.split("/")[2]
            message = self.message_payload(((body or {}).get("data") or {}).get("content") or "",
                                           ((body or {}).get("data") or {}).get("components") or [])
            return _json({"interaction": {"id": interaction_id, "type": 2,
                                                      "response_message_id": message["id"],
                                                      "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
                                                      "response_message_ephemeral": False},
                                      "resource": {"type": kind, "message": message}})
        if path.startswith("/webhooks/"):
            if self._expired(path):
                return _json({"message": "Invalid Webhook Token", "code": 50027}, status=401)
            body = body or {}
            message_id = int(path.rsplit("/", 1)[-1]) if path.rsplit("/", 1)[-1].isdigit() else None
            return _json(self.message_payload(body.get("content") or "", body.get("components") or [],
                                                          body.get("embeds"), message_id))
        if path.startswith("/users/") and path.removeprefix("/users/").isdigit():
            return _json(self.user(int(path.removeprefix("/users/"))))
        if path == "/users/@me/channels" and request.method == "POST":  # open a DM
            recipient = str((body or {}).get("recipient_id"))
            return _json({"id": str(DM_CHANNEL_BASE + int(recipient)), "type": 1,
                          "recipients": [self.user(int(recipient))], "last_message_id": None})
        if path.startswith("/channels/") and "/messages" in path and request.method in ("POST", "PATCH"):
            body = body or {}
            channel_id, _, rest = path.removeprefix("/channels/").partition("/messages")
            if channel_id in self.forbidden_channels:
                return _json({"message": "Missing Permissions", "code": 50013}, status=403)
            message_id = int(rest.strip("/")) if rest.strip("/").isdigit() else None
            message = self.message_payload(body.get("content") or "", body.get("components") or [],
                                           body.get("embeds"), message_id)
            return _json({**message, "channel_id": channel_id})
        return _json({})
