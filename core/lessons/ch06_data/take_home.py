"""The downloads of the chapter 6 code panels: each section's functions inlined by
``core.takehome`` with a ``__main__`` that reruns the page's settings and prints the result
(smaller under ``TINY``, as the gallery's tests run them). Scripts with spawned DataLoader
workers need their ``__main__`` guard: the inliner puts ``main`` under it."""
from __future__ import annotations

from core import takehome
from core.data.ch06_sets import DigitsDataset, RGBImageDataset, RecordStream, dict_collate, pad_collate
from core.lessons.ch06_data.dataset_basics import digits_dataset, inspect_item
from core.lessons.ch06_data.loader_lab import LabSettings, balanced_weights, make_loader, measure_loader, sampler_counts
from core.lessons.ch06_data.pipeline import PipelineSettings, pipeline_transforms, run_pipeline
from core.lessons.ch06_data.streaming import shard_check, stream_with_memory, streaming_demo
from core.lessons.ch06_data.torchvision_sets import load_vision, offline_scenes
from core.lessons.ch06_data.transforms import image_tensor, normalize_stats, random_draws, sample_photo
from core.lessons.ch06_data.variable_sizes import length_buckets, padded_batches, random_sequences, resize_policy

DEVICE = "'cuda' if torch.cuda.is_available() else 'cpu'"


def dataset_script(name: str, index: int) -> str:
    return takehome.script(DigitsDataset, inspect_item, digits_dataset, filename="ch06_dataset.py",
                           registry_keys={name},
                           main=f"ds = digits_dataset({name!r})\nitem = inspect_item(ds, {index})\n"
                                "print(len(ds), 'items; item', item['index'], 'label', item['label'], 'shape', item['shape'],\n"
                                "      item['dtype'], 'range', item['min'], item['max'])")


def stream_script(size_mb: int, workers: int, naive: bool) -> str:
    return takehome.script(RecordStream, stream_with_memory, shard_check, streaming_demo, filename="ch06_stream.py",
                           main=f"r = streaming_demo(1 if TINY else {size_mb}, {workers}, {naive})\n"
                                "print(f\"file {r['file_mb']:.0f} MB, streaming peak {r['stream']['peak_mb']:.2f} MB, \"\n"
                                "      f\"read-all peak {r['read_all_peak_mb']:.1f} MB\")\n"
                                "print('sharded workers read each row once:', r['sharded']['each_once'], r['sharded']['per_worker'])")


def loader_script(s: LabSettings) -> str:
    return takehome.script(make_loader, measure_loader, dict_collate, filename="ch06_loader.py",
                           registry_keys={s.dataset},
                           main=f"s = LabSettings({s.dataset!r}, 256 if TINY else {s.n_items}, {s.batch_size}, {s.shuffle}, "
                                f"{s.drop_last}, {s.num_workers}, {s.pin_memory}, {s.collate!r}, {s.sampler!r}, "
                                f"{s.augment}, {s.epochs}, device={DEVICE})\n"
                                "r = measure_loader(s)\n"
                                "print(f\"{r['samples_per_s']:,.0f} samples/s, first batch after {r['first_batch_s']:.2f} s, \"\n"
                                "      f\"{r['batches']} batches, last one {r['last_batch']}\")")


def sampler_script() -> str:
    return takehome.script(balanced_weights, sampler_counts, filename="ch06_sampler.py", registry_keys={"digits"},
                           main="counts = sampler_counts(imbalanced_labels(digits_dataset('digits').y), 5000)\n"
                                "for name, c in counts.items():\n    print(name, c.tolist())")


def datasets_script(name: str, n: int, online: bool) -> str:
    return takehome.script(load_vision, offline_scenes, filename="ch06_datasets.py",
                           registry_keys={"digits", "mnist5k"}, requires=["torchvision"],
                           main=f"v = load_vision({name!r}, 200 if TINY else {n}, online={online} and not TINY)\n"
                                "print(v.name, v.images.shape, v.classes)\nprint('source:', v.source)")


def transforms_script(photo: str, names: list[str], draws: int, seed: int) -> str:
    return takehome.script(random_draws, normalize_stats, sample_photo, image_tensor, filename="ch06_transforms.py",
                           requires=["torchvision"],
                           main=f"img = sample_photo({photo!r}, 128)\n"
                                f"grid = random_draws(img, {names!r}, {draws}, {seed})\n"
                                "print('random draws', grid.shape)\nprint(normalize_stats(image_tensor(img)))")


def padding_script(n: int, low: int, high: int, batch_size: int, bucket: bool) -> str:
    return takehome.script(pad_collate, length_buckets, padded_batches, random_sequences, filename="ch06_padding.py",
                           main=f"out = padded_batches(random_sequences({n}, {low}, {high}), {batch_size}, {bucket})\n"
                                "first = out['batches'][0]\n"
                                "print('first batch', tuple(first['tokens'].shape), 'lengths', first['lengths'].tolist())\n"
                                "print(f\"padding {out['padding']:.0%}\")")


def resize_script(photo: str, size: int) -> str:
    return takehome.script(resize_policy, sample_photo, filename="ch06_resize.py", requires=["torchvision"],
                           main=f"img = sample_photo({photo!r}, 256)\n"
                                "for policy in RESIZE_POLICIES:\n"
                                f"    print(policy, resize_policy(img, policy, {size}).shape)")


def pipeline_script(s: PipelineSettings) -> str:
    return takehome.script(run_pipeline, pipeline_transforms, RGBImageDataset, filename="ch06_pipeline.py",
                           requires=["torchvision"],
                           main=f"s = PipelineSettings({s.source!r}, {s.online} and not TINY, 300 if TINY else {s.n_images}, "
                                f"epochs=1 if TINY else {s.epochs}, device={DEVICE})\n"
                                "r = run_pipeline(s)\n"
                                "print(r.source, 'batch', r.batch_shape, 'mean', [round(m, 3) for m in r.mean])\n"
                                "print('val_acc', r.end.get('val_acc'), 'after', r.end.get('step'), 'steps')")
