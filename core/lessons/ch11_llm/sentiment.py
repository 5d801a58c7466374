"""11.3 Sentiment from frozen MiniLM features: every review embedded once (no gradient), then a
scikit-learn logistic regression trained on the features; accuracy on held-out reviews."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from core.data.ch08_text import sentiment_en
from core.errors import HeroError
from core.lessons.ch11_llm.search import embed, mean_pool


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


@dataclass
class FineTuneSettings:
    n: int = 600                # reviews used, the same split as the frozen run (same seed)
    val_frac: float = 0.25
    steps: int = 40             # AdamW steps over the whole encoder: each costs a full backward through MiniLM
    batch_size: int = 16
    lr: float = 5e-5            # small: large steps wreck pretrained features
    eval_every: int = 10
    seed: int = 0
    device: str = "cpu"


def finetune_sentiment(s: FineTuneSettings, tokenizer, model, stop_event=None, emit=None) -> dict:
    """Full fine-tune of a **private copy** of ``model`` (the cached one is never touched) with a linear
    head on the mean-pooled output; emits ``step`` and ``eval`` (val_acc) events.
    Returns {"encoder", "head", "val_acc", "seconds", "evals"}."""
    import copy

    import torch
    data = sentiment_en()
    rng = np.random.default_rng(s.seed)
    idx = rng.permutation(len(data))[:s.n]
    texts, y = [data.texts[i] for i in idx], torch.tensor([data.labels[i] for i in idx])
    n_val = max(2, int(len(idx) * s.val_frac))
    device = torch.device(s.device)
    torch.manual_seed(s.seed)
    encoder = copy.deepcopy(model).to(device).train()
    head = torch.nn.Linear(encoder.config.hidden_size, 2).to(device)
    opt = torch.optim.AdamW([*encoder.parameters(), *head.parameters()], lr=s.lr)

    def logits(batch):
        enc = tokenizer(batch, padding=True, truncation=True, max_length=64, return_tensors="pt").to(device)
        return head(mean_pool(encoder(**enc).last_hidden_state, enc["attention_mask"]))

    def evaluate():
        encoder.eval()
        with torch.no_grad():
            pred = torch.cat([logits(texts[i:min(i + 64, n_val)]).argmax(-1).cpu() for i in range(0, n_val, 64)])
        encoder.train()
        return float((pred == y[:n_val]).float().mean())

    t0, evals, gen = time.perf_counter(), [], torch.Generator().manual_seed(s.seed)
    for step in range(1, s.steps + 1):
        if stop_event is not None and stop_event.is_set():
            break
        pick = (torch.randint(0, len(idx) - n_val, (s.batch_size,), generator=gen) + n_val).tolist()
        loss = torch.nn.functional.cross_entropy(logits([texts[i] for i in pick]), y[pick].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if emit is not None:
            emit({"kind": "step", "step": step, "total_steps": s.steps, "epoch": 0, "epochs": 1, "loss": loss.item()})
        if step % s.eval_every == 0 or step == s.steps:
            evals.append({"kind": "eval", "step": step, "val_acc": evaluate()})
            if emit is not None:
                emit(dict(evals[-1]))
    encoder.eval()
    return {"encoder": encoder.cpu(), "head": head.cpu(), "val_acc": evals[-1]["val_acc"] if evals else float("nan"),
            "seconds": time.perf_counter() - t0, "evals": evals}


def finetuned_files(result: dict, tokenizer) -> dict[str, bytes]:
    """The fine-tuned encoder as ``save_pretrained`` writes it (config.json, model.safetensors), the
    tokenizer files, and the head as head.safetensors: file name → bytes, for the shelf's download."""
    import tempfile
    from pathlib import Path

    from safetensors.torch import save_file
    with tempfile.TemporaryDirectory() as folder:
        result["encoder"].save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        save_file({k: v.contiguous() for k, v in result["head"].state_dict().items()}, str(Path(folder) / "head.safetensors"))
        return {f.name: f.read_bytes() for f in Path(folder).iterdir() if f.is_file()}
