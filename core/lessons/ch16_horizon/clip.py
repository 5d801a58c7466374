"""16.1 Multimodal: a tiny CLIP-style model on the 8×8 digits and typed prompts in English and Chinese.

CLIP trains an image encoder and a text encoder so that a batch of B matching (image, caption)
pairs lands on the diagonal of the B×B similarity matrix. The loss is symmetric: cross-entropy
over each row (image → which text?) plus over each column (text → which image?), halved.
Zero-shot classification then needs no classifier head: embed one prompt per class
("a photo of the digit {}") and pick the most similar.

Tokens: English words (lower case) and single Chinese characters; a word outside the vocabulary
is dropped — a prompt with no known word at all is refused (``ch16.clip_no_words``).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F

from core import data as hero_data
from core.device import seed_everything
from core.errors import Emit, HeroError, check_range
from core.lessons import trainer
from core.nets.clip_tiny import TinyCLIP, TinyCLIPConfig
from core.viz import style

PRESETS = {
    "tiny": {"steps": 20, "batch_size": 32, "eval_every": 10},
    "default": {"steps": 600, "batch_size": 64, "eval_every": 50},
    "gpu": {"steps": 3000, "batch_size": 128, "eval_every": 100},
}

DIGIT_WORDS = {
    "en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "zh": ("零", "一", "二", "三", "四", "五", "六", "七", "八", "九"),
    "num": tuple(str(i) for i in range(10)),
}
# training captions: a random template of a random language per image, every step
TEMPLATES = {
    "en": ("a photo of the digit {}", "a handwritten {}", "the number {}", "{}"),
    "zh": ("数字{}", "手写的{}", "这是数字{}", "{}"),
    "num": ("the digit {}", "数字{}"),
}
DEFAULT_TEMPLATE = {"en": "a photo of the digit {}", "zh": "数字{}", "num": "the digit {}"}
MAX_TOKENS = 12
_TOKEN = re.compile(r"[a-z]+|[0-9]|[\u4e00-\u9fff]")


def tokens_of(text: str) -> list[str]:
    """Lower-case English words, single digits and single CJK characters, in order."""
    return _TOKEN.findall(text.lower())


def build_vocab() -> list[str]:
    """["<pad>", every token of every training caption, sorted]: fixed, so a model and its vocab agree."""
    words = set()
    for lang, templates in TEMPLATES.items():
        for template in templates:
            for word in DIGIT_WORDS[lang]:
                words.update(tokens_of(template.format(word)))
    return ["<pad>"] + sorted(words)


VOCAB = build_vocab()


def encode_prompt(text: str, vocab: list[str] = VOCAB, max_tokens: int = MAX_TOKENS) -> tuple[list[int], list[str]]:
    """text → (ids padded to max_tokens, the words dropped as unknown). No known word → HeroError."""
    index = {w: i for i, w in enumerate(vocab)}
    words = tokens_of(text)
    ids = [index[w] for w in words if w in index][:max_tokens]
    if not ids:
        raise HeroError("ch16.clip_no_words", prompt=text.strip() or "∅")
    return ids + [0] * (max_tokens - len(ids)), [w for w in words if w not in index]


def encode_prompts(texts: list[str], vocab: list[str] = VOCAB) -> torch.Tensor:
    """[len(texts), MAX_TOKENS] int64 (raises on the first prompt with no known word)."""
    return torch.tensor([encode_prompt(text, vocab)[0] for text in texts], dtype=torch.long)


def class_prompts(lang: str = "en", template: str | None = None) -> list[str]:
    """Ten prompts, one per digit: the template with each digit word of ``lang`` in its {}."""
    template = template or DEFAULT_TEMPLATE[lang]
    if "{}" not in template:
        template = template.strip() + " {}"
    return [template.replace("{}", word) for word in DIGIT_WORDS[lang]]


def clip_loss(logits_per_image: torch.Tensor) -> torch.Tensor:
    """Symmetric contrastive loss of a [B, B] similarity matrix whose matching pairs are on the diagonal:
    ½ (CE(rows, arange) + CE(columns, arange))."""
    target = torch.arange(len(logits_per_image), device=logits_per_image.device)
    return 0.5 * (F.cross_entropy(logits_per_image, target) + F.cross_entropy(logits_per_image.T, target))


def caption_table(vocab: list[str] = VOCAB) -> tuple[torch.Tensor, torch.Tensor]:
    """Every training caption tokenised: (tokens [n, MAX_TOKENS], digit of each [n])."""
    rows, digits = [], []
    for lang, templates in TEMPLATES.items():
        for template in templates:
            for digit, word in enumerate(DIGIT_WORDS[lang]):
                rows.append(encode_prompt(template.format(word), vocab)[0])
                digits.append(digit)
    return torch.tensor(rows), torch.tensor(digits)


@dataclass
class CLIPSettings:
    steps: int = 600
    batch_size: int = 64      # B pairs per step: the B×B matrix has B−1 negatives per row
    lr: float = 3e-3
    embed_dim: int = 32
    eval_every: int = 100
    seed: int = 0
    device: str = "cpu"


@dataclass
class CLIPRun:
    model: TinyCLIP
    history: list = field(default_factory=list)    # {"step", "loss", "zero_shot"}
    seconds: float = 0.0
    zero_shot: dict = field(default_factory=dict)  # language → accuracy on the validation digits


def digit_split(seed: int = 0):
    """The 8×8 digits split 80/20 (stratified): X [N, 64] in [0, 1], y [N]."""
    return hero_data.split(hero_data.load("digits"), 0.2, seed=seed)


@torch.no_grad()
def zero_shot(model: TinyCLIP, X: torch.Tensor, y: torch.Tensor, prompts: list[str]) -> dict:
    """Classify images X [N, 64] by their most similar prompt (prompt k = class k).
    → {"pred" [N], "acc", "similarity" [N, K] cosine similarities}."""
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    img = model.encode_image(X.to(device))
    txt = model.encode_text(encode_prompts(prompts).to(device))
    sim = (img @ txt.T).cpu()
    model.train(was)
    pred = sim.argmax(1)
    return {"pred": pred.numpy(), "acc": float((pred == y).float().mean()), "similarity": sim.numpy()}


def train_clip(s: CLIPSettings, stop=None, emit: Emit | None = None) -> CLIPRun:
    """Train a TinyCLIP from scratch on (digit image, random caption of its digit) pairs."""
    check_range("steps", s.steps, 1, 20000)
    seed_everything(s.seed)
    device = torch.device(s.device)
    parts = digit_split(s.seed)
    X, y = parts.X_train.to(device), parts.y_train.to(device)
    captions, caption_digit = caption_table()
    by_digit = [captions[caption_digit == d].to(device) for d in range(10)]
    model = TinyCLIP(TinyCLIPConfig(vocab_size=len(VOCAB), embed_dim=s.embed_dim, max_tokens=MAX_TOKENS)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=0.01)
    g = torch.Generator().manual_seed(s.seed)
    run, started = CLIPRun(model), time.perf_counter()
    for step in range(1, s.steps + 1):
        if stop is not None and stop.is_set():
            break
        # 1. B images, and for each a random caption of its own digit
        idx = torch.randint(0, len(y), (s.batch_size,), generator=g).to(device)
        labels = y[idx]
        pick = torch.randint(0, 1 << 30, (s.batch_size,), generator=g).to(device)
        tokens = torch.stack([by_digit[d][p % len(by_digit[d])] for d, p in zip(labels.tolist(), pick.tolist())])
        # 2. B×B similarities  3. symmetric cross-entropy  4. one AdamW step
        loss = clip_loss(model(X[idx], tokens))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % s.eval_every == 0 or step == s.steps:
            acc = zero_shot(model, parts.X_val, parts.y_val, class_prompts("en"))["acc"]
            row = {"step": step, "loss": loss.item(), "zero_shot": acc}
            run.history.append(row)
            if emit is not None:
                emit({"kind": "clip", **row})
                emit({"kind": "progress", "done": step, "total": s.steps,
                      "text": f"loss {row['loss']:.3f} · zero-shot {acc:.0%}"})
    run.seconds = time.perf_counter() - started
    run.model = model.eval()
    run.zero_shot = {lang: zero_shot(model, parts.X_val, parts.y_val, class_prompts(lang))["acc"]
                     for lang in DIGIT_WORDS}
    return run


@trainer("ch16_clip")
def _check_clip(device: str, preset: str) -> dict:
    run = train_clip(CLIPSettings(**{k: PRESETS[preset][k] for k in ("steps", "batch_size", "eval_every")},
                                  device=device))
    return {"zero_shot_en": run.zero_shot["en"], "zero_shot_zh": run.zero_shot["zh"]}


def one_per_class(X: torch.Tensor, y: torch.Tensor, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``offset``-th image of each digit 0..9: ([10, 64], [10])."""
    idx = [int(torch.nonzero(y == d)[offset % int((y == d).sum())]) for d in range(10)]
    return X[idx], y[idx]


@torch.no_grad()
def retrieve(model: TinyCLIP, X: torch.Tensor, prompt: str, k: int = 8) -> dict:
    """The k images of X most similar to one typed prompt → {"index" [k], "score" [k], "dropped" words}."""
    ids, dropped = encode_prompt(prompt)
    device = next(model.parameters()).device
    sim = (model.encode_image(X.to(device)) @ model.encode_text(torch.tensor([ids], device=device)).T)[:, 0].cpu()
    top = sim.topk(min(k, len(sim)))
    return {"index": top.indices.numpy(), "score": top.values.numpy(), "dropped": dropped}


def similarity_figure(sim: np.ndarray, images: np.ndarray, prompts: list[str], title: str) -> go.Figure:
    """Heatmap of cosine similarities [n_images, n_prompts] with the images' true digits as row labels."""
    fig = go.Figure(go.Heatmap(z=sim, x=[p if len(p) < 28 else p[:26] + "…" for p in prompts],
                               y=[f"#{i} ({d})" for i, d in enumerate(images)], colorscale="Viridis",
                               text=np.round(sim, 2), texttemplate="%{text}", zmin=-1, zmax=1))
    fig.update_yaxes(autorange="reversed")
    return style(fig, title, height=460)
