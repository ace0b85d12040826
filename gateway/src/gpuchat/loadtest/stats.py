"""Step summaries from per-request samples: exact percentiles, no numpy."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from gpuchat.loadtest.stream import Sample

PERCENTILES = (50, 95, 99)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100), linearly interpolated between the two nearest ranks
    (numpy's default), so one sample gives itself and two give their interpolation."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def distribution_ms(seconds: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/p99 and mean in milliseconds (None where there were no values)."""
    out: dict[str, float | None] = {f"p{q}": _ms(percentile(seconds, q)) for q in PERCENTILES}
    out["mean"] = _ms(sum(seconds) / len(seconds)) if seconds else None
    return out


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


def summarize(step: dict[str, Any], samples: Sequence[Sample], elapsed_s: float) -> dict[str, Any]:
    """What one step did: counts, throughput, latency distributions, errors by kind."""
    ok = [s for s in samples if s.ok]
    failed = len(samples) - len(ok)
    output_tokens = sum(s.output_tokens for s in ok)
    errors = Counter(s.error or "unknown error" for s in samples if not s.ok)
    per_min = 60 * len(ok) / elapsed_s if elapsed_s > 0 else 0.0
    return {
        **step,
        "requests": len(samples),
        "ok": len(ok),
        "failed": failed,
        "error_rate": round(failed / len(samples), 4) if samples else 0.0,
        "elapsed_s": round(elapsed_s, 3),
        "requests_per_min": round(per_min, 2),
        "output_tokens": output_tokens,
        "output_tokens_per_s": round(output_tokens / elapsed_s, 2) if elapsed_s > 0 else 0.0,
        "prompt_tokens": sum(s.prompt_tokens or 0 for s in ok),
        "tokens_from_usage": sum(1 for s in ok if s.tokens_from_usage),
        "ttft_ms": distribution_ms([s.ttft_s for s in ok if s.ttft_s is not None]),
        "tpot_ms": distribution_ms([t for s in ok if (t := s.tpot_s) is not None]),
        "itl_ms": distribution_ms([gap for s in ok for gap in s.gaps_s]),
        "e2e_ms": distribution_ms([s.e2e_s for s in ok]),
        "errors": [{"error": e, "count": n} for e, n in errors.most_common()],
        "samples": [s.record() for s in samples],
    }
