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
