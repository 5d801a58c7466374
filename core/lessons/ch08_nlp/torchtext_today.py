"""8.6 torchtext today: what replaces it, as a runnable script."""
from __future__ import annotations

TORCHTEXT_REPLACEMENT = '''"""What replaces torchtext (development stopped in 2024; last release 0.18, for torch 2.3)."""
import re
from collections import Counter

import torch
from torch.nn.utils.rnn import pad_sequence

texts = ["I loved this film", "The plot was dull"]
# 1. tokenizer: a regex (or `tokenizers` / `transformers.AutoTokenizer` for subwords)
tokenize = lambda s: re.findall(r"[a-z]+|\\d+|[^\\sa-z\\d]", s.lower())
# 2. vocabulary: a Counter and a list replace torchtext.vocab.build_vocab_from_iterator
counts = Counter(tok for s in texts for tok in tokenize(s))
itos = ["<pad>", "<unk>"] + [tok for tok, c in counts.most_common() if c >= 1]
stoi = {tok: i for i, tok in enumerate(itos)}
# 3. numericalise + pad: plain torch replaces torchtext.transforms
ids = [torch.tensor([stoi.get(tok, 1) for tok in tokenize(s)]) for s in texts]
batch = pad_sequence(ids, batch_first=True, padding_value=0)   # [B, L]
mask = batch != 0
print(batch, mask, sep="\\n")
# 4. datasets: `datasets.load_dataset("stanfordnlp/sst2")` (Hugging Face) replaces torchtext.datasets
'''
