"""Chapter 8 — NLP: tokens and vocabularies, embeddings (skip-gram), RNN/LSTM/GRU gradients and
gates, seq2seq with attention, and an LSTM/GRU sentiment classifier. One module per section.

Plain functions returning data; the Streamlit page and the Gradio widget only draw it.
"""
from core.lessons.ch08_nlp.presets import PRESETS
from core.lessons.ch08_nlp.tokens import (BOS, EOS, MAX_LINES, MAX_TEXT_CHARS, PAD, UNK, Vocab, batch_figure,
                                          build_vocab, clean_text, embedding_lookup, pad_batch, tokenize,
                                          tokenizer_demo)
from core.lessons.ch08_nlp.word_vectors import (SkipGramResult, SkipGramSettings, corpus_tokens, embedding_figure,
                                                nearest_words, project_2d, skipgram_pairs, train_skipgram)
from core.lessons.ch08_nlp.gradients import (CELLS, MAX_SEQ_STEPS, gradient_comparison, gradient_figure,
                                             gradient_through_time)
from core.lessons.ch08_nlp.gates import GATES, gate_demo, gates_figure, lstm_gates
from core.lessons.ch08_nlp.translation import (MAX_SRC, MAX_TGT, TASKS, TGT_CHARS, ExactMatch, Seq2SeqResult,
                                               Seq2SeqSettings, Seq2SeqTask, attention_figure, decode_strings,
                                               exact_match, make_task, seq2seq_loss, src_tokens, task_pair,
                                               train_seq2seq, translate)
from core.lessons.ch08_nlp.torchtext_today import TORCHTEXT_REPLACEMENT
from core.lessons.ch08_nlp.sentiment import (SENT_SOURCES, CellComparison, SentimentResult, SentimentSettings,
                                             classify, coloured_tokens_html, compare_cells, comparison_table,
                                             encode_texts, load_sentiment, run_summary, sentiment_split,
                                             train_sentiment)
from core.lessons.ch08_nlp.take_home import compare_script, sentiment_script
