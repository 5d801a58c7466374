"""Chapter 11 — LLMs with Hugging Face transformers, offline (widgets → core.lessons.ch11_llm → figures)."""
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import viz
from core.device import preset
from core.errors import HeroError
from core.lessons import ch11_llm as ch11
from core.lessons.ch11_llm import bias, cost, decoding as dec, heads, hf_trainer as hft, lora, prompting as pr, search
from core.lessons.ch11_llm import downloads as dl, sentiment as sent, tokens as tk
from core.weights import cache_dir
from ui import layout, runner, shelf
from ui.i18n import error_text, t

P = ch11.PRESETS[preset(layout.device_info())]
DEV = layout.device()
layout.chapter_header("ch11")


@st.cache_resource(show_spinner=False)
def minilm():
    """One MiniLM per server, shared by every visitor: inference only (eval, no_grad), never trained here."""
    return tk.load_minilm()


@st.cache_resource(show_spinner=False)
def bpe(vocab: int, chars: int):
    return tk.train_bpe(vocab, chars)


@st.cache_resource(show_spinner=False)
def shipped_gpt():
    """The shipped character GPT-2 (models/ch11_char_gpt2.safetensors): generation only; LoRA copies it."""
    return dec.shipped_char_gpt()


@st.cache_data(show_spinner=False, max_entries=16)
def lora_memory(rank: int, target: str, ident: int, _gpt) -> dict:
    return lora.memory_compare(_gpt, lora.LoraSettings(r=rank, targets=target))


def curves_of(key: str, kind: str, metric: str, label: str, split: tuple = ()):
    """A runner render: the run's ``kind`` events as a ``metric`` curve over steps (one line per ``run`` tag in ``split``)."""
    def render(run: runner.Run) -> None:
        if ev := run.of_kind(kind):
            runs = {t(f"ch11.hf.{n}"): [e for e in ev if e.get("run") == n] for n in split} if split else {"": ev}
            st.plotly_chart(viz.curves(runs, [metric], {metric: label, "step": "step"}, x="step"), key=key)
    return render


with st.spinner(t("ch11.loading")):
    TOK, MODEL = minilm()
MODEL.to(DEV)

# 11.1 WordPiece explorer and the token tax ----------------------------------------------------------
layout.section("ch11.tok", "11.1")
c1, c2 = st.columns(2)
text_en = c1.text_area(t("ch11.tok.text_en"), tk.SAMPLES["en"], key="ch11_text_en", height=80)
text_zh = c2.text_area(t("ch11.tok.text_zh"), tk.SAMPLES["zh"], key="ch11_text_zh", height=80)
shown = st.radio(t("ch11.tok.shown"), ["en", "zh"], format_func=lambda k: t(f"ch11.tok.lang.{k}"), horizontal=True,
                 key="ch11_tok_lang")
if (rows := layout.tried(tk.wordpiece_table, text_en if shown == "en" else text_zh, TOK)) is not None:
    st.dataframe(pd.DataFrame([{t("ch11.tok.col.token"): r["token"], "id": r["id"], t("ch11.tok.col.special"): r["special"],
                                "attention_mask": r["mask"], t("ch11.tok.col.offsets"): f"{r['start']}–{r['end']}",
                                t("ch11.tok.col.text"): r["text"]} for r in rows]), hide_index=True, key="ch11_wp_table")
    st.caption(t("ch11.tok.count", n=len(rows), unk=sum(r["token"] == TOK.unk_token for r in rows)))
st.subheader(t("ch11.tok.tax"))
with st.spinner(t("ch11.tok.bpe_training")):
    BPE = bpe(P["bpe_vocab"], P["bpe_chars"])
tax_labels = {"en": t("ch11.tok.lang.en"), "zh": t("ch11.tok.lang.zh"), "wordpiece": "MiniLM WordPiece",
              "bpe": t("ch11.tok.bpe", n=BPE.get_vocab_size()), "char": t("ch11.tok.char"),
              "per_char": t("ch11.tok.per_char")}
if (tax := layout.tried(tk.token_tax, {"en": text_en, "zh": text_zh}, TOK, BPE)) is not None:
    st.plotly_chart(tk.tax_figure(tax, tax_labels, t("ch11.tok.tax_chart")), key="ch11_tax_fig")
    st.dataframe(pd.DataFrame([{t("ch11.tok.col.text"): tax_labels[r["text"]], t("ch11.tok.col.tokenizer"): tax_labels[r["tokenizer"]],
                                t("ch11.tok.col.tokens"): r["tokens"], t("ch11.tok.per_char"): f"{r['per_char']:.2f}",
                                t("ch11.tok.col.window"): f"{r['window_share']:.1%}", "[UNK]": r["unk"]} for r in tax]),
                 hide_index=True, key="ch11_tax_table")
    st.caption(t("ch11.tok.tax_note"))
layout.code_panel(**dl.tokens(text_en, text_zh, P["bpe_vocab"], P["bpe_chars"]), key="ch11_tok")

# 11.2 semantic search ----------------------------------------------------------------------------
layout.section("ch11.search", "11.2")
PARAS = search.paragraphs(P["paragraphs"])


def embed_job(stop, emit):
    def progress(done, total):
        if stop.is_set():
            raise HeroError("ch11.stopped")
        emit({"kind": "progress", "done": done, "total": total, "text": f"{done}/{total}"})   # no t(): never st.* in a job
    emb, cached = search.corpus_embeddings(PARAS, TOK, MODEL, cache_dir() / "ch11", DEV, on_batch=progress)
    return {"emb": emb, "cached": cached, "n": len(PARAS)}


found = runner.section("ch11_embed", embed_job, button=t("ch11.search.embed", n=len(PARAS)))
if found is not None and found["n"] == len(PARAS):
    st.caption(t("ch11.search.from_cache" if found["cached"] else "ch11.search.computed", n=found["n"]))
    c1, c2 = st.columns([4, 1])
    query = c1.text_input(t("ch11.search.query"), "How do I catch an exception?", key="ch11_query")
    k = c2.slider(t("ch11.search.k"), 1, 10, 5, key="ch11_k")
    res = layout.tried(search.search, query, PARAS, found["emb"], TOK, MODEL, DEV, k)
    if res is not None:
        st.dataframe(pd.DataFrame([{"#": h["rank"], t("ch11.search.cosine"): f"{h['score']:.3f}",
                                    t("ch11.search.paragraph"): h["text"][:300]} for h in res["hits"]]),
                     hide_index=True, key="ch11_hits")
    st.plotly_chart(search.map_figure(PARAS, found["emb"], res, {k_: t(f"ch11.search.{k_}") for k_ in ("corpus", "hits", "query")},
                                      t("ch11.search.map")), key="ch11_map")
else:
    st.info(t("ch11.search.embed_first"))
layout.code_panel(**dl.semantic_search(P["paragraphs"]), key="ch11_search")

# 11.3 sentiment on frozen features ---------------------------------------------------------------
layout.section("ch11.sent", "11.3")
sent_settings = sent.FrozenSettings(n=st.select_slider(t("ch11.sent.n"), [40, 80, 200, 600, 1200, 2400], P["sent_n"],
                                                       key="ch11_sent_n"), device=DEV)
frozen = runner.section("ch11_sent", lambda stop, emit, s=sent_settings: sent.frozen_sentiment(s, TOK, MODEL, stop, emit),
                        button=t("ch11.sent.train"))
if frozen is not None:
    c1, c2, c3 = st.columns(3)
    c1.metric(t("ch11.sent.val_acc"), f"{frozen['val_acc']:.1%}")
    c2.metric(t("ch11.sent.embed_s"), f"{frozen['embed_seconds']:.1f} s")
    c3.metric(t("ch11.sent.fit_s"), f"{frozen['fit_seconds']:.2f} s")
    own = st.text_input(t("ch11.sent.yours"), "the hotel was lovely and the staff were wonderful", key="ch11_sent_text")
    if (p := layout.tried(sent.predict_sentiment, [own], frozen["classifier"], TOK, MODEL, DEV)) is not None:
        st.progress(float(p[0]), text=t("ch11.sent.p_pos", p=f"{p[0]:.1%}"))
    st.caption(t("ch11.sent.note", n_train=frozen["n_train"], n_val=frozen["n_val"]))
layout.code_panel(**dl.frozen(sent_settings), key="ch11_sent")

st.subheader(t("ch11.sent.ft_title"))
ft_settings = sent.FineTuneSettings(n=sent_settings.n, steps=P["ft_steps"], eval_every=max(1, P["ft_steps"] // 4), device=DEV)


def draw_ft(run: runner.Run) -> None:
    runs = {t("ch11.sent.finetuned"): run.of_kind("eval")}
    if frozen is not None:           # the frozen run's accuracy as a flat reference line, same data and seed
        runs[t("ch11.sent.frozen")] = [{"step": 0, "val_acc": frozen["val_acc"]}, {"step": ft_settings.steps, "val_acc": frozen["val_acc"]}]
    st.plotly_chart(viz.curves(runs, ["val_acc"], {"val_acc": t("ch11.sent.val_acc"), "step": "step"}, x="step"),
                    key="ch11_ft_live")


def shelve_ft(r: dict) -> None:
    shelf.put("ch11", "sentiment-minilm", r["encoder"], "minilm-sentiment", metric=f"val_acc {r['val_acc']:.1%}",
              info={"head": "Linear(384, 2) on mean pooling", "files": "save_pretrained + head.pt"}, files=lambda: sent.finetuned_files(r, TOK))


ft = runner.section("ch11_ft", lambda stop, emit, s=ft_settings: sent.finetune_sentiment(s, TOK, MODEL, stop, emit),
                    button=t("ch11.sent.ft_train", steps=ft_settings.steps), render=draw_ft,
                    accept=lambda r: r["val_acc"] == r["val_acc"], on_result=shelve_ft)
if ft is not None:
    st.metric(t("ch11.sent.ft_acc"), f"{ft['val_acc']:.1%}", f"{ft['seconds']:.0f} s", delta_color="off")
st.caption(t("ch11.sent.ft_note"))
layout.code_panel(**dl.finetune(ft_settings), key="ch11_ft")

st.subheader(t("ch11.heads.title"))
st.markdown(t("ch11.heads.intro"))
head_s = heads.HeadSettings(**P["heads"], device=DEV)
c1, c2 = st.columns(2)
with c1:
    ner = runner.section("ch11_ner", lambda stop, emit, s=head_s: heads.train_head("ner", s, TOK, stop, emit),
                         button=t("ch11.heads.train_ner", steps=head_s.steps), accept=lambda r: r["val_acc"] == r["val_acc"],
                         render=curves_of("ch11_ner_live", "eval", "val_acc", t("ch11.heads.ner_acc")))
    if ner is not None:
        st.metric(t("ch11.heads.ner_acc"), f"{ner['val_acc']:.1%}")
        ner_text = st.text_input(t("ch11.heads.ner_text"), "yesterday grace hopper visited nasa in boston .", key="ch11_ner_text")
        if (pairs := layout.tried(heads.tag_words, ner_text, ner["model"], TOK)) is not None:
            st.markdown(heads.tagged_markdown(pairs))
with c2:
    qa = runner.section("ch11_qa", lambda stop, emit, s=head_s: heads.train_head("qa", s, TOK, stop, emit),
                        button=t("ch11.heads.train_qa", steps=head_s.steps), accept=lambda r: r["val_acc"] == r["val_acc"],
                        render=curves_of("ch11_qa_live", "eval", "val_acc", t("ch11.heads.qa_acc")))
    if qa is not None:
        st.metric(t("ch11.heads.qa_acc"), f"{qa['val_acc']:.1%}")
        ex = heads.qa_examples(1, 7)[0]
        question = st.text_input(t("ch11.heads.question"), ex["question"], key="ch11_qa_q")
        context = st.text_area(t("ch11.heads.context"), ex["context"], key="ch11_qa_c", height=80)
        if (ans := layout.tried(heads.answer, question, context, qa["model"], TOK)) is not None:
            st.markdown(heads.highlighted_markdown(context.strip(), ans["start"], ans["end"]))
            st.caption(t("ch11.heads.span", answer=ans["answer"], score=f"{ans['score']:.1f}"))
st.caption(t("ch11.heads.note"))
layout.code_panel(**dl.ner_qa(head_s), key="ch11_heads")

# 11.4 memory cost ---------------------------------------------------------------------------------
layout.section("ch11.cost", "11.4")
c1, c2, c3, c4 = st.columns(4)
dtype = c1.selectbox(t("ch11.cost.dtype"), list(cost.BYTES), 1, key="ch11_dtype")
training = c2.toggle(t("ch11.cost.training"), True, key="ch11_training")
batch = c3.select_slider(t("ch11.cost.batch"), [1, 2, 4, 8, 16, 32], 1, key="ch11_batch")
seq = c4.select_slider(t("ch11.cost.seq"), [128, 512, 1024, 2048, 4096], 1024, key="ch11_seq")
if training and dtype in ("int8", "int4"):
    st.info(t("ch11.cost.int_training"))
table = cost.cost_table(dtype, batch, seq, training)
terms = [k for k in ("weights", "gradients", "optimizer", "activations", "kv_cache") if k in table[0]]
fig = go.Figure([go.Bar(name=t(f"ch11.cost.term.{k}"), x=[r["model"] for r in table], y=[r[k] for r in table],
                        marker_color=viz.PALETTE[i]) for i, k in enumerate(terms)])
fig.update_layout(barmode="stack", yaxis={"title": "GiB", "type": "log"})
st.plotly_chart(viz.style(fig, t("ch11.cost.chart")), key="ch11_cost_fig")
st.dataframe(pd.DataFrame([{t("ch11.cost.model"): r["model"], t("ch11.cost.params"): f"{r['params_b']:.3g} B",
                            **{t(f"ch11.cost.term.{k}"): f"{r[k]:.2f}" for k in terms}, t("ch11.cost.total"): f"{r['total']:.1f}"}
                           for r in table]), hide_index=True, key="ch11_cost_table")
if st.button(t("ch11.cost.measure"), key="ch11_measure"):
    S = st.session_state
    S["ch11_measured"] = cost.measure_small(device=DEV)
if "ch11_measured" in st.session_state:
    m = st.session_state["ch11_measured"]
    st.dataframe(pd.DataFrame([{t("ch11.cost.quantity"): t(f"ch11.cost.q.{q}"), t("ch11.cost.measured"): f"{m[q]:,}",
                                t("ch11.cost.formula"): f"{int(m[q + '_formula']):,}"}
                               for q in ("params", "weight_bytes", "optimizer_bytes", "kv_bytes")]),
                 hide_index=True, key="ch11_measured_table")
st.caption(t("ch11.cost.note"))
layout.code_panel(**dl.memory_cost(dtype, batch, seq, training), key="ch11_cost")

# 11.5 decoding and prompting -----------------------------------------------------------------------
layout.section("ch11.dec", "11.5")
gpt_settings = dec.TinyGPTSettings(**P["gpt"], device=DEV)
trained = runner.section("ch11_gpt", lambda stop, emit, s=gpt_settings: dec.train_char_gpt(s, stop, emit),
                         button=t("ch11.dec.train", steps=gpt_settings.steps), primary=False, accept=lambda r: len(r.losses) > 0,
                         render=curves_of("ch11_gpt_live", "step", "loss", t("ch11.dec.loss")))
if trained is not None:
    st.caption(t("ch11.dec.trained", steps=len(trained.losses), loss=f"{trained.losses[-1]:.2f}", s=f"{trained.seconds:.0f}"))
GPTS = {"shipped": shipped_gpt(), **({"trained": trained} if trained is not None else {})}
pick = st.radio(t("ch11.dec.model"), list(GPTS), format_func=lambda k: t(f"ch11.dec.src.{k}"), horizontal=True, key="ch11_gpt_pick")
gpt = GPTS[pick]
c1, c2 = st.columns([3, 1])
prompt = c1.text_input(t("ch11.dec.prompt"), "The value of ", key="ch11_prompt")
n_new = c2.slider(t("ch11.dec.n_new"), 4, 60, P["gen_new"], key="ch11_n_new")
if st.button(t("ch11.dec.run"), key="ch11_decode"):
    st.session_state["ch11_decoded"] = layout.tried(dec.decode_all, gpt, prompt, n_new, 0, DEV)
    st.session_state["ch11_tree"] = st.session_state["ch11_decoded"] and dec.beam_tree(gpt, prompt, min(n_new, 10), 3, DEV)
if out := st.session_state.get("ch11_decoded"):
    if out["dropped"]:
        st.warning(t("ch11.dec.dropped", chars=" ".join(repr(c) for c in out["dropped"])))
    st.dataframe(pd.DataFrame([{t("ch11.dec.strategy"): t(f"ch11.dec.s.{r['strategy']}"), t("ch11.dec.settings"): r["settings"],
                                t("ch11.dec.text"): repr(r["text"])} for r in out["rows"]]), hide_index=True, key="ch11_dec_table")
    st.dataframe(pd.DataFrame([{t("ch11.dec.beam"): b["beam"], t("ch11.dec.logprob"): f"{b['logprob']:.2f}",
                                t("ch11.dec.text"): repr(b["text"])} for b in out["beams"]]), hide_index=True, key="ch11_beam_table")
    st.caption(t("ch11.dec.note"))
    if tree := st.session_state.get("ch11_tree"):
        st.plotly_chart(dec.tree_figure(tree, t("ch11.dec.tree", best=repr(tree["best"]), lp=f"{tree['best_logprob']:.2f}"),
                                        {"step": t("ch11.dec.step"), "rank": t("ch11.dec.rank")}), key="ch11_tree_fig")
        st.caption(t("ch11.dec.tree_note"))
layout.code_panel(**dl.decoding(gpt_settings), key="ch11_dec")

st.subheader(t("ch11.prompt.title"))
st.markdown(t("ch11.prompt.intro"))
c1, c2, c3 = st.columns([3, 1, 2])
question = c1.text_input(t("ch11.prompt.question"), "Raise an exception", key="ch11_pq")
expected = c2.text_input(t("ch11.prompt.expected"), "raise", key="ch11_pa")
shots = c3.radio(t("ch11.prompt.shots"), [0, 1, 4], index=1, horizontal=True, key="ch11_shots")
messages = pr.chat_messages(question, shots)
st.code(pr.char_tokenizer(gpt.chars).apply_chat_template(messages, tokenize=False, add_generation_prompt=True), language=None)
st.caption(t("ch11.prompt.template_note"))
if (rows := layout.tried(pr.zero_vs_few, gpt, question, expected.strip() or None)) is not None:
    st.dataframe(pd.DataFrame([{t("ch11.prompt.shots"): r["shots"], t("ch11.prompt.chars"): r["prompt_chars"],
                                t("ch11.prompt.fits"): r["fits"], t("ch11.dec.text"): repr(r["continuation"]),
                                t("ch11.prompt.logprob"): None if r["answer_logprob"] is None else round(r["answer_logprob"], 3)}
                               for r in rows]), hide_index=True, key="ch11_shots_table")
st.caption(t("ch11.prompt.honest", n=gpt.model.config.n_positions))
if st.checkbox(t("ch11.prompt.online", model=pr.ONLINE_MODEL), False, key="ch11_online"):
    if st.button(t("ch11.prompt.ask"), key="ch11_ask"):
        try:
            st.session_state["ch11_online_reply"] = pr.online_chat(messages)
        except HeroError as err:
            st.session_state["ch11_online_reply"] = err
    if isinstance(reply := st.session_state.get("ch11_online_reply"), HeroError):
        st.warning(error_text(reply), icon=":material/cloud_off:")
    elif reply:
        st.code(reply["rendered"], language=None)
        st.success(reply["reply"])
layout.code_panel(**dl.prompting(question, shots, expected.strip() or None), key="ch11_prompt")

# 11.6 LoRA ----------------------------------------------------------------------------------------
layout.section("ch11.lora", "11.6")
c1, c2 = st.columns(2)
rank = c1.select_slider(t("ch11.lora.rank"), [1, 2, 4, 8, 16, 32, 64, 128, 256], 8, key="ch11_lora_r")
target = c2.radio(t("ch11.lora.targets"), list(lora.TARGETS), format_func=lambda k: t(f"ch11.lora.t.{k}"), horizontal=True,
                  key="ch11_lora_t")
lora_s = lora.LoraSettings(r=rank, targets=target, steps=P["lora_steps"], device=DEV)
if (cmp := layout.tried(lora_memory, rank, target, id(gpt), gpt)) is not None:
    full, low = cmp["full"], cmp["lora"]
    c1, c2, c3 = st.columns(3)
    c1.metric(t("ch11.lora.trainable"), f"{low['trainable']:,}", t("ch11.lora.share", p=f"{low['trainable'] / full['trainable']:.2%}"),
              delta_color="off")
    c2.metric(t("ch11.lora.full_trainable"), f"{full['trainable']:,}")
    c3.metric(t("ch11.lora.saved"), f"{1 - low['measured']['total'] / full['measured']['total']:.0%}")
    names = {k: t(f"ch11.cost.term.{k}") for k in ("weights", "gradients", "optimizer", "activations")}
    st.plotly_chart(lora.memory_figure(cmp, {**names, "full": t("ch11.lora.full"), "lora": "LoRA", "measured": t("ch11.cost.measured"),
                                             "predicted": t("ch11.cost.formula")}, t("ch11.lora.mem_chart")), key="ch11_lora_mem")
    heads_ = {f"{run}_{m}": f"{t('ch11.lora.full') if run == 'full' else 'LoRA'} · {t('ch11.cost.measured') if m == 'measured' else t('ch11.cost.formula')} (KiB)"
              for run in ("full", "lora") for m in ("measured", "predicted")}
    st.dataframe(pd.DataFrame([{t("ch11.cost.quantity"): names.get(r["term"], t("ch11.lora.total")), **{heads_[c]: r[c] for c in heads_}}
                               for r in lora.memory_rows(cmp)]),
                 hide_index=True, key="ch11_lora_table")
    st.caption(t("ch11.lora.mem_note"))


def lora_job(stop, emit, s=lora_s, g=gpt):
    r = lora.train_lora(g, s, stop, emit)
    return {**r, "samples": lora.compare_samples(g, r["model"])}


lora_run = runner.section("ch11_lora", lora_job, button=t("ch11.lora.train", steps=lora_s.steps, r=rank),
                          accept=lambda r: len(r["losses"]) > 0, render=curves_of("ch11_lora_live", "step", "loss", t("ch11.dec.loss")))
if lora_run is not None:
    c1, c2 = st.columns(2)
    c1.metric(t("ch11.lora.val_loss"), f"{lora_run['loss_after']:.2f}", f"{lora_run['loss_after'] - lora_run['loss_before']:+.2f}",
              delta_color="inverse")
    c2.metric(t("ch11.lora.seconds"), f"{lora_run['seconds']:.0f} s")
    st.dataframe(pd.DataFrame([{t("ch11.dec.model"): k, t("ch11.dec.text"): repr("this film was " + v)}
                               for k, v in lora_run["samples"].items()]), hide_index=True, key="ch11_lora_samples")
layout.code_panel(**dl.lora_run(lora_s), key="ch11_lora")

# 11.7 bias probe ----------------------------------------------------------------------------------
layout.section("ch11.bias", "11.7")
test = st.selectbox(t("ch11.bias.test"), list(bias.TESTS), format_func=lambda k: t(f"ch11.bias.t.{k}"), key="ch11_weat_test")
cols = st.columns(4)
word_sets = {k: cols[i].text_area(t(f"ch11.bias.set.{k}"), ", ".join(bias.TESTS[test][k]), key=f"ch11_weat_{test}_{k}", height=130)
             for i, k in enumerate("XYAB")}
if st.button(t("ch11.bias.run"), key="ch11_weat"):
    st.session_state["ch11_weat_result"] = layout.tried(lambda: bias.run_weat({k: bias.parse_words(v) for k, v in word_sets.items()},
                                                                       TOK, MODEL, DEV, P["weat_perm"]))
if weat := st.session_state.get("ch11_weat_result"):
    c1, c2 = st.columns(2)
    c1.metric(t("ch11.bias.effect"), f"{weat['effect_size']:+.2f}")
    c2.metric(t("ch11.bias.p"), f"{weat['p_value']:.4f}", t("ch11.bias.exact" if weat["exact"] else "ch11.bias.sampled", n=weat["n_splits"]),
              delta_color="off")
    st.plotly_chart(bias.association_figure(weat, {"X": t("ch11.bias.set.X"), "Y": t("ch11.bias.set.Y"), "s": t("ch11.bias.s")}),
                    key="ch11_weat_fig")
st.caption(t("ch11.bias.limits"))
layout.code_panel(**dl.weat(test), key="ch11_bias")

# 11.8 实战: Trainer vs a plain loop -----------------------------------------------------------------
layout.section("ch11.hf", "11.8")
hf_s = hft.TrainerSettings(**P["hf"], device=DEV)


def shelve_hf(r: dict) -> None:
    for name, res in r.items():
        shelf.put("ch11", "sentiment-classifier-hf", res["model"], f"minilm-{name}", metric=f"val_acc {res['val_acc']:.1%}",
                  info={"trained_with": name, "files": "save_pretrained"}, files=lambda m=res["model"]: hft.pretrained_files(m, TOK))


hf = runner.section("ch11_hf", lambda stop, emit, s=hf_s: hft.both(s, TOK, stop, emit), button=t("ch11.hf.train", n=hf_s.n),
                    accept=lambda r: len(r) == 2, on_result=shelve_hf,
                    render=curves_of("ch11_hf_live", "step", "loss", t("ch11.dec.loss"), split=("trainer", "plain")))
if hf is not None:
    st.plotly_chart(viz.curves({t(f"ch11.hf.{k}"): v["losses"] for k, v in hf.items()}, ["loss"],
                               {"loss": t("ch11.hf.loss"), "step": "step"}, x="step"), key="ch11_hf_fig")
    c1, c2, c3 = st.columns(3)
    for col, k in ((c1, "trainer"), (c2, "plain")):
        col.metric(t(f"ch11.hf.{k}"), f"{hf[k]['val_acc']:.1%}", f"{hf[k]['seconds']:.0f} s", delta_color="off")
    c3.metric(t("ch11.hf.ratio"), f"{hf['trainer']['seconds'] / hf['plain']['seconds']:.2f}×")
st.caption(t("ch11.hf.note"))
c1, c2 = st.columns(2)
for col, name in ((c1, "trainer"), (c2, "plain")):
    with col:
        layout.code_panel(**dl.trainer_or_loop(name, hf_s), key=f"ch11_hf_{name}", expanded=True, label=t(f"ch11.hf.{name}"))
