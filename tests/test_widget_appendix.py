"""Appendix widget: built in both languages; paste a message → the entry; run → the real error and the fix's output."""
import gradio as gr

from core.i18n import translate
from widgets import appendix_errors as w


def test_builds_in_both_languages():
    for lang in ("en", "zh"):
        demo = w.build(lang)
        assert isinstance(demo, gr.Blocks) and demo.fns


def test_paste_a_message_finds_the_entry():
    update, details = w.find("RuntimeError: mat1 and mat2 shapes cannot be multiplied (64x784 and 28x10)")
    assert update["value"] == "linear_shape" and update["choices"][0][1] == "linear_shape"
    assert translate("en", "appendix.errors.linear_shape.fix") in details and "nn.Linear(3, 2)" in details
    update, details = w.find("Can't pickle <function <lambda>>", "zh")
    assert update["value"] == "dataloader_pickle" and translate("zh", "appendix.errors.dataloader_pickle.cause") in details
    update, _ = w.find("")                              # nothing typed: every entry offered
    assert len(update["choices"]) == len(w.guide.ENTRIES)


def test_run_shows_the_real_error_and_the_fixed_output():
    status, broken, fixed = w.run("view_noncontiguous")
    assert "RuntimeError: view size is not compatible" in broken and "broken_view_noncontiguous.py" in broken
    assert "tensor([" in fixed and "RuntimeError" in status
    status, _, _ = w.run("no_such_entry", "zh")
    assert "no_such_entry" in status and "条目" in status
