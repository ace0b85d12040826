"""The production topology as local processes (`make stack`), and the chaos and soak runs
against it (`make chaos`, `make soak`, tests/reliability). See docs/reliability.md."""

from tests.utils.stack.stack import Stack, StackConfig

__all__ = ["Stack", "StackConfig"]
