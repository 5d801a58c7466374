"""Chapter 14 — distributed training between real processes, one module per section.

    calculators  14.1 / 14.7  scaling (Amdahl + ring all-reduce) and memory per device (DP, ZeRO, TP, PP)
    ddp          14.3 / 14.5  live DDP, gradients vs one process, throughput, no_sync, comm-hook timeline
    collectives  14.4         all_reduce / broadcast / all_gather / reduce_scatter, α–β fit
    pipeline     14.5         two-stage model/pipeline parallel with send/recv and micro-batches
    script       14.6 / 实战   the generated torchrun script, run by torchrun, with an elastic restart
    figures      plotly figures for all of the above

Kept light on purpose: every spawned rank imports this package, so nothing heavy (plotly,
sklearn) is imported here or by the worker modules at import time.
"""

# Sizes per preset (core.device.preset): tests run "tiny"; a 2-core visitor gets "default".
PRESETS = {
    "tiny": {"ddp_steps": 3, "throughput_sizes": [1, 2], "tp_steps": 5, "bw_sizes": (1_000, 100_000),
             "bw_repeats": 2, "pipe_batch": 32, "pipe_width": 64, "pipe_steps": 1, "acc_micro": 4,
             "acc_hidden": 64, "fault_steps": 12, "fault_kill": 6, "script_steps": 8},
    "default": {"ddp_steps": 40, "throughput_sizes": [1, 2, 4], "tp_steps": 40,
                "bw_sizes": (1_000, 10_000, 100_000, 1_000_000, 4_000_000), "bw_repeats": 5, "pipe_batch": 256,
                "pipe_width": 512, "pipe_steps": 2, "acc_micro": 8, "acc_hidden": 256, "fault_steps": 40,
                "fault_kill": 13, "script_steps": 40},
    "gpu": {"ddp_steps": 60, "throughput_sizes": [1, 2, 4], "tp_steps": 60,
            "bw_sizes": (1_000, 10_000, 100_000, 1_000_000, 16_000_000), "bw_repeats": 10, "pipe_batch": 512,
            "pipe_width": 1024, "pipe_steps": 2, "acc_micro": 8, "acc_hidden": 512, "fault_steps": 40,
            "fault_kill": 13, "script_steps": 60},
}
