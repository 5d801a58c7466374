"""Chapter 12 widget: the DCGAN trainer streams grids and a judge curve, returns the generator;
sampling and interpolation draw from it; both languages."""
import gradio as gr
import torch

from core.nets.dcgan import DCGANGenerator
from widgets import ch12_generative as w


def test_train_streams_then_samples():
    torch.set_num_threads(1)
    outputs = list(w.train(4, 5e-4, "en", width=8, batch_size=8, eval_samples=16))
    assert len(outputs) >= 2                                     # streamed, not one shot
    status, grid, judged, generator = outputs[-1]
    assert isinstance(generator, DCGANGenerator) and grid is not None and judged is not None
    assert "confident" in status
    samples, interp, note = w.sample(generator, 3, 1, 2, "en")
    assert samples is not None and interp is not None and note == ""
    heat = samples.data[0].z
    assert len(heat) > 28                                        # a mosaic of several 28×28 digits


def test_sample_before_training_says_so_in_chinese():
    samples, interp, note = w.sample(None, 0, 1, 2, "zh")
    assert samples is None and interp is None and "DCGAN" in note and "请先" in note


def test_build_both_languages():
    for lang in ("en", "zh"):
        demo = w.build(lang)
        assert isinstance(demo, gr.Blocks) and len(demo.fns) >= 2
