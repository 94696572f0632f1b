"""``llmkb generate``: sample a continuation of a prompt from a trained run directory."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "generate"
HELP = "Continue a prompt with a model trained by 'llmkb train' (prints prompt + continuation)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``llmkb generate``."""
    parser.add_argument("dir", metavar="DIR", help="run directory (model.safetensors + config.json)")
    parser.add_argument("--prompt", required=True, help="text to continue")
    parser.add_argument("--max-new-tokens", type=int, default=200, help="tokens to sample (default 200)")
    parser.add_argument("--temperature", type=float, default=0.8, help="0 is greedy (default 0.8)")
    parser.add_argument("--top-k", type=int, default=None, help="keep the k most likely tokens")
    parser.add_argument("--top-p", type=float, default=None, help="nucleus: smallest set with mass >= p")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")


def run(args: argparse.Namespace) -> int:
    """Load the model and its tokenizer, sample, print."""
    import torch

    from llmkb.data import get_tokenizer
    from llmkb.errors import UsageError
    from llmkb.infer.sampling import SamplingConfig
    from llmkb.nn import GPT
    from llmkb.train.runs import TOKENIZER_DIR

    root = Path(args.dir)
    missing = [n for n in ("model.safetensors", "config.json") if not (root / n).is_file()]
    if missing:
        raise UsageError(
            f"no trained model in {str(root)!r} ({', '.join(missing)} missing): run 'llmkb train'"
        )
    if args.max_new_tokens < 0:
        raise UsageError(f"--max-new-tokens must be >= 0, got {args.max_new_tokens}")
    try:
        sampling = SamplingConfig(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p)
    except ValueError as exc:  # "top_k must be ..." -> "--top-k must be ..."
        name, rest = str(exc).split(" ", 1)
        raise UsageError(f"--{name.replace('_', '-')} {rest}") from None
    if not args.prompt:
        raise UsageError("--prompt must not be empty: give at least one character to continue")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"device {args.device!r} requested but CUDA is not available: use --device cpu")
    tok_dir = root / TOKENIZER_DIR
    tokenizer = get_tokenizer(tok_dir if tok_dir.is_dir() else "byte")
    try:
        model = GPT.load(root, map_location=args.device)
    except (OSError, ValueError, RuntimeError) as exc:
        raise UsageError(f"cannot load the model in {str(root)!r}: {exc}") from None
    ids = tokenizer.encode(args.prompt)
    if max(ids) >= model.config.vocab_size:
        raise UsageError(f"the prompt uses token ids beyond the model's vocab_size={model.config.vocab_size}")
    idx = torch.tensor([ids], dtype=torch.long, device=args.device)  # (1, T)
    gen = torch.Generator(device=args.device).manual_seed(args.seed)
    out = model.generate(idx, args.max_new_tokens, sampling, generator=gen)  # (1, T + max_new_tokens)
    print(tokenizer.decode(out[0].tolist()))
    return 0
