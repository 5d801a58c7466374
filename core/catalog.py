"""The gallery's table of contents: one entry per page, in the book's order.

Titles and one-line descriptions are translated in the locales (``chapters.<id>.title`` /
``.blurb``). A chapter is *built* when its page file exists; the home page links only
built pages and shows the rest as "in preparation".
"""
from __future__ import annotations

import datetime
import json
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CARDS_FILE = ROOT / "bench" / "cards.json"   # measured card figures, written by the benches (committed)


@dataclass(frozen=True)
class Chapter:
    id: str            # "ch05", also the locale key prefix and the widget module prefix
    number: int        # 0 = preface, 17 = appendix
    part: int          # 0 preface, 1–4 the book's parts, 5 appendix
    page: str          # page file, relative to the repo root
    url_path: str      # URL path segment of the page
    runs: tuple[str, ...]  # what a visitor can do: "train", "infer", "generate", "explore"
    cpu_time: str      # the author's estimate of the longest live run (planning only; the home card shows `measured`)

    @property
    def built(self) -> bool:
        return (ROOT / self.page).exists()

    @property
    def widget_module(self) -> str | None:
        """Import path of the Gradio widget for this chapter, if one exists."""
        found = sorted((ROOT / "widgets").glob(f"{self.id}_*.py"))
        return f"widgets.{found[0].stem}" if found else None

    @property
    def measured(self) -> "Measured | None":
        """The chapter's longest live run as a bench measured it (``bench/cards.json``), or None."""
        return measured(self.id)


@dataclass(frozen=True)
class Measured:
    """One home-card figure: what ran, how long it took, when and on what machine."""
    seconds: float
    what: dict         # {"en": ..., "zh": ...}: the run measured, e.g. "DCGAN default preset until the goal"
    date: str          # ISO date of the measurement
    machine: dict      # {"device": "cpu", "cores": 2, "load": 1.3 | "quiet" | "10–18", "cpu": model name}


def measured(chapter_id: str, path: Path | None = None) -> Measured | None:
    """The figure recorded for ``chapter_id`` in the cards file, or None when none was measured."""
    entry = load_cards(path).get(chapter_id)
    return Measured(float(entry["seconds"]), entry["what"], entry["date"], entry["machine"]) if entry else None


def load_cards(path: Path | None = None) -> dict:
    path = path or CARDS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def machine_now(device: str = "cpu") -> dict:
    """This machine as a card states it: device, cores this process may use, 1-minute load, CPU model."""
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None
    return {"device": device, "cores": cores, "load": load, "cpu": model}


def record_measurement(chapter_id: str, seconds: float, what: dict, machine: dict | None = None,
                       date: str | None = None, path: Path | None = None, force: bool = False) -> dict | None:
    """Write (or replace) ``chapter_id``'s card figure: benches call this with their headline run.
    ``what`` is {"en": ..., "zh": ...}; the machine defaults to this one, now. A figure taken while
    the load average exceeds the cores is not what a visitor would wait: it is not recorded
    (returns None) unless ``force`` or HERO_RECORD_CARDS=1."""
    if chapter_id not in BY_ID:
        raise KeyError(chapter_id)
    if not (isinstance(what, dict) and what.get("en") and what.get("zh")):
        raise ValueError("what needs an English and a Chinese text")
    machine = machine or machine_now()
    load = machine.get("load")
    if isinstance(load, (int, float)) and load > machine.get("cores", 1) and not (
            force or os.environ.get("HERO_RECORD_CARDS") == "1"):
        return None
    path = path or CARDS_FILE
    cards = load_cards(path)
    cards[chapter_id] = {"seconds": round(float(seconds), 2 if seconds < 10 else 1), "what": what,
                         "date": date or datetime.date.today().isoformat(), "machine": machine}
    ordered = {c.id: cards[c.id] for c in CHAPTERS if c.id in cards}
    path.write_text(json.dumps(ordered, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return cards[chapter_id]


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
    Chapter("ch12", 12, 3, "pages/ch12_generative.py", "generative", ("train", "generate"), "≈ 1.5 min"),
    Chapter("ch13", 13, 3, "pages/ch13_deployment.py", "deployment", ("infer",), "≈ 20 s"),
    Chapter("ch14", 14, 3, "pages/ch14_distributed.py", "distributed", ("train",), "≈ 30 s"),
    Chapter("ch15", 15, 4, "pages/ch15_ecosystem.py", "ecosystem", ("train", "infer"), "≈ 30 s"),
    Chapter("ch16", 16, 4, "pages/ch16_horizon.py", "horizon", ("train", "infer"), "≈ 30 s"),
    Chapter("appendix", 17, 5, "pages/appendix.py", "appendix", ("explore",), "< 1 s"),
)

BY_ID = {c.id: c for c in CHAPTERS}


def built_chapters() -> list[Chapter]:
    return [c for c in CHAPTERS if c.built]
