"""Appendix B — best practices as do / don't pairs, each half a complete script that runs and prints.

Both halves run (the "don't" is not an error, it is a quiet mistake: it runs and prints the wrong or
wasteful result). Titles and the one-line why live in the locales (``appendix.practices.<id>.*``).
They run through the error guide's harness, in a child Python, like the error entries.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

from core.lessons.appendix.errors_guide import SNIPPET_TIMEOUT, SnippetRun, run_snippets


@dataclass(frozen=True)
class Practice:
    id: str
    dont: str          # a script that runs but shows the mistake
    do: str            # the same task done right
    see: tuple[str, str] = ("", "")


def _s(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


PRACTICES: tuple[Practice, ...] = (
    Practice("zero_grad", _s("""
        import torch
        w = torch.tensor(1.0, requires_grad=True)
        for step in range(3):
            loss = (w * 2) ** 2
            loss.backward()                          # gradients add up across steps
            print(step, "grad", w.grad.item())
        """), _s("""
        import torch
        w = torch.tensor(1.0, requires_grad=True)
        opt = torch.optim.SGD([w], lr=0.0)
        for step in range(3):
            opt.zero_grad()                          # start each step from zero
            loss = (w * 2) ** 2
            loss.backward()
            print(step, "grad", w.grad.item())
        """), ("ch02", "2.7")),
    Practice("eval_mode", _s("""
        import torch
        from torch import nn
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.Linear(16, 1))
        x = torch.ones(1, 4)
        print("two predictions:", model(x).item(), model(x).item())   # dropout still active
        """), _s("""
        import torch
        from torch import nn
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.Linear(16, 1))
        x = torch.ones(1, 4)
        model.eval()                                 # dropout off, batch-norm uses running stats
        with torch.no_grad():
            print("two predictions:", model(x).item(), model(x).item())
        """), ("ch03", "3.2")),
    Practice("no_grad_inference", _s("""
        import torch
        from torch import nn
        model = nn.Linear(256, 256)
        out = model(torch.randn(512, 256))
        print("keeps a graph:", out.requires_grad, out.grad_fn is not None)
        """), _s("""
        import torch
        from torch import nn
        model = nn.Linear(256, 256)
        with torch.inference_mode():                 # no graph, no saved activations
            out = model(torch.randn(512, 256))
        print("keeps a graph:", out.requires_grad, out.grad_fn is not None)
        """), ("ch02", "2.6")),
    Practice("log_item", _s("""
        import torch
        w = torch.randn(100, requires_grad=True)
        total = 0
        for _ in range(5):
            loss = (w ** 2).mean()
            total = total + loss                     # a tensor: every step's graph stays alive
        print("logged value still has a graph:", total.grad_fn is not None)
        """), _s("""
        import torch
        w = torch.randn(100, requires_grad=True)
        total = 0.0
        for _ in range(5):
            loss = (w ** 2).mean()
            total += loss.item()                     # a Python float: graphs are freed
        print("logged value:", round(total, 4), type(total).__name__)
        """), ("ch05", "5.4")),
    Practice("logits_to_ce", _s("""
        import torch
        from torch import nn
        logits = torch.tensor([[8.0, 0.0, -8.0]])
        target = torch.tensor([2])
        probs = torch.softmax(logits, dim=1)          # softmax before CrossEntropyLoss: applied twice
        print("loss:", nn.CrossEntropyLoss()(probs, target).item())
        """), _s("""
        import torch
        from torch import nn
        logits = torch.tensor([[8.0, 0.0, -8.0]])
        target = torch.tensor([2])
        print("loss:", nn.CrossEntropyLoss()(logits, target).item())   # raw logits in
        """), ("ch04", "4.1")),
    Practice("bce_with_logits", _s("""
        import torch
        from torch import nn
        logits = torch.tensor([40.0], requires_grad=True)   # a confident, wrong prediction
        loss = nn.BCELoss()(torch.sigmoid(logits), torch.tensor([0.0]))
        loss.backward()
        print("loss", loss.item(), "grad", logits.grad.item())   # sigmoid saturates: no gradient
        """), _s("""
        import torch
        from torch import nn
        logits = torch.tensor([40.0], requires_grad=True)
        loss = nn.BCEWithLogitsLoss()(logits, torch.tensor([0.0]))   # log-sum-exp inside
        loss.backward()
        print("loss", loss.item(), "grad", logits.grad.item())
        """), ("ch04", "4.1")),
    Practice("save_state_dict", _s("""
        import io
        import torch
        from torch import nn
        buffer = io.BytesIO()
        torch.save(nn.Linear(3, 1), buffer)          # pickles the class: needs the same code to load
        buffer.seek(0)
        try:
            torch.load(buffer, weights_only=True)
        except Exception as exc:
            print("the safe loader refuses it:", type(exc).__name__)
        """), _s("""
        import io
        import torch
        from torch import nn
        buffer = io.BytesIO()
        torch.save(nn.Linear(3, 1).state_dict(), buffer)   # tensors only
        buffer.seek(0)
        model = nn.Linear(3, 1)
        print(model.load_state_dict(torch.load(buffer, weights_only=True)))
        """), ("ch05", "5.6")),
    Practice("seed", _s("""
        import torch
        print(torch.randn(3))
        print(torch.randn(3))                        # different numbers every run of the script
        """), _s("""
        import random
        import numpy as np
        import torch


        def seed_everything(seed):
            random.seed(seed)
            np.random.seed(seed)
            torch.manual_seed(seed)                  # also seeds CUDA


        seed_everything(0)
        a = torch.randn(3)
        seed_everything(0)
        print(a, torch.equal(a, torch.randn(3)))     # identical draws
        """), ("ch09", "9.7")),
    Practice("reshape_after_permute", _s("""
        import torch
        x = torch.randn(2, 3, 4).permute(0, 2, 1)
        try:
            x.view(2, 12)
        except RuntimeError as exc:
            print("view refused:", str(exc)[:40])
        """), _s("""
        import torch
        x = torch.randn(2, 3, 4).permute(0, 2, 1)
        print(x.reshape(2, 12).shape, "(reshape copies only when it must)")
        """), ("ch01", "1.4")),
    Practice("device_follow", _s("""
        import torch
        from torch import nn
        model = nn.Linear(3, 1)
        x = torch.randn(2, 3).to("cpu")              # hard-coded device: breaks when the model moves
        print(model(x).device)
        """), _s("""
        import torch
        from torch import nn
        device = "cuda" if torch.cuda.is_available() else "cpu"   # choose once
        model = nn.Linear(3, 1).to(device)
        x = torch.randn(2, 3, device=device)         # create data where the model lives
        print(model(x).device)
        """), ("ch01", "1.6")),
    Practice("no_grad_update", _s("""
        import torch
        w = torch.randn(3, requires_grad=True)
        (w ** 2).sum().backward()
        w.data -= 0.1 * w.grad                       # .data hides the update from autograd's checks
        print(w)
        """), _s("""
        import torch
        w = torch.randn(3, requires_grad=True)
        (w ** 2).sum().backward()
        with torch.no_grad():                        # the documented way to update parameters by hand
            w -= 0.1 * w.grad
        print(w)
        """), ("ch02", "2.6")),
    Practice("clone_not_tensor", _s("""
        import warnings
        import torch
        x = torch.randn(3)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y = torch.tensor(x)                      # copy-constructing from a tensor
        print("warnings:", len(caught))
        """), _s("""
        import torch
        x = torch.randn(3)
        y = x.clone().detach()                       # an independent copy, no warning
        print(torch.equal(x, y), y.data_ptr() != x.data_ptr())
        """), ("ch01", "1.2–1.3")),
)

BY_ID = {p.id: p for p in PRACTICES}


def run_practices(ids: list[str] | None = None, timeout: float = SNIPPET_TIMEOUT) -> dict[str, tuple[SnippetRun, SnippetRun]]:
    """Run the don't and the do half of each practice: ``{id: (dont run, do run)}``."""
    ids = list(ids or BY_ID)
    snippets = []
    for i in ids:
        snippets += [(f"dont_{i}.py", BY_ID[i].dont), (f"do_{i}.py", BY_ID[i].do)]
    runs = run_snippets(snippets, timeout)
    return {i: (runs[2 * k], runs[2 * k + 1]) for k, i in enumerate(ids)}


def takehome_script(practice_id: str) -> str:
    """One download for a pair: the don't half and the do half, each a function called in turn."""
    p = BY_ID[practice_id]
    body = lambda code: textwrap.indent(code, "    ")
    return (f'"""Appendix best practice: {p.id} (don\'t, then do).\n\n    python appendix_practice_{p.id}.py\n"""\n\n\n'
            f"def dont():\n{body(p.dont)}\n\ndef do():\n{body(p.do)}\n\n"
            'if __name__ == "__main__":\n    print("--- don\'t")\n    dont()\n    print("--- do")\n    do()\n')


# ----------------------------------------------------------------------------- D. resources
@dataclass(frozen=True)
class Resource:
    id: str            # locale key appendix.resources.items.<id> (one line on what it is good for)
    kind: str          # "books" | "courses" | "communities"
    name: str          # the title as published (not translated)
    url: str
    languages: str     # languages it exists in


RESOURCES: tuple[Resource, ...] = (
    Resource("d2l", "books", "Dive into Deep Learning / 动手学深度学习", "https://d2l.ai", "en, zh (zh.d2l.ai)"),
    Resource("dlwpt", "books", "Deep Learning with PyTorch (Stevens, Antiga, Viehmann)", "https://www.manning.com/books/deep-learning-with-pytorch", "en, zh"),
    Resource("goodfellow", "books", "Deep Learning (Goodfellow, Bengio, Courville)", "https://www.deeplearningbook.org", "en, zh"),
    Resource("udl", "books", "Understanding Deep Learning (Prince)", "https://udlbook.github.io/udlbook/", "en"),
    Resource("nndl", "books", "神经网络与深度学习 (邱锡鹏)", "https://nndl.github.io", "zh"),
    Resource("tutorials", "courses", "PyTorch Tutorials", "https://pytorch.org/tutorials/", "en"),
    Resource("zero_to_hero", "courses", "Neural Networks: Zero to Hero (Karpathy)", "https://karpathy.ai/zero-to-hero.html", "en"),
    Resource("fastai", "courses", "Practical Deep Learning for Coders (fast.ai)", "https://course.fast.ai", "en"),
    Resource("cs231n", "courses", "CS231n: Deep Learning for Computer Vision (Stanford)", "https://cs231n.stanford.edu", "en"),
    Resource("hf_course", "courses", "Hugging Face Learn (LLM course)", "https://huggingface.co/learn", "en, zh"),
    Resource("hylee", "courses", "李宏毅 机器学习 (NTU)", "https://speech.ee.ntu.edu.tw/~hylee/ml/2023-spring.php", "zh"),
    Resource("forums", "communities", "PyTorch Forums", "https://discuss.pytorch.org", "en"),
    Resource("github", "communities", "pytorch/pytorch on GitHub", "https://github.com/pytorch/pytorch", "en"),
    Resource("stackoverflow", "communities", "Stack Overflow [pytorch]", "https://stackoverflow.com/questions/tagged/pytorch", "en"),
    Resource("hf_forum", "communities", "Hugging Face Forums", "https://discuss.huggingface.co", "en"),
    Resource("d2l_forum", "communities", "D2L discussion forum / 动手学深度学习讨论区", "https://discuss.d2l.ai", "en, zh"),
)
