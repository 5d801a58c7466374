"""Take-home scripts for every chapter-15 code panel (``core.takehome`` inlines the lesson code;
each script reads ``TINY`` and stays small under ``HERO_TINY=1``)."""
from __future__ import annotations

from core import takehome
from core.lessons.ch15_ecosystem import attributions as attr
from core.lessons.ch15_ecosystem import chooser, gnn, study
from core.lessons.ch15_ecosystem import lightning_run as lit

LIT_KEYS = ("digits", "small_cnn")


def _lit_settings(s: lit.LitSettings) -> str:
    return (f"LitSettings(epochs=1 if TINY else {s.epochs}, lr={s.lr!r}, batch_size={s.batch_size}, "
            f"channels={s.channels}, dropout={s.dropout!r}, seed={s.seed})")


def lightning_script(s: lit.LitSettings) -> str:
    main = f"""s = {_lit_settings(s)}
runs = compare_loops(s, None, None)
for name, r in runs.items():
    print(f"{{name:10s}} val_acc {{r.end['val_acc']:.3f}} in {{r.end['seconds']:.1f}} s")
print("Lightning / plain time:", round(runs["lightning"].end["seconds"] / runs["plain"].end["seconds"], 2))"""
    return takehome.script(lit.compare_loops, lit.LitSettings, main=main, filename="ch15_lightning.py",
                           requires=("pytorch-lightning", "scikit-learn"), registry_keys=LIT_KEYS,
                           title="Chapter 15.1: the ch05 CNN as a LightningModule beside the plain loop")


def captum_script(s: attr.DigitAttrSettings) -> str:
    main = f"""model = train_plain(LitSettings(epochs=1 if TINY else 10)).model   # a ch05 CNN trained here
out = explain_validation_digit(model, DigitAttrSettings(index={s.index}, ig_steps={s.ig_steps}))
print("digit", out["label"], "explained for class", out["target"])
print("IG completeness: sum", round(out["ig_sum"], 4), "vs f(x) - f(0)", round(out["output_gap"], 4))
for name, a in out["maps"].items():
    print(name, a.round(2))"""
    return takehome.script(attr.explain_validation_digit, attr.DigitAttrSettings, lit.train_plain, lit.LitSettings,
                           main=main, filename="ch15_captum_digits.py", requires=("captum", "scikit-learn"),
                           registry_keys=LIT_KEYS, title="Chapter 15.2: Captum on a digit classifier")


def tokens_script(P: dict) -> str:
    main = """r = quick_sentiment(limit=400 if TINY else 3000, epochs=1 if TINY else 2)
for text in ("a wonderful, moving film", "boring and far too long"):
    out = token_attributions(r.model, r.vocab, text, 40)
    print(f"P(positive) {out['p_pos']:.2f}:", " ".join(f"{w}({s:+.2f})" for w, s in zip(out["tokens"], out["scores"])))"""
    return takehome.script(attr.quick_sentiment, attr.token_attributions, main=main, filename="ch15_captum_tokens.py",
                           requires=("captum",), registry_keys=("ch08_rnn_classifier",),
                           title="Chapter 15.2: per-token Layer Integrated Gradients for the ch08 sentiment RNN")


def optuna_script(s: study.StudySettings) -> str:
    main = f"""r = run_study(StudySettings(n_trials=2 if TINY else {s.n_trials}, epochs=1 if TINY else {s.epochs}))
for row in r.trials:
    print(row["number"], row["state"], row["value"], row["params"])
open("ch15_study.db", "wb").write(r.storage)
print("best trial", r.best, "- study saved to ch15_study.db; open it with optuna-dashboard sqlite:///ch15_study.db")"""
    return takehome.script(study.run_study, study.StudySettings, main=main, filename="ch15_optuna.py",
                           requires=("optuna", "pytorch-lightning", "scikit-learn"), registry_keys=LIT_KEYS,
                           title="Chapter 15.3: an Optuna study with MedianPruner tuning a Lightning run")


def gnn_script(s: gnn.GNNSettings) -> str:
    main = f"""print("plain vs GCNConv, shared weights:", same_outputs())
r = train_gnn(GNNSettings(conv={s.conv!r}, epochs=20 if TINY else {s.epochs}, frames=5))
print("accuracy on the 30 unlabelled members:", round(r.accuracy, 3))
print("final 2-D embedding:", r.frames[-1]["emb"].round(2).tolist())"""
    return takehome.script(gnn.train_gnn, gnn.same_outputs, gnn.GNNSettings, main=main, filename="ch15_gnn.py",
                           requires=("torch-geometric",), registry_keys=("gcn",),
                           title="Chapter 15.4: a GCN on the karate club, in plain torch and with PyG")


def chooser_script() -> str:
    return takehome.script(chooser.chooser_rows, main="for row in chooser_rows():\n    print(row)",
                           filename="ch15_chooser.py", title="Chapter 15.5: which ecosystem libraries are installed")
