"""11.2 Sentence embeddings and semantic search: paragraphs of the Python language reference embedded
once with MiniLM (mean pooling over the attention mask), cached on disk by a hash of corpus + model;
a query ranked by cosine similarity; a 2-D PCA map with the query placed on it."""
from __future__ import annotations

import hashlib
import re

import numpy as np
import plotly.graph_objects as go
import torch

from core.data.ch08_text import corpus_text
from core.errors import HeroError
from core.viz import PALETTE, style

MAX_QUERY_CHARS = 500
MAX_TOKENS = 128          # paragraphs are cut to 128 word pieces: MiniLM was trained on short texts


def paragraphs(n: int = 300, min_chars: int = 120, max_chars: int = 1200) -> list[str]:
    """The first ``n`` prose paragraphs (blank-line separated, ``min_chars``..``max_chars`` long, code
    examples skipped) of the Python language reference, whitespace collapsed."""
    out = []
    for block in re.split(r"\n\s*\n", corpus_text()):
        if block.startswith((" ", "\t")) or ">>>" in block:       # indented code and examples are not prose
            continue
        para = " ".join(block.split())
        if min_chars <= len(para) <= max_chars:
            out.append(para)
        if len(out) >= n:
            break
    return out


def mean_pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """[B, T, H], [B, T] → [B, H]: the average of the real (mask 1) token vectors, padding ignored."""
    mask = attention_mask.unsqueeze(-1).to(last_hidden_state.dtype)
    return (last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


@torch.no_grad()
def embed(texts: list[str], tokenizer, model, device: str = "cpu", batch_size: int = 32,
          max_tokens: int = MAX_TOKENS, on_batch=None) -> np.ndarray:
    """[N, 384] unit-length MiniLM sentence embeddings (mean pooling then L2 normalisation,
    as sentence-transformers does for all-MiniLM-L6-v2)."""
    model = model.to(device)
    out = []
    for i in range(0, len(texts), batch_size):
        enc = tokenizer(texts[i:i + batch_size], padding=True, truncation=True, max_length=max_tokens,
                        return_tensors="pt").to(device)
        pooled = mean_pool(model(**enc).last_hidden_state, enc["attention_mask"])
        out.append(torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy())
        if on_batch is not None:
            on_batch(min(i + batch_size, len(texts)), len(texts))
    return np.concatenate(out) if out else np.zeros((0, model.config.hidden_size), np.float32)


def corpus_key(texts: list[str], model) -> str:
    """Hash of the texts and the model (name, size, first weights): a changed corpus or model → new cache file."""
    h = hashlib.sha256("\x00".join(texts).encode())
    h.update(f"{model.config.name_or_path}|{model.config.hidden_size}|{MAX_TOKENS}".encode())
    h.update(next(model.parameters()).detach().float().cpu().flatten()[:64].numpy().tobytes())
    return h.hexdigest()[:16]


def corpus_embeddings(texts: list[str], tokenizer, model, cache_folder, device: str = "cpu",
                      on_batch=None) -> tuple[np.ndarray, bool]:
    """(embeddings [N, 384], came from the disk cache?). Written once to ``cache_folder``."""
    from pathlib import Path
    path = Path(cache_folder) / f"ch11_minilm_{corpus_key(texts, model)}.npy"
    if path.exists():
        emb = np.load(path, allow_pickle=False)
        if emb.shape[0] == len(texts):
            return emb, True
    emb = embed(texts, tokenizer, model, device, on_batch=on_batch)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, emb)
    tmp.replace(path)                       # atomic: two servers never read half a file
    return emb, False


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[D] or [M, D] vs [N, D] → [N] or [M, N] cosine similarities."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return a @ b.T


def search(query: str, texts: list[str], embeddings: np.ndarray, tokenizer, model, device: str = "cpu",
           k: int = 5) -> dict:
    """Top-``k`` paragraphs for ``query``: {"hits": [{rank, score, text, index}], "query_vec": [384]}."""
    query = (query or "").strip()
    if not query:
        raise HeroError("ch11.empty_query")
    if len(query) > MAX_QUERY_CHARS:
        raise HeroError("ch11.text_too_long", n=len(query), limit=MAX_QUERY_CHARS)
    q = embed([query], tokenizer, model, device)[0]
    scores = cosine(q, embeddings)
    order = np.argsort(-scores)[:k]
    return {"hits": [{"rank": r + 1, "score": float(scores[i]), "text": texts[i], "index": int(i)}
                     for r, i in enumerate(order)], "query_vec": q}


def pca_2d(embeddings: np.ndarray, extra: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Project [N, D] (and extra [M, D]) onto the top two principal axes of ``embeddings`` (SVD)."""
    mean = embeddings.mean(0)
    _, _, vt = np.linalg.svd(embeddings - mean, full_matrices=False)
    axes = vt[:2].T
    return (embeddings - mean) @ axes, None if extra is None else (np.atleast_2d(extra) - mean) @ axes


def map_figure(texts: list[str], embeddings: np.ndarray, result: dict | None, labels: dict, title: str = "") -> go.Figure:
    """The corpus as points on its 2-D PCA map, top hits highlighted, the query as a star."""
    pts, q = pca_2d(embeddings, None if result is None else result["query_vec"])
    hover = [t[:90] + "…" for t in texts]
    fig = go.Figure(go.Scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", name=labels.get("corpus", "corpus"),
                               text=hover, hoverinfo="text", marker={"color": "#bbbbbb", "size": 6}))
    if result is not None:
        idx = [h["index"] for h in result["hits"]]
        fig.add_scatter(x=pts[idx, 0], y=pts[idx, 1], mode="markers+text", name=labels.get("hits", "hits"),
                        text=[str(h["rank"]) for h in result["hits"]], textposition="top center",
                        marker={"color": PALETTE[1], "size": 10})
        fig.add_scatter(x=q[:, 0], y=q[:, 1], mode="markers", name=labels.get("query", "query"),
                        marker={"color": PALETTE[0], "size": 16, "symbol": "star"})
    fig.update_layout(xaxis_title="PC 1", yaxis_title="PC 2")
    return style(fig, title)
