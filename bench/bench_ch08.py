"""Chapter 8 benchmark (a script, not a test): run with `taskset -c 0,1 .venv/bin/python bench/bench_ch08.py`.

Set HERO_THREADS=1 on a machine shared with other jobs (2 intra-op threads on 2 busy cores are
far slower than 1). Measures, with the "default" preset: the server time of every interactive (non-training) call
(median of repeats), and the live trainings — skip-gram, seq2seq (time until ≥ 90 % exact match),
the sentiment 实战 (whole run; recorded as the ch08 home card on a quiet machine) and GRU vs LSTM
on the same data and seed. Prints a table and writes bench/results/ch08.json.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing import median_time  # noqa: E402
from core import catalog  # noqa: E402
from core.device import configure_threads  # noqa: E402
from core.lessons import ch08_nlp as lesson  # noqa: E402

P = lesson.PRESETS["default"]




def main() -> None:
    threads = configure_threads()
    rows: dict[str, float] = {}
    text = "I loved this movie, it was great!\nThe plot was boring.\n这部电影太好看了！\n剧情很无聊。"
    rows["tokenizer_demo + embedding_lookup"] = median_time(
        lambda: lesson.embedding_lookup(lesson.tokenizer_demo(text)["ids"], 50))
    rows[f"gradient_comparison (T={P['grad_len']})"] = median_time(lambda: lesson.gradient_comparison(P["grad_len"]))
    rows["gradient_comparison (T=200, max)"] = median_time(lambda: lesson.gradient_comparison(200), 3)
    rows["gate_demo"] = median_time(lambda: lesson.gate_demo("the movie was not good but the actors were great"))

    # live trainings (one run each)
    start = time.perf_counter()
    sg = lesson.train_skipgram(lesson.SkipGramSettings(epochs=P["sg_epochs"]))
    rows[f"train_skipgram ({P['sg_epochs']} epochs)"] = time.perf_counter() - start
    rows["nearest_words + project_2d"] = median_time(
        lambda: (lesson.nearest_words(sg.vectors, sg.vocab, "list"), lesson.project_2d(sg.vectors, 120)))

    reached = {}
    for task in sys.argv[1:] or ("num_en",):      # e.g. `bench_ch08.py num_en date_zh`
        start = time.perf_counter()

        def emit(event, task=task, start=start):
            if event["kind"] == "eval" and event.get("val_exact", 0) >= 0.9 and task not in reached:
                reached[task] = time.perf_counter() - start
        s2s = lesson.train_seq2seq(lesson.Seq2SeqSettings(task=task, epochs=P["s2s_epochs"], n_pairs=P["s2s_pairs"]),
                                   emit=emit)
        rows[f"train_seq2seq {task} ({P['s2s_epochs']} epochs)"] = time.perf_counter() - start
        rows[f"seq2seq {task} final exact match (fraction)"] = s2s.end.get("val_exact", 0.0)
        rows[f"seq2seq {task} seconds to >= 90% exact"] = reached.get(task, float("nan"))
    rows["translate"] = median_time(lambda: lesson.translate(s2s, "二〇二一年三月五日"))

    start = time.perf_counter()
    sent = lesson.train_sentiment(lesson.SentimentSettings(source="zh", epochs=P["sent_epochs"], max_len=P["sent_len"],
                                                             batch_size=P["sent_batch"]))
    rows[f"train_sentiment zh GRU ({P['sent_epochs']} epochs, full data)"] = time.perf_counter() - start
    rows["sentiment zh val_acc (fraction)"] = sent.end.get("val_acc", 0.0)
    rows["sentiment zh majority baseline (fraction)"] = sent.counts["majority"]
    rows["classify (occlusion, one sentence)"] = median_time(lambda: lesson.classify(sent, "这本书内容很好，物流也快，非常满意"))

    # compare runs: GRU vs LSTM on the same reviews, split, vocabulary and seed (the page's compare button)
    cmp = lesson.compare_cells(lesson.SentimentSettings(source="zh", epochs=P["sent_epochs"], max_len=P["sent_len"],
                                                        batch_size=P["sent_batch"]))
    for row in lesson.comparison_table(cmp):
        rows[f"compare: {row['cell']} seconds"] = row["seconds"]
        rows[f"compare: {row['cell']} val_acc (fraction)"] = row["val_acc"]
    sent_s = rows[f"train_sentiment zh GRU ({P['sent_epochs']} epochs, full data)"]
    card = catalog.record_measurement("ch08", sent_s, {
        "en": f"sentiment 实战, all {sent.counts['total']:,} Chinese reviews, {P['sent_epochs']} epochs, "
              f"to {sent.end.get('val_acc', 0):.1%}",
        "zh": f"情感分析实战：全部 {sent.counts['total']:,} 条中文评论，{P['sent_epochs']} 轮，"
              f"达到 {sent.end.get('val_acc', 0):.1%}"})

    print(f"torch threads: {threads}; 1-minute load average {os.getloadavg()[0]:.1f}")
    print("home card:", "recorded in bench/cards.json" if card else "not recorded (machine loaded; HERO_RECORD_CARDS=1 forces)")
    for name, value in rows.items():
        print(f"{name:<55} {value:10.3f}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ch08.json").write_text(json.dumps({"threads": threads, "preset": "default", "seconds_or_value": rows},
                                              indent=2))


if __name__ == "__main__":
    main()
