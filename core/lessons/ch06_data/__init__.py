"""Chapter 6 — data: Dataset and streaming IterableDataset, the DataLoader lab, torchvision datasets and
transforms.v2, variable sizes, and the CIFAR-10-style pipeline; one module per book section.

Plain functions returning data; the Streamlit page and the Gradio widget only draw it.
"""
from core.lessons.ch06_data.presets import (MAX_WORKERS, PRESETS, SPAWN, STREAM_SIZES_MB)
from core.lessons.ch06_data.dataset_basics import (digits_dataset, inspect_item)
from core.lessons.ch06_data.streaming import (memory_figure, read_all_peak, record_file, rows_for, shard_check,
                                              stream_with_memory, streaming_demo)
from core.lessons.ch06_data.loader_lab import (LabSettings, SWEEPS, balanced_weights, grouped_bars,
                                               imbalanced_labels, lab_dataset, make_loader, measure_loader,
                                               run_lab, sampler_counts)
from core.lessons.ch06_data.torchvision_sets import (CIFAR_CLASSES, FALLBACK, OFFLINE_SETS, ONLINE_SETS,
                                                     TORCHVISION_NAMES, VisionSet, _download, _png_uri,
                                                     load_offline, load_vision, mosaic, offline_scenes, rgb_grid)
from core.lessons.ch06_data.transforms import (AUGMENTATIONS, PHOTOS, _as_array, apply_each, augmentation,
                                               image_tensor, normalize_stats, pipeline, random_draws,
                                               sample_photo, uploaded_photo)
from core.lessons.ch06_data.variable_sizes import (RESIZE_POLICIES, length_buckets, padded_batches,
                                                   padding_figure, random_sequences, resize_policy)
from core.lessons.ch06_data.pipeline import (PipelineResult, PipelineSettings, channel_stats,
                                             pipeline_transforms, run_pipeline, tiny_cnn)
from core.data.ch06_sets import (RECORD, DigitsDataset, RGBImageDataset, RecordStream, SequenceDataset,  # noqa: F401
                                 dict_collate, pad_collate, write_records)
from core.lessons.ch06_data.pipeline import model_files
from core.lessons.ch06_data.take_home import (dataset_script, datasets_script, loader_script, padding_script,
                                              pipeline_script, resize_script, sampler_script, stream_script,
                                              transforms_script)
