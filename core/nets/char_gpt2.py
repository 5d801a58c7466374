"""transformers' ``GPT2LMHeadModel`` over characters, as a registered net (chapter 11).

The model itself comes from the library; this wrapper gives it a ``@dataclass`` config that also
holds the character vocabulary, so a shipped checkpoint rebuilds the model *and* its tokenizer.

    net = nets.build("char_gpt2", {"chars": chars, "n_embd": 128})
    logits = net(ids)          # ids [B, T] int64 → logits [B, T, len(chars)]
    net.lm.generate(...)       # the GPT2LMHeadModel for generate(), peft, save_pretrained
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.nets import register

# newline plus printable ASCII: the default vocabulary (the recipe stores the corpus's own)
ASCII = "\n" + "".join(chr(i) for i in range(32, 127))


@dataclass
class CharGPT2Config:
    chars: str = ASCII          # token id i is chars[i]; vocab_size = len(chars)
    n_positions: int = 64       # context in characters (learned position table)
    n_embd: int = 64            # residual width
    n_layer: int = 2            # transformer blocks
    n_head: int = 4             # heads per block; must divide n_embd


def _example(c: CharGPT2Config) -> tuple:
    return (torch.randint(0, len(c.chars), (2, min(8, c.n_positions))),)


@register("char_gpt2", CharGPT2Config, example=_example)
class CharGPT2(nn.Module):
    """ids [B, T] → next-character logits [B, T, V] of the wrapped ``GPT2LMHeadModel`` (head tied to the embedding)."""

    def __init__(self, config: CharGPT2Config):
        super().__init__()
        from transformers import GPT2Config, GPT2LMHeadModel   # heavy import: only when the model is built
        self.config = config
        self.lm = GPT2LMHeadModel(GPT2Config(vocab_size=len(config.chars), n_positions=config.n_positions,
                                             n_embd=config.n_embd, n_layer=config.n_layer, n_head=config.n_head,
                                             bos_token_id=None, eos_token_id=None, pad_token_id=0))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.lm(ids).logits
