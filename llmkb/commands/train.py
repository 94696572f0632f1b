"""``llmkb train``: train a GPT preset on a corpus into a run directory (resumable)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

NAME = "train"
HELP = "Train a GPT preset on a corpus (pydoc, stdlib or a path) into a resumable run directory."

# Options whose value, when not given, comes from the checkpoint on --resume (else from TrainConfig).
_TRAIN_OPTIONS: dict[str, str] = {
    "steps": "steps",
    "batch_size": "batch_size",
    "seq_len": "seq_len",
    "lr": "lr",
    "min_lr": "min_lr",
    "warmup_steps": "warmup_steps",
    "eval_every": "eval_every",
    "checkpoint_every": "checkpoint_every",
    "seed": "seed",
    "device": "device",
    "precision": "precision",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``llmkb train``."""
    parser.add_argument(
        "--preset", default=None, help="GPTConfig preset (tiny, small, site, ...; default site)"
    )
    parser.add_argument("--corpus", default=None, help="pydoc (default), stdlib, or a text file/folder path")
    parser.add_argument("--out", required=True, help="run directory to create (or continue with --resume)")
    parser.add_argument(
        "--tokenizer", default=None, help="'byte' (default) or the folder of a saved BPE tokenizer"
    )
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps (default 200)")
    parser.add_argument("--batch-size", type=int, default=None, help="sequences per step (default 16)")
    parser.add_argument("--seq-len", type=int, default=None, help="tokens per sequence (default 128)")
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate (default 3e-3)")
    parser.add_argument("--min-lr", type=float, default=None, help="final learning rate (default 3e-4)")
    parser.add_argument("--warmup-steps", type=int, default=None, help="linear warm-up steps (default 20)")
    parser.add_argument("--eval-every", type=int, default=None, help="validate every N steps (0: at the end)")
    parser.add_argument(
        "--checkpoint-every", type=int, default=None, help="checkpoint every N steps (0: end)"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    parser.add_argument("--device", default=None, help="cpu (default) or cuda[:N]")
    parser.add_argument("--precision", default=None, choices=("fp32", "bf16"), help="default fp32")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="held-out tail of the corpus")
    parser.add_argument("--resume", action="store_true", help="continue the checkpoint in --out")
    parser.add_argument(
        "--init",
        default=None,
        help="finetune: start from the model in this directory (a run or GPT.save folder); corpus default stdlib",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Validate everything, then train; see :func:`llmkb.train.runs.train_run`."""
    from llmkb.data import TokenDataset, get_tokenizer, load_corpus
    from llmkb.errors import UsageError
    from llmkb.train.checkpoint import has_checkpoint, load_train_state, recover
    from llmkb.train.config import TrainConfig
    from llmkb.train.runs import TOKENIZER_DIR, read_run_info, train_run

    out = Path(args.out)
    if _rank() == 0:  # what a killed run left: a cut swap is undone, abandoned temporaries deleted
        recover(out)
    given = {
        field: getattr(args, opt) for opt, field in _TRAIN_OPTIONS.items() if getattr(args, opt) is not None
    }
    if not 0.0 <= args.val_fraction < 1.0:
        raise UsageError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    if args.init is not None and (args.resume or args.preset is not None):
        raise UsageError("--init starts from a checkpoint's model: drop --resume and --preset")
    init_model = _load_init(args.init) if args.init is not None else None
    if args.resume:
        if not has_checkpoint(out):
            raise UsageError(f"no checkpoint to resume in {str(out)!r}: train without --resume first")
        info = read_run_info(out)
        mcfg = _load_model_config(out)
        if (
            args.preset is not None
            and _preset_config(args.preset, mcfg.vocab_size).to_dict() != mcfg.to_dict()
        ):
            raise UsageError(f"--preset {args.preset} differs from the model in {str(out)!r}: drop --preset")
        tcfg = TrainConfig.from_dict({**load_train_state(out)["train_config"], **given})
        corpus = args.corpus if args.corpus is not None else info.get("corpus")
        if corpus is None:
            raise UsageError(f"{str(out)!r} does not record its corpus: pass --corpus")
        tokenizer = (
            get_tokenizer(out / TOKENIZER_DIR) if (out / TOKENIZER_DIR).is_dir() else get_tokenizer("byte")
        )
        val_fraction = float(info.get("val_fraction", args.val_fraction))
    else:
        if out.exists():
            raise UsageError(
                f"{str(out)!r} already exists: pass --resume to continue it, or choose a new --out"
            )
        tokenizer = get_tokenizer(args.tokenizer or "byte")
        if init_model is not None:
            mcfg = init_model.config
        else:
            mcfg = _preset_config(args.preset or "shared", tokenizer.vocab_size)
        given.setdefault("seq_len", min(TrainConfig.seq_len, mcfg.max_seq_len))
        tcfg = TrainConfig(**given)
        corpus = args.corpus or ("stdlib" if init_model is not None else "pydoc")
        val_fraction = args.val_fraction
    if tcfg.seq_len > mcfg.max_seq_len:
        raise UsageError(f"--seq-len {tcfg.seq_len} exceeds the model's max_seq_len={mcfg.max_seq_len}")
    if isinstance(corpus, str) and corpus not in ("pydoc", "stdlib"):
        corpus = str(Path(corpus).resolve()) if Path(corpus).exists() else corpus
    dataset = TokenDataset.from_text(load_corpus(corpus), tokenizer, val_fraction)
    if dataset.vocab_size > mcfg.vocab_size:
        raise UsageError(f"tokenizer has {dataset.vocab_size} ids, the model only {mcfg.vocab_size}")
    dataset.check_seq_len(tcfg.seq_len)
    info_out: dict[str, Any] = {
        "preset": args.preset or ("init" if init_model is not None else "shared"),
        "corpus": corpus,
        "tokenizer": "byte" if args.tokenizer in (None, "byte") else str(Path(args.tokenizer).resolve()),
        "val_fraction": val_fraction,
    }
    if init_model is not None:
        info_out["init"] = str(Path(args.init).resolve())
    try:
        result = train_run(
            init_model if init_model is not None else mcfg,
            tcfg,
            dataset,
            out,
            resume=args.resume,
            progress=not args.quiet,
            run_info=info_out,
        )
    except KeyboardInterrupt:
        if has_checkpoint(out):
            print(f"llmkb: interrupted; checkpoint in {out} (continue with --resume)", file=sys.stderr)
        raise
    if _rank() == 0:
        val = result.final_val_loss
        val_text = f", val loss {val:.3f}" if val is not None else ""
        print(
            f"trained to step {result.step} in {result.wall_time:.1f} s: train loss "
            f"{result.final_train_loss:.3f}{val_text} -> {out}"
        )
    return 0


def _load_init(path: str) -> Any:
    """The model to finetune, from a run directory or a ``GPT.save`` folder; a one-line error otherwise."""
    from llmkb.errors import UsageError
    from llmkb.nn import GPT

    try:
        return GPT.load(path)
    except (OSError, ValueError, RuntimeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"--init {path!r}: cannot load a model: {first}") from None


def _preset_config(name: str, vocab_size: int) -> Any:
    from llmkb.errors import UsageError
    from llmkb.nn import PRESETS, GPTConfig

    if name not in PRESETS:
        raise UsageError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    return GPTConfig.preset(name, vocab_size=vocab_size)


def _load_model_config(out: Path) -> Any:
    from llmkb.errors import UsageError
    from llmkb.nn import GPTConfig

    try:
        return GPTConfig.from_dict(json.loads((out / "config.json").read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the model config in {str(out)!r}: {exc}") from None


def _rank() -> int:
    import os

    return int(os.environ.get("RANK", "0"))
