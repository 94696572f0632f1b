"""``llmkb data generate|clean|dedup``: make a synthetic dataset, filter it, deduplicate it — all streamed.

Inputs are ``.jsonl`` files (one object with a ``text`` field a line) or text files (one document a line);
outputs are written to a temporary file renamed at the end, never over the input.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from llmkb.cli import Parser

NAME = "data"
HELP = "Synthetic data: 'generate' a dataset, 'clean' it with the Gopher rules, 'dedup' it (exact + MinHash LSH)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``generate``, ``clean`` and ``dedup`` sub-commands."""
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", parser_class=Parser)
    sub.required = True
    g = sub.add_parser("generate", help="write N documents of a generator (grammar, textbook, code, model)")
    g.add_argument("--generator", required=True, choices=("grammar", "textbook", "code", "model"))
    g.add_argument("-n", type=int, required=True, help="documents (for model: prompts per setting)")
    g.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    g.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="generator parameter (int)"
    )
    g.add_argument("--model", help="for --generator model: a run directory (model.safetensors + config.json)")
    g.add_argument("--prompts", default="pydoc", help="corpus the model's prompts come from (default pydoc)")
    g.add_argument("--prompt-len", type=int, default=32, help="prompt length in tokens (default 32)")
    g.add_argument("--new-tokens", type=int, default=128, help="tokens sampled per prompt (default 128)")
    g.add_argument("--temperature", default="1.0", help="comma-separated temperatures to sweep (default 1.0)")
    g.add_argument("--top-p", default="1.0", help="comma-separated top-p values to sweep (default 1.0)")
    g.add_argument("--out", required=True, help="output file: .jsonl (records) or text (one document a line)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    c = sub.add_parser("clean", help="keep the documents that pass the Gopher quality rules")
    c.add_argument("input", metavar="IN", help=".jsonl or text file")
    c.add_argument("--out", required=True, help="kept documents (same format as the suffix says)")
    c.add_argument("--config", help="JSON file of CleanConfig thresholds (null switches a rule off)")
    c.add_argument("--min-words", type=int, help="override the word-count floor")
    c.add_argument(
        "--min-punct-lines", type=float, help="switch on the line-punctuation rule at this fraction"
    )
    c.add_argument("--rejected", help="also write removed documents with their reasons (.jsonl)")
    c.add_argument("--report", help="write the per-rule report as JSON here")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    d = sub.add_parser("dedup", help="drop exact and near duplicates (MinHash + LSH) in one streaming pass")
    d.add_argument("input", metavar="IN", help=".jsonl or text file")
    d.add_argument("--out", required=True, help="kept documents")
    d.add_argument("--bands", type=int, default=16, help="LSH bands b (default 16)")
    d.add_argument("--rows", type=int, default=8, help="rows per band r (default 8)")
    d.add_argument("--threshold", type=float, default=0.7, help="estimated Jaccard of a near duplicate (0.7)")
    d.add_argument("--ngram", type=int, default=3, help="words per shingle (default 3)")
    d.add_argument("--seed", type=int, default=1, help="seed of the hash functions (default 1)")
    d.add_argument("--exact-only", action="store_true", help="only exact (normalised) duplicates")
    d.add_argument("--quiet", action="store_true", help="no progress bar")


def _check_paths(input_path: str | None, out: str) -> None:
    from llmkb.errors import UsageError

    o = Path(out)
    if o.is_dir():
        raise UsageError(f"--out {out!r} is a folder: give a file path")
    if input_path is None:
        return
    i = Path(input_path)
    if not i.is_file():
        raise UsageError(f"input {input_path!r} not found: give an existing .jsonl or text file")
    if o.resolve() == i.resolve() or (o.exists() and o.samefile(i)):
        raise UsageError(
            f"--out {out!r} is the input file: write to another file (the input is never overwritten)"
        )


def _floats(s: str, name: str) -> list[float]:
    from llmkb.errors import UsageError

    try:
        return [float(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"{name} must be comma-separated numbers, got {s!r}") from None


def _params(items: list[str]) -> dict[str, Any]:
    from llmkb.errors import UsageError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--param {item!r} must look like KEY=VALUE")
        try:
            out[key] = int(value)
        except ValueError:
            raise UsageError(f"--param {item!r}: the value must be an integer") from None
    return out


def _generate(args: argparse.Namespace) -> int:
    from llmkb.data.generate import generate, write_records
    from llmkb.errors import UsageError

    _check_paths(None, args.out)
    if args.n < 0:
        raise UsageError(f"-n must be >= 0, got {args.n}")
    if args.generator != "model":
        params = _params(args.param)
        n = write_records(generate(args.generator, args.n, args.seed, **params), args.out,
                          progress=not args.quiet, total=args.n)  # fmt: skip
        print(f"wrote {n} {args.generator} documents (seed {args.seed}) to {args.out}")
        return 0
    return _generate_model(args)


def _generate_model(args: argparse.Namespace) -> int:
    import torch

    from llmkb.data import ByteTokenizer, get_tokenizer, load_corpus
    from llmkb.data.generate import write_records
    from llmkb.data.generate.model import prompts_from, sample_records
    from llmkb.errors import UsageError
    from llmkb.infer.sampling import SamplingConfig
    from llmkb.nn import GPT

    if not args.model or not (Path(args.model) / "model.safetensors").is_file():
        raise UsageError("--generator model needs --model DIR holding a trained model (run 'llmkb train')")
    try:
        settings = [SamplingConfig(temperature=t, top_p=p) for t in _floats(args.temperature, "--temperature")
                    for p in _floats(args.top_p, "--top-p")]  # fmt: skip
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.prompt_len < 1 or args.new_tokens < 1:
        raise UsageError("--prompt-len and --new-tokens must be >= 1")
    from llmkb.train.runs import TOKENIZER_DIR

    tok_dir = Path(args.model) / TOKENIZER_DIR
    tok = get_tokenizer(tok_dir) if tok_dir.is_dir() else ByteTokenizer()
    model = GPT.load(args.model).eval()
    ids = torch.tensor(tok.encode(load_corpus(args.prompts)), dtype=torch.long)
    prompts = prompts_from(ids, args.n, args.prompt_len, seed=args.seed)
    recs = sample_records(model, tok.decode, prompts, args.new_tokens, settings, args.seed, str(args.model))
    n = write_records(recs, args.out, progress=not args.quiet, total=args.n * len(settings))
    print(f"wrote {n} model samples ({len(settings)} sampling settings) to {args.out}")
    return 0


def _records(path: str) -> Any:
    from llmkb.data.generate import records

    return records.read_records(path)


def _clean(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from llmkb.data.clean import CleanConfig, CleanReport, check
    from llmkb.data.generate.records import atomic_writer, write_records
    from llmkb.errors import UsageError

    _check_paths(args.input, args.out)
    settings: dict[str, Any] = {}
    if args.config:
        try:
            settings = json.loads(Path(args.config).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"--config {args.config!r} is not a readable JSON file: {exc}") from None
        if not isinstance(settings, dict):
            raise UsageError(f"--config {args.config!r} must hold one JSON object")
    if args.min_words is not None:
        settings["min_words"] = args.min_words
    if args.min_punct_lines is not None:
        settings["min_punct_lines"] = args.min_punct_lines
    try:
        cfg = CleanConfig.from_dict(settings)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    report = CleanReport()
    with contextlib.ExitStack() as stack:
        rejected = stack.enter_context(atomic_writer(args.rejected)) if args.rejected else None

        def kept() -> Any:
            for rec in tqdm(_records(args.input), disable=args.quiet, file=sys.stderr, unit="doc"):
                reasons = check(rec["text"], cfg)
                report.add(rec["text"], reasons)
                if not reasons:
                    yield rec
                elif rejected is not None:
                    rejected.write(json.dumps({**rec, "reasons": reasons}, ensure_ascii=False) + "\n")

        write_records(kept(), args.out)
    if args.report:
        with atomic_writer(args.report) as f:
            json.dump(report.as_dict(), f, indent=1)
    print(f"kept {report.kept} of {report.seen} documents; wrote {args.out}")
    for row in report.rows():
        print(f"  {row['rule']:<17} removed {row['removed']:>7}  ({100 * float(row['share']):.1f} %)")
    return 0


def _dedup(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from llmkb.data.dedup import MinHasher, StreamDeduper
    from llmkb.data.generate.records import write_records
    from llmkb.errors import UsageError

    _check_paths(args.input, args.out)
    if args.bands < 1 or args.rows < 1 or args.ngram < 1:
        raise UsageError("--bands, --rows and --ngram must be >= 1")
    if not 0.0 <= args.threshold <= 1.0:
        raise UsageError(f"--threshold must be in [0, 1], got {args.threshold}")
    dedup = StreamDeduper(MinHasher(args.bands * args.rows, args.seed, args.ngram), args.bands, args.rows,
                          args.threshold, near=not args.exact_only)  # fmt: skip

    def kept() -> Any:
        for rec in tqdm(_records(args.input), disable=args.quiet, file=sys.stderr, unit="doc"):
            if dedup(rec["text"])[0] == "kept":
                yield rec

    write_records(kept(), args.out)
    c = dedup.counts
    print(f"kept {c['kept']} of {dedup.seen} documents ({c['exact']} exact, {c['near']} near duplicates); "
          f"wrote {args.out}")  # fmt: skip
    return 0


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action."""
    return {"generate": _generate, "clean": _clean, "dedup": _dedup}[args.data_command](args)
