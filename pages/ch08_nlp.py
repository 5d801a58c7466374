"""Chapter 8 — NLP (widgets → core.lessons.ch08_nlp → figures)."""
import random

import pandas as pd
import streamlit as st

from core import viz
from core.device import preset
from core.errors import HeroError
from core import takehome
from core.lessons import ch08_nlp as lesson
from ui import layout, runner, shelf
from ui.i18n import t

P = lesson.PRESETS[preset(layout.device_info())]
DEVICE = layout.device()
S = st.session_state
layout.chapter_header("ch08")


@st.cache_data(show_spinner=False, max_entries=64)
def gradient_comparison(seq_len: int, scale: float, nonlin: str, bias: float) -> dict:
    """Shared by every visitor: the same sliders give the same curves."""
    return lesson.gradient_comparison(seq_len, scale, nonlin, forget_bias=bias)


# 8.1 tokens, vocabulary, padding ----------------------------------------------------------------
layout.section("ch08.tokens", "8.1")
text = st.text_area(t("ch08.tokens.text"), t("ch08.tokens.sample"), height=120, key="ch08_tok_text")
c1, c2, c3 = st.columns(3)
min_freq = c1.slider(t("ch08.tokens.min_freq"), 1, 5, 1, key="ch08_min_freq")
max_size = c2.slider(t("ch08.tokens.max_vocab"), 4, 200, 50, key="ch08_max_vocab")
max_len = c3.slider(t("ch08.tokens.max_len"), 2, 40, 12, key="ch08_max_len")
try:
    tok = lesson.tokenizer_demo(text, min_freq, max_size, max_len)
    if tok["truncated"]:
        st.caption(t("ch08.tokens.truncated", n=lesson.MAX_TEXT_CHARS))
    st.dataframe(pd.DataFrame({t("ch08.tokens.line"): tok["lines"],
                               t("ch08.tokens.tokens"): [" | ".join(x) for x in tok["tokens"]],
                               t("ch08.tokens.ids"): [str(e) for e in tok["encoded"]],
                               t("ch08.tokens.decoded"): [" ".join(d) for d in tok["decoded"]]}),
                 key="ch08_tok_table", hide_index=True)
    c1, c2 = st.columns([1, 2])
    c1.markdown(t("ch08.tokens.vocab_size", n=len(tok["vocab"]), dropped=tok["vocab"].dropped, unk=tok["n_unk"]))
    c1.dataframe(pd.DataFrame({"id": range(len(tok["vocab"])), "token": tok["vocab"].itos}), height=240,
                 key="ch08_vocab_table", hide_index=True)
    ids, mask = tok["ids"], tok["mask"]
    c2.markdown(t("ch08.tokens.batch", shape=str(tuple(ids.shape))))
    c2.plotly_chart(lesson.batch_figure(ids, tok["vocab"], t("ch08.tokens.line"), t("ch08.tokens.position")),
                    key="ch08_ids_heat")
    c2.markdown(t("ch08.tokens.mask"))
    c2.code(str(mask.tolist()).replace("], [", "],\n ["), language="text")
    emb = lesson.embedding_lookup(ids, len(tok["vocab"]))
    st.markdown(t("ch08.tokens.embedding", shape=str(emb["shape"]), diff=f"{emb['max_diff']:.1e}"))
except HeroError as err:
    layout.show_error(err)
layout.code_panel([lesson.tokenize, lesson.build_vocab, lesson.pad_batch, lesson.embedding_lookup],
                  "ch08_tokens.py", "ch08_tok",
                  script=takehome.script(lesson.tokenize, lesson.build_vocab, lesson.pad_batch, lesson.embedding_lookup,
                                         lesson.tokenizer_demo, filename="ch08_tokens.py",
                                         main=f"r = tokenizer_demo({text!r}, {min_freq}, {max_size}, {max_len})\n"
                                              "print(r['tokens'])\nprint(r['vocab'].itos)\nprint(r['ids'])\n"
                                              "print(embedding_lookup(r['ids'], len(r['vocab']))['max_diff'])"))

# 8.2 word embeddings: skip-gram trained live --------------------------------------------------------
layout.section("ch08.embed", "8.2")
c1, c2, c3 = st.columns(3)
sg_dim = c1.select_slider(t("ch08.embed.dim"), [16, 32, 48, 64], value=48, key="ch08_sg_dim")
sg_window = c2.slider(t("ch08.embed.window"), 1, 5, 3, key="ch08_sg_window")
sg_epochs = c3.slider(t("ch08.embed.epochs"), 1, 10, P["sg_epochs"], key="ch08_sg_epochs")
sg = lesson.SkipGramSettings(dim=sg_dim, window=sg_window, epochs=sg_epochs, max_tokens=P["sg_max_tokens"],
                             device=DEVICE)


def draw_sg(run: runner.Run) -> None:
    if steps := run.of_kind("step"):
        st.plotly_chart(viz.step_losses([e["loss"] for e in steps], smooth=5), key="ch08_sg_loss")


sg_result = runner.section("ch08_sg", lambda stop, emit, s=sg: lesson.train_skipgram(s, stop, emit),
                           button=t("ch08.embed.button"), render=draw_sg, accept=lambda r: r.ok)
if sg_result is not None:
    word = st.text_input(t("ch08.embed.word"), "list", key="ch08_sg_word", max_chars=40)
    c1, c2 = st.columns([1, 2])
    try:
        near = lesson.nearest_words(sg_result.vectors, sg_result.vocab, word)
        c1.dataframe(pd.DataFrame(near, columns=[t("ch08.embed.neighbour"), t("ch08.embed.cosine")]),
                     key="ch08_sg_near", hide_index=True)
    except HeroError as err:
        near = []
        with c1:
            layout.show_error(err)
    points = lesson.project_2d(sg_result.vectors, 120)
    c2.plotly_chart(lesson.embedding_figure(points, sg_result.vocab.itos[2:122], [w for w, _ in near]),
                    key="ch08_sg_map")
else:
    st.info(t("ch08.embed.train_first"))
layout.code_panel([lesson.skipgram_pairs, lesson.train_skipgram, lesson.nearest_words, lesson.project_2d],
                  "ch08_skipgram.py", "ch08_sg",
                  script=takehome.script(lesson.skipgram_pairs, lesson.train_skipgram, lesson.nearest_words,
                                         lesson.project_2d, filename="ch08_skipgram.py", registry_keys={"ch08_skipgram"},
                                         main=f"s = SkipGramSettings(dim={sg_dim}, window={sg_window}, "
                                              f"epochs=1 if TINY else {sg_epochs}, max_tokens=12000 if TINY else 0)\n"
                                              "r = train_skipgram(s, None, lambda e: None)\n"
                                              "print('loss', r.losses[0], '->', r.losses[-1])\n"
                                              "print('nearest to list:', nearest_words(r.vectors, r.vocab, 'list'))\n"
                                              "print(project_2d(r.vectors, 5))"))

# 8.3 RNN gradients through time ---------------------------------------------------------------------
layout.section("ch08.grad", "8.3")
c1, c2, c3, c4 = st.columns(4)
seq_len = c1.slider(t("ch08.grad.length"), 5, lesson.MAX_SEQ_STEPS, P["grad_len"], key="ch08_grad_len")
scale = c2.select_slider(t("ch08.grad.scale"), [0.5, 1.0, 1.5, 2.0, 3.0, 4.0], value=1.0, key="ch08_grad_scale")
bias = c3.select_slider(t("ch08.grad.bias"), [0.0, 1.0, 2.0, 3.0], value=1.0, key="ch08_grad_bias")
nonlin = c4.radio(t("ch08.grad.nonlin"), ["tanh", "relu"], horizontal=True, key="ch08_grad_nonlin")
shown = S.get("ch08_grad_shown", False)
comp = gradient_comparison(seq_len, scale, nonlin, bias) if shown else None   # computed once asked for
layout.predict_then_run("ch08_grad", t("ch08.grad.question", n=seq_len), ["RNN", "LSTM", "GRU"],
                        comp["best"].upper() if shown else None)
if st.button(t("ch08.grad.button"), icon=":material/play_arrow:", key="ch08_grad_run"):
    S["ch08_grad_shown"] = shown = True
    comp = gradient_comparison(seq_len, scale, nonlin, bias)
if shown:
    st.plotly_chart(lesson.gradient_figure(comp["norms"], t("ch08.grad.figure")), key="ch08_grad_fig")
    st.markdown(t("ch08.grad.kept", **{c: f"{v:.1e}" for c, v in comp["kept"].items()}))
layout.code_panel(lesson.gradient_through_time, "ch08_gradients.py", "ch08_grad",
                  script=takehome.script(lesson.gradient_through_time, filename="ch08_gradients.py",
                                         main=f"for cell in ('rnn', 'lstm', 'gru'):\n"
                                              f"    g = gradient_through_time(cell, {seq_len}, weight_scale={scale}, "
                                              f"nonlinearity={nonlin!r}, forget_bias={bias})\n"
                                              "    print(cell, 'grad at t=0:', g[0], 'at t=T-1:', g[-1])"))

# 8.4 LSTM gates step by step -------------------------------------------------------------------------
layout.section("ch08.gates", "8.4")
gate_text = st.text_input(t("ch08.gates.text"), t("ch08.gates.sample"), key="ch08_gate_text", max_chars=400)
sent_result = S.get("ch08_sent_result")
try:
    gd = lesson.gate_demo(gate_text, sent_result.model if sent_result else None,
                          sent_result.vocab if sent_result else None)
    st.caption(t("ch08.gates.trained") if gd["trained"] else t("ch08.gates.random"))
    st.plotly_chart(lesson.gates_figure(gd, gd["tokens"]), key="ch08_gate_fig")
    st.markdown(t("ch08.gates.verify", diff=f"{gd['max_diff']:.1e}"))
except HeroError as err:
    layout.show_error(err)
layout.code_panel(lesson.lstm_gates, "ch08_lstm_gates.py", "ch08_gates",
                  script=takehome.script(lesson.lstm_gates, filename="ch08_lstm_gates.py",
                                         main="torch.manual_seed(0)\nlstm = nn.LSTM(16, 16, batch_first=True)\n"
                                              "r = lstm_gates(lstm, torch.randn(8, 16))\n"
                                              "print('forget gate, unit 0:', r['forget'][:, 0])\n"
                                              "print('max |difference| vs nn.LSTM:', r['max_diff'])"))

# 8.5 seq2seq with attention ---------------------------------------------------------------------------
layout.section("ch08.s2s", "8.5")
task_labels = {k: t(f"ch08.s2s.task_{k}") for k in lesson.TASKS}
c1, c2 = st.columns(2)
task = c1.selectbox(t("ch08.s2s.task"), list(task_labels), format_func=task_labels.get, key="ch08_s2s_task")
s2s_epochs = c2.slider(t("ch08.embed.epochs"), 1, 40, P["s2s_epochs"], key="ch08_s2s_epochs")
s2s = lesson.Seq2SeqSettings(task=task, epochs=s2s_epochs, n_pairs=P["s2s_pairs"], device=DEVICE)


def draw_s2s(run: runner.Run) -> None:
    if evals := run.of_kind("eval"):
        st.plotly_chart(viz.curves({t("ch08.s2s.run"): evals}, ["val_loss", "val_exact"]), key="ch08_s2s_curves")


def shelve_s2s(r) -> None:
    shelf.put("ch08", "seq2seq", r.model, f"ch08 seq2seq {r.settings['task']}",
              metric=f"val_exact {r.end.get('val_exact', 0):.1%}",
              info={"task": r.settings["task"], "src_vocab": r.task.src_vocab.itos,
                    "tgt_vocab": r.task.tgt_vocab.itos, "src_len": lesson.MAX_SRC, "max_tgt": lesson.MAX_TGT})


s2s_result = runner.section("ch08_s2s", lambda stop, emit, s=s2s: lesson.train_seq2seq(s, stop, emit),
                            button=t("ch08.s2s.button"), render=draw_s2s, accept=lambda r: r.ok,
                            on_result=shelve_s2s)
if s2s_result is not None:
    done_task = s2s_result.settings["task"]
    st.metric(t("ch08.s2s.exact"), f"{s2s_result.end.get('val_exact', 0):.1%}", task_labels[done_task],
              delta_color="off")
    example = lesson.task_pair(done_task, random.Random(7))[0]
    typed = st.text_input(t("ch08.s2s.input"), example, key=f"ch08_s2s_input_{done_task}", max_chars=200)
    try:
        tr = lesson.translate(s2s_result, typed)
        st.markdown(t("ch08.s2s.output", out=tr["output"] or "∅"))
        if tr["truncated"] or tr["unknown"]:
            st.caption(t("ch08.s2s.unknown", n=lesson.MAX_SRC, words=", ".join(tr["unknown"]) or "—"))
        st.plotly_chart(lesson.attention_figure(tr["attention"], tr["tokens"], tr["out_tokens"]), key="ch08_attn")
    except HeroError as err:
        layout.show_error(err)
else:
    st.info(t("ch08.s2s.train_first"))
layout.code_panel([lesson.train_seq2seq, lesson.translate], "ch08_seq2seq.py", "ch08_s2s",
                  script=takehome.script(lesson.train_seq2seq, lesson.translate, filename="ch08_seq2seq.py",
                                         registry_keys={"ch08_seq2seq"},
                                         main=f"s = Seq2SeqSettings(task={task!r}, epochs=1 if TINY else {s2s_epochs}, "
                                              f"n_pairs=300 if TINY else {P['s2s_pairs']})\n"
                                              "r = train_seq2seq(s, None, lambda e: None)\n"
                                              "print('val_exact', r.end['val_exact'])\n"
                                              "src = task_pair(s.task, random.Random(7))[0]\n"
                                              "print(src, '->', translate(r, src)['output'])"))

# 8.6 torchtext ---------------------------------------------------------------------------------------
layout.section("ch08.torchtext", "8.6")
st.markdown(t("ch08.torchtext.table"))
layout.code_panel(lesson.TORCHTEXT_REPLACEMENT, "ch08_without_torchtext.py", "ch08_tt", expanded=True)

# 8.7 实战: sentiment -----------------------------------------------------------------------------------
layout.section("ch08.sent", "8.7")
source_labels = {k: t(f"ch08.sent.source_{k}") for k in lesson.SENT_SOURCES}
c1, c2, c3 = st.columns(3)
source = c1.radio(t("ch08.sent.source"), list(source_labels), format_func=source_labels.get, key="ch08_sent_src")
cell = c2.radio(t("ch08.sent.cell"), ["gru", "lstm"], horizontal=True, key="ch08_sent_cell")
sent_epochs = c3.slider(t("ch08.embed.epochs"), 1, 6, P["sent_epochs"], key="ch08_sent_epochs")
settings = lesson.SentimentSettings(source=source, cell=cell, epochs=sent_epochs, max_len=P["sent_len"],
                                    batch_size=P["sent_batch"], limit=P["sent_limit"], device=DEVICE)


def draw_sent(run: runner.Run) -> None:
    if evals := run.of_kind("eval"):
        st.plotly_chart(viz.curves({t("ch08.s2s.run"): evals}, ["val_loss", "val_acc"], x="step"),
                        key="ch08_sent_curves")


def shelve_sent(r) -> None:
    shelf.put("ch08", "sentiment", r.model, f"ch08 {r.settings['cell'].upper()} sentiment ({r.settings['source']})",
              metric=f"val_acc {r.end.get('val_acc', 0):.1%}",
              info={"vocab": r.vocab.itos, "max_len": r.settings["max_len"], "source": r.source,
                    "cell": r.settings["cell"], "classes": ["negative", "positive"]})


sent_result = runner.section("ch08_sent", lambda stop, emit, s=settings: lesson.train_sentiment(s, stop, emit),
                             button=t("ch08.sent.button"), render=draw_sent, accept=lambda r: r.ok,
                             on_result=shelve_sent, icon=":material/model_training:")
if sent_result is None:
    st.info(t("ch08.sent.train_first"))
    layout.code_panel([lesson.train_sentiment, lesson.sentiment_split], "ch08_sentiment.py", "ch08_sent_script",
                      script=lesson.sentiment_script(settings))
else:
    c = sent_result.counts
    ran = sent_result.settings["source"] if sent_result.note == "" else "en"     # "en" = the offline fallback
    data_label = sent_result.source if sent_result.source.startswith("SST-2") else source_labels[ran]
    st.caption(t("ch08.sent.data", source=data_label, train=c["train"], val=c["val"]))
    if sent_result.note:
        st.warning(t("ch08.sent.fallback", reason=sent_result.note), icon=":material/cloud_off:")
    st.metric(t("ch08.sent.val_acc"), f"{sent_result.end.get('val_acc', 0):.1%}",
              t("ch08.sent.majority", p=f"{c['majority']:.1%}"), delta_color="off")
    lang2 = sent_result.settings["source"][:2]
    sentence = st.text_input(t("ch08.sent.input"), t(f"ch08.sent.example_{lang2}"), key=f"ch08_sent_input_{lang2}",
                             max_chars=lesson.MAX_TEXT_CHARS)
    classified = ""         # the sentence the download classifies too (only one the lesson accepted)
    try:
        out = lesson.classify(sent_result, sentence)
        classified = sentence
        label = t("ch08.sent.pos") if out["label"] else t("ch08.sent.neg")
        st.markdown(t("ch08.sent.prediction", label=label, p=f"{out['p_pos']:.1%}"))
        st.markdown(lesson.coloured_tokens_html(out["tokens"], out["contributions"],
                                                zh=sent_result.settings["source"] == "zh"), unsafe_allow_html=True)
        st.caption(t("ch08.sent.legend") + (" " + t("ch08.sent.cut", n=sent_result.settings["max_len"])
                                            if out["truncated"] else ""))
    except HeroError as err:
        layout.show_error(err)
    # the download reproduces the run that finished (its source, split, vocabulary and seed), not the sliders
    layout.code_panel([lesson.train_sentiment, lesson.sentiment_split, lesson.classify], "ch08_sentiment.py",
                      "ch08_sent_script", script=lesson.sentiment_script(lesson.SentimentSettings(**sent_result.settings),
                                                                         classified))

# compare runs: GRU vs LSTM, the same reviews, split, vocabulary and seed ---------------------------------
st.markdown(f"##### {t('ch08.cmp.title')}")
st.caption(t("ch08.cmp.intro"))


def draw_cmp(run: runner.Run) -> None:
    evals = run.of_kind("eval")
    if evals:
        st.plotly_chart(viz.curves({c.upper(): [e for e in evals if e["run"] == c] for c in ("gru", "lstm")},
                                   ["val_loss", "val_acc"], x="step"), key="ch08_cmp_live")


cmp_result = runner.section("ch08_cmp", lambda stop, emit, s=settings: lesson.compare_cells(s, stop, emit),
                            button=t("ch08.cmp.button"), render=draw_cmp, accept=lambda r: r.ok,
                            icon=":material/compare_arrows:", primary=False)
if cmp_result is not None:
    st.plotly_chart(viz.curves({c.upper(): r.history for c, r in cmp_result.runs.items()}, ["val_loss", "val_acc"],
                               x="step"), key="ch08_cmp_curves")
    st.dataframe(pd.DataFrame(lesson.comparison_table(cmp_result)).rename(columns={
        "cell": t("ch08.sent.cell"), "val_acc": t("ch08.sent.val_acc"), "best_val_acc": t("ch08.cmp.best"),
        "parameters": t("ch08.cmp.params"), "seconds": t("ch08.cmp.seconds")}), hide_index=True, key="ch08_cmp_table")
    first = next(iter(cmp_result.runs.values()))
    st.caption(t("ch08.cmp.same", source=first.source, train=first.counts["train"], val=first.counts["val"],
                 vocab=len(first.vocab), seed=first.settings["seed"]))
    layout.code_panel([lesson.compare_cells, lesson.comparison_table], "ch08_gru_vs_lstm.py", "ch08_cmp_code",
                      script=lesson.compare_script(lesson.SentimentSettings(
                          **{**next(iter(cmp_result.runs.values())).settings, "cell": "gru"})))
