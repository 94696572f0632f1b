"""An OpenAI-compatible HTTP server for a byte-level llmkb model (standard library only).

Endpoints, with the request and response shapes of the OpenAI API, so the official ``openai`` client works:

* ``GET /v1/models`` — the one served model;
* ``POST /v1/completions`` — ``prompt`` -> ``choices[0].text``;
* ``POST /v1/chat/completions`` — ``messages`` -> ``choices[0].message.content``, the conversation rendered
  by [`chat_prompt`][llmkb.infer.serve.chat_prompt] (one ``role: content`` line per message, then
  ``assistant:``).

``"stream": true`` sends the answer as server-sent events (``data: {chunk}\\n\\n`` per token, then
``data: [DONE]``). Tokens are bytes, so a streamed piece is what an incremental UTF-8 decoder can emit so far;
the pieces concatenate to the non-streamed text. Sampling parameters map onto a
[`SamplingConfig`][llmkb.infer.sampling.SamplingConfig] (``temperature``, ``top_p``, and the extensions
``top_k``, ``min_p``); ``seed`` makes sampling repeatable; ``stop`` strings end the answer (finish reason
``stop``) and are not returned. A bad request gets HTTP 400 and ``{"error": {"message", "type", "param",
"code"}}``. Requests run one at a time on the model (a lock): this is a teaching server, not vLLM — it has
no batching across requests (see continuous batching, Yu et al. 2022, "Orca", OSDI).
"""

from __future__ import annotations

import codecs
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import torch

from llmkb.infer.sampling import SamplingConfig, sample_next
from llmkb.nn import GPT

__all__ = [
    "BadRequest",
    "Request",
    "parse_request",
    "chat_prompt",
    "stream_tokens",
    "ModelServer",
    "make_server",
]


class BadRequest(ValueError):
    """A request the server refuses with HTTP 400; ``param`` names the offending field."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass
class Request:
    """A validated completion request: prompt bytes, limits, sampling, stop strings, streaming."""

    prompt: bytes
    max_tokens: int
    sampling: SamplingConfig
    stop: list[str]
    stream: bool
    seed: int | None
    chat: bool


def chat_prompt(messages: list[dict[str, Any]]) -> str:
    """Render a conversation for a plain-text model: ``role: content`` per message, then ``assistant:``."""
    return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"


def _number(
    body: dict[str, Any], name: str, default: Any, kind: type, lo: float, hi: float | None = None
) -> Any:
    value = body.get(name, default)
    if value is None:
        return default
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and (kind is float or isinstance(value, int))
    )
    if not ok or value < lo or (hi is not None and value > hi):
        span = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise BadRequest(
            f"{name} must be a{'n integer' if kind is int else ' number'} {span}, got {value!r}", name
        )
    return value


def parse_request(body: Any, chat: bool) -> Request:
    """Validate a ``/v1/completions`` (``chat=False``) or ``/v1/chat/completions`` body.

    Raises:
        BadRequest: a missing or ill-typed field, with its name.
    """
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    if chat:
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise BadRequest("messages must be a non-empty list of {role, content} objects", "messages")
        for m in msgs:
            if not (
                isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            ):
                raise BadRequest("each message needs a string role and a string content", "messages")
        text = chat_prompt(msgs)
    else:
        prompt = body.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1:
            prompt = prompt[0]
        if not isinstance(prompt, str) or not prompt:
            raise BadRequest("prompt must be a non-empty string (one prompt per request)", "prompt")
        text = prompt
    _number(body, "n", 1, int, 1, 1)  # one choice per request
    stop = body.get("stop") or []
    stop = [stop] if isinstance(stop, str) else stop
    if not (isinstance(stop, list) and all(isinstance(s, str) and s for s in stop) and len(stop) <= 4):
        raise BadRequest("stop must be a non-empty string or a list of up to 4 of them", "stop")
    temperature = _number(body, "temperature", 1.0, float, 0.0, 2.0)
    top_p = _number(body, "top_p", 1.0, float, 0.0, 1.0)
    top_k = _number(body, "top_k", None, int, 1)
    min_p = _number(body, "min_p", None, float, 0.0, 1.0)
    try:
        sampling = SamplingConfig(
            temperature=temperature, top_k=top_k, top_p=None if top_p == 1 else top_p, min_p=min_p
        )
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    key = "max_completion_tokens" if chat and "max_completion_tokens" in body else "max_tokens"
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise BadRequest(f"seed must be an integer, got {seed!r}", "seed")
    if not isinstance(body.get("stream", False), bool):
        raise BadRequest("stream must be true or false", "stream")
    return Request(
        text.encode("utf-8"),
        _number(body, key, 16, int, 0),
        sampling,
        stop,
        body.get("stream", False),
        seed,
        chat,
    )


def stream_tokens(
    model: GPT,
    prompt: torch.Tensor,
    max_new: int,
    sampling: SamplingConfig,
    generator: torch.Generator | None,
) -> Iterator[int]:
    """Yield ``max_new`` sampled token ids one at a time: prefill once, then one token per step on a static
    KV cache — the same tokens as ``GPT.generate`` (greedy, or with the same generator)."""
    if max_new == 0:
        return
    cache = model.make_cache(1, prompt.shape[1] + max_new)
    logits = model(prompt, kv_cache=cache).logits  # (1, T, V)
    out = prompt
    for step in range(max_new):
        nxt = sample_next(logits[:, -1, :], sampling, history=out, generator=generator)  # (1,)
        out = torch.cat((out, nxt[:, None]), dim=1)
        yield int(nxt)
        if step < max_new - 1:
            logits = model(nxt[:, None], kv_cache=cache).logits


class ModelServer:
    """The model, its name and a lock; turns a [`Request`][llmkb.infer.serve.Request] into text pieces.

    Args:
        model: a byte-level model (``vocab_size`` 256).
        name: the model id the API reports (any ``model`` a client sends is served by it).
    """

    def __init__(self, model: GPT, name: str = "llmkb") -> None:
        self.model = model.eval()
        self.name = name
        self.lock = threading.Lock()

    def check(self, req: Request) -> None:
        """Refuse a request that does not fit the model's context (learned positions) as a ``BadRequest``."""
        limit = self.model.pos_emb.context_limit
        need = len(req.prompt) + req.max_tokens
        if limit is not None and need > limit:
            raise BadRequest(
                f"prompt ({len(req.prompt)} tokens) + max_tokens ({req.max_tokens}) exceeds the context "
                f"of {limit} tokens",
                "max_tokens",
            )

    def pieces(self, req: Request, counter: list[int] | None = None) -> Iterator[tuple[str, str | None]]:
        """Yield ``(text piece, finish_reason | None)``; the last item has the finish reason and may be empty.
        ``counter[0]`` (if given) counts the tokens generated.

        Text is decoded incrementally (UTF-8, invalid bytes replaced); with stop strings, a tail that could
        still become a stop string is held back until it cannot.
        """
        gen = None if req.seed is None else torch.Generator().manual_seed(req.seed)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        hold = max((len(s) for s in req.stop), default=1) - 1
        pending = ""
        prompt = torch.tensor([list(req.prompt)], dtype=torch.long)
        with self.lock, torch.no_grad():
            for tok in stream_tokens(self.model, prompt, req.max_tokens, req.sampling, gen):
                if counter is not None:
                    counter[0] += 1
                pending += decoder.decode(bytes([tok]))
                hits = [pending.index(s) for s in req.stop if s in pending]
                if hits:
                    yield pending[: min(hits)], "stop"
                    return
                cut = len(pending) - hold
                if cut > 0:
                    yield pending[:cut], None
                    pending = pending[cut:]
        pending += decoder.decode(b"", final=True)
        yield pending, "length"

    def respond(self, req: Request) -> dict[str, Any]:
        """The non-streamed response object."""
        text, finish, counter = "", "length", [0]
        for piece, reason in self.pieces(req, counter):
            text += piece
            finish = reason or finish
        usage = {"prompt_tokens": len(req.prompt), "completion_tokens": counter[0]}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        choice: dict[str, Any] = {"index": 0, "finish_reason": finish, "logprobs": None}
        if req.chat:
            choice["message"] = {"role": "assistant", "content": text}
        else:
            choice["text"] = text
        return {**self._head(req, chunk=False), "choices": [choice], "usage": usage}

    def chunks(self, req: Request) -> Iterator[dict[str, Any]]:
        """The streamed response objects, one per text piece (chat: a first one with the role)."""
        head = self._head(req, chunk=True)
        if req.chat:
            yield {
                **head,
                "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                ],
            }
        for piece, reason in self.pieces(req):
            if piece or reason:
                body: dict[str, Any] = {"index": 0, "finish_reason": reason, "logprobs": None}
                if req.chat:
                    body["delta"] = {"content": piece} if piece else {}
                else:
                    body["text"] = piece
                yield {**head, "choices": [body]}

    def _head(self, req: Request, chunk: bool) -> dict[str, Any]:
        kind = ("chat.completion.chunk" if chunk else "chat.completion") if req.chat else "text_completion"
        prefix = "chatcmpl" if req.chat else "cmpl"
        return {
            "id": f"{prefix}-{uuid.uuid4().hex[:24]}",
            "object": kind,
            "created": int(time.time()),
            "model": self.name,
        }


def _handler(server: ModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            pass

        def _json(self, status: int, obj: dict[str, Any]) -> None:
            data = json.dumps(obj).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(
            self, status: int, message: str, param: str | None = None, kind: str = "invalid_request_error"
        ) -> None:
            self._json(status, {"error": {"message": message, "type": kind, "param": param, "code": None}})

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            if self.path.rstrip("/") == "/v1/models":
                model = {"id": server.name, "object": "model", "created": 0, "owned_by": "llmkb"}
                self._json(200, {"object": "list", "data": [model]})
            else:
                self._error(404, f"no route GET {self.path}", kind="not_found_error")

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            routes = {"/v1/completions": False, "/v1/chat/completions": True}
            path = self.path.rstrip("/")
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if path not in routes:
                self._error(404, f"no route POST {self.path}", kind="not_found_error")
                return
            try:
                body = json.loads(raw or b"null")
            except (json.JSONDecodeError, UnicodeDecodeError):
                self._error(400, "the request body is not valid JSON")
                return
            try:
                req = parse_request(body, chat=routes[path])
                server.check(req)
            except BadRequest as exc:
                self._error(400, str(exc), exc.param)
                return
            if not req.stream:
                self._json(200, server.respond(req))
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            for chunk in server.chunks(req):
                self.wfile.write(b"data: " + json.dumps(chunk).encode("utf-8") + b"\n\n")
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

    return Handler


def make_server(
    model: GPT, host: str = "127.0.0.1", port: int = 8000, name: str = "llmkb"
) -> ThreadingHTTPServer:
    """A ``ThreadingHTTPServer`` serving ``model`` (port 0: a free port, read ``server.server_address``).

    Call ``serve_forever()`` (in a thread, for tests) and ``shutdown()`` / ``server_close()`` to stop.
    """
    httpd = ThreadingHTTPServer((host, port), _handler(ModelServer(model, name)))
    httpd.daemon_threads = True
    return httpd
