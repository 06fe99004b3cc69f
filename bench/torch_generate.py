"""PyTorch yardstick for `seal bench generate`: greedy generation with transformers' KV cache,
CPU fp32, 2 threads, the same shapes seal uses (random tokens, one warm-up run, median of
the timed runs). Never a dependency of seal; run beside `seal bench generate` in one sitting.

Usage:
  python bench/torch_generate.py --config ../shared/bench/bench-tiny.config.json [--batch 8 --prompt-len 64 --new-tokens 64]
  python bench/torch_generate.py --model target/smollm2/model --batch 1 --prompt-len 16 --new-tokens 32
Prints JSON: {"tokens_per_s": ..., "median_run_s": ...}.
"""
import argparse
import json
import statistics
import time

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

p = argparse.ArgumentParser()
p.add_argument("--config")
p.add_argument("--model")
p.add_argument("--batch", type=int, default=8)
p.add_argument("--prompt-len", type=int, default=64)
p.add_argument("--new-tokens", type=int, default=64)
p.add_argument("--runs", type=int, default=3)
a = p.parse_args()

torch.manual_seed(0)
torch.set_num_threads(2)
if a.model:
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
else:
    model = LlamaForCausalLM(LlamaConfig(**json.load(open(a.config))))
model.eval()
vocab = model.config.vocab_size
ids = torch.randint(0, vocab, (a.batch, a.prompt_len))
times = []
with torch.no_grad():
    for run in range(a.runs + 1):
        t0 = time.perf_counter()
        model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                       max_new_tokens=a.new_tokens, min_new_tokens=a.new_tokens,
                       pad_token_id=0, eos_token_id=None)
        if run:
            times.append(time.perf_counter() - t0)
med = statistics.median(times)
print(json.dumps({"tokens_per_s": a.batch * a.new_tokens / med, "median_run_s": med}))
