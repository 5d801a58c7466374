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


def test_shipped_gpt_prompting_lora_and_bias(app):
    open_page(app, PAGE)
    assert not errors(app) and not app.exception
    assert app.radio(key="ch11_gpt_pick").value == "shipped"          # the shipped GPT-2 answers at once
    click(app, "ch11_decode")
    assert len([d.value for d in app.dataframe if "Strategy" in d.value.columns][0]) == 8
    assert any("<|im_start|>assistant" in c.value for c in app.code)  # apply_chat_template rendered ChatML
    shots = [d.value for d in app.dataframe if "Examples in the prompt" in d.value.columns][0]
    assert list(shots["Examples in the prompt"]) == [0, 1, 4]
    app.checkbox(key="ch11_online").check().run()
    click(app, "ch11_ask")                                            # HF_HUB_OFFLINE=1: a clean fallback
    assert any("could not be loaded" in w.value for w in app.warning) and not app.exception
    app.text_input(key="ch11_pq").set_value("你好世界").run()
    assert any("English prose" in e for e in errors(app))
    lora_table = [d.value for d in app.dataframe if "Quantity" in d.value.columns and "LoRA · Measured (KiB)" in d.value.columns][0]
    assert len(lora_table) == 5
    click(app, "start_ch11_lora")
    finish_runs(app, timeout=300)
    assert any(m.label == "Held-out review loss after LoRA" for m in app.metric)
    app.select_slider(key="ch11_lora_r").set_value(256).run()
    assert any("LoRA rank 256 is out of range" in e for e in errors(app))
    assert any(m.label == "Held-out review loss after LoRA" for m in app.metric)   # the run is kept
    click(app, "ch11_weat")
    assert any(m.label == "Effect size d" for m in app.metric)
    app.text_area(key="ch11_weat_flowers_insects_X").set_value("rose").run()
    click(app, "ch11_weat")
    assert translate("en", "errors.ch11.weat_words", n=1, limit=40) in errors(app)
    app.session_state["lang"] = "zh"
    app.run()
    assert not app.exception and any("LoRA" in h.value for h in app.header)


def test_heads_and_trainer_vs_loop(app):
    open_page(app, PAGE)
    click(app, "start_ch11_ner")
    finish_runs(app, timeout=300)
    assert any(m.label == "Entity-word accuracy (held out)" for m in app.metric)
    assert any("-background[" in m.value for m in app.markdown)
    click(app, "start_ch11_qa")
    finish_runs(app, timeout=300)
    assert any(c.value.startswith("Answer: ") for c in app.caption)
    click(app, "start_ch11_hf")
    finish_runs(app, timeout=600)
    assert any(m.label == "Trainer time / plain loop time" for m in app.metric)
    kinds = [item.kind for item in app.session_state["_hero_shelf"].items()]
    assert kinds.count("sentiment-classifier-hf") == 2
