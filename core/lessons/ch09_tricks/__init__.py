"""Chapter 9 — training tricks and debugging, one module per book section.

Regularisation runs (weight decay, dropout, BatchNorm, augmentation, early stopping), gradient
clipping on an exploding setup, an LR finder, real TensorBoard event files, a clinic of buggy
training scripts, per-layer hooks, reproducibility, and the 实战 that tunes the ch05 digit CNN.
Plain functions returning data (plus this chapter's plotly figures); no UI code here.
"""
from core.lessons.ch09_tricks.presets import (MAX_DEPTH, MAX_EPOCHS, MAX_PER_CLASS, MAX_STEPS, PRESETS)
from core.lessons.ch09_tricks.overfitting import (OverfitSettings, RandomShift, VARIANTS, gap_table,
                                                  overfit_split, run_overfit_lab, variant_setup)
from core.lessons.ch09_tricks.lr_finder import (digits_split, finder_model, lr_finder, lr_finder_figure,
                                                lr_schedule)
from core.lessons.ch09_tricks.clipping import (ClipSettings, UpdateNorm, run_clipping, step_figure)
from core.lessons.ch09_tricks.tensorboard_logs import (TensorBoardLogger, histogram_figure, prune_runs,
                                                       read_events, read_logdir, scalars_figure,
                                                       tensorboard_command, tensorboard_demo,
                                                       train_with_tensorboard, zip_logdir)
from core.lessons.ch09_tricks.tb_graph import graph_figure, graph_nodes, read_graph, visible_graph
from core.lessons.ch09_tricks.clinic import (BUGS, Chart, ClinicData, batches, bug_device, bug_diff, buggy_device,
                                             buggy_dtype, fixed_device, learns_nothing, measured_answer,
                                             run_every_bug, symptom_table, symptoms,
                                             buggy_eval_mode, buggy_lr_too_high, buggy_no_zero_grad,
                                             buggy_shuffled_labels, buggy_softmax_before_ce, buggy_unnormalised,
                                             clinic_data, clinic_figure, clinic_model, fixed_dtype,
                                             fixed_eval_mode, fixed_lr_too_high, fixed_no_zero_grad,
                                             fixed_shuffled_labels, fixed_softmax_before_ce, fixed_unnormalised,
                                             run_clinic, run_script)
from core.lessons.ch09_tricks.hooks import (compare_inits, hook_model, layer_statistics, layer_stats_figure,
                                            model_layer_statistics, model_stats_figure, inspect_classifier)
from core.lessons.ch09_tricks.reproducibility import (lines_figure, repro_run, reproducibility)
from core.lessons.ch09_tricks.tuning import (SHELF_KINDS, TUNE_MODELS, TuneSettings, TuneTask, best_val, digits_task,
                                            run_tuning, score_classifier, shelf_files, tune_digits, tune_model, tune_task)
from core.lessons.ch09_tricks.take_home import (clinic_script, clipping_script, hooks_script, lr_finder_script,
                                                overfit_script, repro_script, tensorboard_script, tune_script)
