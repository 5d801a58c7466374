"""Chapter 10 — Transformers (widgets → core.lessons.ch10_transformer → figures)."""
import pandas as pd
import streamlit as st

from core import takehome, viz
from core.device import preset
from core.lessons import ch10_transformer as ch10
from core.lessons.ch08_nlp import attention_figure, translate
from core.lessons.ch10_transformer import attention as att, gpt, heads, positions as pos, shapes, translation as tr, vit
from ui import cache, layout, runner, shelf
from ui.i18n import t

P = ch10.PRESETS[preset(layout.device_info())]
DEV = layout.device()
S = st.session_state
VOCAB = gpt.corpus_vocab()
layout.chapter_header("ch10")


@st.cache_resource(show_spinner=False)
def minilm():
    return heads.load_minilm()


def curves(run_events: list[dict], key: str, by_run: dict | None = None) -> None:
    runs = by_run or {"": run_events}
    st.plotly_chart(viz.curves(runs, ["val_loss"], {"val_loss": t("ch10.common.val_loss"), "step": t("ch10.common.step")},
                               x="step"), key=key)


# 10.1 self-attention step by step, and three ways --------------------------------------------------
layout.section("ch10.attn", "10.1")
c1, c2, c3, c4 = st.columns([3, 2, 1, 2])
sentence = c1.text_input(t("ch10.attn.sentence"), "the cat sat on the mat", key="ch10_sentence")
temp = c2.select_slider(t("ch10.attn.temperature"), [0.1, 0.25, 0.5, 1.0, 2.0, 4.0], 1.0, key="ch10_temp")
causal = c3.toggle(t("ch10.attn.causal"), key="ch10_causal")
pad_to = c4.slider(t("ch10.attn.pad_to"), 0, att.MAX_WORDS, 0, key="ch10_pad")
step_settings = att.StepSettings(sentence=sentence, temperature=temp, causal=causal, pad_to=pad_to)
if (steps := layout.tried(att.attention_steps, step_settings)) is not None:
    st.caption(t("ch10.attn.scale", scale=f"{steps['scale']:.3f}", diff=f"{steps['max_diff_sdpa']:.1e}"))
    cols = st.columns(3)
    for i, step in enumerate(steps["steps"]):
        name = t(f"ch10.attn.step.{step['name']}")
        cols[i % 3].plotly_chart(att.matrix_figure(step["matrix"], step["rows"], step["cols"],
                                                   f"{i + 1}. {name} {list(step['shape'])}",
                                                   zero_mid=step["name"] != "weights"), key=f"ch10_step_{i}")
layout.code_panel([att.attention_steps], "ch10_attention_steps.py", "ch10_steps", label=t("ch10.attn.title"),
                  script=takehome.script(att.attention_steps, att.StepSettings, filename="ch10_attention_steps.py",
                                         main=f"r = attention_steps({step_settings!r})\nfor s in r['steps']:\n"
                                              "    print(s['name'], s['shape'])\n    print(s['matrix'].round(2))\n"
                                              "print('max |by hand - SDPA|', r['max_diff_sdpa'])"))
st.subheader(t("ch10.attn.three_ways"))
c1, c2, c3, c4 = st.columns(4)
tw_batch = c1.slider(t("ch10.attn.batch"), 1, 4, 2, key="ch10_tw_batch")
tw_heads = c2.selectbox(t("ch10.attn.heads"), [1, 2, 3, 4, 8], 3, key="ch10_tw_heads")
tw_width = c3.selectbox(t("ch10.attn.width"), [16, 24, 32], 0, key="ch10_tw_width")
tw_pad = c4.toggle(t("ch10.attn.padding"), True, key="ch10_tw_pad")
lengths = [6 - i % 3 for i in range(tw_batch)] if tw_pad else None
if (three := layout.tried(att.three_ways, tw_batch, 6, tw_width, tw_heads, causal, lengths)) is not None:
    st.dataframe(pd.DataFrame([{t("ch10.attn.pair"): t(f"ch10.attn.{k}"), t("ch10.attn.max_diff"): f"{v:.1e}"}
                               for k, v in three["max_diff"].items()]), hide_index=True, key="ch10_tw_table")
    st.caption(t("ch10.attn.three_note", shape=str(list(three["weights_mha"].shape)), lengths=lengths or "—"))
layout.code_panel([att.attention_by_hand, att.build_mask, att.mha_by_hand, att.three_ways], "ch10_three_ways.py",
                  "ch10_tw", label=t("ch10.attn.three_ways"),
                  script=takehome.script(att.three_ways, filename="ch10_three_ways.py",
                                         main=f"print(three_ways({tw_batch}, 6, {tw_width}, {tw_heads}, {causal}, "
                                              f"{lengths!r})['max_diff'])"))

# 10.2 multi-head: every head of a layer, head view for the GPT and MiniLM ---------------------------------
layout.section("ch10.heads", "10.2")
gpt_label, model = shelf.picker("ch10_gpt_pick", "char-gpt",
                                {t("ch10.gpt.shipped"): lambda: cache.checkpoint("ch10_char_gpt")[0]},
                                label=t("ch10.gpt.pick"))
c1, c2 = st.columns([3, 1])
head_text = c1.text_input(t("ch10.heads.text"), gpt.SAMPLE_TEXT, key="ch10_head_text")
layer = c2.selectbox(t("ch10.heads.layer"), range(model.config.n_layer), model.config.n_layer - 1, key="ch10_layer")
if (maps := layout.tried(gpt.attention_for, model, VOCAB, head_text)) is not None:
    if maps["dropped"]:
        st.warning(t("ch10.gpt.dropped", chars=" ".join(repr(c) for c in maps["dropped"])))
    st.plotly_chart(heads.heads_figure(maps["maps"][layer], maps["tokens"], t("ch10.heads.grid", layer=layer),
                                       t("ch10.heads.head")), key="ch10_heads_grid")
    shown = st.multiselect(t("ch10.heads.shown"), list(range(model.config.n_head)), list(range(model.config.n_head)),
                           key="ch10_heads_shown")
    st.plotly_chart(heads.head_view_figure(maps["maps"][layer], maps["tokens"], shown, t("ch10.heads.view_gpt"),
                                           head_label=t("ch10.heads.head")), key="ch10_head_view")
if st.toggle(t("ch10.heads.minilm"), key="ch10_minilm_on"):
    with st.spinner(t("ch10.heads.minilm_loading")):
        tok_mini, model_mini = minilm()
    c1, c2 = st.columns([3, 1])
    mini_text = c1.text_input(t("ch10.heads.minilm_text"), heads.MINILM_SAMPLE, key="ch10_minilm_text")
    mini_layer = c2.slider(t("ch10.heads.layer"), 0, model_mini.config.num_hidden_layers - 1, 2, key="ch10_mini_layer")
    if (mini := layout.tried(heads.minilm_attention, mini_text, tok_mini, model_mini)) is not None:
        if mini["cut"]:
            st.caption(t("ch10.heads.minilm_cut", n=heads.MAX_MINILM_TOKENS))
        mini_heads = st.multiselect(t("ch10.heads.shown"), list(range(mini["maps"].shape[1])), [0, 1, 2],
                                    key="ch10_mini_heads")
        st.plotly_chart(heads.head_view_figure(mini["maps"][mini_layer], mini["tokens"], mini_heads,
                                               t("ch10.heads.view_minilm"), head_label=t("ch10.heads.head")),
                        key="ch10_minilm_view")
layout.code_panel([gpt.attention_for, heads.load_minilm, heads.minilm_attention], "ch10_heads.py", "ch10_heads",
                  script=takehome.script(gpt.attention_for, gpt.train_gpt, gpt.GPTSettings, gpt.head_scores,
                                         filename="ch10_heads.py",
                                         main="r = train_gpt(GPTSettings(steps=10 if TINY else 300, n_embd=32 if TINY else 96))\n"
                                              f"m = attention_for(r.model, r.vocab, {head_text!r})\n"
                                              "print(m['maps'].shape)\nprint(head_scores(m['maps'], m['tokens']))"))

# 10.3 positional encodings -------------------------------------------------------------------------
layout.section("ch10.pos", "10.3")
c1, c2 = st.columns(2)
c1.plotly_chart(pos.sinusoid_figure(64, 64, t("ch10.pos.table"), t("ch10.pos.dim"), t("ch10.pos.position")),
                key="ch10_sin")
pos_labels = {k: t(f"ch10.pos.kind.{k}") for k in ("learned", "sinusoidal", "rope", "none")}
c2.plotly_chart(pos.similarity_figure(pos.similarity_by_distance(), {**pos_labels, "distance": t("ch10.pos.distance"),
                                                                     "similarity": t("ch10.pos.similarity")},
                                      t("ch10.pos.by_distance")), key="ch10_sim")
pos_base = gpt.GPTSettings(**{**P["gpt"], "n_embd": min(64, P["gpt"]["n_embd"]), "steps": P["pos_steps"],
                              "n_checkpoints": 1}, device=DEV)


def draw_pos(run: runner.Run) -> None:
    evals = run.of_kind("eval")
    curves(evals, "ch10_pos_live", {pos_labels[k]: [e for e in evals if e["run"] == k] for k in pos_labels})


pos_result = runner.section("ch10_pos", lambda stop, emit, s=pos_base: pos.compare_positions(s, stop_event=stop, emit=emit),
                            button=t("ch10.pos.train"), render=draw_pos, accept=lambda r: bool(r))
if pos_result:
    st.dataframe(pd.DataFrame([{t("ch10.pos.kind_label"): pos_labels[k], t("ch10.common.val_loss"): f"{v['val_loss']:.3f}"}
                               for k, v in pos_result.items()]), hide_index=True, key="ch10_pos_table")
    st.caption(t("ch10.pos.explain"))
layout.code_panel([pos.compare_positions], "ch10_positions.py", "ch10_pos",
                  script=takehome.script(pos.compare_positions, gpt.GPTSettings, filename="ch10_positions.py",
                                         main=f"base = GPTSettings(steps=4 if TINY else {pos_base.steps}, n_embd=16 if TINY "
                                              f"else {pos_base.n_embd}, eval_every=2 if TINY else {pos_base.eval_every})\n"
                                              "for k, v in compare_positions(base).items():\n    print(k, round(v['val_loss'], 3))"))

# 10.4 nn.Transformer shapes and parameters ---------------------------------------------------------
layout.section("ch10.shapes", "10.4")
c1, c2, c3, c4, c5 = st.columns(5)
ts = shapes.TransformerShape(d_model=c1.selectbox("d_model", [32, 64, 128, 256, 512], 1, key="ch10_d_model"),
                             nhead=c2.selectbox("nhead", [1, 2, 3, 4, 8], 3, key="ch10_nhead"),
                             num_encoder_layers=c3.slider(t("ch10.shapes.enc"), 1, 6, 2, key="ch10_enc"),
                             num_decoder_layers=c4.slider(t("ch10.shapes.dec"), 1, 6, 2, key="ch10_dec"),
                             dim_feedforward=c5.selectbox("dim_feedforward", [64, 128, 256, 512, 2048], 2, key="ch10_ff"))
if (table := layout.tried(shapes.transformer_table, ts)) is not None:
    st.dataframe(pd.DataFrame(table["rows"]).rename(columns={"part": t("ch10.shapes.part"), "shape": t("ch10.shapes.shape"),
                                                             "params": t("ch10.shapes.params"), "formula": t("ch10.shapes.formula")}),
                 hide_index=True, key="ch10_shape_table")
    st.markdown(t("ch10.shapes.total", total=f"{table['total']:,}", formula=f"{table['formula_total']:,}",
                  out=str(list(table["output"]))))
layout.code_panel([shapes.layer_formula, shapes.transformer_table], "ch10_shapes.py", "ch10_shapes",
                  script=takehome.script(shapes.transformer_table, filename="ch10_shapes.py",
                                         main=f"r = transformer_table({ts!r})\nfor row in r['rows']:\n    print(row)\n"
                                              "print(r['total'], r['formula_total'])"))

# 10.5 the cost of attention; BERT vs GPT masks --------------------------------------------------------
layout.section("ch10.cost", "10.5")
if st.button(t("ch10.cost.run"), icon=":material/timer:", key="ch10_cost_run"):
    with st.spinner(t("ch10.cost.running")):
        S["ch10_cost"] = shapes.attention_cost(P["cost_lengths"], device=DEV)
if cost := S.get("ch10_cost"):
    cl = {"naive": t("ch10.cost.naive"), "sdpa": "SDPA", "length": t("ch10.cost.length"), "ms": "ms",
          "mib": t("ch10.cost.mib_cpu" if DEV == "cpu" else "ch10.cost.mib")}
    c1, c2 = st.columns(2)
    c1.plotly_chart(shapes.cost_figure(cost, "ms", cl, t("ch10.cost.time")), key="ch10_cost_ms")
    c2.plotly_chart(shapes.cost_figure(cost, "mib", cl, t("ch10.cost.memory")), key="ch10_cost_mib")
    st.caption(t("ch10.cost.explain", diff=f"{max(r['max_diff'] for r in cost):.1e}"))
c1, c2 = st.columns(2)
c1.plotly_chart(att.mask_figure("bert", 8, t("ch10.cost.bert")), key="ch10_mask_bert")
c2.plotly_chart(att.mask_figure("gpt", 8, t("ch10.cost.gpt")), key="ch10_mask_gpt")
layout.code_panel([shapes.naive_attention, shapes.attention_cost], "ch10_cost.py", "ch10_cost",
                  script=takehome.script(shapes.attention_cost, filename="ch10_cost.py",
                                         main=f"for row in attention_cost([16, 64] if TINY else {P['cost_lengths']!r}):\n"
                                              "    print(row)"))

# 10.6 ViT on digits -------------------------------------------------------------------------------
layout.section("ch10.vit", "10.6")
digits = cache.dataset("digits")
c1, c2 = st.columns(2)
digit_index = c1.slider(t("ch10.vit.index"), 0, len(digits) - 1, 0, key="ch10_digit")
patch = c2.select_slider(t("ch10.vit.patch"), [1, 2, 3, 4, 8], 2, key="ch10_patch")
image = digits.X[digit_index].reshape(8, 8)
if (patches := layout.tried(vit.patchify, image, patch)) is not None:
    c1, c2 = st.columns([1, 2])
    c1.plotly_chart(vit.patch_grid_figure(image, patch, t("ch10.vit.grid", n=len(patches))), key="ch10_patch_grid")
    c2.plotly_chart(viz.image_grid(patches, [str(i) for i in range(len(patches))], cols=8, title=t("ch10.vit.tokens")),
                    key="ch10_patch_tokens")
vit_settings = vit.ViTSettings(patch_size=patch if patch in (1, 2, 4) else 2, epochs=P["vit_epochs"], dim=P["vit_dim"],
                               limit=P["vit_limit"], device=DEV)
vit_result = runner.section("ch10_vit", lambda stop, emit, s=vit_settings: vit.train_vit(s, stop, emit),
                            button=t("ch10.vit.train", patch=vit_settings.patch_size),
                            render=lambda run: st.plotly_chart(viz.metric_lines(run.of_kind("eval"), ["val_loss", "val_acc"]),
                                                               key="ch10_vit_live"),
                            accept=lambda r: r.ok,
                            on_result=lambda r: shelf.put("ch10", "vit-digits", r.model, "ch10 tiny ViT",
                                                          metric=f"val_acc {r.end['val_acc']:.1%}", info={"image_size": 8}))
if vit_result:
    st.markdown(t("ch10.vit.done", acc=f"{vit_result.end['val_acc']:.1%}", patch=vit_result.settings["patch_size"]))
    probs = vit.classify_image(vit_result.model, image)
    st.plotly_chart(viz.probability_bars(probs, [str(i) for i in range(10)], t("ch10.vit.prediction", label=int(digits.y[digit_index]))),
                    key="ch10_vit_probs")
layout.code_panel([vit.patchify, vit.train_vit], "ch10_vit.py", "ch10_vit",
                  script=takehome.script(vit.train_vit, vit.ViTSettings, filename="ch10_vit.py",
                                         main=f"r = train_vit(ViTSettings(epochs=1 if TINY else {vit_settings.epochs}, limit=300 if TINY else 0, "
                                              f"patch_size={vit_settings.patch_size}))\nprint(r.end)"))

# 10.7 实战 1: nn.Transformer translating generated tasks ----------------------------------------------
layout.section("ch10.tr", "10.7")
task = st.radio(t("ch10.tr.task"), ["num_en", "num_zh", "date_en", "date_zh"], format_func=lambda k: t(f"ch10.tr.task_{k}"),
                horizontal=True, key="ch10_task")
tr_settings = tr.TranslateSettings(task=task, n_pairs=P["tr_pairs"], epochs=P["tr_epochs"], d_model=P["tr_d_model"], device=DEV)
tr_result = runner.section("ch10_tr", lambda stop, emit, s=tr_settings: tr.train_translator(s, stop, emit),
                           button=t("ch10.tr.train"), accept=lambda r: r.ok,
                           render=lambda run: st.plotly_chart(viz.metric_lines(run.of_kind("eval"), ["val_loss", "val_exact"]),
                                                              key="ch10_tr_live"))
if tr_result:
    st.markdown(t("ch10.tr.done", exact=f"{tr_result.end.get('val_exact', 0):.1%}", task=t(f"ch10.tr.task_{tr_result.task.task}")))
    src = st.text_input(t("ch10.tr.input"), tr_result.task.val[0][0], key="ch10_tr_input")
    if (out := layout.tried(translate, tr_result, src)) is not None:
        st.markdown(t("ch10.tr.output", out=out["output"] or "∅"))
        if out["unknown"]:
            st.warning(t("ch10.tr.unknown", words=", ".join(out["unknown"])))
        pick = st.selectbox(t("ch10.tr.pick"), range(len(out["out_tokens"])), key="ch10_tr_pick",
                            format_func=lambda i: f"{i}: {out['out_tokens'][i]}")
        c1, c2 = st.columns(2)
        c1.plotly_chart(viz.bars(out["tokens"], out["attention"][min(pick, len(out["attention"]) - 1)],
                                 t("ch10.tr.cross", token=out["out_tokens"][pick])), key="ch10_tr_bars")
        c2.plotly_chart(attention_figure(out["attention"], out["tokens"], out["out_tokens"]), key="ch10_tr_heat")
layout.code_panel([tr.train_translator], "ch10_translate.py", "ch10_tr",
                  script=takehome.script(tr.train_translator, tr.TranslateSettings, translate, filename="ch10_translate.py",
                                         main=f"r = train_translator(TranslateSettings(task={task!r}, n_pairs=200 if TINY else "
                                              f"{tr_settings.n_pairs}, epochs=1 if TINY else {tr_settings.epochs}))\n"
                                              "print(r.end)\nprint(translate(r, r.task.val[0][0])['output'])"))

# 10.8 实战 2: the character GPT, trained live; generation step by step; heads over training ----------------
layout.section("ch10.gpt", "10.8")
c1, c2, c3, c4, c5 = st.columns(5)
g = P["gpt"]
gpt_settings = gpt.GPTSettings(**{**g, "n_layer": c1.slider(t("ch10.gpt.layers"), 1, 4, g["n_layer"], key="ch10_g_layers"),
                                  "n_head": c2.selectbox(t("ch10.attn.heads"), [1, 2, 3, 4, 8], [1, 2, 3, 4, 8].index(g["n_head"]), key="ch10_g_heads"),
                                  "n_embd": c3.selectbox(t("ch10.attn.width"), [16, 32, 64, 96, 128], [16, 32, 64, 96, 128].index(g["n_embd"]), key="ch10_g_width"),
                                  "steps": c4.slider(t("ch10.gpt.steps"), 2, 3000, g["steps"], key="ch10_g_steps"),
                                  "pos": c5.selectbox(t("ch10.pos.kind_label"), list(pos_labels), format_func=pos_labels.get, key="ch10_g_pos")},
                               device=DEV)
bad = layout.tried(gpt.check_gpt_settings, gpt_settings) is None   # refused settings: no run, the last model stays


def draw_gpt(run: runner.Run) -> None:
    evals = run.of_kind("eval")
    curves(evals, "ch10_gpt_live")
    if evals:
        st.code(evals[-1]["sample"], language="text")


gpt_result = runner.section("ch10_gpt", lambda stop, emit, s=gpt_settings: gpt.train_gpt(s, stop, emit),
                            button=t("ch10.gpt.train"), render=draw_gpt, accept=lambda r: r.ok, disabled=bad,
                            on_result=lambda r: shelf.put("ch10", "char-gpt", r.model, "ch10 char GPT",
                                                          metric=f"val_loss {r.val_loss:.3f}",
                                                          info={"chars": r.vocab.chars, "block_size": r.model.config.block_size}))
if gpt_result:
    st.markdown(t("ch10.gpt.done", loss=f"{gpt_result.val_loss:.3f}", seconds=f"{gpt_result.end['seconds']:.0f}"))
    st.dataframe(pd.DataFrame([{t("ch10.common.step"): e["step"], t("ch10.common.val_loss"): round(e["val_loss"], 3),
                                t("ch10.gpt.sample"): e["sample"]} for e in gpt_result.history]), hide_index=True, key="ch10_samples")
layout.code_panel([gpt.train_gpt], "ch10_gpt.py", "ch10_gpt_code",
                  script=takehome.script(gpt.train_gpt, gpt.GPTSettings, filename="ch10_gpt.py",
                                         main=f"r = train_gpt(GPTSettings(steps=6 if TINY else {gpt_settings.steps}, eval_every=3 if TINY else 50))\n"
                                              "for e in r.history:\n    print(e['step'], round(e['val_loss'], 3), repr(e['sample']))"))

st.subheader(t("ch10.gen.title"))
st.caption(t("ch10.gen.model", name=gpt_label))
prompt = st.text_area(t("ch10.gen.prompt"), "The ", height=70, key="ch10_prompt")
c1, c2, c3, c4, c5 = st.columns(5)
gen_settings = gpt.GenerateSettings(prompt=prompt, n_new=c1.slider(t("ch10.gen.n_new"), 1, 300, P["gen_new"], key="ch10_n_new"),
                                    temperature=c2.slider(t("ch10.attn.temperature"), 0.1, 2.0, 0.8, key="ch10_g_temp"),
                                    top_k=c3.slider("top-k", 0, len(VOCAB), 10, key="ch10_top_k"),
                                    top_p=c4.slider("top-p", 0.05, 1.0, 0.95, key="ch10_top_p"),
                                    use_cache=c5.toggle(t("ch10.gen.cache"), True, key="ch10_use_cache"), device=DEV)
if st.button(t("ch10.gen.run"), type="primary", icon=":material/edit_note:", key="ch10_gen_run"):
    S["ch10_gen"] = layout.tried(gpt.generate, model, VOCAB, gen_settings)
if gen := S.get("ch10_gen"):
    if gen["dropped"]:
        st.warning(t("ch10.gpt.dropped", chars=" ".join(repr(c) for c in gen["dropped"])))
    if gen["cut"]:
        st.info(t("ch10.gen.cut", n=gen["cut"], block=model.config.block_size))
    st.code(gen["prompt"] + gen["text"], language="text")
    st.caption(t("ch10.gen.speed", n=len(gen["steps"]), seconds=f"{gen['seconds']:.2f}", rate=f"{gen['tokens_per_s']:.0f}",
                 cache=t("ch10.gen.on" if gen["use_cache"] else "ch10.gen.off")))
    st.dataframe(pd.DataFrame([{"#": i, t("ch10.gen.chosen"): repr(s["chosen"]), "p": f"{s['p_chosen']:.2f}",
                                t("ch10.gen.kept"): s["kept"],
                                t("ch10.gen.candidates"): "  ".join(("▶" if c == s["chosen"] else "") + f"{c!r} {p:.2f}"
                                                                   for c, p in s["candidates"])}
                               for i, s in enumerate(gen["steps"])]), hide_index=True, key="ch10_gen_table")
if st.button(t("ch10.gen.speed_run"), icon=":material/speed:", key="ch10_cache_run"):
    S["ch10_speed"] = layout.tried(gpt.cache_speed, model, VOCAB, n_new=P["cache_new"], device=DEV)
if speed := S.get("ch10_speed"):
    c1, c2, c3 = st.columns(3)
    c1.metric(t("ch10.gen.with_cache"), f"{speed['cache']['tokens_per_s']:.0f} tok/s")
    c2.metric(t("ch10.gen.without_cache"), f"{speed['no_cache']['tokens_per_s']:.0f} tok/s")
    c3.metric(t("ch10.gen.speedup"), f"{speed['speedup']:.1f}×")
    st.caption(t("ch10.gen.same" if speed["cache"]["text"] == speed["no_cache"]["text"] else "ch10.gen.differs"))
layout.code_panel([gpt.filter_logits, gpt.sample_ids, gpt.generate], "ch10_generate.py", "ch10_gen",
                  script=takehome.script(gpt.generate, gpt.GenerateSettings, gpt.train_gpt, gpt.GPTSettings, filename="ch10_generate.py",
                                         main="r = train_gpt(GPTSettings(steps=6 if TINY else 500))\n"
                                              f"out = generate(r.model, r.vocab, GenerateSettings(prompt={prompt!r}, n_new=8 if TINY else {gen_settings.n_new}, "
                                              f"temperature={gen_settings.temperature}, top_k={gen_settings.top_k}, top_p={gen_settings.top_p}))\n"
                                              "print(out['prompt'] + out['text'])\nfor s in out['steps']:\n    print(s['chosen'], s['candidates'])"))

# beyond: heads over training, head ablation
st.subheader(t("ch10.beyond.title"))
st.markdown(t("ch10.beyond.intro"))
if gpt_result and len(gpt_result.checkpoints) > 1:
    ck_steps = [s for s, _ in gpt_result.checkpoints]
    ck = st.select_slider(t("ch10.beyond.checkpoint"), ck_steps, ck_steps[-1], key="ch10_ckpt")
    ck_model = gpt.model_at(gpt_result, ck_steps.index(ck))
    rep = st.text_input(t("ch10.beyond.text"), gpt.REPEAT_TEXT, key="ch10_rep_text")
    if (m := layout.tried(gpt.attention_for, ck_model, VOCAB, rep)) is not None:
        ck_layer = st.selectbox(t("ch10.heads.layer"), range(ck_model.config.n_layer), ck_model.config.n_layer - 1, key="ch10_ck_layer")
        st.plotly_chart(heads.heads_figure(m["maps"][ck_layer], m["tokens"], t("ch10.beyond.maps", step=ck), t("ch10.heads.head")),
                        key="ch10_ck_maps")
        sc = gpt.head_scores(m["maps"], m["tokens"])
        st.dataframe(pd.DataFrame([{t("ch10.heads.layer"): l, t("ch10.heads.head"): h, t("ch10.beyond.previous"): f"{sc['previous'][l, h]:.2f}",
                                    t("ch10.beyond.induction"): f"{sc['induction'][l, h]:.2f}"}
                                   for l in range(sc["previous"].shape[0]) for h in range(sc["previous"].shape[1])]),
                     hide_index=True, key="ch10_scores")
else:
    st.info(t("ch10.beyond.train_first"))
c1, c2 = st.columns(2)
ab_layer = c1.selectbox(t("ch10.heads.layer"), range(model.config.n_layer), key="ch10_ab_layer")
ab_head = c2.selectbox(t("ch10.heads.head"), range(model.config.n_head), key="ch10_ab_head")
if st.button(t("ch10.beyond.ablate"), icon=":material/block:", key="ch10_ablate_run"):
    S["ch10_ablation"] = layout.tried(gpt.ablate_head, model, VOCAB, ab_layer, ab_head, n_windows=8 if DEV == "cpu" else 32, device=DEV)
if ab := S.get("ch10_ablation"):
    c1, c2, c3 = st.columns(3)
    c1.metric(t("ch10.beyond.with"), f"{ab['loss']:.4f}")
    c2.metric(t("ch10.beyond.without", layer=ab["layer"], head=ab["head"]), f"{ab['ablated']:.4f}", f"{ab['delta']:+.4f}", delta_color="inverse")
layout.code_panel([gpt.model_at, gpt.head_scores, gpt.ablate_head], "ch10_heads_over_training.py", "ch10_beyond",
                  script=takehome.script(gpt.train_gpt, gpt.GPTSettings, gpt.model_at, gpt.attention_for, gpt.head_scores, gpt.ablate_head,
                                         filename="ch10_heads_over_training.py",
                                         main="r = train_gpt(GPTSettings(steps=6 if TINY else 500, eval_every=3 if TINY else 50))\n"
                                              "for i, (step, _) in enumerate(r.checkpoints):\n"
                                              "    m = attention_for(model_at(r, i), r.vocab, 'the cat. the cat.')\n"
                                              "    print(step, head_scores(m['maps'], m['tokens'])['previous'].round(2).tolist())\n"
                                              "print(ablate_head(r.model, r.vocab, 0, 0, n_windows=4))"))
