"""Discord adapter: slash commands (`discord.app_commands`) that parse, call the service, and format.

Recommendations go out as embeds with cover thumbnails; every piece of user or catalogue
text goes through `discord.utils.escape_markdown`. Buttons are `DynamicItem`s whose
custom id carries a token from `bot.runtime.ActionStore`, so they work on any message.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

import discord
from discord import app_commands
from discord.utils import escape_markdown

from .formatting import clean_input, clip
from .ratelimit import slow_down_text
from .retrain import RetrainBusy
from .runtime import Answer, BotRuntime, Conversation, TextReply

log = logging.getLogger(__name__)

PLATFORM = "discord"
FAST_REPLY_SECONDS = 2.0  # answer directly if the service is this quick, else defer first (Discord allows 3 s)
MAX_IMPORT_BYTES = 20 * 1024 * 1024
RARITY_CHOICES = [app_commands.Choice(name=n, value=n) for n in ("any", "balanced", "rare", "deep")]
STYLES = {"primary": discord.ButtonStyle.primary, "secondary": discord.ButtonStyle.secondary,
          "danger": discord.ButtonStyle.danger}


class DiscordStartError(RuntimeError):
    """Discord could not be started (e.g. the token was rejected); the message says why."""


# --- formatting ----------------------------------------------------------------------------

def _md(text: str) -> str:
    return escape_markdown(text or "", as_needed=False)


def embeds_for(answer: Answer) -> list[discord.Embed]:
    """One embed per pick (title, author, year, reason, cover thumbnail)."""
    recs = getattr(answer.reply, "recommendations", None)
    embeds = []
    for n, pick in enumerate(getattr(recs, "picks", None) or [], 1):
        work = pick.work
        byline = " · ".join(p for p in (_md(work.author), str(work.year) if work.year else "") if p)
        embed = discord.Embed(title=clip(f"{n}. {_md(work.title)}", 256),
                              description=clip("\n".join(p for p in (byline, f"*{_md(pick.reason)}*" if pick.reason else "") if p), 4000),
                              colour=discord.Colour.dark_teal())
        if work.cover_url.startswith(("https://", "http://")):
            embed.set_thumbnail(url=work.cover_url)
        embeds.append(embed)
    if embeds and getattr(recs, "model_version", ""):
        embeds[-1].set_footer(text=f"model {recs.model_version}")
    return embeds[:10]


def content_for(answer: Answer) -> str:
    """Message text: the first line only when embeds carry the picks, else the whole reply."""
    text = answer.text
    if getattr(getattr(answer.reply, "recommendations", None), "picks", None):
        text = (text.strip().splitlines() or [""])[0]
    return clip(_md(text), 2000) or "…"


class ActionButton(discord.ui.DynamicItem[discord.ui.Button], template=r"rr:(?P<token>[A-Za-z0-9_-]{1,40})"):
    """A button whose action waits in the ActionStore under `token`."""

    def __init__(self, token: str, label: str = "…", style: discord.ButtonStyle = discord.ButtonStyle.secondary):
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=f"rr:{token}"))
        self.token = token

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match) -> "ActionButton":
        return cls(match["token"])

    async def callback(self, interaction: discord.Interaction) -> None:
        """A press: run the action for the presser and reply."""
        conversation = interaction.client.conversation
        await respond(interaction, lambda reader: conversation.press(reader, self.token))


def view_for(answer: Answer) -> discord.ui.View | None:
    if not answer.rows:
        return None
    view = discord.ui.View(timeout=None)
    for row_number, row in enumerate(answer.rows[:5]):
        for button in row[:5]:
            view.add_item(ActionButton(button.token, clip(button.label, 80), STYLES.get(button.style)))
            view.children[-1].item.row = row_number
    return view


# --- the one path every command takes --------------------------------------------------------

async def respond(interaction: discord.Interaction, work: Callable[[str], Answer], *, limited: bool = True) -> None:
    """Rate-limit, run `work(reader)` in a thread, and send its answer (deferring if it is slow)."""
    client: RarereadsDiscord = interaction.client
    reader = f"{PLATFORM}:{interaction.user.id}"
    async with client.runtime.inflight.track():
        wait = client.runtime.limiter.hit(reader) if limited else 0
        if wait:
            await interaction.response.send_message(slow_down_text(wait), ephemeral=True)
            return
        task = asyncio.ensure_future(asyncio.to_thread(work, reader))
        done, _ = await asyncio.wait({task}, timeout=FAST_REPLY_SECONDS)
        if not done:
            await interaction.response.defer(thinking=True)
        answer = await task
        await send(interaction, answer)


async def send(interaction: discord.Interaction, answer: Answer) -> None:
    """Send `answer` as the interaction's response, or as a followup once it was deferred."""
    kwargs = {"content": content_for(answer), "embeds": embeds_for(answer)}
    view = view_for(answer)
    if view is not None:
        kwargs["view"] = view
    if interaction.response.is_done():
        await interaction.followup.send(**kwargs, ephemeral=answer.ephemeral)
    else:
        await interaction.response.send_message(**kwargs, ephemeral=answer.ephemeral)


def _title(text: str | None) -> str:
    return clean_input(text)


# --- commands ---------------------------------------------------------------------------------

@app_commands.command(name="recommend", description="Rare books that readers of a title loved (no title: for your shelf)")
@app_commands.describe(title="A book you love (leave empty to use your whole shelf)",
                       count="How many picks (1-10)", rarity="How rare: any, balanced, rare (default) or deep")
@app_commands.choices(rarity=RARITY_CHOICES)
async def recommend_command(interaction: discord.Interaction, title: str | None = None,
                            count: app_commands.Range[int, 1, 10] | None = None,
                            rarity: app_commands.Choice[str] | None = None) -> None:
    """/recommend [title] [count] [rarity]."""
    conversation = interaction.client.conversation
    await respond(interaction, lambda reader: conversation.recommend(reader, _title(title), count,
                                                                     rarity.value if rarity else None))


@recommend_command.autocomplete("title")
async def title_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Up to 25 catalogue titles matching what the user has typed."""
    return await _title_choices(interaction, current)


async def _title_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    text = clean_input(current)
    if not text:
        return []
    engine = interaction.client.runtime.holder.current
    matches = await asyncio.to_thread(engine.match_title, text, 25)
    choices, seen = [], set()
    for match in matches:
        label = clip(match.work.label, 100)
        value = clip(f"{match.work.title} by {match.work.author}" if match.work.author else match.work.title, 100)
        if value not in seen:
            seen.add(value)
            choices.append(app_commands.Choice(name=label, value=value))
    return choices[:25]


@app_commands.command(name="book", description="Look a book up: author, year and how many readers liked it")
@app_commands.describe(title="The book's title (and author, if you like)")
async def book_command(interaction: discord.Interaction, title: str) -> None:
    """/book <title>."""
    conversation = interaction.client.conversation
    await respond(interaction, lambda reader: conversation.book(reader, _title(title)))


book_command.autocomplete("title")(title_autocomplete)

shelf_group = app_commands.Group(name="shelf", description="Your shelf of favourite books")


@shelf_group.command(name="show", description="Show the books on your shelf")
@app_commands.describe(page="Page number (10 books a page)")
async def shelf_show(interaction: discord.Interaction, page: app_commands.Range[int, 1, 10_000] = 1) -> None:
    """/shelf show [page]."""
    conversation = interaction.client.conversation
    await respond(interaction, lambda reader: conversation.shelf(reader, page - 1))


@shelf_group.command(name="add", description="Add a book you loved to your shelf")
@app_commands.describe(title="The book's title (and author, if you like)")
async def shelf_add(interaction: discord.Interaction, title: str) -> None:
    """/shelf add <title>."""
    conversation = interaction.client.conversation
    await respond(interaction, lambda reader: conversation.shelf_add(reader, _title(title)))


shelf_add.autocomplete("title")(title_autocomplete)


@shelf_group.command(name="remove", description="Take a book off your shelf")
@app_commands.describe(title="The book's title as on your shelf")
async def shelf_remove(interaction: discord.Interaction, title: str) -> None:
    """/shelf remove <title>."""
    conversation = interaction.client.conversation
    await respond(interaction, lambda reader: conversation.shelf_remove(reader, _title(title)))


@shelf_group.command(name="clear", description="Empty your shelf (asks first)")
@app_commands.describe(yes="Skip the question: yes, empty it now")
async def shelf_clear(interaction: discord.Interaction, yes: bool = False) -> None:
    """/shelf clear [yes]."""
    conversation = interaction.client.conversation
    await respond(interaction, lambda reader: conversation.shelf_clear(reader, confirm=yes))


@shelf_group.command(name="import", description="Import your Goodreads library export (CSV)")
@app_commands.describe(file="goodreads_library_export.csv from Goodreads: My Books → Import and export")
async def shelf_import(interaction: discord.Interaction, file: discord.Attachment) -> None:
    """/shelf import <file>."""
    if file.size > MAX_IMPORT_BYTES:
        await interaction.response.send_message("That file is too big to be a Goodreads export (over 20 MB).",
                                                ephemeral=True)
        return
    await interaction.response.defer(thinking=True)  # the download alone may take a moment
    data = await file.read()
    conversation = interaction.client.conversation
    await respond(interaction, lambda reader: conversation.import_goodreads(reader, data))


@app_commands.command(name="forget", description="Delete your shelf and everything rarereads knows about you (asks first)")
@app_commands.describe(yes="Skip the question: yes, forget me now")
async def forget_command(interaction: discord.Interaction, yes: bool = False) -> None:
    """/forget [yes]."""
    conversation = interaction.client.conversation
    await respond(interaction, lambda reader: conversation.forget(reader, confirm=yes))


@app_commands.command(name="help", description="How to use rarereads")
async def help_command(interaction: discord.Interaction) -> None:
    """/help."""
    conversation = interaction.client.conversation
    await respond(interaction, lambda reader: conversation.help())


async def _refuse_non_admin(interaction: discord.Interaction, what: str) -> bool:
    client: RarereadsDiscord = interaction.client
    if client.runtime.is_admin(PLATFORM, interaction.user.id):
        return False
    log.warning("discord user %s asked for /%s but is not an admin", interaction.user.id, what)
    await interaction.response.send_message(f"Sorry, only the bot's admins can use /{what}.", ephemeral=True)
    return True


@app_commands.command(name="retrain", description="Admins: train a new model and swap it in if it is as good")
async def retrain_command(interaction: discord.Interaction) -> None:
    """/retrain (admins only)."""
    if await _refuse_non_admin(interaction, "retrain"):
        return
    runtime = interaction.client.runtime
    if runtime.retrain.running:
        await interaction.response.send_message("A retrain is already running; its message shows the progress.")
        return
    await interaction.response.send_message("Retraining: starting…")

    async def progress(text: str) -> None:
        await interaction.edit_original_response(content=clip(f"Retraining: {_md(text)}", 2000))

    async def retrain() -> None:
        try:
            result = await runtime.retrain.retrain(progress, requested_by=f"discord:{interaction.user.id}")
        except RetrainBusy:
            await interaction.edit_original_response(content="A retrain is already running.")
            return
        await interaction.edit_original_response(content=clip(_md(result.message), 2000))

    runtime.spawn(retrain())


@app_commands.command(name="status", description="Admins: model version and age, evaluation, catalogue, shelves, uptime")
async def status_command(interaction: discord.Interaction) -> None:
    """/status (admins only)."""
    if await _refuse_non_admin(interaction, "status"):
        return
    runtime = interaction.client.runtime
    await respond(interaction, lambda reader: Answer(TextReply("\n".join(runtime.status_lines())), ephemeral=True),
                  limited=False)


COMMANDS = [recommend_command, book_command, shelf_group, forget_command, help_command, retrain_command, status_command]


# --- client -----------------------------------------------------------------------------------

class RarereadsDiscord(discord.Client):
    """A discord.py client with rarereads' command tree; slash commands need no privileged intents."""

    def __init__(self, runtime: BotRuntime, *, test_guild_id: int | None = None, sync: bool = True):
        super().__init__(intents=discord.Intents.none())
        self.runtime = runtime
        self.conversation = Conversation(runtime)
        self.test_guild_id = test_guild_id
        self.sync_on_start = sync
        self.tree = app_commands.CommandTree(self)
        self.tree.on_error = self.on_command_error
        for command in COMMANDS:
            self.tree.add_command(command)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ActionButton)
        if not self.sync_on_start:
            return
        if self.test_guild_id:
            guild = discord.Object(id=self.test_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("Discord: synced %d commands to test guild %s", len(synced), self.test_guild_id)
        else:
            synced = await self.tree.sync()
            log.info("Discord: synced %d global commands (they may take a while to appear)", len(synced))

    async def on_ready(self) -> None:
        log.info("Discord: logged in as %s", self.user)

    async def on_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Log a failed command with its traceback and tell the user, without internals."""
        log.error("discord command %s failed", interaction.command and interaction.command.qualified_name,
                  exc_info=error)
        text = "Sorry, something went wrong on my side. Please try again."
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException:
            pass

    async def on_error(self, event: str, *args, **kwargs) -> None:
        log.exception("discord event %s failed", event)


class DiscordRunner:
    """Starts and stops the Discord side of `rarereads serve`."""

    name = "Discord"

    def __init__(self, runtime: BotRuntime, settings):
        self.runtime = runtime
        self.settings = settings
        self.client = RarereadsDiscord(runtime, test_guild_id=settings.discord_test_guild_id)
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        """Log in (and sync commands), then connect to the gateway in the background."""
        try:
            await self.client.login(self.settings.discord_token.reveal())
        except discord.LoginFailure:
            await self.client.close()
            raise DiscordStartError("Discord rejected RAREREADS_DISCORD_TOKEN; reset it in the developer portal "
                                    "(Bot tab) and copy it again") from None
        except (discord.HTTPException, OSError) as exc:
            await self.client.close()
            raise DiscordStartError(f"could not reach Discord: {exc}") from None
        self.task = asyncio.create_task(self._connect())

    async def _connect(self) -> None:
        try:
            await self.client.connect(reconnect=True)
        except discord.PrivilegedIntentsRequired:  # cannot happen with Intents.none(); say so if it does
            log.error("Discord asks for privileged intents; rarereads needs none")
        except Exception:
            log.exception("Discord connection failed; Telegram (if configured) keeps running")

    async def notify_admins(self, text: str) -> None:
        """Send `text` to every Discord admin by direct message."""
        for admin in self.settings.discord_admins:
            try:
                user = await self.client.fetch_user(admin)
                await user.send(clip(_md(text), 2000))
            except discord.HTTPException as exc:
                log.warning("could not notify discord admin %s: %s", admin, exc)

    async def pause(self) -> None:
        """Nothing to pause: interactions arriving while replies finish are still answered."""

    async def stop(self) -> None:
        """Close the gateway connection and the HTTP session."""
        await self.client.close()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)
