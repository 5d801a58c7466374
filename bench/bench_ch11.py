"""Chapter 11 benchmark (a script, not a test): run with `taskset -c 0,1 .venv/bin/python bench/bench_ch11.py`.

Set HERO_THREADS=1 on a machine shared with other jobs. Measures, side by side with the goals:
MiniLM throughput (sentences/s, batch 32, ≤ 64 tokens; goal ≥ 100/s on 2 cores), frozen MiniLM
features + logistic regression on the English review set (goal ≥ 85 % in ≤ 20 s, 600 reviews as in the
page's default preset), the byte-level BPE training, one semantic-search query, the tiny GPT-2's
training per step, decoding with every strategy, LoRA vs full fine-tune on the shipped GPT-2 (trainable
parameters, one step's measured memory), HF Trainer vs a plain loop on the same fine-tune (time ratio),
and the RSS of this process after these paths (the page's heaviest path, Trainer + loop, included:
the same core calls a server makes, without Streamlit's own ~150 MB).
Prints a table and writes bench/results/ch11.json.
"""
from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench.timing import median_time  # noqa: E402
from core.data.ch08_text import sentiment_en  # noqa: E402
from core.device import configure_threads  # noqa: E402
from core.lessons.ch11_llm import PRESETS, decoding, hf_trainer, lora, search, sentiment, tokens  # noqa: E402

P = PRESETS["default"]


def main() -> None:
    threads = configure_threads()
    rows: dict[str, float] = {}
    start = time.perf_counter()
    tok, model = tokens.load_minilm()
    rows["load MiniLM (s)"] = time.perf_counter() - start

    texts = list(sentiment_en().texts[:256])                 # short sentences, well under 64 tokens
    search.embed(texts[:32], tok, model, max_tokens=64)      # warm-up
    secs = median_time(lambda: search.embed(texts, tok, model, batch_size=32, max_tokens=64), 3, warmup=False)
    rows["MiniLM sentences/s (batch 32, <= 64 tokens)"] = len(texts) / secs

    start = time.perf_counter()
    r = sentiment.frozen_sentiment(sentiment.FrozenSettings(n=P["sent_n"]), tok, model)
    rows[f"frozen features + LR total s ({P['sent_n']} reviews)"] = time.perf_counter() - start
    rows["frozen features + LR validation accuracy"] = r["val_acc"]

    start = time.perf_counter()
    tokens.train_bpe(P["bpe_vocab"], P["bpe_chars"])
    rows[f"train byte-level BPE ({P['bpe_vocab']} pieces, {P['bpe_chars']} chars) s"] = time.perf_counter() - start

    paras = search.paragraphs(P["paragraphs"])
    start = time.perf_counter()
    emb = search.embed(paras, tok, model)
    rows[f"embed {len(paras)} paragraphs (<= 128 tokens) s"] = time.perf_counter() - start
    rows["one search query s"] = median_time(lambda: search.search("How do I catch an exception?", paras, emb, tok, model))

    g = P["gpt"]
    start = time.perf_counter()
    gpt = decoding.train_char_gpt(decoding.TinyGPTSettings(**{**g, "steps": 50}))
    rows["tiny GPT-2 training s/step (default size)"] = (time.perf_counter() - start) / 50
    rows["decode with all 8 strategies s"] = median_time(lambda: decoding.decode_all(gpt, "The value of ", P["gen_new"]), 3)

    shipped = decoding.shipped_char_gpt()
    cmp = lora.memory_compare(shipped, lora.LoraSettings(r=8), batch=16)
    rows["LoRA r=8 trainable params"] = cmp["lora"]["trainable"]
    rows["full fine-tune trainable params"] = cmp["full"]["trainable"]
    rows["LoRA / full step memory (measured, weights+grads+AdamW+activations)"] = (
        cmp["lora"]["measured"]["total"] / cmp["full"]["measured"]["total"])
    rows["LoRA / full step memory predicted by cost.py"] = cmp["lora"]["predicted"]["total"] / cmp["full"]["predicted"]["total"]
    r = lora.train_lora(shipped, lora.LoraSettings(r=8, steps=20))
    rows["LoRA s/step (shipped GPT-2, batch 16)"] = r["seconds"] / 20

    hs = hf_trainer.TrainerSettings(**P["hf"])
    both = hf_trainer.both(hs, tok)
    rows[f"HF Trainer fine-tune s ({hs.n} reviews)"] = both["trainer"]["seconds"]
    rows[f"plain loop fine-tune s ({hs.n} reviews)"] = both["plain"]["seconds"]
    rows["Trainer / plain loop time ratio"] = both["trainer"]["seconds"] / both["plain"]["seconds"]
    rows["Trainer val accuracy"] = both["trainer"]["val_acc"]
    rows["plain loop val accuracy"] = both["plain"]["val_acc"]
    rows["RSS after these paths, max (MB)"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    goals = {"MiniLM sentences/s (batch 32, <= 64 tokens)": ">= 100",
             "frozen features + LR validation accuracy": ">= 0.85",
             f"frozen features + LR total s ({P['sent_n']} reviews)": "<= 20"}
    load = open("/proc/loadavg").read().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(f"torch {torch.__version__}, {threads} thread(s), load average at the end {load}")
    for name, value in rows.items():
        print(f"{name:<60} {value:>10.3f}  {goals.get(name, '')}")
    out = ROOT / "bench" / "results" / "ch11.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"threads": threads, "load": load, "rows": rows, "goals": goals}, indent=2))


if __name__ == "__main__":
    main()
