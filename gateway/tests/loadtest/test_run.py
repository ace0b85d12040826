"""The bench plan's generated prompts."""

from __future__ import annotations

from gpuchat.loadtest import BenchPlan


def test_prompts_differ_within_a_run_and_between_runs() -> None:
    """Two runs against one engine (direct, then through the gateway) must not send the same
    prompts: the engine's prefix cache would serve the second run and flatter its TTFT."""
    first = BenchPlan(base_url="http://127.0.0.1:1/v1", model="m", prompt_tokens=200)
    second = BenchPlan(base_url="http://127.0.0.1:1/v1", model="m", prompt_tokens=200)

    assert first.prompt(0) != first.prompt(1)
    assert first.prompt(0)[:40] != second.prompt(0)[:40]  # apart from their first tokens
    assert len(first.prompt(0).split()) >= 190
