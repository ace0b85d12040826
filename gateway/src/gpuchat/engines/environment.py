"""The environment an engine process starts with: named on purpose, never inherited whole.

An engine runs code the gateway does not control (a `trust_remote_code` model, a profile's
command), so it must not find the gateway's secrets in its environment: the session
secret, the admin password, the database URL, the supervisor secret, any token. It gets
what a CUDA program, vLLM, llama.cpp and Hugging Face downloads need, plus what its
profile names explicitly (its GPUs, its Hugging Face token).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from gpuchat.engines.profiles import Profile

# Exact names passed through when the gateway has them.
PASSED = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "LD_LIBRARY_PATH",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "XDG_CACHE_HOME",
    }
)
# Families of settings of the engines and their libraries.
PASSED_PREFIXES = (
    "LC_",
    "CUDA_",
    "NVIDIA_",
    "NCCL_",
    "HF_",
    "HUGGINGFACE_",
    "TRANSFORMERS_",
    "VLLM_",
    "TORCH",
    "PYTORCH_",
    "TRITON_",
    "OMP_",
    "MKL_",
    "GGML_",
    "LLAMA_",
    "HIP_",
    "ROCM_",
)
# Never inherited, whatever the family: credentials by their name.
SECRET_MARKERS = ("SECRET", "PASSWORD", "TOKEN", "KEY", "CREDENTIAL", "DATABASE_URL")


def passes(name: str) -> bool:
    if name.startswith("GPUCHAT_") or any(marker in name.upper() for marker in SECRET_MARKERS):
        return False
    return name in PASSED or name.startswith(PASSED_PREFIXES)


def engine_environment(
    parent: Mapping[str, str], explicit: tuple[tuple[str, str], ...] = ()
) -> dict[str, str]:
    """`parent` filtered to what engines need, then the profile's own `explicit` entries."""
    env = {name: value for name, value in parent.items() if passes(name)}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(explicit)
    return env


def upstream_auth(profile: Profile) -> dict[str, str]:
    """The header an engine with an API key (an `external` vLLM started with `--api-key`)
    needs: the key is read from the variable the profile names, never from the YAML."""
    key = os.environ.get(profile.api_key_env) if profile.api_key_env else None
    return {"Authorization": f"Bearer {key}"} if key else {}
