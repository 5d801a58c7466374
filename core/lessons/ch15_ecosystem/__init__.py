"""Chapter 15 — the ecosystem around PyTorch, one module per section.

    lightning_run  15.1  the ch05 digits CNN as a LightningModule, trained by pl.Trainer beside core.train.fit
    attributions   15.2  Captum (Saliency, IntegratedGradients, Occlusion, LayerIntegratedGradients)
    study          15.3  an Optuna study (MedianPruner) that tunes the Lightning run; best vs worst with Captum
    gnn            15.4  a GCN on the karate club, in plain torch and with torch_geometric's GCNConv
    chooser        15.5  which library for which job, and whether it is installed here
    figures        plotly figures for all of the above

Lightning, Captum, Optuna and torch_geometric are imported inside the functions that use them,
so opening the page (or importing this package) stays fast.
"""

# Sizes per preset (core.device.preset): tests run "tiny"; a 2-core visitor gets "default".
PRESETS = {
    "tiny": {"lit_epochs": 2, "trials": 2, "trial_epochs": 2, "ig_steps": 8, "gnn_epochs": 20, "gnn_frames": 5,
             "sent_limit": 400, "sent_epochs": 1},
    "default": {"lit_epochs": 10, "trials": 8, "trial_epochs": 4, "ig_steps": 32, "gnn_epochs": 200, "gnn_frames": 40,
                "sent_limit": 3000, "sent_epochs": 2},
    "gpu": {"lit_epochs": 20, "trials": 16, "trial_epochs": 6, "ig_steps": 64, "gnn_epochs": 300, "gnn_frames": 60,
            "sent_limit": 6000, "sent_epochs": 3},
}
