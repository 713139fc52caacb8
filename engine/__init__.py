"""The rarereads library: data, title matching, rare-book recommendation and shelves.

Never imports discord, telegram or torch: the bot process stays small.
"""
