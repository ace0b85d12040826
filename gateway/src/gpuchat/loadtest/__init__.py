"""`gpuchat bench`: a load test for any OpenAI-compatible server (gpuchat, vLLM, llama.cpp
server, LiteLLM), measuring what a chat user feels: time to first token, time per output
token, inter-token latency, end-to-end latency, throughput and errors, step by step
(1 → 5 → 10 concurrent sessions by default, the seed's load plan).

`stream` times one streamed request, `run` drives the steps, `stats` turns samples into a
step summary, `console` is the progress bar and table of
`command`, the `gpuchat bench` command. `bench/embedded`
uses `run_bench` directly.
"""

from gpuchat.loadtest import console
from gpuchat.loadtest.run import BenchPlan, ServerProblem, Step, list_models, run_bench

__all__ = ["BenchPlan", "ServerProblem", "Step", "console", "list_models", "run_bench"]
