"""Chapter 7 — computer vision, one module per book section: convolution and receptive fields,
feature maps, the architecture zoo, transfer learning, class imbalance, and fine-tuning on your own images
with Grad-CAM. Plain functions returning data (plus this chapter's figures); no UI code here.
"""
from core.lessons.ch07_vision.presets import (PRESETS)
from core.lessons.ch07_vision.convolution import (ConvSpec, KERNELS, LIMITS, MAX_STACK, conv_demo, conv_figure,
                                                  conv_output_size, digit_image, make_kernel,
                                                  measured_receptive_field, parse_stack, receptive_field,
                                                  rf_figure)
from core.lessons.ch07_vision.feature_maps import (FEATURE_CHECKPOINT, feature_maps)
from core.lessons.ch07_vision.architectures import (ZOO, ZOO_SIZES, _torchvision, analyse_architecture,
                                                    analyse_zoo, count_flops, count_parameters, layer_table,
                                                    time_forward)
from core.lessons.ch07_vision.transfer import (BACKBONE_CHECKPOINT, Backbone, FREEZE_LEVELS, IMAGENET_MEAN,
                                               IMAGENET_STD, IMAGE_SIZE, SHAPES_CONFIG, SOURCE_TASK,
                                               TransferNet, TransferResult, TransferSettings, classifier_files,
                                               few_shot_digits, freeze, from_tiny_resnet,
                                               from_torchvision_resnet, imagenet_resnet18,
                                               pretrain_shapes_backbone, pretrained_backbone, to_rgb32,
                                               train_transfer, transfer_net, transfer_runs)
from core.lessons.ch07_vision.imbalance import (ImbalanceSettings, MINORITY, STRATEGIES, class_weights,
                                                imbalanced_digits, recall_bars, resampling_loader,
                                                train_imbalance)
from core.lessons.ch07_vision.own_images import (FINETUNE_SIZE, FinetuneResult, FinetuneSettings,
                                                 MAX_FINETUNE_IMAGES, _normalise, builtin_dataset, explain, finetune,
                                                 finetune_on, folder_dataset, grad_cam, image_bytes, image_row,
                                                 overlay_figure, per_class_accuracy, photo_split, predict_topk,
                                                 preview, preview_caption, preview_rows, resize_map, saliency,
                                                 sample_row, square_rgb)
from core.lessons.ch07_vision.take_home import (conv_script, feature_maps_script, finetune_script, imbalance_script,
                                                receptive_field_script, transfer_script, zoo_script)
