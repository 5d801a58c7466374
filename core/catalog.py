"""The gallery's table of contents: one entry per page, in the book's order.

Titles and one-line descriptions are translated in the locales (``chapters.<id>.title`` /
``.blurb``). A chapter is *built* when its page file exists; the home page links only
built pages and shows the rest as "in preparation".
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Chapter:
    id: str            # "ch05", also the locale key prefix and the widget module prefix
    number: int        # 0 = preface, 17 = appendix
    part: int          # 0 preface, 1–4 the book's parts, 5 appendix
    page: str          # page file, relative to the repo root
    url_path: str      # URL path segment of the page
    runs: tuple[str, ...]  # what a visitor can do: "train", "infer", "generate", "explore"
    cpu_time: str      # longest live run on a 2-core CPU, default preset (measured by bench/; estimates for unbuilt chapters)

    @property
    def built(self) -> bool:
        return (ROOT / self.page).exists()

    @property
    def widget_module(self) -> str | None:
        """Import path of the Gradio widget for this chapter, if one exists."""
        found = sorted((ROOT / "widgets").glob(f"{self.id}_*.py"))
        return f"widgets.{found[0].stem}" if found else None


CHAPTERS: tuple[Chapter, ...] = (
    Chapter("preface", 0, 0, "pages/preface.py", "preface", ("explore",), "< 1 s"),
    Chapter("ch01", 1, 1, "pages/ch01_tensors.py", "tensors", ("explore",), "< 1 s"),
    Chapter("ch02", 2, 1, "pages/ch02_autograd.py", "autograd", ("explore",), "< 1 s"),
    Chapter("ch03", 3, 1, "pages/ch03_nn.py", "nn", ("explore", "infer"), "< 1 s"),
    Chapter("ch04", 4, 1, "pages/ch04_loss_optim.py", "loss-optim", ("train",), "≈ 1 s"),
    Chapter("ch05", 5, 1, "pages/ch05_training_loop.py", "training-loop", ("train", "infer"), "≈ 4 s"),
    Chapter("ch06", 6, 2, "pages/ch06_data.py", "data", ("explore", "train"), "≈ 2–25 s"),
    Chapter("ch07", 7, 2, "pages/ch07_vision.py", "vision", ("train", "infer"), "≈ 2 s"),
    Chapter("ch08", 8, 2, "pages/ch08_nlp.py", "nlp", ("train", "infer"), "≈ 15 s"),
    Chapter("ch09", 9, 2, "pages/ch09_tricks.py", "tricks", ("train",), "≈ 8 s"),
    Chapter("ch10", 10, 3, "pages/ch10_transformer.py", "transformer", ("train", "generate"), "≈ 60 s"),
    Chapter("ch11", 11, 3, "pages/ch11_llm.py", "llm", ("infer", "train", "generate"), "≈ 2–3 min"),
    Chapter("ch12", 12, 3, "pages/ch12_generative.py", "generative", ("train", "generate"), "≈ 2 min"),
    Chapter("ch13", 13, 3, "pages/ch13_deployment.py", "deployment", ("infer",), "≈ 20 s"),
    Chapter("ch14", 14, 3, "pages/ch14_distributed.py", "distributed", ("train",), "≈ 30 s"),
    Chapter("ch15", 15, 4, "pages/ch15_ecosystem.py", "ecosystem", ("train", "infer"), "≈ 30 s"),
    Chapter("ch16", 16, 4, "pages/ch16_horizon.py", "horizon", ("train", "infer"), "≈ 30 s"),
    Chapter("appendix", 17, 5, "pages/appendix.py", "appendix", ("explore",), "< 1 s"),
)

BY_ID = {c.id: c for c in CHAPTERS}


def built_chapters() -> list[Chapter]:
    return [c for c in CHAPTERS if c.built]
