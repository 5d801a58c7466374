"""Chapter 8 widget handlers called directly: streamed training, then classification of typed text."""
import numpy as np

from widgets import ch08_nlp as w


def test_classify_before_training_asks_to_train():
    probs, html, message = w.classify("很好", {}, "zh")
    assert probs == {} and html == "" and "训练" in message


def test_train_streams_then_classifies():
    outputs = list(w.train("en", "lstm", 2, {}))
    assert len(outputs) > 2                                   # streamed, not one shot
    status, curves, state = outputs[-1]
    assert "result" in state and curves is not None and "%" in status
    result = state["result"]
    assert result.settings["cell"] == "lstm" and result.end["val_acc"] > result.counts["majority"]
    probs, html, message = w.classify("the hotel was terrible , never again", state)
    assert set(probs) == {"positive", "negative"} and abs(sum(probs.values()) - 1) < 1e-6
    assert probs["negative"] > 0.5 and "negative" in message
    n_tokens = len(result.vocab.encode(["the", "hotel", "was", "terrible", ",", "never", "again"]))
    assert html.count("<span") == n_tokens == 7
    empty_probs, _, empty_message = w.classify("   ", state, "zh")
    assert empty_probs == {} and "文本为空" in empty_message
    long_probs, _, long_message = w.classify("great " * 500, state)
    assert long_probs and "first" in long_message              # truncated to max_len tokens, with a note
    assert np.isfinite(list(long_probs.values())).all()


def test_compare_gru_and_lstm_streams_both_runs_on_the_same_data():
    outputs = list(w.compare("en", 1, "zh"))
    assert len(outputs) > 2
    status, figure, rows = outputs[-1]
    assert figure is not None and [r[0] for r in rows] == ["GRU", "LSTM"]
    assert {trace.name for trace in figure.data} >= {"GRU", "LSTM"} or len(figure.data) >= 2
    assert "种子" in status                                   # translated summary: same data, vocabulary and seed
