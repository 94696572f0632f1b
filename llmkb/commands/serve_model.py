"""``llmkb serve-model CKPT``: serve a checkpoint over an OpenAI-compatible HTTP API."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "serve-model"
HELP = (
    "Serve a checkpoint with an OpenAI-compatible API (/v1/completions, /v1/chat/completions, SSE streaming)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``CKPT`` and where to listen."""
    parser.add_argument("ckpt", metavar="CKPT", help="checkpoint directory (model.safetensors + config.json)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument(
        "--name", default=None, help="model id reported by the API (default: the folder name)"
    )


def run(args: argparse.Namespace) -> int:
    """Load the model and serve until interrupted."""
    from llmkb.errors import UsageError
    from llmkb.infer.serve import make_server
    from llmkb.nn import GPT

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be in 0..65535, got {args.port}")
    try:
        model = GPT.load(args.ckpt)
    except (OSError, ValueError, RuntimeError) as exc:
        raise UsageError(f"cannot load the checkpoint {args.ckpt!r}: {exc}") from None
    if model.config.vocab_size != 256:
        raise UsageError(
            f"the server speaks bytes (vocab_size 256); this model has {model.config.vocab_size}"
        )
    name = args.name or Path(args.ckpt).resolve().name
    try:
        httpd = make_server(model, args.host, args.port, name)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    host, port = httpd.server_address[:2]
    print(f"serving {name!r} on http://{host}:{port}/v1 (OpenAI-compatible; Ctrl-C stops)", flush=True)
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()
    return 0
