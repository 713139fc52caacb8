"""Discord adapter: the command table as slash commands (`discord.app_commands`), and answers as embeds.

Each entry of `bot.commands.COMMANDS` becomes an app command (a group's entries its
subcommands) with its options, ranges, choices, descriptions and admin default; each
hands its values to the runtime. Picks and /book answers go out as embeds, titles linked
to the book's page, with cover thumbnails; every piece of user or catalogue text goes
through `discord.utils.escape_markdown`. Buttons are `DynamicItem`s whose custom id
carries a token from `bot.actions.ActionStore`, so they work on any message.
"""
from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import time

import discord
from discord import app_commands
from discord.utils import escape_markdown

from .commands import COMMANDS as TABLE, GROUPS, Command, Option
from .conversation import Answer, Button
from .formatting import clean_input, clip
from .grammar import Call
from .replies import Book, Picks
from .runtime import BotRuntime
from .settings import DiscordSettings
from .wording import Dialect, book_lines

log = logging.getLogger(__name__)

PLATFORM = "discord"
SAY = Dialect(  # slash commands with named options, and menus instead of typed numbers
    slash=True,
    choose="Pick it from the menu below.",
    confirm="Press Yes below, or run {command}.",
    send_file="Run /shelf import with your Goodreads or StoryGraph export (CSV) as its file.",
    extra=("Under each list: Read it (to your shelf), Not interested (never again), More like this, More",),
)
MAX_EMBEDS = 10  # a message holds at most 10 embeds: no more picks than that on one page here
LIMITS = {"count": MAX_EMBEDS}
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
    match answer.reply:
        case Book(work=work, neighbours=neighbours, note=note):  # the embed's title is the book's; its lines below
            return [_embed(_md(work.title), work, book_lines(work, neighbours, _link, _md, note=note)[1:])]
        case Picks(recommendations=result, offset=offset):
            embeds = [_embed(f"{n}. {_md(pick.work.title)}", pick.work, [f"*{_md(pick.reason)}*" if pick.reason else ""])
                      for n, pick in enumerate(result.picks, offset + 1)]
            if embeds and result.model_version:
                embeds[-1].set_footer(text=f"model {result.model_version}")
            return embeds[:MAX_EMBEDS]
    return []


def content_for(answer: Answer) -> str:
    """Message text: the first line only when embeds carry the picks, none when an embed carries
    a book, else the whole reply."""
    text = answer.text
    match answer.reply:
        case Book():
            return ""
        case Picks(recommendations=result, note=note) if result.picks:
            text = "\n".join(filter(None, [(text.strip().splitlines() or [""])[0], note]))
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
        await interaction.client.runtime.press(DiscordChannel(interaction), self.token)


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
        await interaction.client.runtime.press(DiscordChannel(interaction), (self.item.values or [""])[0])


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
    say = SAY

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


# --- commands: the table as app commands ---------------------------------------------------

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


async def _run(interaction: discord.Interaction, command: Command, values: dict) -> None:
    """A slash command: its values (text cleaned) to the runtime; a file goes through the import flow."""
    runtime: BotRuntime = interaction.client.runtime
    channel = DiscordChannel(interaction, private=command.private)
    given = {name: clean_input(value) if isinstance(value, str) else value
             for name, value in values.items() if value is not None}
    upload = next((given[o.name] for o in command.options if o.type is bytes and o.name in given), None)
    if upload is not None:
        await runtime.import_command(channel, upload.size, upload.read)
        return
    await runtime.run(channel, Call(command, given))


def _annotation(option: Option):
    """The option as discord.py reads a parameter: its type, range, and whether it may be left out."""
    if option.type is bytes:
        kind = discord.Attachment
    elif option.type is int:
        highs = [h for h in (option.high, LIMITS.get(option.name)) if h is not None]
        kind = app_commands.Range[int, option.low, min(highs) if highs else None]
    else:
        kind = option.type
    return kind if option.required else kind | None


def slash_command(command: Command, parent: app_commands.Group | None = None) -> app_commands.Command:
    """`command` of the table as an app command: options, ranges, choices, descriptions, admin default."""
    async def callback(interaction: discord.Interaction, **values) -> None:
        await _run(interaction, command, values)

    parameters = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                    annotation=discord.Interaction)]
    parameters += [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, annotation=_annotation(o),
                                     default=inspect.Parameter.empty if o.required else None)
                   for o in command.options]
    callback.__signature__ = inspect.Signature(parameters)  # what discord.py reads the options from
    callback.__qualname__ = callback.__name__ = command.use
    callback.__doc__ = f"/{command.name}: {command.help}"
    if command.options:
        app_commands.describe(**{o.name: o.help for o in command.options})(callback)
    choices = {o.name: [app_commands.Choice(name=clip(f"{value}: {meaning}", 100), value=value)
                        for value, meaning in o.choices.items()] for o in command.options if o.choices}
    if choices:
        app_commands.choices(**choices)(callback)
    if command.admin:  # hidden from members; the bot's own admin list still decides
        app_commands.default_permissions(manage_guild=True)(callback)
    slash = app_commands.Command(name=command.name.rpartition(" ")[2], description=command.help, callback=callback,
                                 parent=parent)
    for option in command.options:
        if option.titles:
            slash.autocomplete(option.name)(title_autocomplete)
    return slash


def app_command_tree() -> list[app_commands.Command | app_commands.Group]:
    """Every command of the table, a group's under one `app_commands.Group`, in the table's order."""
    tree, groups = [], {}
    for command in TABLE:
        if command.group is None:
            tree.append(slash_command(command))
            continue
        if command.group not in groups:
            groups[command.group] = app_commands.Group(name=command.group, description=GROUPS[command.group])
            tree.append(groups[command.group])
        groups[command.group].add_command(slash_command(command, groups[command.group]))
    return tree


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
        for command in app_command_tree():
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
    """Starts and stops the Discord side of `rarereads serve`, with its settings section."""

    name = "Discord"
    platform = PLATFORM

    def __init__(self, runtime: BotRuntime, settings: DiscordSettings):
        self.runtime = runtime
        self.settings = settings
        self.client = RarereadsDiscord(runtime, test_guild_id=settings.test_guild_id, sync=settings.sync,
                                       shard_ids=list(settings.shards) if settings.shards else None,
                                       shard_count=settings.shard_count)
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        """Log in (and sync commands), then connect to the gateway in the background."""
        try:
            await self.client.login(self.settings.token.get_secret_value())
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
        for admin in self.settings.admins:
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
