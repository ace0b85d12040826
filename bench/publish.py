"""Rewrite the latest-results sections of docs/benchmarks.md from recorded runs.

    .venv/bin/python bench/publish.py                 # the newest result of each kind
    .venv/bin/python bench/publish.py bench/results/overhead-2026-11-25-2110.json

A result is `bench/results/<kind>-*.json`, kind `overhead` or `embedded`; the newest is the
one that started last. `bench/<kind>/report.py` renders it: `markdown(result)` gives the
tables, `plot(result, path)` draws `docs/benchmarks/<kind>.png`. Both replace what lies
between `<!-- bench:<kind>:begin -->` and `<!-- bench:<kind>:end -->`; the prose outside the
markers is left as it is. A kind with no result or no report module is left untouched.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
DOC = REPO / "docs" / "benchmarks.md"
PLOTS = REPO / "docs" / "benchmarks"
KINDS = ("overhead", "embedded")


def started(path: Path) -> str:
    """When the run began (ISO 8601, UTC), or the file's mtime if it does not say."""
    result: dict[str, Any] = json.loads(path.read_text())
    mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    when = result.get("started") or result.get("started_at")
    return str(when or mtime.isoformat(timespec="seconds"))


def newest(kind: str) -> Path | None:
    return max(RESULTS.glob(f"{kind}-*.json"), key=started, default=None)


def load_report(kind: str) -> ModuleType | None:
    path = BENCH / kind / "report.py"
    if not path.exists():
        return None
    sys.path.insert(0, str(path.parent))  # for the module's imports of its siblings
    spec = importlib.util.spec_from_file_location(f"bench_{kind}_report", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def section(kind: str, report: ModuleType, result_path: Path) -> str:
    result = json.loads(result_path.read_text())
    PLOTS.mkdir(exist_ok=True)
    png = PLOTS / f"{kind}.png"
    report.plot(result, png)
    path = result_path.resolve()
    source = path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else str(path)
    link = f"[`{source}`](../{source})" if path.is_relative_to(REPO) else f"`{source}`"
    return "\n".join(
        [
            f"<!-- written by bench/publish.py from {source}: edit outside the markers -->",
            "",
            report.markdown(result),
            "",
            f"![{kind} benchmark: plots of the table above]({png.relative_to(DOC.parent)})",
            "",
            f"Raw data: {link}.",
        ]
    )


def replace_between(text: str, kind: str, block: str) -> str:
    begin, end = f"<!-- bench:{kind}:begin -->", f"<!-- bench:{kind}:end -->"
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise SystemExit(f"publish: {DOC.name} has no {begin} … {end} pair")
    return f"{text[: start + len(begin)]}\n{block}\n{text[stop:]}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", nargs="*", type=Path, help="result JSONs (default: the newest)")
    args = ap.parse_args()
    chosen = {kind: newest(kind) for kind in KINDS}
    for path in args.results:
        kind = path.name.split("-", 1)[0]
        if kind not in KINDS or not path.is_file():
            ap.error(f"{path}: not a bench/results/<{'|'.join(KINDS)}>-*.json file")
        chosen[kind] = path
    text = DOC.read_text()
    for kind, path in chosen.items():
        report = load_report(kind)
        if path is None or report is None:
            missing = f"bench/{kind}/report.py" if report is None else f"{kind} result"
            print(f"publish: no {missing}: the {kind} section is left as it is", file=sys.stderr)
            continue
        text = replace_between(text, kind, section(kind, report, path))
        print(f"publish: {kind} section <- {path}", file=sys.stderr)
    DOC.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
