"""11.3 Sentiment from frozen MiniLM features: every review embedded once (no gradient), then a
scikit-learn logistic regression trained on the features; accuracy on held-out reviews."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from core.data.ch08_text import sentiment_en
from core.errors import HeroError
from core.lessons.ch11_llm.search import embed


@dataclass
class FrozenSettings:
    n: int = 600                # reviews used (half positive); the generated set has 2,400
    val_frac: float = 0.25      # held out for the accuracy
    C: float = 1.0              # inverse L2 strength of the logistic regression
    seed: int = 0               # which reviews land in validation
    device: str = "cpu"


def frozen_sentiment(s: FrozenSettings, tokenizer, model, stop_event=None, emit=None) -> dict:
    """Embed ``s.n`` English reviews with frozen MiniLM, fit logistic regression, report accuracy.
    Returns {"classifier", "train_acc", "val_acc", "embed_seconds", "fit_seconds", "n_train", "n_val", "examples"}."""
    from sklearn.linear_model import LogisticRegression
    data = sentiment_en()
    rng = np.random.default_rng(s.seed)
    idx = rng.permutation(len(data))[:s.n]
    texts, y = [data.texts[i] for i in idx], np.array([data.labels[i] for i in idx])
    n_val = max(2, int(len(idx) * s.val_frac))

    def progress(done, total):
        if stop_event is not None and stop_event.is_set():
            raise HeroError("ch11.stopped")
        if emit is not None:
            emit({"kind": "progress", "done": done, "total": total, "text": f"{done}/{total}"})

    t0 = time.perf_counter()
    X = embed(texts, tokenizer, model, s.device, max_tokens=64, on_batch=progress)     # [n, 384]
    t1 = time.perf_counter()
    clf = LogisticRegression(C=s.C, max_iter=1000).fit(X[n_val:], y[n_val:])
    t2 = time.perf_counter()
    val_pred = clf.predict(X[:n_val])
    examples = [{"text": texts[i], "label": int(y[i]), "pred": int(val_pred[i]),
                 "p_pos": float(clf.predict_proba(X[i:i + 1])[0, 1])} for i in range(min(6, n_val))]
    return {"classifier": clf, "train_acc": float(clf.score(X[n_val:], y[n_val:])),
            "val_acc": float((val_pred == y[:n_val]).mean()), "embed_seconds": t1 - t0, "fit_seconds": t2 - t1,
            "n_train": len(idx) - n_val, "n_val": n_val, "examples": examples}


def predict_sentiment(texts: list[str], classifier, tokenizer, model, device: str = "cpu") -> np.ndarray:
    """[N] probability of positive for each text."""
    texts = [(t or "").strip() for t in texts]
    if not any(texts):
        raise HeroError("ch11.empty_text")
    return classifier.predict_proba(embed(texts, tokenizer, model, device, max_tokens=64))[:, 1]
