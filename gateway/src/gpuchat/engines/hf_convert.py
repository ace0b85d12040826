"""GGUF -> Hugging Face directory (safetensors, tokenizer, chat template) for vLLM.

    <vLLM env's python> hf_convert.py MODEL.gguf OUT_DIR

Run by `gpuchat models export-hf` with the interpreter of the vLLM environment (it has torch,
transformers and gguf; the gateway's environment has none of them), so this file imports
nothing of gpuchat. vLLM cannot load GGUF on the CPU; transformers' GGUF loader dequantises
the weights, and once the GGUF quantizer marker is dropped the model saves as plain bf16
safetensors that any engine loads.
"""

from __future__ import annotations

import sys
from pathlib import Path


def convert(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # float32 is the loader's native dequantisation type; bf16 is what gets written.
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    # Without this, save_pretrained writes a `quantization_config: gguf` vLLM refuses.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model = model.to(torch.bfloat16)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    if not tokenizer.chat_template:
        raise SystemExit(f"{gguf} carries no chat template; vLLM's chat API needs one")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: hf_convert.py MODEL.gguf OUT_DIR")
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
