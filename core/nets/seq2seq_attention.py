"""Chapter 8 seq2seq: a bidirectional GRU encoder and a GRU decoder with dot-product attention."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.nets import register


@dataclass
class Seq2SeqConfig:
    src_vocab: int = 64      # source tokens (number words / date words / digits)
    tgt_vocab: int = 16      # target characters: digits, '-', plus <pad>/<unk>/<bos>/<eos>
    src_len: int = 16        # padded source length; inputs arrive as [src | target-in] side by side
    embed_dim: int = 48      # token embeddings, encoder and decoder
    hidden: int = 96         # GRU state size (the encoder is bidirectional: 2 × hidden/2)


@register("ch08_seq2seq", Seq2SeqConfig,
          example=lambda c: (torch.randint(0, min(c.src_vocab, c.tgt_vocab), (2, c.src_len + 5)),))
class Seq2SeqAttention(nn.Module):
    """A bidirectional GRU encoder and a GRU decoder with (Luong, dot-product) attention.

    forward(x): x = cat([src [B, S], tgt_in [B, T]], 1) (long; 0 = <pad>) → logits [B, T, V]
    (teacher forcing: the decoder reads the true previous character). ``decode`` is greedy.
    """

    BOS, EOS = 2, 3

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.config = config
        h = config.hidden
        self.src_embed = nn.Embedding(config.src_vocab, config.embed_dim, padding_idx=0)
        self.tgt_embed = nn.Embedding(config.tgt_vocab, config.embed_dim, padding_idx=0)
        self.encoder = nn.GRU(config.embed_dim, h // 2, batch_first=True, bidirectional=True)
        self.decoder = nn.GRU(config.embed_dim + h, h, batch_first=True)
        self.bridge = nn.Linear(h, h)
        self.out = nn.Linear(2 * h, config.tgt_vocab)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """src [B, S] → memory [B, S, H], its mask [B, S], initial decoder state [1, B, H]."""
        mask = src != 0
        memory, _ = self.encoder(self.src_embed(src))
        mean = (memory * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return memory, mask, torch.tanh(self.bridge(mean)).unsqueeze(0)

    def step(self, prev: torch.Tensor, context: torch.Tensor, state: torch.Tensor, memory: torch.Tensor,
             mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One decoder step. prev [B] ids, context [B, H] → logits [B, V], new context, state, attention [B, S]."""
        # 1. read the previous character together with the previous context (input feeding)
        inp = torch.cat([self.tgt_embed(prev), context], -1).unsqueeze(1)
        out, state = self.decoder(inp, state)                  # out [B, 1, H]
        # 2. score every source position against the decoder state, softmax over real positions
        scores = (memory @ out.transpose(1, 2)).squeeze(-1)     # [B, S]
        attn = scores.masked_fill(~mask, float("-inf")).softmax(-1)
        # 3. context = attention-weighted source summary; predict from [state, context]
        context = (attn.unsqueeze(1) @ memory).squeeze(1)       # [B, H]
        logits = self.out(torch.cat([out.squeeze(1), context], -1))
        return logits, context, state, attn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.long()
        src, tgt_in = x[:, :self.config.src_len], x[:, self.config.src_len:]
        memory, mask, state = self.encode(src)
        context = memory.new_zeros(src.shape[0], memory.shape[-1])   # on the input's device and dtype
        logits = []
        for t in range(tgt_in.shape[1]):
            step_logits, context, state, _ = self.step(tgt_in[:, t], context, state, memory, mask)
            logits.append(step_logits)
        return torch.stack(logits, 1)

    @torch.no_grad()
    def decode(self, src: torch.Tensor, max_len: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
        """Greedy decoding. src [B, S] → ids [B, max_len] (0 after <eos>), attention [B, max_len, S]."""
        memory, mask, state = self.encode(src)
        B = src.shape[0]
        context = memory.new_zeros(B, memory.shape[-1])
        prev = torch.full((B,), self.BOS, dtype=torch.long, device=src.device)
        done = torch.zeros(B, dtype=torch.bool, device=src.device)
        ids, attns = [], []
        for _ in range(max_len):
            logits, context, state, attn = self.step(prev, context, state, memory, mask)
            prev = logits.argmax(-1)
            ids.append(prev.masked_fill(done, 0))
            attns.append(attn)
            done |= prev == self.EOS
            if bool(done.all()):
                break
        return torch.stack(ids, 1), torch.stack(attns, 1)
