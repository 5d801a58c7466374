"""10.7 实战 1: ``nn.Transformer`` trained live on chapter 8's generated translation-style tasks
(number words → digits, dates → ISO, English and Chinese), with the cross-attention map of an output."""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Callable

import torch

from core.device import seed_everything
from core.lessons.ch08_nlp import MAX_SRC, MAX_TGT, ExactMatch, Seq2SeqTask, make_task, seq2seq_loss
from core.nets.seq2seq_transformer import TransformerSeq2Seq, TransformerSeq2SeqConfig
from core.train import NaNGuard, amp_callbacks, finished_ok, fit, record


@dataclass
class TranslateSettings:
    task: str = "num_en"          # num_en | num_zh | date_en | date_zh (chapter 8's generators)
    n_pairs: int = 3000
    epochs: int = 12
    batch_size: int = 64
    lr: float = 1e-3
    d_model: int = 64
    nhead: int = 4
    layers: int = 2
    seed: int = 0
    device: str = "cpu"


@dataclass
class TranslateResult:
    model: TransformerSeq2Seq
    task: Seq2SeqTask
    history: list[dict]
    end: dict
    settings: dict

    @property
    def ok(self) -> bool:
        return finished_ok(self.end, self.history)


def train_translator(s: TranslateSettings, stop_event: threading.Event | None = None,
                     emit: Callable[[dict], None] | None = None) -> TranslateResult:
    """Train ``nn.Transformer`` on a generated task; eval events carry ``val_exact`` (whole output right)."""
    seed_everything(s.seed)
    task = make_task(s.task, s.n_pairs, s.seed)
    X, y = task.tensors(task.train)                # [N, MAX_SRC + MAX_TGT] (source, then <bos> + target)
    Xv, yv = task.tensors(task.val)
    model = TransformerSeq2Seq(TransformerSeq2SeqConfig(
        src_vocab=len(task.src_vocab), tgt_vocab=len(task.tgt_vocab), src_len=MAX_SRC, max_len=max(MAX_SRC, MAX_TGT) + 1,
        d_model=s.d_model, nhead=s.nhead, num_encoder_layers=s.layers, num_decoder_layers=s.layers,
        dim_feedforward=2 * s.d_model))
    optimizer = torch.optim.Adam(model.parameters(), lr=s.lr)
    history, end = record(fit(model, (X, y), (Xv, yv), optimizer=optimizer, loss_fn=seq2seq_loss, epochs=s.epochs,
                              batch_size=s.batch_size, device=s.device, seed=s.seed,
                              callbacks=[*amp_callbacks(s.device), NaNGuard(), ExactMatch(task)],
                              stop_event=stop_event), emit)
    return TranslateResult(model.cpu().eval(), task, history, end, asdict(s))
