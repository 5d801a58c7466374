"""Chapter 10 widget handlers called in-process: streamed characters with probabilities, bad prompts translated."""
from core.i18n import translate
from widgets import ch10_transformer as w


def test_generate_streams_characters_with_probabilities():
    outputs = list(w.generate("The ", 20, 0.8, 10, 0.95, True))
    assert len(outputs) > 2                                          # streamed, not one shot
    html, rows, status = outputs[-1]
    assert len(rows) == 20 and [r[0] for r in rows] == list(range(20))
    assert all(0 < r[2] <= 1 and r[3].count("▶") == 1 for r in rows)          # the drawn one is marked among the candidates
    assert html.count("<span") == 21 and 'title="p = ' in html
    assert "characters/s" in status and "on" in status


def test_same_text_with_and_without_cache():
    with_cache = list(w.generate("def ", 12, 1.0, 0, 1.0, True))[-1][1]
    without = list(w.generate("def ", 12, 1.0, 0, 1.0, False))[-1][1]
    assert [r[1] for r in with_cache] == [r[1] for r in without]


def test_bad_prompts_are_explained_in_both_languages():
    html, rows, status = list(w.generate("", 5, 0.8, 10, 0.95, True, "zh"))[-1]
    assert html == "" and rows == [] and status == translate("zh", "errors.ch10.empty_prompt")
    _, rows, status = list(w.generate("café ☕", 5, 0.8, 10, 0.95, True))[-1]
    assert len(rows) == 5 and "'é'" in status and "'☕'" in status and "removed" in status
    _, rows, status = list(w.generate("x" * 400, 3, 0.8, 10, 0.95, True))[-1]
    assert len(rows) == 3 and "cut" in status


def test_widget_builds_in_both_languages():
    for lang in ("en", "zh"):
        assert w.build(lang).fns
