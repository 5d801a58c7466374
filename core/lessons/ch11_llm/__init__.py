"""Chapter 11 — LLMs with Hugging Face ``transformers`` offline: MiniLM's WordPiece and the token
tax, semantic search with mean-pooled MiniLM embeddings, sentiment on frozen MiniLM features vs a
full fine-tune, NER and QA heads, a memory-cost calculator checked against a measured model,
decoding strategies and prompting on a shipped character GPT-2, LoRA with peft, a WEAT bias probe,
and HF ``Trainer`` vs a plain loop. One module per section; the page and widget only draw."""
from core.lessons import trainer

PRESETS = {
    "tiny": {"paragraphs": 24, "bpe_chars": 20000, "bpe_vocab": 300, "sent_n": 80, "ft_steps": 2,
             "gpt": {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "steps": 6, "batch_size": 4,
                     "max_chars": 20000}, "gen_new": 8,
             "heads": {"n_train": 32, "n_val": 16, "steps": 2, "batch_size": 4, "eval_every": 1}, "lora_steps": 3,
             "hf": {"n": 24, "batch_size": 8}, "weat_perm": 200},
    "default": {"paragraphs": 300, "bpe_chars": 200000, "bpe_vocab": 2000, "sent_n": 600, "ft_steps": 40,
                "gpt": {"n_layer": 2, "n_head": 4, "n_embd": 96, "block_size": 64, "steps": 300, "batch_size": 16,
                        "max_chars": 200000}, "gen_new": 40,
                "heads": {"n_train": 400, "n_val": 64, "steps": 40, "batch_size": 16, "eval_every": 10}, "lora_steps": 60,
                "hf": {"n": 320, "batch_size": 16}, "weat_perm": 10000},
    "gpu": {"paragraphs": 1500, "bpe_chars": 0, "bpe_vocab": 4000, "sent_n": 2400, "ft_steps": 200,
            "gpt": {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 128, "steps": 800, "batch_size": 32,
                    "max_chars": 0}, "gen_new": 60,
            "heads": {"n_train": 2000, "n_val": 200, "steps": 200, "batch_size": 32, "eval_every": 25}, "lora_steps": 300,
            "hf": {"n": 2400, "batch_size": 32}, "weat_perm": 10000},
}


@trainer("ch11_char_gpt2")
def _check_gpt(device: str, preset: str) -> dict:
    from core.lessons.ch11_llm import decoding
    g = decoding.train_char_gpt(decoding.TinyGPTSettings(**PRESETS[preset]["gpt"], device=device))
    return {"loss": g.losses[-1]}


@trainer("ch11_finetune")
def _check_finetune(device: str, preset: str) -> dict:
    from core.lessons.ch11_llm import sentiment, tokens
    tok, model = tokens.load_minilm()
    p = PRESETS[preset]
    r = sentiment.finetune_sentiment(sentiment.FineTuneSettings(n=p["sent_n"], steps=p["ft_steps"], batch_size=4,
                                                                device=device), tok, model)
    return {"val_acc": r["val_acc"]}


@trainer("ch11_lora")
def _check_lora(device: str, preset: str) -> dict:
    from core.lessons.ch11_llm import decoding, lora
    r = lora.train_lora(decoding.shipped_char_gpt(), lora.LoraSettings(steps=PRESETS[preset]["lora_steps"], device=device))
    return {"loss_after": r["loss_after"], "trainable": r["trainable"]}


@trainer("ch11_heads")
def _check_heads(device: str, preset: str) -> dict:
    from core.lessons.ch11_llm import heads, tokens
    tok, _ = tokens.load_minilm()
    s = heads.HeadSettings(**PRESETS[preset]["heads"], device=device)
    return {f"{kind}_acc": heads.train_head(kind, s, tok)["val_acc"] for kind in ("ner", "qa")}


@trainer("ch11_hf_trainer")
def _check_hf(device: str, preset: str) -> dict:
    from core.lessons.ch11_llm import hf_trainer, tokens
    tok, _ = tokens.load_minilm()
    r = hf_trainer.both(hf_trainer.TrainerSettings(**PRESETS[preset]["hf"], device=device), tok)
    return {f"{k}_acc": v["val_acc"] for k, v in r.items()}
