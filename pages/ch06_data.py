"""Chapter 6 — data loading and preprocessing (widgets → core.lessons.ch06_data → figures)."""
from dataclasses import asdict

import numpy as np
import pandas as pd
import streamlit as st

from core import viz
from core.data import ch06_sets
from core.device import preset
from core.errors import HeroError
from core.lessons import ch06_data as lesson
from ui import layout, runner, shelf
from ui.i18n import t

P = lesson.PRESETS[preset(layout.device_info())]
DEVICE = layout.device()
S = st.session_state
layout.chapter_header("ch06")


set_labels = {n: t(f"ch06.sets.{n}") for n in lesson.OFFLINE_SETS + lesson.ONLINE_SETS}

# 6.1 Dataset: __len__ and __getitem__ --------------------------------------------------------
layout.section("ch06.dataset", "6.1")
c1, c2 = st.columns([2, 3])
ds_name = c1.radio(t("ch06.dataset.source"), ["digits", "mnist5k"], horizontal=True, key="ch06_ds",
                   format_func=set_labels.get)
ds = lesson.digits_dataset(ds_name)
index = c1.number_input(t("ch06.dataset.index", n=len(ds)), 0, len(ds) - 1, 0, key="ch06_index")
item = lesson.inspect_item(ds, int(index))
c1.markdown(t("ch06.dataset.item", index=item["index"], label=item["label"], shape=str(item["shape"]),
              dtype=item["dtype"], low=f"{item['min']:.2f}", high=f"{item['max']:.2f}", n=item["len"]))
c2.plotly_chart(viz.image_grid(item["image"][None], [t("ch06.dataset.label", label=item["label"])], cols=1),
                key="ch06_item_img")
layout.code_panel([ch06_sets.DigitsDataset, lesson.inspect_item], "ch06_dataset.py", "ch06_dataset_code",
                  script=lesson.dataset_script(ds_name, int(index)))

# 6.1 streaming an IterableDataset over a file too big to load ------------------------------
layout.section("ch06.stream", "6.1")
c1, c2 = st.columns(2)
size_mb = c1.select_slider(t("ch06.stream.size"), lesson.STREAM_SIZES_MB, value=P["stream_mb"], key="ch06_stream_mb")
workers = c2.slider(t("ch06.stream.workers"), 0, lesson.MAX_WORKERS, 2, key="ch06_stream_workers")
res = runner.section("ch06_stream", lambda stop, emit, m=size_mb, w=workers: lesson.streaming_demo(
    m, w, P["naive_shard"], stop, emit), button=t("ch06.stream.button"), state_key="ch06_stream_result",
    render=lambda run: [st.caption(t(f"ch06.stream.stage_{e['stage']}")) for e in run.of_kind("stage")[-1:]])
if res is not None:
    m = st.columns(4)
    m[0].metric(t("ch06.stream.file"), f"{res['file_mb']:.0f} MB", t("ch06.stream.rows", n=f"{res['rows']:,}"))
    m[1].metric(t("ch06.stream.peak"), f"{res['stream']['peak_mb']:.2f} MB")
    m[2].metric(t("ch06.stream.read_all"), f"{res['read_all_peak_mb']:.1f} MB")
    m[3].metric(t("ch06.stream.speed"), f"{res['stream']['rows'] / max(res['stream']['seconds'], 1e-9):,.0f}")
    names = ("read", "stream", "read_all", "x", "y")
    st.plotly_chart(lesson.memory_figure(res, {k: t(f"ch06.stream.fig_{k}") for k in names}), key="ch06_mem")
    table = [{t("ch06.stream.mode"): t("ch06.stream.sharded" if c["shard"] else "ch06.stream.naive"),
              t("ch06.stream.workers"): c["num_workers"], t("ch06.stream.per_worker"): str(c["per_worker"]),
              t("ch06.stream.read"): c["read"], t("ch06.stream.duplicates"): c["duplicates"],
              t("ch06.stream.each_once"): "✓" if c["each_once"] else "✗"}
             for c in (res["sharded"], res.get("naive")) if c]
    st.dataframe(pd.DataFrame(table), hide_index=True, key="ch06_shards")
layout.code_panel([ch06_sets.RecordStream, lesson.stream_with_memory, lesson.shard_check], "ch06_stream.py",
                  "ch06_stream_code", script=lesson.stream_script(size_mb, workers, P["naive_shard"]))

# 6.2 DataLoader lab -------------------------------------------------------------------------
layout.section("ch06.lab", "6.2")
c1, c2, c3 = st.columns(3)
lab_ds = c1.radio(t("ch06.dataset.source"), ["digits", "mnist5k"], horizontal=True, key="ch06_lab_ds",
                  format_func=set_labels.get)
n_items = c1.slider(t("ch06.lab.items"), 64, 5000 if lab_ds == "mnist5k" else 1797, P["lab_items"], key="ch06_lab_n")
batch = c1.select_slider(t("ch06.lab.batch"), [1, 8, 16, 32, 64, 128, 256], value=64, key="ch06_lab_batch")
shuffle = c2.checkbox(t("ch06.lab.shuffle"), True, key="ch06_lab_shuffle")
drop_last = c2.checkbox(t("ch06.lab.drop_last"), False, key="ch06_lab_drop")
pin = c2.checkbox(t("ch06.lab.pin"), False, key="ch06_lab_pin", help=t("ch06.lab.pin_help"))
augment = c2.checkbox(t("ch06.lab.augment"), False, key="ch06_lab_augment")
lab_workers = c3.select_slider(t("ch06.stream.workers"), [0, 1, 2], value=0, key="ch06_lab_workers")
collate = c3.selectbox(t("ch06.lab.collate"), lesson.SWEEPS["collate"], key="ch06_lab_collate")
sampler = c3.selectbox(t("ch06.lab.sampler"), ["auto"] + lesson.SWEEPS["sampler"], key="ch06_lab_sampler")
sweep = c3.selectbox(t("ch06.lab.sweep"), list(lesson.SWEEPS), key="ch06_lab_sweep")
base = lesson.LabSettings(lab_ds, n_items, batch, shuffle, drop_last, lab_workers, pin, collate, sampler, augment,
                          P["lab_epochs"], device=DEVICE)
st.caption(t("ch06.lab.drop_note", n=n_items, b=batch, full=n_items // batch, last=n_items % batch or batch,
             batches=n_items // batch if drop_last else -(-n_items // batch)))
lab = S.get("ch06_lab_result")
answer = None
if lab and lab[0]["setting"].startswith("num_workers"):
    speed = {r["setting"]: r["samples_per_s"] for r in lab}
    answer = t("ch06.lab.guess_yes") if speed.get("num_workers=2", 0) > speed.get("num_workers=0", 0) else t("ch06.lab.guess_no")
layout.predict_then_run("ch06_workers", t("ch06.lab.question"), [t("ch06.lab.guess_yes"), t("ch06.lab.guess_no")], answer)
lab = runner.section("ch06_lab", lambda stop, emit, b=base, s=sweep: lesson.run_lab(b, s, stop, emit),
                     button=t("ch06.lab.button"), icon=":material/speed:", state_key="ch06_lab_result",
                     render=lambda run: st.caption(", ".join(e["setting"] for e in run.of_kind("lab"))))
if lab is not None:
    st.plotly_chart(viz.bars([r["setting"] for r in lab], [r["samples_per_s"] for r in lab],
                             t("ch06.lab.chart"), t("ch06.lab.samples_s")), key="ch06_lab_bars")
    cols = ["setting", "samples_per_s", "seconds", "first_batch_s", "batches", "last_batch"]
    st.dataframe(pd.DataFrame(lab)[cols].round(3).rename(columns=lambda c: t(f"ch06.lab.col_{c}")),
                 hide_index=True, key="ch06_lab_table")
layout.code_panel([lesson.make_loader, lesson.measure_loader, ch06_sets.dict_collate], "ch06_loader.py", "ch06_lab_code",
                  script=lesson.loader_script(base))

st.subheader(t("ch06.lab.sampler_title"))
st.markdown(t("ch06.lab.sampler_intro"))
counts = lesson.sampler_counts(lesson.imbalanced_labels(ds.y), 5000)
st.plotly_chart(lesson.grouped_bars({t(f"ch06.lab.counts_{k}"): v for k, v in counts.items()},
                                    [str(i) for i in range(10)]), key="ch06_sampler")
layout.code_panel([lesson.balanced_weights, lesson.sampler_counts], "ch06_sampler.py", "ch06_sampler_code",
                  script=lesson.sampler_script())

# 6.3 torchvision: datasets ----------------------------------------------------------------------
layout.section("ch06.sets", "6.3")
c1, c2 = st.columns([2, 1])
vs_name = c1.radio(t("ch06.sets.choose"), list(set_labels), horizontal=True, key="ch06_set", format_func=set_labels.get)
online = c2.checkbox(t("ch06.sets.online"), False, key="ch06_online", help=t("ch06.sets.online_help"))
vset = None
if online and vs_name in lesson.ONLINE_SETS:
    vset = runner.section("ch06_download", lambda stop, emit, n=vs_name: lesson.load_vision(n, P["online_n"], online=True),
                          button=t("ch06.sets.download"), icon=":material/download:", primary=False,
                          state_key="ch06_download_result")
    if vset is None:
        st.info(t("ch06.sets.press_download"))
else:
    vset = lesson.load_vision(vs_name, P["online_n"], online=False)
if vset is not None:
    st.caption(t("ch06.sets.source", source=vset.source))
    if vset.notice:
        st.info(t(vset.notice, **vset.notice_params), icon=":material/cloud_off:")
    c1, c2 = st.columns([3, 2])
    shown = vset.images[:P["show"]]
    names = [t(f"ch06.scenes.{c}") if vset.name == "scenes10" else c for c in vset.classes]   # generated: ours to name
    c1.plotly_chart(lesson.rgb_grid(shown, [names[y] for y in vset.labels[:len(shown)]], cols=8, cell=70),
                    key="ch06_set_grid")
    counts = vset.full_counts if vset.full_counts is not None else np.bincount(vset.labels, minlength=len(vset.classes))
    c2.plotly_chart(viz.bars(names, counts, t("ch06.sets.counts")), key="ch06_set_counts")
layout.code_panel([lesson.load_vision, lesson.offline_scenes], "ch06_datasets.py", "ch06_sets_code",
                  script=lesson.datasets_script(vs_name, P["online_n"], online))

# 6.3 torchvision: transforms.v2 playground ---------------------------------------------------------
layout.section("ch06.tf", "6.3")
c1, c2 = st.columns([1, 2])
photo = c1.radio(t("ch06.tf.image"), list(lesson.PHOTOS) + ["upload"], key="ch06_photo", horizontal=True,
                 format_func={**{p: p + ".jpg" for p in lesson.PHOTOS}, "upload": t("ch06.tf.upload")}.get)
chosen = c2.multiselect(t("ch06.tf.augs"), lesson.AUGMENTATIONS, ["RandomResizedCrop", "RandomHorizontalFlip",
                        "ColorJitter"], key="ch06_augs")
c1, c2 = st.columns(2)
seed = c1.number_input(t("ch06.tf.seed"), 0, 10_000, 0, key="ch06_seed")
draws = c2.slider(t("ch06.tf.draws"), 1, 16, P["draws"], key="ch06_draws")
img = lesson.sample_photo(photo if photo != "upload" else "china", P["photo_side"])
if photo == "upload":
    upload = st.file_uploader(t("ch06.tf.upload"), type=None, key="ch06_upload", max_upload_size=11)
    if upload is not None:
        try:
            img = lesson.uploaded_photo(upload.getvalue(), P["photo_side"])
        except HeroError as err:
            layout.show_error(err)
each = lesson.apply_each(img, chosen, int(seed), 128)
st.plotly_chart(lesson.rgb_grid([np.asarray(img)] + [a for _, a in each], [t("ch06.tf.original")] +
                                [n for n, _ in each], cols=4, cell=160), key="ch06_each")
if chosen:
    grid = lesson.random_draws(img, chosen, draws, int(seed))
    st.plotly_chart(lesson.rgb_grid(grid, cols=8, title=t("ch06.tf.grid", n=draws), cell=110), key="ch06_draws_grid")
stats = lesson.normalize_stats(lesson.image_tensor(img))
st.dataframe(pd.DataFrame({k: [f"{v:.3f}" for v in vals] for k, vals in stats.items()}, index=["R", "G", "B"])
             .rename(columns=lambda c: t(f"ch06.tf.col_{c}")), key="ch06_norm")
snippet = "from torchvision.transforms import v2\n\ntransform = v2.Compose([\n" + "".join(
    f"    {lesson.augmentation(n, 128)!r},\n" for n in chosen) + "    v2.ToDtype(torch.float32, scale=True),\n" \
    f"    v2.Normalize(mean={[round(v, 3) for v in stats['mean']]}, std={[round(v, 3) for v in stats['std']]}),\n])\n"
layout.code_panel([snippet, lesson.random_draws, lesson.normalize_stats], "ch06_transforms.py", "ch06_tf_code",
                  script=lesson.transforms_script(photo if photo != "upload" else "china", chosen, draws, int(seed)))

# 6.4 variable-size inputs -------------------------------------------------------------------------
layout.section("ch06.var", "6.4")
c1, c2, c3 = st.columns(3)
low, high = c1.slider(t("ch06.var.lengths"), 1, 64, (3, 20), key="ch06_lengths")
seq_batch = c2.select_slider(t("ch06.lab.batch"), [2, 4, 8, 16], value=4, key="ch06_seq_batch")
bucket = c3.checkbox(t("ch06.var.bucket"), False, key="ch06_bucket")
seqs = lesson.random_sequences(P["seq_n"], low, high)
out = lesson.padded_batches(seqs, seq_batch, bucket)
other = lesson.padded_batches(seqs, seq_batch, not bucket)
first = out["batches"][0]
c1, c2 = st.columns([3, 1])
c1.plotly_chart(lesson.padding_figure(first, t("ch06.var.heatmap", shape=str(tuple(first["tokens"].shape)))),
                key="ch06_pad")
c2.metric(t("ch06.var.padding"), f"{out['padding']:.0%}", f"{out['padding'] - other['padding']:+.0%}",
          delta_color="inverse")
c2.markdown(t("ch06.var.lengths_are", lengths=first["lengths"].tolist()))
layout.code_panel([ch06_sets.pad_collate, lesson.length_buckets], "ch06_padding.py", "ch06_pad_code",
                  script=lesson.padding_script(P["seq_n"], low, high, seq_batch, bucket))
size = st.select_slider(t("ch06.var.size"), [64, 96, 128, 160], value=128, key="ch06_size")
policies = [lesson.resize_policy(img, p, size) for p in lesson.RESIZE_POLICIES]
st.plotly_chart(lesson.rgb_grid([np.asarray(img)] + policies, [t("ch06.tf.original")] +
                                [t(f"ch06.var.{p}") for p in lesson.RESIZE_POLICIES], cols=4, cell=170),
                key="ch06_policies")
layout.code_panel(lesson.resize_policy, "ch06_resize.py", "ch06_resize_code",
                  script=lesson.resize_script(photo if photo != "upload" else "china", size))

# 6.5 实战: a CIFAR-10-style pipeline ------------------------------------------------------------------
layout.section("ch06.pipe", "6.5")
c1, c2, c3 = st.columns(3)
pipe_online = c1.checkbox(t("ch06.sets.online"), False, key="ch06_pipe_online", help=t("ch06.sets.online_help"))
n_images = c2.slider(t("ch06.pipe.images"), 200, 5000, P["twin_n"], 100, key="ch06_pipe_n")
pipe_epochs = c3.slider(t("ch06.pipe.epochs"), 1, 5, P["epochs"], key="ch06_pipe_epochs")
settings = lesson.PipelineSettings("cifar10" if pipe_online else "scenes10", pipe_online, n_images, epochs=pipe_epochs,
                                   device=DEVICE)


def shelve_pipe(r) -> None:
    info = {"classes": list(r.classes), "image_size": 32, "mean": r.mean, "std": r.std,
            "input": "[B, 3, 32, 32] floats, normalised with mean/std"}
    shelf.put("ch06", "image-classifier", r.model, f"ch06 {r.source} CNN", info=info,
              metric=f"val_acc {r.end.get('val_acc', float('nan')):.1%}",
              files=lambda: lesson.model_files(r.model, "model", info))


def draw_pipe(run: runner.Run) -> None:
    if evals := run.of_kind("eval"):
        st.plotly_chart(viz.curves({t("ch06.pipe.run"): evals}, ["val_loss", "val_acc"], x="step"), key="ch06_pipe_curves")


pipe = runner.section("ch06_pipe", lambda stop, emit, s=settings: lesson.run_pipeline(s, stop, emit),
                      button=t("ch06.pipe.button"), icon=":material/model_training:", render=draw_pipe,
                      state_key="ch06_pipe_result", on_result=shelve_pipe)
if pipe is not None:
    if pipe.notice:
        st.info(t(pipe.notice, **pipe.notice_params), icon=":material/cloud_off:")
    c1, c2 = st.columns([3, 2])
    names = [t(f"ch06.scenes.{c}") if pipe.source == "scenes10" else c for c in pipe.classes]
    c1.plotly_chart(lesson.rgb_grid(pipe.batch_images, [names[y] for y in pipe.batch_labels], cols=8, cell=75,
                                    title=t("ch06.pipe.batch", shape=str(pipe.batch_shape))), key="ch06_pipe_batch")
    c2.dataframe(pd.DataFrame({"mean": pipe.mean, "std": pipe.std}, index=["R", "G", "B"]).round(4), key="ch06_pipe_stats")
    c2.metric(t("ch06.pipe.acc"), f"{pipe.end.get('val_acc', float('nan')):.1%}",
              t("ch06.pipe.steps", steps=pipe.end.get("step", 0), seconds=f"{pipe.end.get('seconds', 0):.1f}"))
layout.code_panel([lesson.run_pipeline, lesson.pipeline_transforms, ch06_sets.RGBImageDataset], "ch06_pipeline.py",
                  "ch06_pipe_code", script=lesson.pipeline_script(settings))
st.caption(t("ch06.pipe.settings", settings=str(asdict(settings))))
