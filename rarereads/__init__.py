"""The `rarereads` command line, the project's default paths and the settings every command shares.

This package sits outside the layers it starts: `engine/` imports nothing from it,
`train/` and `bot/` import only `rarereads.paths` and `rarereads.settings`, and
`rarereads.cli` names each command's module by string, so running one command imports
only that layer.
"""
