"""Chapter 10 — Transformers: self-attention step by step and three ways, multi-head maps and head
views, positional encodings, ``nn.Transformer`` shapes and the cost of attention, a tiny ViT, an
``nn.Transformer`` translator, and a character GPT with generation, a KV cache, checkpoints to
watch heads form, and head ablation. One module per section; the page and widget only draw."""
from core.lessons import trainer

PRESETS = {
    "tiny": {"gpt": {"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16, "steps": 6, "batch_size": 4,
                     "eval_every": 3, "eval_windows": 4, "sample_chars": 10, "max_chars": 20000, "n_checkpoints": 2,
                     "warmup": 2},
             "pos_steps": 4, "vit_epochs": 1, "vit_dim": 16, "vit_limit": 300, "tr_pairs": 200, "tr_epochs": 1, "tr_d_model": 16,
             "cost_lengths": [16, 64], "gen_new": 8, "cache_new": 16},
    "default": {"gpt": {"n_layer": 2, "n_head": 4, "n_embd": 96, "block_size": 64, "steps": 500, "batch_size": 32,
                        "eval_every": 50, "eval_windows": 96, "sample_chars": 80, "max_chars": 0, "n_checkpoints": 6,
                        "warmup": 30},
                "pos_steps": 200, "vit_epochs": 15, "vit_dim": 64, "vit_limit": 0, "tr_pairs": 3000, "tr_epochs": 12, "tr_d_model": 64,
                "cost_lengths": [64, 128, 256, 512, 1024, 2048], "gen_new": 60, "cache_new": 256},
    "gpu": {"gpt": {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 128, "steps": 1500, "batch_size": 64,
                    "eval_every": 100, "eval_windows": 256, "sample_chars": 120, "max_chars": 0, "n_checkpoints": 8,
                    "warmup": 50},
            "pos_steps": 600, "vit_epochs": 30, "vit_dim": 96, "vit_limit": 0, "tr_pairs": 6000, "tr_epochs": 20, "tr_d_model": 128,
            "cost_lengths": [256, 512, 1024, 2048, 4096, 8192], "gen_new": 120, "cache_new": 256},
}


@trainer("ch10_char_gpt")
def _check_gpt(device: str, preset: str) -> dict:
    from core.lessons.ch10_transformer.gpt import GPTSettings, train_gpt
    r = train_gpt(GPTSettings(**PRESETS[preset]["gpt"], device=device))
    return {"val_loss": r.val_loss}


@trainer("ch10_vit")
def _check_vit(device: str, preset: str) -> dict:
    from core.lessons.ch10_transformer.vit import ViTSettings, train_vit
    P = PRESETS[preset]
    r = train_vit(ViTSettings(epochs=P["vit_epochs"], dim=P["vit_dim"], limit=P["vit_limit"], device=device))
    return {"val_acc": r.end["val_acc"]}


@trainer("ch10_translator")
def _check_translator(device: str, preset: str) -> dict:
    from core.lessons.ch10_transformer.translation import TranslateSettings, train_translator
    P = PRESETS[preset]
    r = train_translator(TranslateSettings(n_pairs=P["tr_pairs"], epochs=P["tr_epochs"], d_model=P["tr_d_model"],
                                           device=device))
    return {"val_loss": r.end["val_loss"], "val_exact": r.end["val_exact"]}
