"""Network blocks shared by segmenters and paper plugins: dilated backbones
(``backbones``), ASPP, FPN and the DeepLabV3+ decoder (``heads``), and CAM, Grad-CAM
and Grad-CAM++ (``cam``)."""

from wsbench.nn.backbones import BACKBONES, Backbone, build_backbone
from wsbench.nn.cam import class_activation_map, gradient_cam
from wsbench.nn.heads import ASPP, FPN, DeepLabV3Plus, DeepLabV3PlusDecoder, aspp_rates

__all__ = [
    "ASPP",
    "BACKBONES",
    "Backbone",
    "DeepLabV3Plus",
    "DeepLabV3PlusDecoder",
    "FPN",
    "aspp_rates",
    "build_backbone",
    "class_activation_map",
    "gradient_cam",
]
