"""vLLM (PagedAttention, continuous batching) on an exported llmkb model: ``python vllm_bench.py HF_DIR OUT.json``.

vLLM's offline ``LLM.generate`` schedules the whole batch with continuous batching; per-token times come from
streaming one request at a time through ``AsyncLLMEngine`` being out of scope here, so TTFT and decode speed are
derived from two runs per setting: ``max_tokens=1`` (prefill + first token) and ``max_tokens=n``.
Caveat: the shared model's head width (32) is below what some vLLM attention backends support; vLLM then
refuses the model with its own message, which is recorded in the JSON ``notes``.
"""

from __future__ import annotations

import time

from common import median_rows, parse_args, prompts, write_result


def main() -> None:
    """Run every setting and write the result file."""
    args = parse_args("vLLM")
    import torch
    import vllm
    from vllm import LLM, SamplingParams, TokensPrompt

    llm = LLM(model=args.hf_dir, dtype="float32", enforce_eager=False, gpu_memory_utilization=0.5)
    settings = []
    for b in args.batches:
        for p in args.prompts:
            batch = [TokensPrompt(prompt_token_ids=ids) for ids in prompts(b, p)]
            runs = []
            for _ in range(args.repeats):
                torch.cuda.reset_peak_memory_stats()
                t0 = time.perf_counter()
                llm.generate(batch, SamplingParams(temperature=0, max_tokens=1), use_tqdm=False)
                t1 = time.perf_counter()
                llm.generate(
                    batch,
                    SamplingParams(temperature=0, max_tokens=args.new_tokens, ignore_eos=True),
                    use_tqdm=False,
                )
                t2 = time.perf_counter()
                runs.append({"ttft_ms": 1e3 * (t1 - t0), "decode_tok_s": b * (args.new_tokens - 1) / max((t2 - t1) - (t1 - t0), 1e-9),
                             "seconds": t2 - t1, "peak_gpu_bytes": torch.cuda.max_memory_allocated()})  # fmt: skip
            settings.append({"batch": b, "prompt_len": p, "new_tokens": args.new_tokens, **median_rows(runs)})
    write_result(args.out, {"engine": "vllm", "version": vllm.__version__, "device": torch.cuda.get_device_name(),
                            "settings": settings, "notes": ["peak_gpu_bytes excludes vLLM's pre-allocated KV pool"]})  # fmt: skip


if __name__ == "__main__":
    main()
