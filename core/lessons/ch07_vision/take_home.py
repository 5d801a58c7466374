"""The downloads of the chapter 7 code panels: each section's functions inlined by
``core.takehome`` with a ``__main__`` that reruns the page's settings and prints the result
(smaller under ``TINY``, as the gallery's tests run them). Where the page uses a shipped
checkpoint, the script trains a small stand-in first (it has no ``models/`` folder)."""
from __future__ import annotations

from core import takehome
from core.lessons.ch07_vision.architectures import analyse_architecture, count_flops, layer_table, time_forward
from core.lessons.ch07_vision.convolution import (conv_demo, conv_output_size, digit_image, measured_receptive_field,
                                                 receptive_field)
from core.lessons.ch07_vision.feature_maps import feature_maps, quick_digit_cnn
from core.lessons.ch07_vision.imbalance import ImbalanceSettings, class_weights, resampling_loader, train_imbalance
from core.lessons.ch07_vision.own_images import (FinetuneSettings, builtin_dataset, explain, finetune_on, grad_cam,
                                                image_bytes, saliency, sample_row)
from core.lessons.ch07_vision.transfer import (TransferNet, TransferSettings, freeze, imagenet_resnet18,
                                              pretrain_shapes_backbone, transfer_runs)

DEVICE = "'cuda' if torch.cuda.is_available() else 'cpu'"


def conv_script(index: int, kernel: str, k: int, s: int, p: int, d: int) -> str:
    return takehome.script(conv_output_size, conv_demo, digit_image, filename="ch07_conv.py", registry_keys={"mnist5k"},
                           main=f"image = digit_image({index})\n"
                                f"r = conv_demo(image, {kernel!r}, {k}, {s}, {p}, {d})\n"
                                "print(r['formula'], '=', r['out_size'])\nprint(r['layer'])")


def receptive_field_script(stack: str) -> str:
    return takehome.script(receptive_field, measured_receptive_field, filename="ch07_receptive_field.py",
                           main=f"specs = parse_stack({stack!r})\nfor row in receptive_field(specs):\n    print(row)\n"
                                "m = measured_receptive_field(specs, 28)\n"
                                "print('measured: rows', m['rows'], 'cols', m['cols'])")


def feature_maps_script(index: int) -> str:
    return takehome.script(feature_maps, quick_digit_cnn, filename="ch07_feature_maps.py",
                           registry_keys={"mnist5k", "small_cnn"},
                           main="model = quick_digit_cnn(epochs=1, n_train=500 if TINY else 5000)   # stands in for "
                                "the shipped ch05 CNN\n"
                                f"x = torch.from_numpy(datasets.load('mnist5k').X[{index}].copy())[None]\n"
                                "r = feature_maps(model, x)\nfor layer in r['layers']:\n"
                                "    print(layer['name'], layer['type'], layer['maps'].shape)\n"
                                "print('predicted digit', int(r['probs'].argmax()))")


def zoo_script(names: list[str], size: int, repeats: int) -> str:
    return takehome.script(count_flops, layer_table, time_forward, analyse_architecture, filename="ch07_zoo.py",
                           registry_keys={"lenet5"}, requires=["torchvision"],
                           main=f"for name in {names!r}:\n"
                                f"    r = analyse_architecture(name, 32 if TINY else {size}, 1 if TINY else {repeats}, "
                                f"device={DEVICE})\n"
                                "    print(name, f\"{r['params'] / 1e6:.2f} M params\", "
                                "f\"{r['flops'] / 1e9:.3f} GFLOPs\", f\"{r['ms']:.1f} ms\")")


def transfer_script(s: TransferSettings) -> str:
    return takehome.script(freeze, TransferNet, transfer_runs, pretrain_shapes_backbone, filename="ch07_transfer.py",
                           registry_keys={"ch07_shapes", "mnist5k", "tiny_resnet"},
                           main="# the gallery ships this backbone; here it is pretrained first (the same recipe)\n"
                                f"backbone = pretrain_shapes_backbone(30 if TINY else 300, 1 if TINY else 6, device={DEVICE})\n"
                                f"s = TransferSettings(shots={s.shots}, freeze={s.freeze!r}, epochs=1 if TINY else {s.epochs}, "
                                f"n_val=40 if TINY else {s.n_val}, device={DEVICE})\n"
                                "r = transfer_runs(s, backbone)\n"
                                "print('final validation accuracy', r.final, 'trainable', r.trainable)")


def imbalance_script(s: ImbalanceSettings) -> str:
    return takehome.script(class_weights, resampling_loader, train_imbalance, filename="ch07_imbalance.py",
                           registry_keys={"digits", "mlp"},
                           main=f"r = train_imbalance(ImbalanceSettings(minority_fraction={s.minority_fraction}, "
                                f"epochs=2 if TINY else {s.epochs}, device={DEVICE}))\n"
                                "for strategy, recall in r['recall'].items():\n"
                                "    print(strategy, 'accuracy', round(r['accuracy'][strategy], 3), 'recall', recall.round(2))")


def finetune_script(s: FinetuneSettings, n_photos: int = 40, size: int = 64) -> str:
    backbone = (f"backbone = pretrain_shapes_backbone(30 if TINY else 300, 1 if TINY else 6, device={DEVICE})\n")
    if s.imagenet:   # the page's choice: ImageNet weights when they download, else the offline recipe
        backbone = ("model, why = imagenet_resnet18()\n"
                    "if model is None:\n    print('ImageNet weights not available:', why)\n    "
                    + backbone.replace("\n", "\n    ").rstrip() + "\n"
                    "else:\n    backbone = Backbone(model, 'imagenet')\n")
    return takehome.script(finetune_on, grad_cam, saliency, explain, pretrain_shapes_backbone, imagenet_resnet18,
                           builtin_dataset, image_bytes, sample_row, filename="ch07_finetune.py",
                           registry_keys={"ch07_shapes", "ch07_photos", "tiny_resnet"},
                           requires=["torchvision", "scikit-image", "matplotlib", "gradio"],
                           main=backbone +
                                "# 4 classes of real photos shipped in scikit-image, matplotlib and gradio; validation\n"
                                "# crops come from other photos than training (or your own images as rows [N, 3·S²])\n"
                                f"ds = builtin_dataset(6 if TINY else {n_photos}, 32 if TINY else {size})\n"
                                f"r = finetune_on(ds, FinetuneSettings(epochs=1 if TINY else {s.epochs}, "
                                f"freeze={s.freeze!r}, device={DEVICE}), backbone)\n"
                                "print('backbone', r.backbone, 'val_acc', r.end.get('val_acc'), 'per class', r.per_class)\n"
                                "e = explain(r.model, image_bytes(sample_row(ds)), r.classes)\n"
                                "peak = divmod(int(e['cam'].argmax()), e['cam'].shape[1])\n"
                                "print('top-3', e['topk'], 'Grad-CAM peak at', peak)\n")
