"""Chapter 8 page through the real router: every main button, results drawn, bad input translated."""
from core.i18n import translate
from tests.conftest import click, finish_runs, open_page

PAGE = "pages/ch08_nlp.py"


def markdown(app) -> str:
    return " ".join(m.value for m in app.markdown)


def test_tokenizer_section_and_empty_text(app):
    open_page(app, PAGE)
    tables = [d.value for d in app.dataframe]
    assert any("don't" in " ".join(map(str, t.iloc[:, 1])) or "loved" in " ".join(map(str, t.iloc[:, 1]))
               for t in tables)
    assert "Padded batch" in markdown(app) and "one_hot(ids) @ weight" in markdown(app)
    app.text_area(key="ch08_tok_text").set_value("   ").run()
    assert not app.exception
    assert translate("en", "errors.ch08.empty_text") in [e.value for e in app.error]
    app.session_state["lang"] = "zh"
    app.run()
    assert translate("zh", "errors.ch08.empty_text") in [e.value for e in app.error]


def test_gradients_and_gates(app):
    open_page(app, PAGE)
    click(app, "ch08_grad_run")
    assert any("RNN" in m for m in [markdown(app)]) and app.session_state["ch08_grad_shown"]
    assert "max |difference|" in markdown(app)
    app.text_input(key="ch08_gate_text").set_value("!!! ???").run()
    assert not app.exception


def test_train_buttons_and_results(app):
    open_page(app, PAGE)
    click(app, "start_ch08_sg")
    click(app, "start_ch08_s2s")
    click(app, "start_ch08_sent")
    finish_runs(app, timeout=300)
    S = app.session_state
    assert S["ch08_sg_result"].ok and S["ch08_s2s_result"].ok and S["ch08_sent_result"].ok
    near = [d.value for d in app.dataframe if "Cosine similarity" in list(d.value.columns)]
    assert near and len(near[0]) == 8 and near[0].iloc[:, 1].is_monotonic_decreasing
    assert "Model output" in markdown(app) and "P(positive)" in markdown(app)
    # an unknown word and an empty sentence give translated errors, not exceptions
    app.text_input(key="ch08_sg_word").set_value("qqqqzzz").run()
    app.text_input(key="ch08_sent_input_zh").set_value("   ").run()
    assert not app.exception
    errors = [e.value for e in app.error]
    assert translate("en", "errors.ch08.empty_text") in errors
    assert any("qqqqzzz" in e for e in errors)
    # the trained LSTM/GRU is kept across reruns
    app.run()
    assert app.session_state["ch08_sent_result"] is S["ch08_sent_result"]
    # the sentiment classifier (with its vocabulary) and the seq2seq model are on the visitor's shelf
    items = {i.kind: i for i in S["_hero_shelf"].items()}
    assert set(items) >= {"sentiment", "seq2seq"}
    assert items["sentiment"].info["vocab"] == S["ch08_sent_result"].vocab.itos
    assert items["seq2seq"].info["task"] == S["ch08_s2s_result"].settings["task"]
    assert next(items["sentiment"].model.parameters()).device.type == "cpu"


def test_english_run_downloads_an_english_script_and_gru_vs_lstm_compare(app):
    from ui import layout
    open_page(app, PAGE)
    app.radio(key="ch08_sent_src").set_value("en").run()
    app.radio(key="ch08_sent_cell").set_value("lstm").run()
    click(app, "start_ch08_sent")
    click(app, "start_ch08_cmp")
    finish_runs(app, timeout=300)
    S = app.session_state
    assert S["ch08_sent_result"].settings["source"] == "en" and S["ch08_sent_result"].ok
    script = layout.SERVED_SCRIPTS["ch08_sentiment.py"]
    assert "source='en'" in script and "cell='lstm'" in script and "source='zh'" not in script
    # the sliders move on; the download still reproduces the run that finished
    app.radio(key="ch08_sent_src").set_value("zh").run()
    assert "source='en'" in layout.SERVED_SCRIPTS["ch08_sentiment.py"]
    cmp = S["ch08_cmp_result"]
    assert cmp.ok and list(cmp.runs) == ["gru", "lstm"]
    assert cmp.runs["gru"].vocab.itos == cmp.runs["lstm"].vocab.itos
    tables = [d.value for d in app.dataframe if translate("en", "ch08.cmp.params") in list(d.value.columns)]
    assert tables and list(tables[0].iloc[:, 0]) == ["GRU", "LSTM"]
    assert "ch08_gru_vs_lstm.py" in layout.SERVED_SCRIPTS
    app.session_state["lang"] = "zh"
    app.run()
    assert not app.exception and translate("zh", "ch08.cmp.title") in markdown(app)
