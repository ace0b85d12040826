"""`python -m gpuchat`: the `gpuchat` command (how `make run` starts the gateway, and
`gpuchat run` the supervisor).

The garbage collector is off while the command's modules import: they create some 150,000
objects that live as long as the process, and its passes over them free nothing (0.2 s CPU,
a sixth of a second `make run`). A server turns it back on once it has started (main.py's
lifespan, after freezing what start-up built); any other command before it begins.
"""

import gc
import sys

gc.disable()

from gpuchat.commands.app import app  # noqa: E402 - imported with the collector off

if sys.argv[1:2] not in (["run"], ["serve"]):
    gc.enable()
app()
