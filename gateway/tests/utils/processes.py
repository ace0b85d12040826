"""Processes a test starts in a session of their own (a gateway, a supervisor)."""

from __future__ import annotations

import os
import signal
import subprocess


def stop(child: subprocess.Popen[bytes], grace: float = 60) -> None:
    """SIGTERM, as an operator would; its whole process group killed after `grace` s."""
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
