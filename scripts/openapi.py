"""Print the gateway's OpenAPI document (JSON) without starting a server or an engine.

    .venv/bin/python scripts/openapi.py > openapi.json

The document does not depend on configuration: the app is built with development
defaults in a temporary data directory, and neither `.env` nor GPUCHAT_* variables are read.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

for name in [name for name in os.environ if name.startswith("GPUCHAT_")]:
    del os.environ[name]

from gpuchat.core.config import Settings  # noqa: E402 (after the environment is cleared)
from gpuchat.main import create_app  # noqa: E402

with tempfile.TemporaryDirectory() as data_dir:
    app = create_app(Settings(_env_file=None, data_dir=data_dir, log_level="WARNING"))
    json.dump(app.openapi(), sys.stdout, indent=2, ensure_ascii=False, sort_keys=False)
    sys.stdout.write("\n")
