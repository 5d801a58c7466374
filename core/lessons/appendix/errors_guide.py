"""Appendix C — the error guide: common PyTorch errors as data, each run live against the installed torch.

Every entry holds a *broken* snippet and a *fixed* snippet (complete scripts, our own text), the
exception type the broken one raises, a fragment of the real message (tests check it against the
live torch), and search tags. Cause and fix prose live in the locales
(``appendix.errors.<id>.title`` / ``.cause`` / ``.fix``), so English and Chinese share the code and
the messages and cannot drift apart.

Snippets run in a separate Python process (``harness.py``) with a time limit, so a snippet can never
hang or crash the page; no visitor text is ever run — a pasted message is only *searched*.
"""
from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import threading
from dataclasses import dataclass, field
from pathlib import Path

HARNESS = Path(__file__).resolve().parent / "harness.py"
SNIPPET_TIMEOUT = 60.0       # seconds per snippet (the spawned DataLoader worker needs a few)


@dataclass(frozen=True)
class ErrorEntry:
    id: str                    # locale key appendix.errors.<id>.*
    broken: str                # a complete script that raises
    fixed: str                 # the same script, fixed: runs and prints its result
    error: str                 # exception class the broken script raises (its own name or a base class)
    expect: tuple[str, ...]    # fragments of the real message; the live one contains at least one
    tags: tuple[str, ...]      # search keywords (English API words; titles are searched per language)
    see: tuple[str, str] = ("", "")   # (chapter id, section) that teaches the topic


def _s(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


ENTRIES: tuple[ErrorEntry, ...] = (
    ErrorEntry("linear_shape", _s("""
        import torch
        from torch import nn
        layer = nn.Linear(3, 2)            # expects 3 features per sample
        x = torch.randn(4, 5)              # but each sample has 5
        print(layer(x).shape)
        """), _s("""
        import torch
        from torch import nn
        x = torch.randn(4, 5)
        layer = nn.Linear(x.shape[1], 2)   # in_features = the last dim of the input
        print(layer(x).shape)
        """), "RuntimeError", ("mat1 and mat2 shapes cannot be multiplied",),
        ("linear", "shape", "in_features", "mat1", "mat2", "matmul", "mlp"), ("ch03", "3.2")),
    ErrorEntry("matmul_batch", _s("""
        import torch
        a = torch.randn(2, 3, 4)
        b = torch.randn(2, 5, 6)
        print(torch.bmm(a, b).shape)       # inner sizes 4 and 5 differ
        """), _s("""
        import torch
        a = torch.randn(2, 3, 4)
        b = torch.randn(2, 4, 6)           # [B, n, k] @ [B, k, m]
        print(torch.bmm(a, b).shape)
        """), "RuntimeError", ("Expected size for first two dimensions of batch2 tensor",),
        ("bmm", "matmul", "batch", "shape", "@"), ("ch01", "1.5")),
    ErrorEntry("view_noncontiguous", _s("""
        import torch
        x = torch.arange(12).reshape(3, 4)
        y = x.t()                          # a transposed view: not contiguous
        print(y.view(12))
        """), _s("""
        import torch
        x = torch.arange(12).reshape(3, 4)
        y = x.t()
        print(y.reshape(12))               # or y.contiguous().view(12)
        """), "RuntimeError", ("view size is not compatible with input tensor's size and stride",),
        ("view", "contiguous", "stride", "transpose", "permute", "reshape"), ("ch01", "1.4")),
    ErrorEntry("view_size", _s("""
        import torch
        x = torch.arange(12)
        print(x.view(3, 5))                # 15 elements requested, 12 present
        """), _s("""
        import torch
        x = torch.arange(12)
        print(x.view(3, -1))               # -1: let torch compute the missing size
        """), "RuntimeError", ("is invalid for input of size",),
        ("view", "reshape", "shape", "size", "numel"), ("ch01", "1.4")),
    ErrorEntry("inplace_grad", _s("""
        import torch
        x = torch.randn(3, requires_grad=True)
        y = torch.sigmoid(x)               # sigmoid saves its output for backward
        y.mul_(2)                          # ...which this in-place op overwrites
        y.sum().backward()
        """), _s("""
        import torch
        x = torch.randn(3, requires_grad=True)
        y = torch.sigmoid(x)
        y = y * 2                          # out-of-place: the saved output stays intact
        y.sum().backward()
        print(x.grad)
        """), "RuntimeError", ("modified by an inplace operation",),
        ("inplace", "in-place", "autograd", "backward", "version", "mul_", "relu(inplace=True)"), ("ch02", "2.4–2.5")),
    ErrorEntry("backward_twice", _s("""
        import torch
        w = torch.tensor(2.0, requires_grad=True)
        loss = (w * 3) ** 2
        loss.backward()
        loss.backward()                    # the graph's saved tensors were freed by the first call
        """), _s("""
        import torch
        w = torch.tensor(2.0, requires_grad=True)
        for _ in range(2):
            loss = (w * 3) ** 2            # rebuild the graph each time (or backward(retain_graph=True))
            loss.backward()
        print(w.grad)                      # gradients accumulate: 2 × 36
        """), "RuntimeError", ("Trying to backward through the graph a second time",),
        ("backward", "retain_graph", "graph", "freed", "twice"), ("ch02", "2.7")),
    ErrorEntry("device_mismatch", _s("""
        import torch
        from torch import nn
        # With CUDA the model goes to the GPU; on a CPU-only machine the `meta` device plays its part.
        device = "cuda" if torch.cuda.is_available() else "meta"
        model = nn.Linear(4, 2).to(device)
        x = torch.randn(3, 4)              # the batch stays on the CPU
        print(model(x))
        """), _s("""
        import torch
        from torch import nn
        device = "cuda" if torch.cuda.is_available() else "cpu"
        model = nn.Linear(4, 2).to(device)
        x = torch.randn(3, 4).to(next(model.parameters()).device)   # data follows the model
        print(model(x).shape, x.device)
        """), "RuntimeError", ("is not on the expected device", "Expected all tensors to be on the same device"),
        ("device", "cuda", "cpu", "meta", ".to(device)", "gpu"), ("ch01", "1.6")),
    ErrorEntry("dtype_double", _s("""
        import numpy as np
        import torch
        from torch import nn
        x = torch.from_numpy(np.random.rand(4, 3))   # NumPy's default float64
        print(nn.Linear(3, 1)(x))                    # weights are float32
        """), _s("""
        import numpy as np
        import torch
        from torch import nn
        x = torch.from_numpy(np.random.rand(4, 3)).float()
        print(nn.Linear(3, 1)(x).dtype)
        """), "RuntimeError", ("mat1 and mat2 must have the same dtype",),
        ("dtype", "double", "float64", "float32", "numpy", "from_numpy"), ("ch01", "1.1")),
    ErrorEntry("loss_long_target", _s("""
        import torch
        from torch import nn
        probs = torch.sigmoid(torch.randn(4))
        target = torch.tensor([1, 0, 1, 0])          # labels read as integers: dtype Long
        print(nn.BCELoss()(probs, target))
        """), _s("""
        import torch
        from torch import nn
        probs = torch.sigmoid(torch.randn(4))
        target = torch.tensor([1, 0, 1, 0]).float()  # binary/regression targets are floats
        print(nn.BCELoss()(probs, target))
        """), "RuntimeError", ("Found dtype Long but expected Float",),
        ("dtype", "long", "float", "bce", "mse", "loss", "target", "labels",
         "result type Float can't be cast to the desired output type Long"), ("ch04", "4.1")),
    ErrorEntry("ce_float_target", _s("""
        import torch
        from torch import nn
        logits = torch.randn(3, 5)
        target = torch.tensor([0.0, 2.0, 4.0])       # class indices stored as floats
        print(nn.CrossEntropyLoss()(logits, target))
        """), _s("""
        import torch
        from torch import nn
        logits = torch.randn(3, 5)
        target = torch.tensor([0.0, 2.0, 4.0]).long()   # class indices are int64
        print(nn.CrossEntropyLoss()(logits, target))
        """), "RuntimeError", ("expected target dtype to be Long", "expected scalar type Long but found Float"),
        ("crossentropy", "cross_entropy", "target", "long", "float", "class", "index"), ("ch04", "4.1")),
    ErrorEntry("ce_target_shape", _s("""
        import torch
        from torch import nn
        logits = torch.randn(4, 3)
        target = torch.tensor([[0], [2], [1], [0]])  # shape [4, 1], e.g. read from a column
        print(nn.CrossEntropyLoss()(logits, target))
        """), _s("""
        import torch
        from torch import nn
        logits = torch.randn(4, 3)
        target = torch.tensor([[0], [2], [1], [0]]).squeeze(1)   # [N] class indices
        print(nn.CrossEntropyLoss()(logits, target))
        """), "RuntimeError", ("0D or 1D target tensor expected, multi-target not supported",),
        ("crossentropy", "target", "shape", "squeeze", "multi-target", "nll_loss"), ("ch04", "4.1")),
    ErrorEntry("ce_sequence", _s("""
        import torch
        from torch import nn
        B, T, V = 2, 7, 50
        logits = torch.randn(B, T, V)                # a language model's output
        target = torch.randint(0, V, (B, T))
        print(nn.CrossEntropyLoss()(logits, target)) # classes are expected in dim 1
        """), _s("""
        import torch
        from torch import nn
        B, T, V = 2, 7, 50
        logits = torch.randn(B, T, V)
        target = torch.randint(0, V, (B, T))
        loss = nn.CrossEntropyLoss()(logits.reshape(B * T, V), target.reshape(B * T))
        print(loss)                                  # or logits.transpose(1, 2)
        """), "RuntimeError", ("Expected target size",),
        ("crossentropy", "sequence", "language model", "gpt", "target size", "transpose"), ("ch10", "10.8")),
    ErrorEntry("ce_target_range", _s("""
        import torch
        from torch import nn
        logits = torch.randn(3, 5)                   # 5 classes: 0..4
        target = torch.tensor([1, 5, 2])             # labels 1..5 (counted from one)
        print(nn.CrossEntropyLoss()(logits, target))
        """), _s("""
        import torch
        from torch import nn
        logits = torch.randn(3, 5)
        target = torch.tensor([1, 5, 2]) - 1         # shift labels to 0..C-1
        print(nn.CrossEntropyLoss()(logits, target))
        """), "IndexError", ("is out of bounds",),
        ("crossentropy", "target", "out of bounds", "labels", "classes", "num_classes"), ("ch04", "4.1")),
    ErrorEntry("bce_range", _s("""
        import torch
        from torch import nn
        logits = torch.tensor([2.5, -1.0, 0.3])      # raw scores, not probabilities
        target = torch.tensor([1.0, 0.0, 1.0])
        print(nn.BCELoss()(logits, target))
        """), _s("""
        import torch
        from torch import nn
        logits = torch.tensor([2.5, -1.0, 0.3])
        target = torch.tensor([1.0, 0.0, 1.0])
        print(nn.BCEWithLogitsLoss()(logits, target))   # sigmoid inside, numerically stable
        """), "RuntimeError", ("all elements of input should be between 0 and 1",),
        ("bce", "bceloss", "sigmoid", "logits", "probability", "binary"), ("ch04", "4.1")),
    ErrorEntry("dataloader_pickle", _s("""
        import torch
        from torch.utils.data import DataLoader, Dataset


        class Squares(Dataset):
            def __init__(self, transform):
                self.transform = transform
            def __len__(self):
                return 8
            def __getitem__(self, i):
                return self.transform(torch.tensor(float(i)))


        if __name__ == "__main__":
            data = Squares(transform=lambda x: x ** 2)   # a lambda cannot be pickled
            loader = DataLoader(data, batch_size=4, num_workers=1, multiprocessing_context="spawn")
            print([batch.tolist() for batch in loader])
        """), _s("""
        import torch
        from torch.utils.data import DataLoader, Dataset


        class Squares(Dataset):
            def __init__(self, transform):
                self.transform = transform
            def __len__(self):
                return 8
            def __getitem__(self, i):
                return self.transform(torch.tensor(float(i)))


        def square(x):                                   # top level: workers import it by name
            return x ** 2


        if __name__ == "__main__":                       # spawned workers re-import this file
            data = Squares(transform=square)
            loader = DataLoader(data, batch_size=4, num_workers=1, multiprocessing_context="spawn")
            print([batch.tolist() for batch in loader])
        """), "Exception", ("pickle", "Can't get local object"),
        ("dataloader", "num_workers", "pickle", "lambda", "spawn", "worker", "windows", "macos"), ("ch06", "6.2")),
    ErrorEntry("collate_sizes", _s("""
        import torch
        from torch.utils.data import DataLoader
        sequences = [torch.ones(3), torch.ones(5), torch.ones(2)]   # different lengths
        print(next(iter(DataLoader(sequences, batch_size=3))))
        """), _s("""
        import torch
        from torch.nn.utils.rnn import pad_sequence
        from torch.utils.data import DataLoader
        sequences = [torch.ones(3), torch.ones(5), torch.ones(2)]
        pad = lambda batch: pad_sequence(batch, batch_first=True)   # fine here: no worker processes
        print(next(iter(DataLoader(sequences, batch_size=3, collate_fn=pad))))
        """), "RuntimeError", ("stack expects each tensor to be equal size",),
        ("dataloader", "collate", "collate_fn", "stack", "padding", "pad_sequence", "variable length"), ("ch06", "6.4")),
    ErrorEntry("state_dict_keys", _s("""
        import torch
        from torch import nn
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        # saved from a DataParallel/DDP-wrapped model: every key starts with "module."
        saved = {f"module.{k}": v for k, v in model.state_dict().items()}
        model.load_state_dict(saved)
        """), _s("""
        import torch
        from torch import nn
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        saved = {f"module.{k}": v for k, v in model.state_dict().items()}
        cleaned = {k.removeprefix("module."): v for k, v in saved.items()}
        print(model.load_state_dict(cleaned))        # <All keys matched successfully>
        """), "RuntimeError", ("Missing key(s) in state_dict", "Unexpected key(s) in state_dict"),
        ("load_state_dict", "state_dict", "missing keys", "unexpected keys", "module.", "checkpoint", "ddp"), ("ch03", "3.5")),
    ErrorEntry("state_dict_size", _s("""
        import torch
        from torch import nn
        trained = nn.Linear(64, 10)                  # a checkpoint for 10 classes
        model = nn.Linear(64, 5)                     # the new task has 5
        model.load_state_dict(trained.state_dict())
        """), _s("""
        import torch
        from torch import nn
        trained = nn.Linear(64, 10)
        model = nn.Linear(64, 5)
        fits = {k: v for k, v in trained.state_dict().items() if v.shape == model.state_dict()[k].shape}
        print(model.load_state_dict(fits, strict=False))   # load what fits, train the new head
        """), "RuntimeError", ("size mismatch for",),
        ("load_state_dict", "size mismatch", "checkpoint", "fine-tune", "head", "num_classes"), ("ch07", "7.3")),
    ErrorEntry("weights_only", _s("""
        import io
        import torch


        class Config:                                # a custom object inside the checkpoint
            def __init__(self):
                self.hidden = 32


        buffer = io.BytesIO()
        torch.save({"weights": torch.randn(2, 2), "config": Config()}, buffer)
        buffer.seek(0)
        print(torch.load(buffer, weights_only=True))
        """), _s("""
        import io
        import torch


        class Config:
            def __init__(self):
                self.hidden = 32


        buffer = io.BytesIO()
        torch.save({"weights": torch.randn(2, 2), "config": vars(Config())}, buffer)   # plain types only
        buffer.seek(0)
        print(torch.load(buffer, weights_only=True)["config"])
        """), "UnpicklingError", ("Weights only load failed",),
        ("torch.load", "weights_only", "pickle", "unpickling", "checkpoint", "safetensors", "security"), ("ch05", "5.6")),
    ErrorEntry("out_of_memory", _s("""
        import torch
        device = "cuda" if torch.cuda.is_available() else "cpu"
        n = 2 ** 46                                  # float32 elements: 256 TiB
        print(f"asking {device} for {n * 4 / 2 ** 40:.0f} TiB")
        x = torch.empty(n, device=device)
        """), _s("""
        import os
        import torch
        device = "cuda" if torch.cuda.is_available() else "cpu"


        def free_bytes(device):
            if device == "cuda":
                return torch.cuda.mem_get_info()[0]
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


        # Estimate first: weights + gradients + 2 Adam states, and activations per sample.
        width, depth = 1024, 4
        params = depth * (width * width + width)
        fixed = params * 4 * (1 + 1 + 2)
        per_sample = depth * width * 4 * 2           # each layer's output kept for backward (+ ReLU mask)
        budget = 0.5 * free_bytes(device)            # leave room for the allocator and everything else
        batch = int(min(4096, max(1, (budget - fixed) // per_sample)))
        print(f"estimate: {fixed / 2**20:.0f} MiB fixed + {per_sample / 2**10:.0f} KiB per sample "
              f"→ batch {batch} fits in half of {free_bytes(device) / 2**30:.1f} GiB free")
        model = torch.nn.Sequential(*[torch.nn.Sequential(torch.nn.Linear(width, width), torch.nn.ReLU())
                                      for _ in range(depth)]).to(device)
        x = torch.randn(min(batch, 64), width, device=device)   # small demo step
        model(x).sum().backward()
        print("one step ran with batch", x.shape[0])
        """), "RuntimeError", ("CUDA out of memory", "can't allocate memory"),
        ("oom", "out of memory", "cuda", "memory", "batch size", "allocate", "gpu"), ("ch09", "9.6")),
    ErrorEntry("numpy_requires_grad", _s("""
        import torch
        w = torch.randn(3, requires_grad=True)
        print((w * 2).numpy())
        """), _s("""
        import torch
        w = torch.randn(3, requires_grad=True)
        print((w * 2).detach().cpu().numpy())        # leave the graph, then convert
        """), "RuntimeError", ("Can't call numpy() on Tensor that requires grad",),
        ("numpy", "detach", "requires_grad", "matplotlib", "plot"), ("ch02", "2.6")),
    ErrorEntry("item_many", _s("""
        import torch
        losses = torch.tensor([0.5, 0.3, 0.2, 0.1])  # per-sample losses
        print(losses.item())
        """), _s("""
        import torch
        losses = torch.tensor([0.5, 0.3, 0.2, 0.1])
        print(losses.mean().item())                  # reduce to one number first (or .tolist())
        """), "RuntimeError", ("cannot be converted to Scalar",),
        ("item", "scalar", "reduction", "mean", "logging", "tolist"), ("ch05", "5.4")),
    ErrorEntry("backward_nonscalar", _s("""
        import torch
        x = torch.randn(3, requires_grad=True)
        y = x ** 2                                   # a vector, not a scalar loss
        y.backward()
        """), _s("""
        import torch
        x = torch.randn(3, requires_grad=True)
        y = x ** 2
        y.sum().backward()                           # or y.backward(torch.ones_like(y))
        print(x.grad)
        """), "RuntimeError", ("grad can be implicitly created only for scalar outputs",),
        ("backward", "scalar", "vector", "gradient", "reduction", "sum"), ("ch02", "2.4–2.5")),
    ErrorEntry("leaf_inplace", _s("""
        import torch
        w = torch.randn(3, requires_grad=True)
        w.sum().backward()
        w -= 0.1 * w.grad                            # a hand-written SGD step
        """), _s("""
        import torch
        w = torch.randn(3, requires_grad=True)
        w.sum().backward()
        with torch.no_grad():                        # updates are not part of the graph
            w -= 0.1 * w.grad
        w.grad.zero_()
        print(w)
        """), "RuntimeError", ("a leaf Variable that requires grad is being used in an in-place operation",),
        ("leaf", "in-place", "no_grad", "sgd", "update", "requires_grad"), ("ch02", "2.6")),
    ErrorEntry("no_grad_fn", _s("""
        import torch
        from torch import nn
        model = nn.Linear(3, 1)
        with torch.no_grad():                        # e.g. a forward left inside an eval block
            loss = model(torch.randn(4, 3)).pow(2).mean()
        loss.backward()
        """), _s("""
        import torch
        from torch import nn
        model = nn.Linear(3, 1)
        loss = model(torch.randn(4, 3)).pow(2).mean()   # training forward outside no_grad
        loss.backward()
        print(model.weight.grad)
        """), "RuntimeError", ("does not require grad and does not have a grad_fn",),
        ("grad_fn", "no_grad", "detach", "backward", "requires_grad", "eval"), ("ch02", "2.6")),
    ErrorEntry("int_requires_grad", _s("""
        import torch
        x = torch.tensor([1, 2, 3], requires_grad=True)   # integers
        """), _s("""
        import torch
        x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
        print(x.dtype, x.requires_grad)
        """), "RuntimeError", ("Only Tensors of floating point and complex dtype can require gradients",),
        ("requires_grad", "dtype", "integer", "long", "float"), ("ch02", "2.3")),
    ErrorEntry("conv_channels", _s("""
        import torch
        from torch import nn
        conv = nn.Conv2d(1, 8, kernel_size=3)
        images = torch.randn(16, 28, 28)             # a batch of grey images without a channel dim
        print(conv(images).shape)
        """), _s("""
        import torch
        from torch import nn
        conv = nn.Conv2d(1, 8, kernel_size=3)
        images = torch.randn(16, 28, 28).unsqueeze(1)   # [N, C=1, H, W]
        print(conv(images).shape)
        """), "RuntimeError", ("expected input", "channels, but got"),
        ("conv2d", "channels", "unsqueeze", "nchw", "image", "weight of size"), ("ch07", "7.1")),
    ErrorEntry("conv_hwc", _s("""
        import torch
        from torch import nn
        conv = nn.Conv2d(3, 8, kernel_size=3)
        photos = torch.rand(4, 32, 32, 3)            # NumPy/PIL order: height, width, channels
        print(conv(photos).shape)
        """), _s("""
        import torch
        from torch import nn
        conv = nn.Conv2d(3, 8, kernel_size=3)
        photos = torch.rand(4, 32, 32, 3).permute(0, 3, 1, 2)   # → [N, C, H, W]
        print(conv(photos).shape)
        """), "RuntimeError", ("to have 3 channels, but got 32 channels instead",),
        ("conv2d", "channels", "permute", "hwc", "nhwc", "pil", "numpy", "image"), ("ch06", "6.3")),
    ErrorEntry("cat_sizes", _s("""
        import torch
        a, b = torch.zeros(2, 3), torch.zeros(2, 4)
        print(torch.cat([a, b], dim=0).shape)        # rows can only be stacked if columns agree
        """), _s("""
        import torch
        a, b = torch.zeros(2, 3), torch.zeros(2, 4)
        print(torch.cat([a, b], dim=1).shape)        # join along the dim that differs
        """), "RuntimeError", ("Sizes of tensors must match except in dimension",),
        ("cat", "concatenate", "dim", "shape", "stack"), ("ch01", "1.4")),
    ErrorEntry("broadcast", _s("""
        import torch
        x = torch.randn(3, 4)
        bias = torch.randn(3)                        # one value per row, but aligned with the columns
        print(x + bias)
        """), _s("""
        import torch
        x = torch.randn(3, 4)
        bias = torch.randn(3)
        print((x + bias[:, None]).shape)             # [3, 1] broadcasts across the 4 columns
        """), "RuntimeError", ("must match the size of tensor b",),
        ("broadcast", "broadcasting", "shape", "unsqueeze", "non-singleton dimension"), ("ch01", "1.5")),
    ErrorEntry("embedding_range", _s("""
        import torch
        from torch import nn
        emb = nn.Embedding(10, 4)                    # ids 0..9
        ids = torch.tensor([1, 4, 10])               # a token id from a bigger vocabulary
        print(emb(ids))
        """), _s("""
        import torch
        from torch import nn
        ids = torch.tensor([1, 4, 10])
        emb = nn.Embedding(int(ids.max()) + 1, 4)    # vocabulary size = largest id + 1
        print(emb(ids).shape)
        """), "IndexError", ("index out of range in self",),
        ("embedding", "index", "vocabulary", "vocab_size", "token", "out of range"), ("ch08", "8.2")),
    ErrorEntry("embedding_float", _s("""
        import torch
        from torch import nn
        emb = nn.Embedding(10, 4)
        ids = torch.tensor([1.0, 4.0, 7.0])          # ids arrived as floats
        print(emb(ids))
        """), _s("""
        import torch
        from torch import nn
        emb = nn.Embedding(10, 4)
        ids = torch.tensor([1.0, 4.0, 7.0]).long()
        print(emb(ids).shape)
        """), "RuntimeError", ("Expected tensor for argument #1 'indices'",),
        ("embedding", "indices", "long", "int", "float", "dtype"), ("ch08", "8.2")),
    ErrorEntry("rnn_hidden", _s("""
        import torch
        from torch import nn
        lstm = nn.LSTM(input_size=8, hidden_size=16, batch_first=True)
        x = torch.randn(4, 10, 8)                    # batch of 4
        h0 = torch.zeros(1, 3, 16)                   # state made for a batch of 3
        print(lstm(x, (h0, h0.clone()))[0].shape)
        """), _s("""
        import torch
        from torch import nn
        lstm = nn.LSTM(input_size=8, hidden_size=16, batch_first=True)
        x = torch.randn(4, 10, 8)
        h0 = torch.zeros(1, x.shape[0], 16)          # [layers, batch, hidden], batch from the input
        print(lstm(x, (h0, h0.clone()))[0].shape)
        """), "RuntimeError", ("Expected hidden[0] size",),
        ("lstm", "rnn", "gru", "hidden", "h0", "batch_first", "state"), ("ch08", "8.3")),
    ErrorEntry("empty_parameters", _s("""
        import torch
        from torch import nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = [nn.Linear(4, 4), nn.Linear(4, 2)]   # a plain list hides them


        print(torch.optim.SGD(Net().parameters(), lr=0.1))
        """), _s("""
        import torch
        from torch import nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 2)])   # registered


        net = Net()
        print(sum(p.numel() for p in net.parameters()), "parameters")
        print(torch.optim.SGD(net.parameters(), lr=0.1).__class__.__name__)
        """), "ValueError", ("optimizer got an empty parameter list",),
        ("optimizer", "parameters", "modulelist", "list", "empty", "register"), ("ch03", "3.3")),
    ErrorEntry("module_init", _s("""
        from torch import nn


        class Net(nn.Module):
            def __init__(self):
                self.fc = nn.Linear(4, 2)            # super().__init__() forgotten


        Net()
        """), _s("""
        from torch import nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()                   # sets up parameter/module registries
                self.fc = nn.Linear(4, 2)


        print(Net())
        """), "AttributeError", ("cannot assign module before Module.__init__() call",),
        ("module", "super", "__init__", "nn.module", "subclass"), ("ch03", "3.1")),
    ErrorEntry("batchnorm_one", _s("""
        import torch
        from torch import nn
        model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8))
        print(model(torch.randn(1, 4)))              # one sample in training mode
        """), _s("""
        import torch
        from torch import nn
        model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8))
        model(torch.randn(16, 4))                    # training batches have several samples
        model.eval()                                 # inference: running statistics, any batch size
        print(model(torch.randn(1, 4)).shape)
        """), "ValueError", ("Expected more than 1 value per channel when training",),
        ("batchnorm", "batch size", "eval", "train", "drop_last"), ("ch03", "3.2")),
    ErrorEntry("tensor_of_tensors", _s("""
        import torch
        rows = [torch.randn(2), torch.randn(2)]
        print(torch.tensor(rows))
        """), _s("""
        import torch
        rows = [torch.randn(2), torch.randn(2)]
        print(torch.stack(rows).shape)               # join tensors with stack/cat
        """), "ValueError", ("only one element tensors can be converted to Python scalars",),
        ("torch.tensor", "list", "stack", "scalar", "convert"), ("ch01", "1.2–1.3")),
    ErrorEntry("numpy_negative_stride", _s("""
        import numpy as np
        import torch
        a = np.arange(5)[::-1]                       # a reversed view: negative stride
        print(torch.from_numpy(a))
        """), _s("""
        import numpy as np
        import torch
        a = np.arange(5)[::-1]
        print(torch.from_numpy(a.copy()))            # or torch.flip(torch.from_numpy(np.arange(5)), [0])
        """), "ValueError", ("At least one stride in the given numpy array is negative",),
        ("numpy", "from_numpy", "stride", "negative", "flip", "copy"), ("ch01", "1.1")),
)

BY_ID = {e.id: e for e in ENTRIES}


# ----------------------------------------------------------------------------- running snippets
@dataclass
class SnippetRun:
    """What one snippet did in the harness: its printout, or the exception it raised."""
    ok: bool
    stdout: str = ""
    type: str | None = None           # exception class name (qualname)
    module: str | None = None         # its module ("builtins", "_pickle", "torch")
    mro: list[str] = field(default_factory=list)
    message: str = ""
    traceback: str = ""
    seconds: float = 0.0
    timed_out: bool = False

    def raised(self, name: str) -> bool:
        """True when the exception is ``name`` or a subclass of it."""
        return not self.ok and name in self.mro


_SPARE_LOCK = threading.Lock()
_SPARE: list[subprocess.Popen] = []      # at most one warmed-up harness waiting for a job


def _start_harness() -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-P", str(HARNESS), "--wait"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tempfile.gettempdir(),
                            env=env, text=True)


def _take_harness() -> subprocess.Popen:
    """A harness that has (probably) imported torch already, and a fresh spare started for next time.

    Each harness runs one job and exits, so no snippet can leave state behind for the next; the
    spare waits on its stdin and ends when this process does (its stdin closes)."""
    with _SPARE_LOCK:
        spare = _SPARE.pop() if _SPARE else None
        if spare is not None and spare.poll() is not None:
            spare = None
        proc = spare or _start_harness()
        _SPARE.append(_start_harness())
    return proc


def prewarm() -> None:
    """Start the spare harness now (if none is waiting), so the first run a visitor asks for finds
    torch already imported. Cheap when one is waiting; at most one per process."""
    with _SPARE_LOCK:
        if not _SPARE or _SPARE[-1].poll() is not None:
            _SPARE[:] = [_start_harness()]


def run_snippets(snippets: list[tuple[str, str]], timeout: float = SNIPPET_TIMEOUT) -> list[SnippetRun]:
    """Run our own snippets ``[(file name, code), ...]`` one after another in one child Python.

    One process per call (torch imported once, before the call when a spare was waiting); each
    snippet gets ``timeout`` seconds, the whole call ``timeout × n + 30``; a snippet the harness
    never reached reports ``timed_out``.
    """
    with tempfile.TemporaryDirectory(prefix="hero-errors-") as folder:
        paths = []
        for name, code in snippets:
            path = Path(folder) / name
            path.write_text(code)
            paths.append(str(path))
        out = Path(folder) / "results.json"
        proc = _take_harness()
        try:
            proc.stdin.write(json.dumps({"out": str(out), "timeout": timeout, "cwd": folder, "files": paths}) + "\n")
            proc.stdin.close()
            proc.wait(timeout=timeout * len(paths) + 30)
        except (subprocess.TimeoutExpired, BrokenPipeError, OSError):
            proc.kill()
            proc.wait()
        done = json.loads(out.read_text()) if out.exists() else []
    runs = [SnippetRun(**{k: v for k, v in r.items() if k != "file"}) for r in done]
    while len(runs) < len(snippets):
        runs.append(SnippetRun(ok=False, type="TimeoutError", mro=["TimeoutError"], timed_out=True,
                               message="the snippet did not finish in time"))
    return runs


@dataclass
class EntryRun:
    """An entry's two live runs: the broken snippet (should raise) and the fixed one (should not)."""
    id: str
    broken: SnippetRun
    fixed: SnippetRun

    @property
    def as_documented(self) -> bool:
        entry = BY_ID[self.id]
        return (self.broken.raised(entry.error) and any(f in self.broken.message for f in entry.expect)
                and self.fixed.ok)


# Real messages seen in this process, by entry id: the search ranks pasted text against them too.
LIVE_MESSAGES: dict[str, str] = {}


def run_entries(ids: list[str] | None = None, timeout: float = SNIPPET_TIMEOUT) -> list[EntryRun]:
    """Run the broken and fixed snippets of the given entries (all by default) in one child process."""
    ids = list(ids or BY_ID)
    snippets = []
    for i in ids:
        snippets += [(f"broken_{i}.py", BY_ID[i].broken), (f"fixed_{i}.py", BY_ID[i].fixed)]
    runs = run_snippets(snippets, timeout)
    results = [EntryRun(i, runs[2 * k], runs[2 * k + 1]) for k, i in enumerate(ids)]
    for r in results:
        if not r.broken.ok and r.broken.message:
            LIVE_MESSAGES[r.id] = r.broken.message
    return results


def run_entry(entry_id: str) -> EntryRun:
    """One entry, live: ``run_entry("linear_shape").broken.message`` is the real torch message."""
    return run_entries([entry_id])[0]


def takehome_script(entry_id: str) -> str:
    """A script for the download: runs the broken snippet in a child Python (printing the error it
    raises), then the fixed snippet itself, which prints its result."""
    entry = BY_ID[entry_id]
    return (f'"""Appendix error guide: {entry.id}. The broken snippet runs in a child Python so its real error\n'
            f'is shown; the fixed snippet below is this file\'s own code.\n\n    python appendix_error_{entry.id}.py\n"""\n'
            "import subprocess as _subprocess\nimport sys as _sys\n\n"
            f"BROKEN = {entry.broken!r}\n\n\n"
            "def show_broken():\n"
            "    done = _subprocess.run([_sys.executable, \"-c\", BROKEN], capture_output=True, text=True, timeout=300)\n"
            "    lines = done.stderr.splitlines()\n"
            "    start = max((i for i, line in enumerate(lines) if line.startswith(\"Traceback\")), default=-1)\n"
            "    # the exception line: the first unindented line after the last traceback header\n"
            "    found = [line for line in lines[start + 1:] if line and not line[0].isspace()]\n"
            "    print(\"broken snippet raised ->\", found[0] if found else \"(no error)\")\n\n\n"
            "if __name__ == \"__main__\":\n    show_broken()\n    print(\"fixed snippet ->\")\n\n"
            f"{entry.fixed}")


# ----------------------------------------------------------------------------- search by message
_WORD = re.compile(r"[a-z_][a-z0-9_]*|[\u4e00-\u9fff]")


def _tokens(text: str) -> list[str]:
    """Words of a message, numbers and shapes dropped (``(4x3 and 5x2)`` differs run to run)."""
    return [w for w in _WORD.findall(text.lower()) if len(w) > 1 or "\u4e00" <= w <= "\u9fff"]


def _bigrams(words: list[str]) -> set[tuple[str, str]]:
    return set(zip(words, words[1:]))


def find_errors(text: str, titles: dict[str, str] | None = None, limit: int = 5) -> list[tuple[str, float]]:
    """Entries ranked for a pasted error message or a few keywords: ``[(entry id, score), ...]``.

    Matched against each entry's real messages (those seen live in this process and the documented
    fragments), its tags and its title (``titles``: id → title in the visitor's language). Phrases
    count more than single words, so the exact message wins over entries sharing a word or two.
    The text is only tokenised and compared — never run.
    """
    query = _tokens(text)
    if not query:
        return []
    qset, qbi = set(query), _bigrams(query)
    docs = {}
    for e in ENTRIES:
        messages = " ".join([*e.expect, LIVE_MESSAGES.get(e.id, "")])
        docs[e.id] = (_tokens(messages), _tokens(" ".join(e.tags) + " " + e.id.replace("_", " ")),
                      _tokens((titles or {}).get(e.id, "")))
    # rare words weigh more: "mat1" names one entry, "tensor" names most of them
    df: dict[str, int] = {}
    for msg, tags, title in docs.values():
        for w in set(msg) | set(tags) | set(title):
            df[w] = df.get(w, 0) + 1
    n = len(ENTRIES)
    weight = {w: 1.0 + math.log((n + 1) / (df.get(w, 0) + 1)) for w in qset}
    total = sum(weight.values())
    scored = []
    for entry_id, (msg, tags, title) in docs.items():
        words = set(msg) | set(tags) | set(title)
        overlap = sum(weight[w] for w in qset & words) / total
        phrase = len(qbi & (_bigrams(msg) | _bigrams(tags) | _bigrams(title))) / max(1, len(qbi))
        score = overlap + 2.0 * phrase
        if score > 0.15:
            scored.append((entry_id, round(score, 4)))
    scored.sort(key=lambda s: -s[1])
    return scored[:limit]


# ----------------------------------------------------------------------------- the OOM entry's estimate
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2, "float64": 8}
OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "adam": 2}   # extra tensors per parameter


def memory_estimate(width: int, depth: int, batch: int, dtype: str = "float32", optimizer: str = "adam") -> dict:
    """Training memory of an MLP of ``depth`` Linear(width, width)+ReLU blocks on inputs [batch, width].

    Bytes for weights, gradients, optimizer states and the activations autograd keeps for backward
    (each Linear's input and each ReLU's output: 2 × [batch, width] per block). An estimate: the
    allocator rounds up and the framework itself needs a few hundred MB on a GPU.
    """
    size = DTYPE_BYTES[dtype]
    params = depth * (width * width + width)
    weights = params * size
    out = {"params": params, "weights": weights, "grads": weights,
           "optimizer": weights * OPTIMIZER_STATES[optimizer],
           "activations": depth * 2 * batch * width * size}
    out["total"] = out["weights"] + out["grads"] + out["optimizer"] + out["activations"]
    return out


def free_memory(device: str = "cpu") -> int:
    """Bytes free for new tensors on ``device`` now (CUDA: ``mem_get_info``; CPU: available RAM)."""
    if device == "cuda":
        import torch
        return int(torch.cuda.mem_get_info()[0])
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        return int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def largest_batch(width: int, depth: int, free: int, dtype: str = "float32", optimizer: str = "adam",
                  share: float = 0.5) -> int:
    """The largest batch whose estimate fits in ``share`` of ``free`` bytes (0 if not even the weights fit)."""
    fixed = memory_estimate(width, depth, 0, dtype, optimizer)["total"]
    per_sample = memory_estimate(width, depth, 1, dtype, optimizer)["activations"]
    return max(0, int((share * free - fixed) // per_sample))


def check_all(stop, emit, chunk: int = 13) -> list[dict]:
    """Run every entry (``chunk`` entries per child process, progress emitted between chunks) and
    return one row per entry: id, exception raised, whether it behaves as documented, seconds.
    ``stop`` (a threading.Event) ends the check between chunks."""
    import torch
    ids = [e.id for e in ENTRIES]
    rows: list[dict] = []
    for start in range(0, len(ids), chunk):
        if stop is not None and stop.is_set():
            break
        for r in run_entries(ids[start:start + chunk]):
            rows.append({"id": r.id, "raised": r.broken.type or "—", "as_documented": r.as_documented,
                         "seconds": round(r.broken.seconds + r.fixed.seconds, 2)})
        emit({"kind": "progress", "done": len(rows), "total": len(ids), "text": rows[-1]["id"]})
    emit({"kind": "end", "torch": torch.__version__, "ok": sum(r["as_documented"] for r in rows), "n": len(rows)})
    return rows
