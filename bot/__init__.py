"""Chat adapters (terminal, Discord, Telegram) and the `rarereads` command line."""
