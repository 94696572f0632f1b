"""ExLlamaV2 on an exported llmkb model: ``python exllamav2_bench.py HF_DIR OUT.json``.

ExLlamaV2 loads an unquantized Llama directory as is; for EXL2 mixed-bit weights convert it first with
ExLlamaV2's ``convert.py -i HF_DIR -o WORK -cf EXL2_DIR -b 4.65`` and pass ``EXL2_DIR``. Times greedy decoding
with ``ExLlamaV2DynamicGenerator`` token by token (one ``iterate()`` per step). Caveat: the byte vocabulary (256)
and head width (32) are far from what the kernels are tuned for, so the numbers show the engine's overhead,
not its large-model speed.
"""

from __future__ import annotations

import time

from common import median_rows, parse_args, prompts, stats, write_result


def main() -> None:
    """Run every setting and write the result file."""
    args = parse_args("ExLlamaV2")
    import exllamav2
    import torch
    from exllamav2 import ExLlamaV2, ExLlamaV2Cache, ExLlamaV2Config, ExLlamaV2Tokenizer
    from exllamav2.generator import ExLlamaV2DynamicGenerator, ExLlamaV2DynamicJob, ExLlamaV2Sampler

    config = ExLlamaV2Config(args.hf_dir)
    model = ExLlamaV2(config)
    cache = ExLlamaV2Cache(model, lazy=True, max_seq_len=max(args.prompts) + args.new_tokens)
    model.load_autosplit(cache)
    generator = ExLlamaV2DynamicGenerator(model=model, cache=cache, tokenizer=ExLlamaV2Tokenizer(config))
    greedy = ExLlamaV2Sampler.Settings.greedy()
    settings = []
    for b in args.batches:
        for p in args.prompts:
            runs = []
            for _ in range(args.repeats):
                torch.cuda.reset_peak_memory_stats()
                for ids in prompts(b, p):
                    generator.enqueue(ExLlamaV2DynamicJob(input_ids=torch.tensor([ids]), max_new_tokens=args.new_tokens,
                                                          gen_settings=greedy, stop_conditions=[]))  # fmt: skip
                stamps, t0 = [], time.perf_counter()
                while generator.num_remaining_jobs():
                    generator.iterate()
                    stamps.append(time.perf_counter() - t0)
                runs.append({**stats(stamps, b), "peak_gpu_bytes": torch.cuda.max_memory_allocated()})
            settings.append({"batch": b, "prompt_len": p, "new_tokens": args.new_tokens, **median_rows(runs)})
    write_result(args.out, {"engine": "exllamav2", "version": exllamav2.__version__,
                            "device": torch.cuda.get_device_name(), "settings": settings, "notes": []})  # fmt: skip


if __name__ == "__main__":
    main()
