"""The downloads of the chapter 9 code panels: each section's functions inlined by
``core.takehome`` with a ``__main__`` that reruns the page's settings and prints the result
(smaller under ``TINY``, as the gallery's tests run them). The device is the script's own:
CUDA when the machine at home has it."""
from __future__ import annotations

from core import takehome
from core.lessons.ch09_tricks.clinic import BUGS, clinic_data
from core.lessons.ch09_tricks.clipping import ClipSettings, UpdateNorm, run_clipping
from core.lessons.ch09_tricks.hooks import compare_inits, layer_statistics
from core.lessons.ch09_tricks.lr_finder import digits_split, finder_model, lr_finder, lr_schedule
from core.lessons.ch09_tricks.overfitting import OverfitSettings, RandomShift, gap_table, run_overfit_lab, variant_setup
from core.lessons.ch09_tricks.reproducibility import repro_run, reproducibility
from core.lessons.ch09_tricks.tb_graph import graph_nodes, visible_graph
from core.lessons.ch09_tricks.tensorboard_logs import TensorBoardLogger, read_events, tensorboard_demo, train_with_tensorboard
from core.lessons.ch09_tricks.tuning import TuneSettings, digits_task, run_tuning

DEVICE = "'cuda' if torch.cuda.is_available() else 'cpu'"


def overfit_script(s: OverfitSettings) -> str:
    return takehome.script(RandomShift, variant_setup, run_overfit_lab, gap_table, filename="ch09_overfit.py",
                           registry_keys={"digits", "deep_mlp"},
                           main=f"s = OverfitSettings(per_class={s.per_class}, epochs=3 if TINY else {s.epochs}, "
                                f"weight_decay={s.weight_decay}, dropout={s.dropout}, variants={s.variants!r}, "
                                f"device={DEVICE})\n"
                                "for row in gap_table(run_overfit_lab(s)):\n    print(row)")


def lr_finder_script(arch: str, lr_min: float, lr_max: float, steps: int, optimizer: str) -> str:
    return takehome.script(lr_schedule, lr_finder, finder_model, digits_split, filename="ch09_lr_finder.py",
                           registry_keys={"digits", arch},
                           main=f"split = digits_split()\nr = lr_finder(finder_model({arch!r}), split.X_train, "
                                f"split.y_train, {lr_min}, {lr_max}, 20 if TINY else {steps}, {optimizer!r}, "
                                f"device={DEVICE})\nprint('steepest', r['steepest'], 'min/10', r['min_over_10'])")


def clipping_script(s: ClipSettings) -> str:
    return takehome.script(UpdateNorm, run_clipping, filename="ch09_clipping.py", registry_keys={"toy", "deep_mlp"},
                           main=f"r = run_clipping(ClipSettings(depth={s.depth}, lr={s.lr}, max_norm={s.max_norm}, "
                                f"epochs=1 if TINY else {s.epochs}, device={DEVICE}))\n"
                                "for name, run in r['runs'].items():\n"
                                "    print(name, 'max grad norm', max(e['grad_norm'] for e in run['steps']),\n"
                                "          'max update', max(e['update_norm'] for e in run['steps']))")


def tensorboard_script(epochs: int) -> str:
    return takehome.script(TensorBoardLogger, train_with_tensorboard, read_events, tensorboard_demo, graph_nodes,
                           visible_graph, filename="ch09_tensorboard.py", registry_keys={"digits", "mlp"},
                           requires=["tensorboard"],
                           main="logdir = os.path.abspath('ch09_tensorboard')\n"
                                f"r = tensorboard_demo(logdir, epochs=1 if TINY else {epochs}, device={DEVICE})\n"
                                "events = read_events(r['run_dir'])\n"
                                "print('val_acc', r['end']['val_acc'], 'scalars', sorted(events['scalars']))\n"
                                "shown, edges = visible_graph(events['graph_nodes'])\n"
                                "print('graph:', len(events['graph_nodes']), 'nodes;', ' -> '.join(n['label'] for n in "
                                "sorted(shown, key=lambda n: n['x'])))\n"
                                "print('now run: tensorboard --logdir', logdir)")


def clinic_script(bug: str, steps: int) -> str:
    buggy, fixed = BUGS[bug]
    # the wrong-device bug puts the model on the GPU (or, without one, the data-less `meta` device)
    places = ("{'device': 'cuda' if torch.cuda.is_available() else 'meta'}", f"{{'device': {DEVICE}}}") \
        if bug == "wrong_device" else ("{}", "{}")
    return takehome.script(buggy, fixed, clinic_data, filename=f"ch09_clinic_{bug}.py", registry_keys={"digits"},
                           main=f"d = clinic_data()\nsteps = 20 if TINY else {steps}\n"
                                f"for train, where in (({buggy.__name__}, {places[0]}), ({fixed.__name__}, {places[1]})):\n"
                                "    try:\n"
                                "        r = train(d, steps, **where)\n"
                                "        first, last = sum(r['losses'][:5]) / 5, sum(r['losses'][-5:]) / 5\n"
                                "        print(train.__name__, 'loss first', round(first, 3), 'last', round(last, 3),\n"
                                "              'val_acc', r['val_acc'][-1], '(chance: loss ln 10 = 2.303, accuracy 0.1)')\n"
                                "    except RuntimeError as err:   # the dtype and device bugs stop here, as at home\n"
                                "        print(train.__name__, 'fails:', err)")


def hooks_script(bad_init: str, depth: int, activation: str, steps: int) -> str:
    return takehome.script(layer_statistics, compare_inits, filename="ch09_hooks.py",
                           registry_keys={"digits", "deep_mlp"},
                           main=f"r = compare_inits({bad_init!r}, {depth}, {activation!r}, steps=20 if TINY else {steps})\n"
                                "for name, run in r.items():\n"
                                "    print(name, run['init'], 'act_std per layer',\n"
                                "          [round(x['act_std'], 4) for x in run['stats']], 'last loss', run['losses'][-1])")


def repro_script(seed_a: int, seed_b: int, steps: int) -> str:
    return takehome.script(repro_run, reproducibility, filename="ch09_repro.py", registry_keys={"digits", "mlp"},
                           main=f"r = reproducibility({seed_a}, {seed_b}, 10 if TINY else {steps})\n"
                                "print('same seed identical:', r['same_seed_identical'], 'other seed differs by',\n"
                                "      r['other_seed_diff'], 'unseeded init differs by', r['unseeded_diff'])")


def tune_script(s: TuneSettings) -> str:
    """The 实战 of ``s.model`` from an empty folder: its task (ch07's backbone pretrained first, as the
    gallery ships it), then ``run_tuning``; prints the table and the TensorBoard command."""
    settings = (f"s = TuneSettings(model={s.model!r}, dataset={s.dataset!r}, epochs=1 if TINY else {s.epochs}, "
                f"weight_decay={s.weight_decay}, patience={s.patience}, finder_steps=20 if TINY else {s.finder_steps}, "
                f"batch_size={s.batch_size}, photos=6 if TINY else {s.photos}, source={s.source!r}, "
                f"reviews=400 if TINY else {s.reviews}, clip={s.clip}, device={DEVICE})\n")
    tail = ("logdir = os.path.abspath('ch09_tuning_tensorboard')\n"
            "r = run_tuning(task, s, logdir)\n"
            "print('LR finder suggests', r['finder']['steepest'])\n"
            "for row in r['table']:\n    print(row)\n"
            "print('now run: tensorboard --logdir', logdir)")
    if s.model == "digits_cnn":
        return takehome.script(lr_finder, run_tuning, digits_task, filename="ch09_tune.py",
                               registry_keys={s.dataset, "small_cnn"}, requires=["tensorboard"],
                               main=settings + "task = digits_task(s)\n" + tail)
    from core.lessons.ch09_tricks.tune_models import resnet_task, sentiment_task
    if s.model == "ch08_sentiment":
        return takehome.script(lr_finder, run_tuning, sentiment_task, filename="ch09_tune.py",
                               registry_keys={"ch08_rnn_classifier"}, requires=["tensorboard", "snownlp"],
                               main=settings + "task = sentiment_task(s)   # a fresh GRU (the page may have started "
                                               "from your shelf model)\n" + tail)
    from core.lessons.ch07_vision.transfer import pretrain_shapes_backbone
    return takehome.script(lr_finder, run_tuning, resnet_task, pretrain_shapes_backbone, filename="ch09_tune.py",
                           registry_keys={"ch07_shapes", "ch07_photos", "tiny_resnet"}, requires=["tensorboard"],
                           main="# the gallery ships this backbone; here it is pretrained first (the same recipe)\n"
                                f"backbone = pretrain_shapes_backbone(30 if TINY else 300, 1 if TINY else 6, device={DEVICE})\n"
                                + settings + "task = resnet_task(s, backbone)\n" + tail)
