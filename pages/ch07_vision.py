"""Chapter 7 — computer vision (widgets → core.lessons.ch07_vision → figures). First view: the title draws
before the lessons import; figures of widget values are cached for all visitors; photo set, zoo and models
are built only behind the toggle or button that needs them."""
import streamlit as st

from ui import layout

layout.chapter_header("ch07")   # first: a visitor sees the page while torch and the lessons load
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from core import uploads, viz  # noqa: E402
from core.device import preset  # noqa: E402
from core.errors import HeroError  # noqa: E402
from core.lessons import ch07_vision as lesson  # noqa: E402
from core.lessons.ch05_training import preprocess_drawing  # noqa: E402
from ui import cache, runner, shelf  # noqa: E402
from ui.i18n import t  # noqa: E402

P = lesson.PRESETS[preset(layout.device_info())]
DEVICE = layout.device()
S = st.session_state


@st.cache_data(show_spinner=False, max_entries=256)
def conv_view(index: int, kernel: str, k: int, s: int, p: int, d: int, titles: tuple) -> tuple[dict, object]:
    """The convolution demo and its figure: shared by every visitor with the same settings."""
    demo = lesson.conv_demo(lesson.digit_image(index), kernel, k, s, p, d)
    return demo, lesson.conv_figure(demo, titles)


@st.cache_data(show_spinner=False, max_entries=256)
def grid_figure(images: np.ndarray, titles: tuple, cols: int = 8):
    """``viz.image_grid`` (a subplot per image: the page's slowest figure), cached by content."""
    return viz.image_grid(images, list(titles), cols=cols)


@st.cache_resource(show_spinner=False)
def feature_cnn():
    return cache.checkpoint(lesson.FEATURE_CHECKPOINT)


@st.cache_data(show_spinner=False, max_entries=256)
def features_of(pixels: np.ndarray) -> dict:
    """Every layer's feature maps for one image (the shared checkpoint in eval mode, no grad)."""
    return lesson.feature_maps(feature_cnn()[0], torch.tensor(np.asarray(pixels, np.float32))[None])


def shelve(name: str, model, classes, metric: str, backbone: str) -> None:
    """A TransferNet is a backbone plus a new head (not a registered net): it downloads as its own file."""
    info = {"classes": list(classes), "image_size": lesson.IMAGE_SIZE, "input": "[B, 3·32²] or [B, 3, 32, 32] in [0, 1]",
            "backbone": backbone}
    shelf.put("ch07", "image-classifier", model, name, metric=metric, info=info,
              files=lambda: lesson.classifier_files(model, "model", info))


# 7.1 convolution: kernel, stride, padding, dilation -------------------------------------------
layout.section("ch07.conv", "7.1")
mnist = cache.dataset("mnist5k")
c = st.columns(6)
index = c[0].number_input(t("ch07.conv.image"), 0, len(mnist) - 1, 7, key="ch07_img")
kernel_labels = {k: t(f"ch07.conv.kernel_{k}") for k in lesson.KERNELS}
kernel = c[1].selectbox(t("ch07.conv.kernel"), lesson.KERNELS, key="ch07_kernel", format_func=kernel_labels.get)
k = c[2].slider(t("ch07.conv.k"), 1, 7, 3, key="ch07_k")
s = c[3].slider(t("ch07.conv.s"), 1, 4, 1, key="ch07_s")
p = c[4].slider(t("ch07.conv.p"), 0, 4, 1, key="ch07_p")
d = c[5].slider(t("ch07.conv.d"), 1, 4, 1, key="ch07_d")
image = mnist.X[int(index)].reshape(28, 28)
try:
    titles = (t("ch07.conv.padded", n=28 + 2 * p), t("ch07.conv.kernel"),
              t("ch07.conv.output", n=lesson.conv_output_size(28, k, s, p, d)))
    demo, conv_fig = conv_view(int(index), kernel, k, s, p, d, titles)
    st.markdown(t("ch07.conv.formula", formula=demo["formula"], out=demo["out_size"]))
    st.plotly_chart(conv_fig, key="ch07_conv_fig")
    st.code(demo["layer"], language="text")
except HeroError as err:
    layout.show_error(err)
layout.code_panel([lesson.conv_output_size, lesson.conv_demo], "ch07_conv.py", "ch07_conv_code",
                  script=lesson.conv_script(int(index), kernel, k, s, p, d))

st.subheader(t("ch07.conv.rf_title"))
st.markdown(t("ch07.conv.rf_intro"))
stack = st.text_input(t("ch07.conv.stack"), "3/1/1/1, 3/2/1/1, 3/1/1/1, 3/2/1/1", key="ch07_stack")
try:
    specs = lesson.parse_stack(stack)
    rf = lesson.receptive_field(specs)
    measured = lesson.measured_receptive_field(specs, 28)
    c1, c2 = st.columns([2, 3])
    c1.dataframe(pd.DataFrame(rf), hide_index=True, key="ch07_rf_table")
    c1.markdown(t("ch07.conv.rf_result", rf=rf[-1]["rf"], rows=measured["rows"], cols=measured["cols"]))
    c2.plotly_chart(lesson.rf_figure(image, measured["grad"], t("ch07.conv.rf_fig", n=measured["output_size"])),
                    key="ch07_rf_fig")
except HeroError as err:
    layout.show_error(err)
layout.code_panel([lesson.receptive_field, lesson.measured_receptive_field], "ch07_receptive_field.py", "ch07_rf_code",
                  script=lesson.receptive_field_script(stack))

# 7.1 feature maps of the trained ch05 digit CNN ------------------------------------------------
layout.section("ch07.features", "7.1")
loaded = feature_cnn()[1]
st.caption(t("ch07.features.model", name=lesson.FEATURE_CHECKPOINT, source=loaded.source))
source_labels = {v: t(f"ch07.features.{v}") for v in ("dataset", "draw")}
source = st.radio(t("ch07.features.input"), list(source_labels), horizontal=True, key="ch07_fm_source",
                  format_func=source_labels.get)
pixels = mnist.X[int(index)]
if source == "draw":
    from streamlit_drawable_canvas import st_canvas
    canvas = st_canvas(stroke_width=18, stroke_color="#FFFFFF", background_color="#000000", height=196, width=196,
                       drawing_mode="freedraw", return_image_data=True, key="ch07_canvas")
    drawn = None
    if canvas is not None and getattr(canvas, "image_data", None) is not None:
        drawn = preprocess_drawing(np.asarray(canvas.image_data), 28)
    if drawn is None:
        st.info(t("ch07.features.empty"))
    pixels = drawn if drawn is not None else pixels
fm = features_of(np.asarray(pixels, np.float32))
layer_labels = {i: f"{i + 1}. {L['name']} ({L['type']}) {'×'.join(map(str, L['maps'].shape))}"
                for i, L in enumerate(fm["layers"])}
layer = st.selectbox(t("ch07.features.layer"), list(layer_labels), key="ch07_fm_layer", format_func=layer_labels.get)
maps = fm["layers"][layer]["maps"][:16]
c1, c2 = st.columns([3, 1])
c1.plotly_chart(grid_figure(maps, tuple(f"#{i}" for i in range(len(maps)))), key="ch07_fm_grid")
c2.plotly_chart(grid_figure(np.asarray(pixels).reshape(1, 28, 28), (t("ch07.features.seen"),), cols=1),
                key="ch07_fm_input")
st.plotly_chart(viz.probability_bars(fm["probs"], mnist.classes, t("ch07.features.probs")), key="ch07_fm_probs")
layout.code_panel(lesson.feature_maps, "ch07_feature_maps.py", "ch07_fm_code",
                  script=lesson.feature_maps_script(int(index)))

# 7.2 the architecture zoo -----------------------------------------------------------------------
layout.section("ch07.zoo", "7.2")
c1, c2 = st.columns([3, 2])
chosen = c1.multiselect(t("ch07.zoo.models"), list(lesson.ZOO), default=P["zoo_models"], key="ch07_zoo_models")
size = c2.select_slider(t("ch07.zoo.size"), lesson.ZOO_SIZES, value=P["zoo_size"], key="ch07_zoo_size")


def draw_zoo(run: runner.Run) -> None:
    if (models := run.of_kind("model")) and run.active:
        st.caption(t("ch07.zoo.measuring", name=models[-1]["name"]))


zoo = runner.section("ch07_zoo", lambda stop, emit, n=list(chosen), z=size: lesson.analyse_zoo(
    n, z, P["zoo_repeats"], stop, emit, DEVICE), button=t("ch07.zoo.run"), render=draw_zoo, state_key="ch07_zoo",
    icon=":material/speed:", primary=False, disabled=not chosen)
if zoo:
    summary = pd.DataFrame([{t("ch07.zoo.model"): r["name"], t("ch07.zoo.year"): r["year"],
                             t("ch07.zoo.input"): f"{r['size']}×{r['size']}", t("ch07.zoo.params"): f"{r['params'] / 1e6:.2f} M",
                             "GFLOPs": f"{r['flops'] / 1e9:.3f}", t("ch07.zoo.ms"): f"{r['ms']:.1f} ({r['device']})"} for r in zoo])
    st.dataframe(summary, hide_index=True, key="ch07_zoo_summary")
    c = st.columns(3)
    names = [r["name"] for r in zoo]
    for col, (metric, scale, label) in zip(c, [("params", 1e6, "ch07.zoo.params_m"), ("flops", 1e9, "ch07.zoo.gflops"),
                                               ("ms", 1, "ch07.zoo.ms")]):
        col.plotly_chart(viz.bars(names, [r[metric] / scale for r in zoo], t(label), log=True), key=f"ch07_zoo_{metric}")
    pick = st.selectbox(t("ch07.zoo.table"), names, key="ch07_zoo_pick")
    st.dataframe(pd.DataFrame(next(r for r in zoo if r["name"] == pick)["table"]), hide_index=True, height=300,
                 key="ch07_zoo_table")
layout.code_panel([lesson.count_flops, lesson.layer_table, lesson.time_forward, lesson.analyse_architecture],
                  "ch07_zoo.py", "ch07_zoo_code", script=lesson.zoo_script(list(chosen) or ["lenet"], size, P["zoo_repeats"]))

# 7.3 transfer learning: pretrained backbone vs from scratch -------------------------------------
layout.section("ch07.transfer", "7.3")
st.info(t("ch07.transfer.source"), icon=":material/school:")
tr = S.get("ch07_transfer")
answer = None
if tr is not None and tr.settings["shots"] == 5 and tr.settings["freeze"] == "all" and len(tr.final) == 2:
    answer = t("ch07.transfer.guess_pre") if tr.final["pretrained"] > tr.final["scratch"] else t("ch07.transfer.guess_scratch")
layout.predict_then_run("ch07_transfer", t("ch07.transfer.question"),
                        [t("ch07.transfer.guess_pre"), t("ch07.transfer.guess_scratch")], answer)
c = st.columns(4)
shots = c[0].select_slider(t("ch07.transfer.shots"), [1, 2, 5, 10, 20, 50], value=P["shots"], key="ch07_shots")
freeze_labels = {v: t(f"ch07.transfer.freeze_{v}") for v in lesson.FREEZE_LEVELS}
freeze = c[1].radio(t("ch07.transfer.freeze"), lesson.FREEZE_LEVELS, index=2, key="ch07_freeze",
                    format_func=freeze_labels.get)
tr_epochs = c[2].slider(t("ch07.transfer.epochs"), 1, 60, P["lab_epochs"], key="ch07_tr_epochs")
imagenet = c[3].checkbox(t("ch07.transfer.imagenet"), value=False, key="ch07_imagenet")
settings = lesson.TransferSettings(shots=shots, freeze=freeze, epochs=tr_epochs, n_val=P["lab_val"], imagenet=imagenet,
                                   device=DEVICE)
run_names = {"pretrained": t("ch07.transfer.pretrained"), "scratch": t("ch07.transfer.scratch")}


def draw_transfer(run: runner.Run) -> None:
    evals = {run_names[r]: [e for e in run.of_kind("eval") if e["run"] == r] for r in run_names}
    if (steps := run.of_kind("step")) and run.active:
        st.caption(t("ch07.transfer.progress", run=run_names[steps[-1]["run"]], epoch=steps[-1]["epoch"] + 1))
    if any(evals.values()):
        st.plotly_chart(viz.curves(evals, ["train_loss", "val_acc"]), key="ch07_tr_curves")


tr = runner.section("ch07_transfer", lambda stop, emit, s=settings: lesson.train_transfer(s, stop, emit),
                    button=t("ch07.transfer.run"), render=draw_transfer, state_key="ch07_transfer",
                    on_result=lambda r: r.model is not None and shelve(
                        f"ch07 digits via {r.backbone} backbone ({r.settings['shots']}-shot)", r.model,
                        [str(c) for c in range(10)], f"val_acc {r.final.get('pretrained', 0):.1%}", r.backbone))
if tr is not None:
    if tr.note:
        st.warning(t("ch07.transfer.fallback", why=tr.note), icon=":material/cloud_off:")
    st.markdown(t(f"ch07.transfer.used_{tr.backbone}", frozen=", ".join(tr.frozen) or "—"))
    c = st.columns(2)
    for col, r in zip(c, ("pretrained", "scratch")):
        if r in tr.final:
            col.metric(run_names[r], f"{tr.final[r]:.1%}", t("ch07.transfer.trainable", n=f"{tr.trainable[r]:,}"))
layout.code_panel([lesson.freeze, lesson.TransferNet, lesson.transfer_runs], "ch07_transfer.py", "ch07_tr_code",
                  script=lesson.transfer_script(settings))

# 7.4 small data and class imbalance -------------------------------------------------------------
layout.section("ch07.imbalance", "7.4")
c1, c2 = st.columns(2)
fraction = c1.select_slider(t("ch07.imbalance.fraction"), [0.02, 0.05, 0.1, 0.2, 0.5, 1.0], value=0.05, key="ch07_frac")
imb_epochs = c2.slider(t("ch07.imbalance.epochs"), 1, 60, P["imb_epochs"], key="ch07_imb_epochs")
imb_settings = lesson.ImbalanceSettings(minority_fraction=fraction, epochs=imb_epochs, device=DEVICE)
strategy_names = {v: t(f"ch07.imbalance.{v}") for v in lesson.STRATEGIES}


def draw_imbalance(run: runner.Run) -> None:
    if (steps := run.of_kind("step")) and run.active:
        st.caption(t("ch07.imbalance.progress", run=strategy_names[steps[-1]["run"]], epoch=steps[-1]["epoch"] + 1))


imb = runner.section("ch07_imb", lambda stop, emit, s=imb_settings: lesson.train_imbalance(s, stop, emit),
                     button=t("ch07.imbalance.run"), render=draw_imbalance, state_key="ch07_imb",
                     icon=":material/balance:", primary=False)
if imb:
    st.plotly_chart(lesson.recall_bars(imb["recall"], strategy_names, t("ch07.imbalance.recall")), key="ch07_imb_bars")
    table = pd.DataFrame({t("ch07.imbalance.count"): imb["counts"],
                          **{strategy_names[k]: np.round(v, 3) for k, v in imb["recall"].items()}})
    st.dataframe(table.T, key="ch07_imb_table")
    st.markdown(" · ".join(f"{strategy_names[k]}: **{v:.1%}**" for k, v in imb["accuracy"].items()))
layout.code_panel([lesson.class_weights, lesson.resampling_loader, lesson.train_imbalance], "ch07_imbalance.py",
                  "ch07_imb_code", script=lesson.imbalance_script(imb_settings))

# 7.5 实战: fine-tune on your own images (or the built-in real photos), then explain a prediction -------
layout.section("ch07.project", "7.5")
set_labels = {v: t(f"ch07.project.{v}") for v in ("builtin", "upload")}
which = st.radio(t("ch07.project.set"), list(set_labels), horizontal=True, key="ch07_set", format_func=set_labels.get)
ds = None
try:
    if which == "upload":
        archive = st.file_uploader(t("ch07.project.zip"), type=["zip"], key="ch07_zip", max_upload_size=50)
        if archive is not None:
            ds = lesson.folder_dataset(uploads.read_image_zip(archive.getvalue(), min_per_class=2), P["photo_size"])
    else:
        st.markdown(t("ch07.project.builtin_about"))
        if st.toggle(t("ch07.project.show_set"), key="ch07_show_set"):   # built only when asked for (first view)
            ds = cache.dataset("ch07_photos", n_per_class=P["photos"], size=P["photo_size"])
except HeroError as err:
    layout.show_error(err)
if ds is not None:
    st.caption(ds.source)
    shown, captions = lesson.preview(ds, t("ch07.project.train_tag"), t("ch07.project.val_tag"))
    st.image(shown, width=72, caption=captions)
if ds is not None or which == "builtin":
    c1, c2, c3 = st.columns([2, 3, 2])
    ft_epochs = c1.slider(t("ch07.transfer.epochs"), 1, 40, P["ft_epochs"], key="ch07_ft_epochs")
    ft_freeze = c2.radio(t("ch07.transfer.freeze"), lesson.FREEZE_LEVELS, index=0, key="ch07_ft_freeze",
                         format_func=freeze_labels.get, horizontal=True)
    ft_imagenet = c3.checkbox(t("ch07.project.imagenet"), value=False, key="ch07_ft_imagenet")
    fs = lesson.FinetuneSettings(epochs=ft_epochs, freeze=ft_freeze, imagenet=ft_imagenet, device=DEVICE)
    runner.section("ch07_ft", lambda stop, emit, data=ds, s=fs: lesson.finetune(
        data if data is not None else lesson.builtin_dataset(P["photos"], P["photo_size"]), s, stop, emit),
                   button=t("ch07.project.train"), state_key="ch07_ft", accept=lambda r: r.ok,
                   icon=":material/model_training:",
                   render=lambda run: st.plotly_chart(viz.curves({"fine-tune": run.of_kind("eval")},
                                                                 ["train_loss", "val_acc"]), key="ch07_ft_curves"),
                   on_result=lambda r: shelve(f"ch07 fine-tuned on {len(r.classes)} classes ({r.backbone} backbone)",
                                              r.model, r.classes, f"val_acc {r.end.get('val_acc', float('nan')):.1%}",
                                              r.backbone))
if ft := S.get("ch07_ft"):
    if ft.note:
        st.warning(t("ch07.transfer.fallback", why=ft.note), icon=":material/cloud_off:")
    st.success(t("ch07.project.ready", classes=", ".join(ft.classes), acc=f"{ft.end.get('val_acc', float('nan')):.1%}",
                 backbone=t(f"ch07.project.backbone_{ft.backbone}")))
    if ft.per_class:
        st.plotly_chart(viz.bars(list(ft.per_class), list(ft.per_class.values()), t("ch07.project.per_class")),
                        key="ch07_ft_per_class")
    photo = st.file_uploader(t("ch07.project.image"), type=None, key="ch07_photo", max_upload_size=10)
    try:
        data = photo.getvalue() if photo is not None else lesson.image_bytes(ft.sample)
        result = lesson.explain(ft.model, data, ft.classes, k=3)
        c = st.columns(3)
        c[0].plotly_chart(viz.probability_bars(np.array([p for _, p in result["topk"]]), [n for n, _ in result["topk"]],
                                               t("ch07.project.topk")), key="ch07_topk")
        c[1].plotly_chart(lesson.overlay_figure(result["image"], result["cam"], "Grad-CAM"), key="ch07_cam")
        c[2].plotly_chart(lesson.overlay_figure(result["image"], result["saliency"], t("ch07.project.saliency")),
                          key="ch07_saliency")
    except HeroError as err:
        layout.show_error(err)
layout.code_panel([lesson.finetune_on, lesson.grad_cam, lesson.saliency, lesson.explain], "ch07_finetune.py",
                  "ch07_ft_code", script=lesson.finetune_script(lesson.FinetuneSettings(
                      epochs=S.get("ch07_ft_epochs", P["ft_epochs"]), freeze=S.get("ch07_ft_freeze", "none"),
                      imagenet=S.get("ch07_ft_imagenet", False)), P["photos"], P["photo_size"]))
