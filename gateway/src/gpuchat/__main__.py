"""`python -m gpuchat`: the `gpuchat` command (how `gpuchat run` starts the supervisor)."""

from gpuchat.commands.app import app

app()
