"""Discord adapter: slash commands (`discord.app_commands`) that parse, call the service, and format.

Picks and /book answers go out as embeds, titles linked to the book's page, with cover
thumbnails; every piece of user or catalogue text goes through `discord.utils.escape_markdown`.
Buttons are `DynamicItem`s whose custom id carries a token from `bot.runtime.ActionStore`,
so they work on any message.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from typing import Awaitable, Callable

import discord
from discord import app_commands
from discord.utils import escape_markdown

from engine.rarity import DEFAULT_RARITY, RARITIES

from .conversation import Answer, Button, Conversation
from .formatting import clean_input, clip
from .runtime import BotRuntime
from .service import book_lines

log = logging.getLogger(__name__)

PLATFORM = "discord"
# Built from engine.rarity, the one list of rarity names: a new setting shows up here by itself.
RARITY_CHOICES = [app_commands.Choice(name=clip(f"{name}: {r.description}", 100), value=name)
                  for name, r in RARITIES.items()]
RARITY_HELP = f"How rare: {', '.join(RARITIES)} (default {DEFAULT_RARITY})"
STYLES = {"primary": discord.ButtonStyle.primary, "secondary": discord.ButtonStyle.secondary,
          "danger": discord.ButtonStyle.danger}


class DiscordStartError(RuntimeError):
    """Discord could not be started (e.g. the token was rejected); the message says why."""


# --- formatting ----------------------------------------------------------------------------

def _md(text: str) -> str:
    return escape_markdown(text or "", as_needed=False)


def _link(work) -> str:
    """A book in markdown: its title linked to its page (`Work.url`), then author and year."""
    title = _md(clip(work.title, 256)).replace("[", "\\[").replace("]", "\\]")
    return f"[{title}]({work.url})" + (f" — {_md(work.author)}" if work.author else "") + (
        f" ({work.year})" if work.year else "")


def _embed(title: str, work, lines: list[str]) -> discord.Embed:
    """An embed about `work`: `title` linked to its page, author and year, `lines`, the cover."""
    byline = " · ".join(p for p in (_md(work.author), str(work.year) if work.year else "") if p)
    embed = discord.Embed(title=clip(title, 256), url=work.url, colour=discord.Colour.dark_teal(),
                          description=clip("\n".join(filter(None, [byline, *lines])), 4000))
    if work.cover_url.startswith(("https://", "http://")):
        embed.set_thumbnail(url=work.cover_url)
    return embed


def embeds_for(answer: Answer) -> list[discord.Embed]:
    """One embed per pick (linked title, author, year, reason, cover thumbnail), or one for a /book answer."""
    reply = answer.reply
    if getattr(reply, "kind", "") == "book":  # the embed's title is the book's; its other lines below
        lines = book_lines(reply.work, reply.neighbours, _link, _md, note=reply.note)
        return [_embed(_md(reply.work.title), reply.work, lines[1:])]
    recs = getattr(reply, "recommendations", None)
    embeds = [_embed(f"{n}. {_md(pick.work.title)}", pick.work, [f"*{_md(pick.reason)}*" if pick.reason else ""])
              for n, pick in enumerate(getattr(recs, "picks", None) or [], getattr(reply, "offset", 0) + 1)]
    if embeds and getattr(recs, "model_version", ""):
        embeds[-1].set_footer(text=f"model {recs.model_version}")
    return embeds[:10]


def content_for(answer: Answer) -> str:
    """Message text: the first line only when embeds carry the picks, none when an embed carries
    a book, else the whole reply."""
    text = answer.text
    if getattr(answer.reply, "kind", "") == "book":
        return ""
    if getattr(getattr(answer.reply, "recommendations", None), "picks", None):
        text = "\n".join(filter(None, [(text.strip().splitlines() or [""])[0], getattr(answer.reply, "note", "")]))
    return clip(_md(text), 2000) or "…"


class ActionButton(discord.ui.DynamicItem[discord.ui.Button], template=r"rr:(?P<token>[A-Za-z0-9_-]{1,40})"):
    """A button whose action waits in the ActionStore under `token`."""

    def __init__(self, token: str, label: str = "…", style: discord.ButtonStyle = discord.ButtonStyle.secondary,
                 row: int | None = None):
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=f"rr:{token}", row=row))
        self.token = token

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match) -> "ActionButton":
        return cls(match["token"])

    async def callback(self, interaction: discord.Interaction) -> None:
        """A press: run the action for the presser and reply."""
        runtime = interaction.client.runtime
        await runtime.command(DiscordChannel(interaction), lambda reader: runtime.conversation.press(reader, self.token))


class ActionMenu(discord.ui.DynamicItem[discord.ui.Select], template=r"rs:(?P<n>[0-9])"):
    """A menu of buttons that do not fit a message (one per pick, one per candidate): each
    option's value is its button's token."""

    def __init__(self, n: int, placeholder: str = "…", buttons: list[Button] = ()):
        options = [discord.SelectOption(label=clip(b.item or b.label, 100), value=b.token) for b in buttons]
        super().__init__(discord.ui.Select(custom_id=f"rs:{n}", placeholder=clip(placeholder, 150),
                                           options=options or [discord.SelectOption(label="…")], row=n))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Select, match) -> "ActionMenu":
        menu = cls(int(match["n"]))
        menu.item = item  # carries the chosen values
        return menu

    async def callback(self, interaction: discord.Interaction) -> None:
        """An option chosen: run its button's action for the chooser and reply."""
        token = (self.item.values or [""])[0]
        runtime = interaction.client.runtime
        await runtime.command(DiscordChannel(interaction), lambda reader: runtime.conversation.press(reader, token))


def view_for(answer: Answer) -> discord.ui.View | None:
    """Buttons in rows set at construction; per-pick actions and choices as menus when they do not fit.

    A message holds 5 rows of 5 buttons. One book's buttons fit a row; for a list, each
    action becomes a menu of the picks, and the candidates of an ambiguous title one menu.
    """
    if not answer.buttons:
        return None
    view = discord.ui.View(timeout=None)
    row = 0
    if len(answer.picks) == 1:
        for button in answer.picks[0][:5]:
            view.add_item(ActionButton(button.token, clip(button.label, 80), STYLES.get(button.style), row=row))
        row += 1
    elif answer.picks:
        for column in range(len(answer.picks[0])):
            buttons = [pick[column] for pick in answer.picks if column < len(pick)][:25]
            view.add_item(ActionMenu(row, f"{buttons[0].action}…", buttons))
            row += 1
    if answer.choices:
        view.add_item(ActionMenu(row, "Which one do you mean?", answer.choices[:25]))
        row += 1
    for button in answer.nav[:5]:
        view.add_item(ActionButton(button.token, clip(button.label, 80), STYLES.get(button.style), row=min(row, 4)))
    return view


# --- where a command came from ---------------------------------------------------------------

class DiscordStatus:
    """Retrain progress: the interaction's response while its token lasts, then a channel message.

    Interaction tokens expire after 15 minutes, and a retrain may take hours: the outcome is
    always posted as a message of its own in the channel (or, failing that, a DM to the asker).
    """

    token_seconds = 14 * 60.0  # Discord's interaction tokens last 15 minutes

    def __init__(self, interaction: discord.Interaction):
        self.interaction = interaction
        self.born = time.monotonic()
        self.message: discord.Message | None = None

    async def edit(self, text: str) -> None:
        content = clip(_md(text), 2000)
        if self.message is None and time.monotonic() - self.born < self.token_seconds:
            try:
                await self.interaction.edit_original_response(content=content)
                return
            except discord.HTTPException as exc:  # expired or deleted: go on in a message of our own
                log.info("retrain progress moves to a channel message (%s)", exc.status)
        if self.message is not None:
            try:
                await self.message.edit(content=content)
                return
            except discord.HTTPException:
                self.message = None
        self.message = await self._post(content)

    async def finish(self, text: str) -> None:
        await self._post(clip(_md(text), 2000))

    async def _post(self, content: str) -> discord.Message:
        client = self.interaction.client
        try:
            return await client.get_partial_messageable(self.interaction.channel_id).send(content)
        except discord.HTTPException:  # no right to post there: tell the asker directly
            return await self.interaction.user.send(content)


class DiscordChannel:
    """One interaction; see `bot.runtime.Channel`. It answers once, deferring first when asked to.

    Args:
        interaction: The interaction.
        private: The answer is about the reader's own shelf: in a server only they see it
            (decided before a defer, whose "thinking…" message is public or not).
    """

    platform = PLATFORM

    def __init__(self, interaction: discord.Interaction, private: bool = False):
        self.interaction = interaction
        self.user_id = interaction.user.id
        self.scope = f"{PLATFORM}:{interaction.guild_id}" if interaction.guild_id else None
        self.private = private

    def _ephemeral(self, answer: Answer | None = None) -> bool:
        in_server = self.interaction.guild_id is not None
        return bool(answer and answer.toast) or (in_server and (self.private or bool(answer and answer.private)))

    async def _send(self, ephemeral: bool = False, **kwargs) -> None:
        if self.interaction.response.is_done():
            await self.interaction.followup.send(**kwargs, ephemeral=ephemeral)
        else:
            await self.interaction.response.send_message(**kwargs, ephemeral=ephemeral)

    async def answer(self, answer: Answer) -> None:
        kwargs = {"content": content_for(answer), "embeds": embeds_for(answer)}
        view = view_for(answer)
        if view is not None:
            kwargs["view"] = view
        await self._send(self._ephemeral(answer), **kwargs)

    async def notice(self, text: str) -> None:
        await self._send(True, content=clip(_md(text), 2000))

    async def busy(self) -> None:
        if not self.interaction.response.is_done():
            await self.interaction.response.defer(thinking=True, ephemeral=self._ephemeral())

    async def status(self, text: str) -> DiscordStatus:
        await self._send(content=clip(_md(text), 2000))
        return DiscordStatus(self.interaction)


def _title(text: str | None) -> str:
    return clean_input(text)


def _command(interaction: discord.Interaction, work: Callable[[Conversation, str], Answer], *,
             private: bool = False) -> Awaitable[None]:
    """Run a slash command's `work(conversation, reader)` through the shared flow."""
    runtime: BotRuntime = interaction.client.runtime
    return runtime.command(DiscordChannel(interaction, private), lambda reader: work(runtime.conversation, reader))


# --- commands ---------------------------------------------------------------------------------

@app_commands.command(name="recommend", description="Rare books that readers of a title loved (no title: for your shelf)")
@app_commands.describe(title="A book you love (leave empty to use your whole shelf, or in a server the shared shelves)",
                       count="How many picks (1-10)", rarity=RARITY_HELP,
                       lang="Language of the picks: a code such as en or de, or any (default: the book's own)",
                       page="Which page of picks (More gives the next one)")
@app_commands.choices(rarity=RARITY_CHOICES)
async def recommend_command(interaction: discord.Interaction, title: str | None = None,
                            count: app_commands.Range[int, 1, 10] | None = None,
                            rarity: app_commands.Choice[str] | None = None,
                            lang: app_commands.Range[str, 2, 3] | None = None,
                            page: app_commands.Range[int, 1, 10] = 1) -> None:
    """/recommend [title] [count] [rarity] [lang] [page]."""
    scope = f"{PLATFORM}:{interaction.guild_id}" if interaction.guild_id else None
    await _command(interaction, lambda c, reader: c.recommend(reader, _title(title), count,
                                                              rarity.value if rarity else None, page - 1, lang, scope))


@recommend_command.autocomplete("title")
async def title_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Up to 25 catalogue titles matching what the user has typed."""
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
    await _command(interaction, lambda c, reader: c.book(reader, _title(title)))


book_command.autocomplete("title")(title_autocomplete)

shelf_group = app_commands.Group(name="shelf", description="Your shelf of favourite books")


@shelf_group.command(name="show", description="Show the books on your shelf")
@app_commands.describe(page="Page number (10 books a page)")
async def shelf_show(interaction: discord.Interaction, page: app_commands.Range[int, 1, 10_000] = 1) -> None:
    """/shelf show [page]."""
    await _command(interaction, lambda c, reader: c.shelf(reader, page - 1), private=True)


@shelf_group.command(name="want", description="Show the books you want to read (from your imports)")
@app_commands.describe(page="Page number (10 books a page)")
async def shelf_want(interaction: discord.Interaction, page: app_commands.Range[int, 1, 10_000] = 1) -> None:
    """/shelf want [page]."""
    await _command(interaction, lambda c, reader: c.shelf(reader, page - 1, "want"), private=True)


@shelf_group.command(name="add", description="Add a book you loved to your shelf")
@app_commands.describe(title="The book's title (and author, if you like)", rating="Your stars for it, 1 to 5")
async def shelf_add(interaction: discord.Interaction, title: str,
                    rating: app_commands.Range[int, 1, 5] | None = None) -> None:
    """/shelf add <title> [rating]."""
    await _command(interaction, lambda c, reader: c.shelf_add(reader, _title(title), rating), private=True)


shelf_add.autocomplete("title")(title_autocomplete)


@shelf_group.command(name="remove", description="Take a book off your shelf")
@app_commands.describe(title="The book's title as on your shelf")
async def shelf_remove(interaction: discord.Interaction, title: str) -> None:
    """/shelf remove <title>."""
    await _command(interaction, lambda c, reader: c.shelf_remove(reader, _title(title)), private=True)


@shelf_group.command(name="share", description="Book club: add your shelf to this server's /recommend")
@app_commands.describe(stop="Stop sharing your shelf with this server")
async def shelf_share(interaction: discord.Interaction, stop: bool = False) -> None:
    """/shelf share [stop]."""
    scope = f"{PLATFORM}:{interaction.guild_id}" if interaction.guild_id else None
    await _command(interaction, lambda c, reader: c.share(reader, scope, on=not stop))


@shelf_group.command(name="clear", description="Empty your shelf (asks first)")
@app_commands.describe(yes="Skip the question: yes, empty it now")
async def shelf_clear(interaction: discord.Interaction, yes: bool = False) -> None:
    """/shelf clear [yes]."""
    await _command(interaction, lambda c, reader: c.shelf_clear(reader, confirm=yes), private=True)


@shelf_group.command(name="import", description="Import your Goodreads or StoryGraph library export (CSV)")
@app_commands.describe(file="Goodreads: My Books → Import and export; StoryGraph: Manage Account → Export")
async def shelf_import(interaction: discord.Interaction, file: discord.Attachment) -> None:
    """/shelf import <file>."""
    await interaction.client.runtime.import_command(DiscordChannel(interaction, private=True), file.size, file.read)


@app_commands.command(name="forget", description="Delete your shelf and everything rarereads knows about you (asks first)")
@app_commands.describe(yes="Skip the question: yes, forget me now")
async def forget_command(interaction: discord.Interaction, yes: bool = False) -> None:
    """/forget [yes]."""
    await _command(interaction, lambda c, reader: c.forget(reader, confirm=yes), private=True)


@app_commands.command(name="help", description="How to use rarereads")
async def help_command(interaction: discord.Interaction) -> None:
    """/help."""
    await _command(interaction, lambda c, reader: c.help(reader))


@app_commands.command(name="retrain", description="Admins: train a new model and swap it in if it is as good")
@app_commands.default_permissions(manage_guild=True)  # hidden from members; the bot's own admin list still decides
async def retrain_command(interaction: discord.Interaction) -> None:
    """/retrain (admins only)."""
    await interaction.client.runtime.retrain_command(DiscordChannel(interaction))


@app_commands.command(name="status", description="Admins: model version and age, evaluation, catalogue, shelves, uptime")
@app_commands.default_permissions(manage_guild=True)
async def status_command(interaction: discord.Interaction) -> None:
    """/status (admins only)."""
    await interaction.client.runtime.status_command(DiscordChannel(interaction))


COMMANDS = [recommend_command, book_command, shelf_group, forget_command, help_command, retrain_command, status_command]


# --- client -----------------------------------------------------------------------------------

class RarereadsDiscord(discord.AutoShardedClient):
    """A discord.py client with rarereads' command tree; slash commands need no privileged intents.

    Auto-sharded: Discord requires shards past 2,500 servers. One process runs them all, or
    (`rarereads serve --shards 0-3 --shard-count 8`) the shards `shard_ids` of `shard_count`,
    so that several processes on one shelf store serve a bot together.

    Args:
        runtime: The shared runtime.
        test_guild_id: Sync the commands to this server only (they show at once).
        sync: "auto" syncs the command list when it differs from the one last synced (kept in
            the shelf store), "always" syncs at every start, "never" does not.
        shard_ids, shard_count: The shards this process runs, of how many (None: discord.py decides).
    """

    def __init__(self, runtime: BotRuntime, *, test_guild_id: int | None = None, sync: str = "auto",
                 shard_ids: list[int] | None = None, shard_count: int | None = None):
        super().__init__(intents=discord.Intents.none(), shard_ids=shard_ids, shard_count=shard_count)
        self.runtime = runtime
        self.test_guild_id = test_guild_id
        self.sync = sync
        self.tree = app_commands.CommandTree(self)
        self.tree.on_error = self.on_command_error
        for command in COMMANDS:
            self.tree.add_command(command)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ActionButton, ActionMenu)
        guild = discord.Object(id=self.test_guild_id) if self.test_guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        if self.sync == "never":
            return
        # Discord rate-limits syncing hard; the list changes only when rarereads does.
        payload = json.dumps([c.to_dict(self.tree) for c in self.tree.get_commands(guild=guild)], sort_keys=True)
        digest = hashlib.sha256(payload.encode()).hexdigest()
        key = f"discord.synced.{self.application_id}.{guild.id if guild else 'global'}"
        shelves = self.runtime.shelves
        if self.sync == "auto" and await asyncio.to_thread(shelves.meta, key) == digest:
            log.info("Discord: the command list is as last synced; not syncing (serve --sync-commands forces it)")
            return
        synced = await self.tree.sync(guild=guild)
        await asyncio.to_thread(shelves.set_meta, key, digest)
        where = f"test guild {self.test_guild_id}" if guild else "all servers (they may take a while to appear)"
        log.info("Discord: synced %d commands to %s", len(synced), where)

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
    platform = PLATFORM

    def __init__(self, runtime: BotRuntime, settings):
        self.runtime = runtime
        self.settings = settings
        shard_ids = getattr(settings, "discord_shard_ids", None)
        self.client = RarereadsDiscord(runtime, test_guild_id=settings.discord_test_guild_id, sync=settings.discord_sync,
                                       shard_ids=list(shard_ids) if shard_ids else None,
                                       shard_count=getattr(settings, "discord_shard_count", None))
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
        for admin in self.settings.admins.get(PLATFORM, ()):
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
