"""``nn.Transformer`` as a translator for short generated tasks (number words → digits, dates):
token embeddings + sinusoidal positions → encoder/decoder → next-character logits, with greedy
decoding that also returns the last decoder layer's cross-attention."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from core.nets import register


@dataclass
class TransformerSeq2SeqConfig:
    src_vocab: int = 64          # source words (the task's vocabulary, with <pad> = 0)
    tgt_vocab: int = 15          # target characters: digits, '-', <pad>/<unk>/<bos>/<eos>
    src_len: int = 16            # source tokens per example (padded); the input packs src then target
    max_len: int = 32            # longest sequence the position table covers
    d_model: int = 64            # token width
    nhead: int = 4               # must divide d_model
    num_encoder_layers: int = 2  # two of each are plenty for these tasks
    num_decoder_layers: int = 2
    dim_feedforward: int = 128   # feed-forward width in every layer
    dropout: float = 0.0         # generated data is unlimited: nothing to regularise against


def _positions(n: int, d: int) -> torch.Tensor:
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    table = torch.zeros(n, d)
    table[:, 0::2], table[:, 1::2] = torch.sin(pos * freq), torch.cos(pos * freq[: d // 2])
    return table


@register("seq2seq_transformer", TransformerSeq2SeqConfig,
          example=lambda c: (torch.randint(0, min(c.src_vocab, c.tgt_vocab), (2, c.src_len + 5)),))
class TransformerSeq2Seq(nn.Module):
    BOS, EOS = 2, 3       # ids in the target vocabulary ([<pad>, <unk>, <bos>, <eos>, ...])

    def __init__(self, config: TransformerSeq2SeqConfig):
        super().__init__()
        c = self.config = config
        if c.d_model % c.nhead:
            raise ValueError(f"nhead={c.nhead} does not divide d_model={c.d_model}")
        self.src_emb = nn.Embedding(c.src_vocab, c.d_model, padding_idx=0)
        self.tgt_emb = nn.Embedding(c.tgt_vocab, c.d_model, padding_idx=0)
        self.register_buffer("pos", _positions(c.max_len, c.d_model), persistent=False)
        # the encoder built here only to switch off nested tensors (a prototype fast path that warns)
        encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(c.d_model, c.nhead, c.dim_feedforward, c.dropout,
                                                                   batch_first=True),
                                        c.num_encoder_layers, nn.LayerNorm(c.d_model), enable_nested_tensor=False)
        self.transformer = nn.Transformer(c.d_model, c.nhead, c.num_encoder_layers, c.num_decoder_layers,
                                          c.dim_feedforward, c.dropout, custom_encoder=encoder, batch_first=True)
        self.out = nn.Linear(c.d_model, c.tgt_vocab)
        self.last_cross: torch.Tensor | None = None
        self._capture = False
        cross = self.transformer.decoder.layers[-1].multihead_attn
        cross.register_forward_pre_hook(self._ask_weights, with_kwargs=True)
        cross.register_forward_hook(self._keep_weights)

    # nn.TransformerDecoderLayer calls its cross-attention with need_weights=False; while
    # decoding we ask for the per-head weights and keep them.
    def _ask_weights(self, module, args, kwargs):
        if self._capture:
            kwargs = {**kwargs, "need_weights": True, "average_attn_weights": False}
        return args, kwargs

    def _keep_weights(self, module, args, output):
        if self._capture:
            self.last_cross = output[1]

    def _embed(self, emb: nn.Embedding, ids: torch.Tensor) -> torch.Tensor:
        return emb(ids) * math.sqrt(self.config.d_model) + self.pos[: ids.shape[1]]

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pad = src == 0
        return self.transformer.encoder(self._embed(self.src_emb, src), src_key_padding_mask=pad), pad

    def decode_step(self, tgt_in: torch.Tensor, memory: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        T = tgt_in.shape[1]
        causal = nn.Transformer.generate_square_subsequent_mask(T, device=tgt_in.device)
        h = self.transformer.decoder(self._embed(self.tgt_emb, tgt_in), memory, tgt_mask=causal, tgt_is_causal=True,
                                     memory_key_padding_mask=pad)
        return self.out(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, src_len + T]: source ids then teacher-forcing target ids → logits [B, T, tgt_vocab]."""
        x = x.long()
        src, tgt_in = x[:, :self.config.src_len], x[:, self.config.src_len:]
        memory, pad = self.encode(src)
        return self.decode_step(tgt_in, memory, pad)

    @torch.no_grad()
    def decode(self, src: torch.Tensor, max_len: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
        """Greedy decoding. src [B, S] → ids [B, max_len] (0 after <eos>), cross-attention of the
        last decoder layer averaged over heads [B, max_len, S] (row t: what output t looked at)."""
        memory, pad = self.encode(src)
        B = src.shape[0]
        seq = torch.full((B, 1), self.BOS, dtype=torch.long, device=src.device)
        done = torch.zeros(B, dtype=torch.bool, device=src.device)
        ids = []
        self._capture = True
        try:
            for _ in range(max_len):
                nxt = self.decode_step(seq, memory, pad)[:, -1].argmax(-1)
                ids.append(nxt.masked_fill(done, 0))
                done |= nxt == self.EOS
                seq = torch.cat((seq, nxt[:, None]), 1)
                if bool(done.all()):
                    break
            attn = self.last_cross.mean(1)                 # [B, T_out, S], heads averaged
        finally:
            self._capture = False
        return torch.stack(ids, 1), attn
