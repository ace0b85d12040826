"""The load-test library against a real gpuchat gateway (its fake engine behind it)."""

from __future__ import annotations

import pytest

from gpuchat.loadtest import BenchPlan, ServerProblem, Step, list_models, run_bench
from tests.utils.gateway import RunningGateway


async def test_bench_measures_streams_through_the_gateway(gateway: RunningGateway) -> None:
    base_url = f"{gateway.url}/v1"
    assert "fake" in await list_models(base_url, gateway.api_key)
    plan = BenchPlan(
        base_url=base_url,
        model="fake",
        api_key=gateway.api_key,
        steps=(Step(concurrency=1), Step(concurrency=2)),
        requests=4,
        prompts=("!prefill 0.2 !tokens 5",),
    )

    result = await run_bench(plan)

    assert [s["concurrency"] for s in result["steps"]] == [1, 2]
    for step in result["steps"]:
        assert (step["ok"], step["failed"]) == (4, 0), step["errors"]
        assert step["output_tokens"] == 4 * 5  # the usage chunk the gateway relays
        assert step["tokens_from_usage"] == 4
        assert step["ttft_ms"]["p50"] >= 200
    assert gateway.api_key not in str(result)


async def test_bench_counts_the_gateways_refusals(gateway: RunningGateway) -> None:
    plan = BenchPlan(
        base_url=f"{gateway.url}/v1",
        model="no-such-model",
        api_key=gateway.api_key,
        steps=(Step(concurrency=1),),
        requests=2,
    )

    (step,) = (await run_bench(plan))["steps"]

    assert (step["ok"], step["failed"]) == (0, 2)
    assert step["errors"][0]["error"].startswith("HTTP 404")


async def test_bench_says_when_the_gateway_refuses_the_key(gateway: RunningGateway) -> None:
    with pytest.raises(ServerProblem, match="refused the API key") as caught:
        await list_models(f"{gateway.url}/v1", "sk-not-a-key")
    assert caught.value.bad_argument
