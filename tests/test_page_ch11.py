"""Chapter 11 page through the real router: every button pressed, runs finished, bad input translated."""
from core.i18n import translate
from tests.conftest import click, finish_runs, open_page

PAGE = "pages/ch11_llm.py"


def errors(app) -> list[str]:
    return [e.value for e in app.error]


def test_tokens_cost_and_bad_text(app):
    open_page(app, PAGE)
    assert not errors(app)
    wp = [d.value for d in app.dataframe if "attention_mask" in d.value.columns][0]
    assert wp.iloc[0, 0] == "[CLS]" and wp.iloc[-1, 0] == "[SEP]"
    tax = [d.value for d in app.dataframe if "Share of a 512-token window" in d.value.columns][0]
    assert len(tax) == 6
    click(app, "ch11_measure")
    measured = [d.value for d in app.dataframe if "Measured" in d.value.columns][0]
    assert (measured["Measured"] == measured["Formula"]).all()
    app.selectbox(key="ch11_dtype").set_value("int4").run()
    assert any("inference formats" in i.value for i in app.info)
    app.text_area(key="ch11_text_zh").set_value("  ").run()
    assert translate("en", "errors.ch11.empty_text") in errors(app)
    app.text_area(key="ch11_text_en").set_value("x" * 3000).run()
    assert any("3000 characters" in e for e in errors(app))
    app.session_state["lang"] = "zh"
    app.run()
    assert not app.exception and translate("zh", "errors.ch11.text_too_long", n=3000, limit=2000) in errors(app)


def test_search_sentiment_and_decoding_runs(app):
    open_page(app, PAGE)
    click(app, "start_ch11_embed")
    finish_runs(app, timeout=300)
    hits = [d.value for d in app.dataframe if "Cosine" in d.value.columns][0]
    assert len(hits) == 5 and hits["Cosine"].astype(float).is_monotonic_decreasing
    app.text_input(key="ch11_query").set_value(" ").run()
    assert translate("en", "errors.ch11.empty_query") in errors(app)
    click(app, "start_ch11_sent")
    finish_runs(app, timeout=300)
    assert any(m.label == "Validation accuracy" for m in app.metric)
    click(app, "start_ch11_ft")
    finish_runs(app, timeout=300)
    assert any(m.label == "Fine-tuned validation accuracy" for m in app.metric)
    assert "sentiment-minilm" in [item.kind for item in app.session_state["_hero_shelf"].items()]
    click(app, "start_ch11_gpt")
    finish_runs(app, timeout=300)
    click(app, "ch11_decode")
    table = [d.value for d in app.dataframe if "Strategy" in d.value.columns][0]
    assert len(table) == 8
    assert len([d.value for d in app.dataframe if "Beam" in d.value.columns][0]) == 4
    assert any("Each column is one step" in c.value for c in app.caption)
    app.text_input(key="ch11_prompt").set_value("你好").run()
    click(app, "ch11_decode")
    assert any("English prose" in e for e in errors(app))
