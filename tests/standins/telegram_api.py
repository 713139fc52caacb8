"""A local stand-in for the Telegram Bot API, served by aiohttp on 127.0.0.1.

It answers the methods rarereads' bot uses (getMe, getUpdates with long polling,
sendMessage, editMessageText, answerCallbackQuery, answerInlineQuery, getFile and
the file download, deleteWebhook, setMyCommands, ...), records every call, and
lets a test queue scripted updates and wait for what the bot sent. Point a real
python-telegram-bot `Application` at it with `.base_url(api.base_url)` and
`.base_file_url(api.base_file_url)`.
"""
from __future__ import annotations

import asyncio
import html.parser
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

from loopback import LoopbackServer

BOT_ID = 777000111
BOT_USERNAME = "rarereads_test_bot"
GROUP_ID = -1001234567890  # a supergroup (forum topics on)
MAX_TEXT = 4096  # characters of a message's text after entity parsing
# Tags the Bot API accepts in HTML parse mode (https://core.telegram.org/bots/api#html-style).
HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "tg-spoiler", "span",
             "blockquote", "tg-emoji"}


class _Entities(html.parser.HTMLParser):
    """Parses a message's HTML as the Bot API does, to refuse what Telegram refuses."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.text: list[str] = []
        self.problem = ""

    def handle_starttag(self, tag, attrs):
        if tag not in HTML_TAGS:
            self.problem = self.problem or f"Unsupported start tag \"{tag}\""
        self.open.append(tag)

    def handle_endtag(self, tag):
        if not self.open or self.open[-1] != tag:
            self.problem = self.problem or f"Unmatched end tag \"{tag}\""
        else:
            self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


def html_problem(text: str) -> str:
    """Why the Bot API would refuse `text` in HTML parse mode, or ""."""
    parser = _Entities()
    parser.feed(text)
    parser.close()
    if parser.problem:
        return f"Bad Request: can't parse entities: {parser.problem}"
    if parser.open:
        return f"Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"{parser.open[-1]}\""
    if len("".join(parser.text)) > MAX_TEXT:
        return "Bad Request: message is too long"
    return ""
# Parameters python-telegram-bot sends as raw strings (everything else is JSON-encoded).
STRING_FIELDS = {"text", "caption", "query", "inline_query_id", "callback_query_id", "file_id", "url",
                 "secret_token", "next_offset", "switch_pm_text", "parse_mode", "action", "language_code"}


@dataclass
class Call:
    """One Bot API request the bot made."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class TelegramStandIn(LoopbackServer):
    """Records the bot's calls and hands it scripted updates.

    Args:
        token: The token the bot must use; any other token gets 401, as Telegram answers.
    """

    def __init__(self, token: str):
        self.token = token
        self.calls: list[Call] = []
        self.files: dict[str, bytes] = {}
        self._updates: list[dict] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._ids = itertools.count(1)
        self._new_update = asyncio.Event()
        self._new_call = asyncio.Event()
        self.refused: list[tuple[Call, str]] = []  # calls answered with an error, and why
        self._flood: list[int] = []  # retry_after of the next sendMessage calls to refuse with 429

    # --- server ---------------------------------------------------------------------------
    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.*}", self._download)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.root}/file/bot"

    # --- scripting --------------------------------------------------------------------------
    def push(self, kind: str, payload: dict) -> int:
        """Queue an update of `kind` ("message", "callback_query", "inline_query"); returns its id."""
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, kind: payload})
        self._new_update.set()
        return update_id

    def user(self, user_id: int, first_name: str = "Reader") -> dict:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "username": f"reader{user_id}"}

    def send_text(self, user_id: int, text: str, *, group: bool = False, topic: int | None = None,
                  reply_to: dict | None = None, edited: bool = False, **extra) -> int:
        """A text message from `user_id`, with the entities Telegram adds (commands, @mentions).

        Args:
            group: Sent in the supergroup `GROUP_ID` rather than a private chat.
            topic: The forum topic (`message_thread_id`) it was sent in.
            reply_to: The message it replies to (e.g. one the bot sent).
            edited: An edit of an earlier message (an `edited_message` update).
        """
        message = self._message(user_id, text=text, group=group, **extra)
        entities = []
        if text.startswith("/"):
            entities.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
        for word in text.split():
            if word.startswith("@") and len(word) > 1:
                entities.append({"type": "mention", "offset": text.index(word), "length": len(word)})
        if entities:
            message["entities"] = entities
        if topic is not None:
            message.update(message_thread_id=topic, is_topic_message=True)
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if edited:
            message["edit_date"] = int(time.time())
        return self.push("edited_message" if edited else "message", message)

    def flood(self, *retry_after: int) -> None:
        """Refuse the next len(retry_after) sendMessage calls with 429 "retry after N", as Telegram does."""
        self._flood.extend(retry_after)

    def send_document(self, user_id: int, filename: str, content: bytes, caption: str = "",
                      mime_type: str = "text/csv") -> int:
        """A private-chat document (e.g. a Goodreads export) from `user_id`."""
        file_id = f"doc{next(self._ids)}"
        self.files[file_id] = content
        document = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": filename,
                    "mime_type": mime_type, "file_size": len(content)}
        extra = {"caption": caption} if caption else {}
        if caption.startswith("/"):
            extra["caption_entities"] = [{"type": "bot_command", "offset": 0, "length": len(caption.split()[0])}]
        return self.push("message", self._message(user_id, document=document, **extra))

    def press(self, user_id: int, data: str, message: dict | None = None) -> int:
        """The user presses an inline button carrying `data` under `message` (a sent message)."""
        query = {"id": str(next(self._ids)), "from": self.user(user_id), "chat_instance": "ci", "data": data}
        if message is not None:
            query["message"] = message
        return self.push("callback_query", query)

    def inline_query(self, user_id: int, query: str) -> int:
        """`@botname query` typed by `user_id`."""
        return self.push("inline_query", {"id": str(next(self._ids)), "from": self.user(user_id),
                                          "query": query, "offset": ""})

    def _message(self, user_id: int, group: bool = False, **fields) -> dict:
        chat = ({"id": GROUP_ID, "type": "supergroup", "title": "Book club", "is_forum": True} if group
                else {"id": user_id, "type": "private", "first_name": "Reader"})
        return {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
                "from": self.user(user_id), **fields}

    # --- waiting for the bot ------------------------------------------------------------------
    def sent(self, method: str | None = None, chat_id: int | None = None) -> list[Call]:
        return [c for c in self.calls if (method is None or c.method == method)
                and (chat_id is None or c.params.get("chat_id") == chat_id)]

    async def wait_for(self, method: str, predicate: Callable[[Call], bool] = lambda c: True,
                       after: int = 0, timeout: float = 10.0) -> Call:
        """First call to `method` (from index `after` on) that satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        while True:
            for call in self.calls[after:]:
                if call.method == method and predicate(call):
                    return call
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [(c.method, c.params.get("text", "")[:80]) for c in self.calls[after:]]
                raise AssertionError(f"bot never called {method} as expected; it called {seen}")
            self._new_call.clear()
            try:
                await asyncio.wait_for(self._new_call.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    # --- handlers -----------------------------------------------------------------------------
    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return await request.json()
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if not isinstance(value, str):  # an uploaded file
                params[key] = {"filename": value.filename, "content": value.file.read()}
            elif key in STRING_FIELDS:
                params[key] = value
            else:
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    params[key] = value
        return params

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = await self._params(request)
        if method != "getUpdates":
            self.calls.append(Call(method, params))
            self._new_call.set()
        if method in ("sendMessage", "editMessageText"):
            refusal = self._refusal(method, params)
            if refusal is not None:
                self.refused.append((self.calls[-1], refusal["description"]))
                return web.json_response({"ok": False, **refusal}, status=refusal["error_code"])
        handler = getattr(self, f"_api_{method}", None)
        result = await handler(params) if handler else True
        return web.json_response({"ok": True, "result": result})

    def _refusal(self, method: str, params: dict) -> dict | None:
        """Telegram's error for this message, if it would refuse it (flood control, bad HTML, too long)."""
        if method == "sendMessage" and self._flood:
            wait = self._flood.pop(0)
            return {"error_code": 429, "description": f"Too Many Requests: retry after {wait}",
                    "parameters": {"retry_after": wait}}
        text = params.get("text", "")
        problem = html_problem(text) if params.get("parse_mode") == "HTML" else (
            "Bad Request: message is too long" if len(text) > MAX_TEXT else "")
        return {"error_code": 400, "description": problem} if problem else None

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        file_id = request.match_info["path"].rsplit("/", 1)[-1]
        if file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id])

    async def _api_getMe(self, params: dict) -> dict:
        return {"id": BOT_ID, "is_bot": True, "first_name": "rarereads", "username": BOT_USERNAME,
                "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": True}

    async def _api_getUpdates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), min(float(params.get("timeout") or 0), 0.2) or 0.05)
            except asyncio.TimeoutError:
                return []
        return [u for u in self._updates if u["update_id"] >= offset][: int(params.get("limit") or 100)]

    def _sent_message(self, params: dict, **fields) -> dict:
        chat_id = int(params["chat_id"])
        chat = ({"id": chat_id, "type": "supergroup", "title": "Book club", "is_forum": True} if chat_id < 0
                else {"id": chat_id, "type": "private", "first_name": "Reader"})
        message = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
                   "from": {"id": BOT_ID, "is_bot": True, "first_name": "rarereads", "username": BOT_USERNAME},
                   **fields}
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        if params.get("message_thread_id"):
            message.update(message_thread_id=params["message_thread_id"], is_topic_message=True)
        return message

    async def _api_sendMessage(self, params: dict) -> dict:
        return self._sent_message(params, text=params.get("text", ""))

    async def _api_editMessageText(self, params: dict) -> dict | bool:
        if "inline_message_id" in params:
            return True
        return {**self._sent_message(params, text=params.get("text", "")), "message_id": int(params["message_id"]),
                "edit_date": int(time.time())}

    async def _api_sendDocument(self, params: dict) -> dict:
        return self._sent_message(params, document={"file_id": "out", "file_unique_id": "uout"})

    async def _api_getFile(self, params: dict) -> dict:
        file_id = params["file_id"]
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(self.files.get(file_id, b"")),
                "file_path": f"documents/{file_id}"}

    async def _api_getMyCommands(self, params: dict) -> list:
        return []

    async def _api_getWebhookInfo(self, params: dict) -> dict:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
