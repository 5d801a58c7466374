"""Chapter 16 — Horizon, one module per section:

- ``clip``: a tiny CLIP-style model on digits and en/zh prompts (symmetric contrastive loss, zero-shot);
- ``rl``: REINFORCE with a learned baseline on gymnasium's CartPole-v1, episodes replayed from the state;
- ``adversarial``: FGSM and PGD against a digits classifier, accuracy vs ε, adversarial training;
- ``fairness``: two generated groups, thresholds, demographic-parity and equalised-odds gaps;
- ``scaling`` / ``hardware`` (16.5 / 16.6): the scaling-law lab and torch.compile (a separate module pair).
"""
