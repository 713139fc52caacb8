"""Telegram adapter: python-telegram-bot handlers that hand lines to the runtime, and format answers.

Every command is typed (`bot.grammar` reads it against the command table), so one handler
takes all text; the command menu is the table's. Replies use HTML parse mode; every piece
of user or catalogue text goes through `html.escape`. Buttons carry `rr:<token>` callback
data (see `bot.actions.ActionStore`).
"""
from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from urllib.parse import urlparse

from telegram import (BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, InlineQueryResultArticle,
                      InputTextMessageContent, MessageEntity, Update)
from telegram.constants import ChatAction, ParseMode
from telegram.error import InvalidToken, RetryAfter, TelegramError
from telegram.ext import (AIORateLimiter, Application, BaseUpdateProcessor, CallbackQueryHandler, ContextTypes,
                          InlineQueryHandler, MessageHandler, filters)

from .commands import menu
from .conversation import Answer, Button
from .formatting import clean_input, clip
from .replies import Book, Error, Picks
from .runtime import BotRuntime
from .settings import TelegramSettings
from .wording import Dialect, book_lines

log = logging.getLogger(__name__)

PLATFORM = "telegram"
MAX_MESSAGE = 4096  # Telegram's limit counts the text after entity parsing; the HTML is never shorter
SAY = Dialect(  # typed commands, as in the terminal, and buttons
    choose="Press a button or answer with a number:",
    confirm="Press Yes below, or send {command}.",
    send_file=("Send me your Goodreads library export as a file: on goodreads.com, My Books → Import and "
               "export → Export Library, then attach goodreads_library_export.csv here (a StoryGraph export works too)."),
    extra=("Or just type a title, e.g. Dune.",
           "Under each pick: Read it (to your shelf), Not interested (never again), More like this",
           "Import: send your Goodreads export (CSV) as a file.",
           "In any chat: @-mention me with a title to share a book."),
)


class TelegramStartError(RuntimeError):
    """Telegram could not be started (e.g. the token was rejected); the message says why."""


# --- formatting ----------------------------------------------------------------------------

def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _book(work) -> str:
    """A book as HTML: its title in bold, linked to its page (`Work.url`), then author and year."""
    return (f'<a href="{html.escape(work.url, quote=True)}"><b>{_esc(clip(work.title, 300))}</b></a>'
            + (f" — {_esc(clip(work.author, 120))}" if work.author else "") + (f" ({work.year})" if work.year else ""))


def _pick_block(n: int, pick) -> str:
    """One pick as valid HTML on its own: linked title, author, year, and its reason."""
    return f"{n}. {_book(pick.work)}" + (f"\n    <i>{_esc(clip(pick.reason, 300))}</i>" if pick.reason else "")


def _plain_blocks(text: str) -> list[str]:
    """Plain text as escaped blocks that each fit a message (a line too long for one is cut)."""
    blocks = []
    for line in (text or "…").splitlines() or ["…"]:
        blocks += [_esc(line[i:i + 600]) for i in range(0, max(len(line), 1), 600)]
    return blocks


def _keyboard(rows: list[list[Button]]) -> InlineKeyboardMarkup | None:
    rows = [row for row in rows if row]
    if not rows:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=f"rr:{b.token}") for b in row]
                                 for row in rows])


def render(answer: Answer) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """The answer as Telegram messages: (HTML, keyboard) each, every one valid HTML within the limit.

    HTML is built per pick (or per line) and blocks are packed into messages, never cut
    after the markup is made; each message carries the buttons of its own picks, and the
    last one the choices and the navigation row. All user and catalogue text is escaped.
    """
    match answer.reply:
        case Book(work=work, neighbours=neighbours, note=note):
            blocks = [(line, []) for line in book_lines(work, neighbours, _book, _esc, note=note)]
        case Picks(recommendations=result, offset=offset, note=note) if result.picks:
            header = f"<b>{_esc(clip((answer.text.strip().splitlines() or [''])[0], 600))}</b>\n"
            blocks = [(header, [])] + [(_pick_block(offset + 1 + i, pick), answer.picks[i:i + 1])
                                       for i, pick in enumerate(result.picks)]
            if note:
                blocks.append((f"\n<i>{_esc(clip(note, 600))}</i>", []))
        case _:
            blocks = [(block, []) for block in _plain_blocks(answer.text)]
    messages: list[tuple[list[str], list]] = [([], [])]
    for block, rows in blocks:
        texts, message_rows = messages[-1]
        if texts and len("\n".join(texts + [block])) > MAX_MESSAGE:
            messages.append(([], []))
            texts, message_rows = messages[-1]
        texts.append(block)
        message_rows.extend(rows)
    messages[-1][1].extend([[b] for b in answer.choices] + [answer.nav])
    return [("\n".join(texts), _keyboard(rows)) for texts, rows in messages]


# --- where a command came from ---------------------------------------------------------------

class TelegramStatus:
    """A sent message, edited as a retrain goes on."""

    def __init__(self, message):
        self.message = message

    async def edit(self, text: str) -> None:
        await self.message.edit_text(html.escape(text), parse_mode=ParseMode.HTML)

    finish = edit  # a bot's own messages stay editable


class TelegramChannel:
    """The chat (and the button press, if any) one update came from; see `bot.runtime.Channel`."""

    platform = PLATFORM
    say = SAY

    def __init__(self, update: Update, bot):
        self.update, self.bot = update, bot
        self.user_id = update.effective_user.id
        chat = update.effective_chat
        self.chat_id = chat.id if chat is not None else update.effective_user.id  # inline-message buttons
        self.scope = f"{PLATFORM}:{chat.id}" if chat is not None and chat.type != "private" else None
        message = update.effective_message  # for a button press, the message it is under
        # In a forum, every answer goes to the topic the command (or the pressed message) is in.
        self.thread = message.message_thread_id if message is not None and message.is_topic_message else None
        self._query_answered = False

    async def _say(self, text: str, keyboard=None):
        return await self.bot.send_message(self.chat_id, text, parse_mode=ParseMode.HTML, reply_markup=keyboard,
                                           disable_web_page_preview=True, message_thread_id=self.thread)

    async def _answer_query(self, text: str | None = None, alert: bool = False) -> bool:
        """Answer the pressed button's callback once (Telegram shows a spinner until then)."""
        query = self.update.callback_query
        if query is None or self._query_answered:
            return False
        self._query_answered = True
        await query.answer(clip(text, 190) if text else None, show_alert=alert)
        return True

    async def answer(self, answer: Answer) -> None:
        if answer.toast and await self._answer_query(answer.text, alert=isinstance(answer.reply, Error)):
            return
        await self._answer_query()
        for text, keyboard in render(answer):
            await self._say(text, keyboard)

    async def notice(self, text: str) -> None:
        if await self._answer_query(text):
            return
        if self.update.inline_query is not None:
            await self.update.inline_query.answer([], cache_time=0, is_personal=True)
            return
        await self._say(_esc(text))

    async def busy(self) -> None:
        await self._answer_query()
        with contextlib.suppress(TelegramError):
            await self.bot.send_chat_action(self.chat_id, ChatAction.TYPING, message_thread_id=self.thread)

    async def status(self, text: str) -> TelegramStatus:
        return TelegramStatus(await self._say(_esc(text)))


def _runtime(context: ContextTypes.DEFAULT_TYPE) -> BotRuntime:
    return context.application.bot_data["runtime"]


def _channel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> TelegramChannel:
    return TelegramChannel(update, context.bot)


# --- handlers ---------------------------------------------------------------------------------

def addressed_text(message, username: str, bot_id: int) -> str | None:
    """The text of `message` as a command for this bot, or None when it is not for us.

    In a private chat everything is for us. In a group only a command (a "/command@name"
    must name this bot; the name is removed here, the one place), a message that mentions
    this bot (the mention is removed), or a reply to one of this bot's messages.
    """
    text = message.text or message.caption or ""
    entities = message.entities or message.caption_entities or ()
    first = entities[0] if entities else None
    if first is not None and first.type == MessageEntity.BOT_COMMAND and first.offset == 0:
        command, _, addressee = text[:first.length].partition("@")
        if addressee and addressee.lower() != username.lower():
            return None  # "/recommend@some_other_bot Dune" is for another bot
        return command + text[first.length:]
    if message.chat.type == "private":
        return text
    mention = f"@{username}".lower()
    for entity in entities:
        if entity.type == MessageEntity.MENTION and text[entity.offset:entity.offset + entity.length].lower() == mention:
            return (text[:entity.offset] + text[entity.offset + entity.length:]).strip()
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return text
    return None  # a group's own conversation


async def chat_line(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Text for us: any command of the table, a number picking a choice, or a bare title."""
    bot = context.bot
    line = addressed_text(update.effective_message, bot.username, bot.id)
    if line is not None:
        await _runtime(context).text(_channel(update, context), line)


async def document_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A document sent to us (in a group: with an /import caption): import it as a library export."""
    message, bot = update.effective_message, context.bot
    if message.chat.type != "private" and addressed_text(message, bot.username, bot.id) is None:
        return  # a file shared in a group's conversation
    document = message.document

    async def download() -> bytes:
        return bytes(await (await document.get_file()).download_as_bytearray())

    await _runtime(context).import_command(_channel(update, context), document.file_size, download)


async def button_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An inline button under one of our messages."""
    await _runtime(context).press(_channel(update, context), (update.callback_query.data or "").removeprefix("rr:"))


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """@botname <title> in any chat: matching books to share."""
    runtime = _runtime(context)
    async with runtime.inflight.track():
        if runtime.limiter.hit(f"{PLATFORM}:{update.effective_user.id}"):
            await update.inline_query.answer([], cache_time=0, is_personal=True)
            return
        text = clean_input(update.inline_query.query)
        matches = await asyncio.to_thread(runtime.holder.current.match_title, text, 10) if text else []
        results = []
        for match in matches:
            work = match.work
            year = f" ({work.year})" if work.year else ""
            results.append(InlineQueryResultArticle(
                id=str(work.id), title=clip(work.title, 100), description=clip(f"{work.author}{year}", 100),
                input_message_content=InputTextMessageContent(f"📚 {_book(work)}", parse_mode=ParseMode.HTML),
                thumbnail_url=work.cover_url if work.cover_url.startswith("https://") else None))
        await update.inline_query.answer(results, cache_time=30, is_personal=False)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log any handler failure with its traceback and tell the user, without internals."""
    if isinstance(context.error, RetryAfter):  # flood control: another message would only make it worse
        log.warning("telegram flood control: a reply was dropped after its retries (%s)", context.error)
        return
    log.error("telegram handler failed", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await update.effective_chat.send_message("Sorry, something went wrong on my side. Please try again.")
        except TelegramError:
            pass


# --- application ------------------------------------------------------------------------------

class PerReaderUpdates(BaseUpdateProcessor):
    """Updates run concurrently, except that one reader's are handled one at a time, in order.

    Without this a quick command sent after a slow one was answered first. The Application
    starts update tasks in arrival order, and an asyncio.Lock wakes its waiters in order.
    """

    def __init__(self, max_concurrent_updates: int):
        super().__init__(max_concurrent_updates)
        self._queues: dict[int, list] = {}  # user id -> [lock, updates holding or awaiting it]

    async def do_process_update(self, update: object, coroutine) -> None:
        user = getattr(update, "effective_user", None)
        if user is None:
            await coroutine
            return
        queue = self._queues.setdefault(user.id, [asyncio.Lock(), 0])
        queue[1] += 1
        try:
            async with queue[0]:
                await coroutine
        finally:
            queue[1] -= 1
            if not queue[1]:
                del self._queues[user.id]  # idle readers hold no lock

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free."""


def build_application(runtime: BotRuntime, token: str, *, base_url: str | None = None,
                      base_file_url: str | None = None) -> Application:
    """A python-telegram-bot Application wired to `runtime` (not started)."""
    # AIORateLimiter keeps to Telegram's flood limits and retries once after a "retry after".
    builder = (Application.builder().token(token).concurrent_updates(PerReaderUpdates(256))
               .rate_limiter(AIORateLimiter(max_retries=1)))
    if base_url:
        builder = builder.base_url(base_url).base_file_url(base_file_url or base_url.replace("/bot", "/file/bot"))
    application = builder.post_init(_post_init).build()
    application.bot_data["runtime"] = runtime
    # New messages only: an edit is not a command (editing /forget into /forget yes must not delete).
    new = filters.UpdateType.MESSAGE
    application.add_handler(MessageHandler(new & filters.Document.ALL, document_message))
    application.add_handler(MessageHandler(new & filters.TEXT, chat_line))
    application.add_handler(CallbackQueryHandler(button_pressed, pattern=r"^rr:"))
    application.add_handler(InlineQueryHandler(inline_query))
    application.add_error_handler(on_error)
    return application


async def _post_init(application: Application) -> None:
    await application.bot.set_my_commands([BotCommand(name, text) for name, text in menu()])


class TelegramRunner:
    """Starts and stops the Telegram side of `rarereads serve`, with its settings section."""

    name = "Telegram"
    platform = PLATFORM

    def __init__(self, runtime: BotRuntime, settings: TelegramSettings):
        self.runtime = runtime
        self.settings = settings
        urls = settings.urls() or (None, None)
        self.application = build_application(runtime, settings.token.get_secret_value(),
                                             base_url=urls[0], base_file_url=urls[1])
        self._started = False

    async def start(self) -> None:
        """Log in (getMe) and start polling or the webhook; raises TelegramStartError in one line."""
        app = self.application
        try:
            await app.initialize()
        except InvalidToken:
            raise TelegramStartError("Telegram rejected RAREREADS_TELEGRAM_TOKEN; copy it again from @BotFather") from None
        except TelegramError as exc:
            raise TelegramStartError(f"could not reach Telegram: {exc}") from None
        await _post_init(app)
        await app.start()
        settings = self.settings
        if settings.mode == "webhook":
            path = urlparse(settings.webhook_url).path.lstrip("/")
            secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
            await app.updater.start_webhook(listen=settings.webhook_listen, port=settings.webhook_port,
                                            url_path=path, webhook_url=settings.webhook_url,
                                            secret_token=secret, drop_pending_updates=False)
        else:
            await app.updater.start_polling(drop_pending_updates=False, error_callback=self._polling_error)
        self._started = True
        log.info("Telegram: running as @%s (%s)", app.bot.username, settings.mode)

    @staticmethod
    def _polling_error(error: TelegramError) -> None:
        log.warning("Telegram polling error (retrying): %s", error)

    async def notify_admins(self, text: str) -> None:
        """Send `text` to every Telegram admin (scheduled retrain outcomes)."""
        for admin in self.settings.admins:
            try:
                await self.application.bot.send_message(admin, text)
            except TelegramError as exc:
                log.warning("could not notify telegram admin %s: %s", admin, exc)

    async def pause(self) -> None:
        """Stop fetching updates; handlers under way go on."""
        if self._started and self.application.updater.running:
            await self.application.updater.stop()

    async def stop(self) -> None:
        """Stop fetching updates, let handlers under way finish, and shut down."""
        app = self.application
        if not self._started:
            return
        self._started = False
        await self.pause()
        await app.stop()
        await app.shutdown()
