"""The llama.cpp side of ``llmkb bench llamacpp``, run in its own process: llama.cpp's OpenMP runtime and torch's
cannot share one process (llama.cpp crashes in its first decode once torch has run), so this module imports neither
torch nor llmkb's models — only numpy and the ``llama_cpp`` bindings.

``python -m llmkb.bench._llamacpp_child SPEC`` with SPEC a JSON object ``{gguf, prompt, new_tokens, threads,
n_ctx, out}``: loads the file with a float32 KV cache, evaluates the prompt's token ids, keeps the logits of every position, then decodes ``new_tokens``
greedily, and saves ``logits``, ``tokens`` and ``seconds`` (the greedy decode's wall time) to the ``.npz`` at ``out``.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

GGML_F32 = 0
"""ggml's type id of float32 (``GGML_TYPE_F32``)."""


def main(spec: dict) -> None:
    """Run one GGUF file as the module docstring says."""
    from llama_cpp import Llama

    prompt = list(spec["prompt"])
    # the KV cache in float32 (llama.cpp's default is float16, which alone moves a trained model's logits by ~1e-3)
    llm = Llama(spec["gguf"], n_ctx=spec["n_ctx"], logits_all=True, n_threads=spec["threads"], verbose=False,
                type_k=GGML_F32, type_v=GGML_F32)  # fmt: skip
    llm.eval(prompt)
    logits = np.array(llm.scores[: len(prompt)], dtype=np.float32)  # (T, V)
    tokens: list[int] = []
    t0 = time.perf_counter()
    for _ in range(spec["new_tokens"]):
        nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        tokens.append(nxt)
        llm.eval([nxt])
    seconds = time.perf_counter() - t0
    llm.close()
    np.savez(spec["out"], logits=logits, tokens=np.array(tokens), seconds=np.array(seconds))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
