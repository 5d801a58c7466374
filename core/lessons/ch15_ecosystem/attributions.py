"""15.2 Captum: which pixels (and which words) a prediction rests on.

Three ways to ask ``captum.attr`` for a digit classifier:
- ``Saliency``: |∂ logit_target / ∂ pixel| — one backward pass, noisy;
- ``IntegratedGradients``: the gradient averaged along the straight path from a baseline (a black
  image) to the digit, times (x − baseline). Its *completeness* axiom: the attributions add up to
  f(x) − f(baseline), and Captum reports how far the numeric integral is from that (the delta);
- ``Occlusion``: slide a black patch and record how much the target logit drops — no gradients at all.

For the ch08 sentiment RNN the input is token ids, which have no gradient: ``LayerIntegratedGradients``
integrates at the embedding layer's output instead (baseline: the <pad> embedding, all zeros) and each
token's score is its attribution summed over the embedding dimensions.

Captum Insights (the old web UI) was removed in Captum 0.9; ``captum.attr`` is what remains.
Attribution runs in eval mode (dropout off) wherever the model's parameters are.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.errors import HeroError, check_range
from core.lessons.ch08_nlp.sentiment import SentimentSettings, train_sentiment
from core.lessons.ch08_nlp.tokens import MAX_TEXT_CHARS, Vocab, clean_text, tokenize
from core.lessons.ch13_deployment import eval_set, image_size_of

METHODS = ("saliency", "integrated_gradients", "occlusion")
# A review to start from, in the language the sentiment model was trained on (ch08's "zh" or "en" sets).
EXAMPLE_REVIEWS = {"en": "a wonderful, moving film with a weak ending", "zh": "这本书写得很好，但是物流太慢了"}


@dataclass
class DigitAttrSettings:
    index: int = 0                # which validation digit (ch05's split, seed 0)
    target: int = -1              # the class to explain; -1 = the predicted one
    ig_steps: int = 32            # Riemann steps of the IG path integral (more = smaller delta)
    window: int = 0               # occlusion patch side in pixels; 0 = a quarter of the image side
    device: str = "cpu"


def as_image_model(model: nn.Module) -> nn.Module:
    """The model in eval mode (no dropout noise in the attributions), on its own device."""
    return model.eval()


def explain_digit(model: nn.Module, x: torch.Tensor, target: int = -1, ig_steps: int = 32,
                  window: int = 0) -> dict:
    """Saliency, Integrated Gradients and Occlusion for one image x [1, 1, S, S] in [0, 1].

    Returns ``maps`` {method: [S, S] NumPy}, ``probs`` [10], ``target``, and IG's bookkeeping:
    ``ig_sum`` (Σ attributions), ``output_gap`` (f(x) − f(black image) for the target logit)
    and ``ig_delta`` (Captum's convergence delta = ig_sum − output_gap).
    """
    from captum.attr import IntegratedGradients, Occlusion, Saliency
    check_range("ig_steps", ig_steps, 2, 512)
    model = as_image_model(model)
    device = next(model.parameters()).device
    x = x.to(device).float()
    size = x.shape[-1]
    with torch.no_grad():
        logits = model(x)
    probs = logits.float().softmax(-1)[0].cpu().numpy()
    target = int(probs.argmax()) if target < 0 else int(target)
    baseline = torch.zeros_like(x)
    # 1. saliency: one backward pass, |gradient| per pixel
    saliency = Saliency(model).attribute(x.clone().requires_grad_(True), target=target, abs=True)
    # 2. integrated gradients from a black image; delta says how exact the integral was
    ig, delta = IntegratedGradients(model).attribute(x, baselines=baseline, target=target, n_steps=ig_steps,
                                                     return_convergence_delta=True)
    # 3. occlusion: a black patch slid over the image, the target logit's drop recorded
    w = window or max(1, size // 4)
    stride = max(1, w // 2)
    occlusion = Occlusion(model).attribute(x, sliding_window_shapes=(1, w, w), strides=(1, stride, stride),
                                           baselines=0.0, target=target)
    with torch.no_grad():
        gap = float(model(x)[0, target] - model(baseline)[0, target])
    maps = {"saliency": saliency, "integrated_gradients": ig, "occlusion": occlusion}
    return {"image": x[0, 0].cpu().numpy(), "probs": probs, "target": target,
            "maps": {k: v[0, 0].detach().float().cpu().numpy() for k, v in maps.items()},
            "ig_sum": float(ig.sum()), "output_gap": gap, "ig_delta": float(delta.sum())}


def explain_validation_digit(model: nn.Module, s: DigitAttrSettings) -> dict:
    """:func:`explain_digit` on validation digit ``s.index`` of the set this model was made for (8×8 or 28×28)."""
    size = image_size_of(model)
    X, y = eval_set(size)
    check_range("index", s.index, 0, len(y) - 1)
    out = explain_digit(model.to(s.device), X[s.index:s.index + 1], s.target, s.ig_steps, s.window)
    return {**out, "label": int(y[s.index]), "index": s.index}


def compare_models(models: dict[str, nn.Module], n: int = 6, ig_steps: int = 32) -> dict:
    """Integrated Gradients of several models on the same first ``n`` validation digits, each for the
    true class: {"images": [n, S, S], "labels": [n], "maps": {name: [n, S, S]}, "correct": {name: [n]}}.
    """
    from captum.attr import IntegratedGradients
    size = image_size_of(next(iter(models.values())))
    X, y = eval_set(size, n)
    out = {"images": X[:, 0].numpy(), "labels": y.numpy(), "maps": {}, "correct": {}}
    for name, model in models.items():
        model = as_image_model(model)
        device = next(model.parameters()).device
        xs = X.to(device)
        attr = IntegratedGradients(model).attribute(xs, baselines=torch.zeros_like(xs), target=y.to(device),
                                                    n_steps=ig_steps)
        with torch.no_grad():
            pred = model(xs).argmax(1).cpu()
        out["maps"][name] = attr[:, 0].detach().cpu().numpy()
        out["correct"][name] = (pred == y).numpy()
    return out


# --------------------------------------------------------------------------- tokens

def token_attributions(model: nn.Module, vocab: Vocab, text: str, max_len: int = 64, target: int = 1,
                       ig_steps: int = 32) -> dict:
    """Per-token Layer Integrated Gradients for the ch08 RNN classifier (ids [1, L] → logits [1, 2]).

    Returns ``tokens``, ``scores`` [L] (Σ over the embedding of the attributions for ``target``,
    1 = positive: > 0 pushed towards it), ``known`` (token in the vocabulary), ``p_pos``,
    ``delta`` (completeness gap) and ``truncated``.
    """
    from captum.attr import LayerIntegratedGradients
    text, _ = clean_text(text, MAX_TEXT_CHARS)
    tokens = tokenize(text)
    if not tokens:
        raise HeroError("ch08.no_tokens")
    truncated = len(tokens) > max_len
    tokens = tokens[:max_len]
    model = model.eval()
    device = next(model.parameters()).device
    ids = torch.tensor([vocab.encode(tokens)], device=device)
    baseline = torch.zeros_like(ids)          # <pad>: its embedding row is fixed at zero
    lig = LayerIntegratedGradients(model, model.embedding)
    attr, delta = lig.attribute(ids, baselines=baseline, target=target, n_steps=ig_steps,
                                return_convergence_delta=True)
    with torch.no_grad():
        p_pos = float(model(ids).float().softmax(-1)[0, 1])
    return {"tokens": tokens, "scores": attr.sum(-1)[0].detach().float().cpu().numpy(),
            "known": [i != 1 for i in ids[0].tolist()], "p_pos": p_pos, "delta": float(delta.sum()),
            "truncated": truncated}


def quick_sentiment(limit: int = 3000, epochs: int = 2, device: str = "cpu", stop_event=None, emit=None):
    """A small ch08 GRU on the project's English review set, for visitors with no sentiment model yet
    (ch08's own ``train_sentiment``; returns its ``SentimentResult``, model on the CPU)."""
    return train_sentiment(SentimentSettings(source="en", limit=limit, epochs=epochs, max_len=40,
                                             batch_size=128, device=device), stop_event, emit)


def normalised(a: np.ndarray) -> np.ndarray:
    """Attributions scaled to [-1, 1] by their largest magnitude (for one shared colour scale)."""
    return a / max(float(np.abs(a).max()), 1e-12)
