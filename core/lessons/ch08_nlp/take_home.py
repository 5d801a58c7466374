"""The downloads of the chapter 8 sentiment panels: the lesson's own functions inlined by
``core.takehome``, with a ``__main__`` holding every setting of the run (source, split, vocabulary
size, seed…), so the script trains on the same reviews with the same split and vocabulary as the
page. Under ``TINY`` (the gallery's tests) both use a 1,500-review subset and one epoch."""
from __future__ import annotations

from dataclasses import asdict

from core import takehome
from core.lessons.ch08_nlp.sentiment import (SentimentSettings, classify, compare_cells, comparison_table,
                                             run_summary, train_sentiment)

TINY_LIMIT, TINY_EPOCHS = 1500, 1     # what a script does under HERO_TINY=1 (tests compare against this)
DEVICE = "'cuda' if torch.cuda.is_available() else 'cpu'"


def tiny(s: SentimentSettings) -> SentimentSettings:
    """The settings a take-home script runs under ``HERO_TINY=1``."""
    return SentimentSettings(**{**asdict(s), "limit": TINY_LIMIT, "epochs": TINY_EPOCHS})


def _settings_code(s: SentimentSettings) -> str:
    fields = {k: v for k, v in asdict(s).items() if k not in ("device", "limit", "epochs")}
    args = ", ".join(f"{k}={v!r}" for k, v in fields.items())
    return (f"s = SentimentSettings({args},\n"
            f"                      limit={TINY_LIMIT} if TINY else {s.limit}, epochs={TINY_EPOCHS} if TINY else {s.epochs},\n"
            f"                      device={DEVICE if s.device != 'cpu' else repr('cpu')})\n")


def sentiment_script(s: SentimentSettings, sentence: str = "") -> str:
    """Reproduce the run with settings ``s``: prints the run summary (JSON), then classifies ``sentence``."""
    main = _settings_code(s) + "r = train_sentiment(s)\nprint(json.dumps(run_summary(r), ensure_ascii=False))\n"
    if sentence:
        main += f"print('P(positive) of', {sentence!r}, classify(r, {sentence!r})['p_pos'])\n"
    return takehome.script(train_sentiment, classify, run_summary, filename="ch08_sentiment.py",
                           registry_keys={"ch08_rnn_classifier"}, requires=["snownlp"],
                           main="import json\n" + main)


def compare_script(s: SentimentSettings) -> str:
    """GRU vs LSTM on the same data and seed: one summary line per cell, then the table."""
    return takehome.script(compare_cells, comparison_table, run_summary, filename="ch08_gru_vs_lstm.py",
                           registry_keys={"ch08_rnn_classifier"}, requires=["snownlp"],
                           main="import json\n" + _settings_code(s) + "c = compare_cells(s)\n"
                                "for cell, r in c.runs.items():\n"
                                "    print(json.dumps(run_summary(r), ensure_ascii=False))\n"
                                "for row in comparison_table(c):\n    print(row)\n")
