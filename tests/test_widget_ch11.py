"""Chapter 11 widget handlers called in-process: ranked hits, sentiment probabilities, bad input translated."""
from core.i18n import translate
from widgets import ch11_llm as w


def test_search_ranks_paragraphs_by_cosine():
    rows, status = w.find("What does the return statement do?", 3)
    assert len(rows) == 3 and [r[0] for r in rows] == [1, 2, 3]
    assert rows[0][1] >= rows[1][1] >= rows[2][1] and all(-1 <= r[1] <= 1 for r in rows)
    assert "paragraphs searched" in status


def test_sentiment_probabilities_and_accuracy():
    good, status = w.classify("a wonderful film, i loved it")
    bad, _ = w.classify("terrible and boring, a waste of money")
    assert abs(sum(good.values()) - 1) < 1e-6 and good["positive"] > bad["positive"]
    assert "validation accuracy" in status


def test_bad_input_is_explained_in_both_languages():
    rows, status = w.find("   ", 3, "zh")
    assert rows == [] and status == translate("zh", "errors.ch11.empty_query")
    label, status = w.classify("", "en")
    assert label == {} and status == translate("en", "errors.ch11.empty_text")


def test_widget_builds_in_both_languages():
    for lang in ("en", "zh"):
        assert w.build(lang).fns
