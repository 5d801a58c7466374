"""Chapter 11 — LLMs with Hugging Face ``transformers`` offline: MiniLM's WordPiece and the token
tax, semantic search with mean-pooled MiniLM embeddings, sentiment on frozen MiniLM features,
a memory-cost calculator checked against a measured model, and decoding strategies through
``generate`` on a tiny GPT-2. One module per section; the page and widget only draw."""

PRESETS = {
    "tiny": {"paragraphs": 24, "bpe_chars": 20000, "bpe_vocab": 300, "sent_n": 80, "ft_steps": 2,
             "gpt": {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "steps": 6, "batch_size": 4,
                     "max_chars": 20000}, "gen_new": 8},
    "default": {"paragraphs": 300, "bpe_chars": 200000, "bpe_vocab": 2000, "sent_n": 600, "ft_steps": 40,
                "gpt": {"n_layer": 2, "n_head": 4, "n_embd": 96, "block_size": 64, "steps": 300, "batch_size": 16,
                        "max_chars": 200000}, "gen_new": 40},
    "gpu": {"paragraphs": 1500, "bpe_chars": 0, "bpe_vocab": 4000, "sent_n": 2400, "ft_steps": 200,
            "gpt": {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 128, "steps": 800, "batch_size": 32,
                    "max_chars": 0}, "gen_new": 60},
}
