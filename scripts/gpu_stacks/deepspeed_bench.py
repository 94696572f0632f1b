"""DeepSpeed-Inference (kernel injection) on an exported llmkb model: ``python deepspeed_bench.py HF_DIR OUT.json``.

Loads the directory with Transformers in fp16, wraps it with ``deepspeed.init_inference`` (fused transformer
kernels where DeepSpeed has them for Llama), then times greedy ``generate`` with a logits processor stamping
each token. Run it under the ``deepspeed`` launcher for tensor parallelism (``--num_gpus``); one GPU by default.
"""

from __future__ import annotations

import time

from common import median_rows, parse_args, prompts, stats, write_result


def main() -> None:
    """Run every setting and write the result file."""
    args = parse_args("DeepSpeed-Inference")
    import deepspeed
    import torch
    from transformers import AutoModelForCausalLM, LogitsProcessor, LogitsProcessorList

    model = AutoModelForCausalLM.from_pretrained(args.hf_dir, dtype=torch.float16)
    engine = deepspeed.init_inference(model, dtype=torch.float16, replace_with_kernel_inject=True)

    class Stamp(LogitsProcessor):
        def __init__(self) -> None:
            self.t: list[float] = []

        def __call__(self, ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            torch.cuda.synchronize()
            self.t.append(time.perf_counter())
            return scores

    settings = []
    for b in args.batches:
        for p in args.prompts:
            ids = torch.tensor(prompts(b, p), device="cuda")
            runs = []
            for _ in range(args.repeats):
                torch.cuda.reset_peak_memory_stats()
                stamp = Stamp()
                t0 = time.perf_counter()
                engine.module.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=args.new_tokens,
                                       min_new_tokens=args.new_tokens, do_sample=False, pad_token_id=0,
                                       logits_processor=LogitsProcessorList([stamp]))  # fmt: skip
                runs.append(
                    {
                        **stats([t - t0 for t in stamp.t], b),
                        "peak_gpu_bytes": torch.cuda.max_memory_allocated(),
                    }
                )
            settings.append({"batch": b, "prompt_len": p, "new_tokens": args.new_tokens, **median_rows(runs)})
    write_result(args.out, {"engine": "deepspeed-inference", "version": deepspeed.__version__,
                            "device": torch.cuda.get_device_name(), "settings": settings, "notes": []})  # fmt: skip


if __name__ == "__main__":
    main()
