"""Class activation maps: CAM, Grad-CAM and Grad-CAM++.

- CAM (Zhou et al. 2016): ``M_c = sum_k w_k^c A_k`` from the last feature maps ``A`` and
  the weights ``w^c`` of a global-average-pooled linear classifier.
- Grad-CAM (Selvaraju et al. 2017): ``ReLU(sum_k a_k A_k)`` with ``a_k`` the spatial mean
  of ``dS_c / dA_k``.
- Grad-CAM++ (Chattopadhay et al. 2018, eq. 19 with the exponential score): per-pixel
  ``alpha_kij = g^2 / (2 g^2 + sum_ab A_kab g^3)`` with ``g = dS_c/dA_kij`` (0 where
  the denominator is 0), weights ``w_k = sum_ij alpha_kij ReLU(g_kij)`` and map
  ``ReLU(sum_k w_k A_k)``.
  The exponential's ``exp(S_c)`` factor scales a whole map and is left out, as usual.

``gradient_cam(model, layer, images, classes)`` runs the model once, hooks ``layer``'s
output, back-propagates each image's class score and returns ``(B, h, w)`` maps on the
layer's grid; ``upsample`` and ``minmax`` bring them to the image grid and to [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from wsbench.errors import ParameterError

CAM_METHODS = ("gradcam", "gradcam++")


def class_activation_map(
    features: torch.Tensor, fc_weight: torch.Tensor, classes: torch.Tensor
) -> torch.Tensor:
    """CAM: features ``(B, K, h, w)``, classifier weight ``(C, K)``, one class per image
    ``(B,)`` -> ``(B, h, w)`` (no ReLU, no normalisation)."""
    weights = fc_weight[classes.long()]  # (B, K)
    return torch.einsum("bk,bkhw->bhw", weights.to(features.dtype), features)


def grad_cam_weights(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """Grad-CAM channel weights ``(B, K)``: the spatial mean of the gradients."""
    return gradients.mean(dim=(2, 3))


def grad_cam_plus_plus_weights(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """Grad-CAM++ channel weights ``(B, K)`` from ``A`` and ``g = dS/dA`` ``(B, K, h, w)``."""
    g2, g3 = gradients**2, gradients**3
    spatial_sum = activations.sum(dim=(2, 3), keepdim=True)
    denominator = 2 * g2 + spatial_sum * g3
    defined = denominator != 0  # also false where g = 0
    safe = torch.where(defined, denominator, torch.ones_like(denominator))
    alpha = torch.where(defined, g2 / safe, torch.zeros_like(g2))
    return (alpha * gradients.clamp(min=0)).sum(dim=(2, 3))


def weighted_map(activations: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``ReLU(sum_k w_k A_k)``: ``(B, K, h, w)`` and ``(B, K)`` -> ``(B, h, w)``."""
    return torch.einsum("bk,bkhw->bhw", weights, activations).clamp(min=0)


_WEIGHTS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "gradcam": grad_cam_weights,
    "gradcam++": grad_cam_plus_plus_weights,
}


def gradient_cam(
    model: nn.Module,
    layer: nn.Module,
    images: torch.Tensor,
    classes: torch.Tensor,
    method: str = "gradcam++",
) -> torch.Tensor:
    """Grad-CAM or Grad-CAM++ maps ``(B, h, w)`` of ``classes[b]`` for each image.

    ``model(images)`` must return class scores ``(B, C)`` (logits, before any sigmoid or
    softmax); ``layer`` is the module whose output ``A`` is explained. The model's mode
    (train/eval) is left as it is; parameter gradients are not touched.
    """
    if method not in _WEIGHTS:
        raise ParameterError(
            f"CAM method {method!r} is not known; choose one of {', '.join(CAM_METHODS)}"
        )
    captured: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        with torch.enable_grad():
            scores = model(images)
            if not captured:
                raise ParameterError("gradient_cam: the given layer did not run in model(images)")
            activations = captured[-1]
            picked = scores.gather(1, classes.long().view(-1, 1).to(scores.device)).sum()
            (gradients,) = torch.autograd.grad(picked, activations)
    finally:
        handle.remove()
    activations, gradients = activations.detach().float(), gradients.float()
    return weighted_map(activations, _WEIGHTS[method](activations, gradients))


def upsample(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of ``(B, h, w)`` maps to ``size``."""
    return F.interpolate(maps.unsqueeze(1), size=size, mode="bilinear", align_corners=False)[:, 0]


def minmax(maps: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Scale each map of ``(B, ...)`` to [0, 1]; a map whose range is at most ``eps``
    (constant up to rounding) becomes 0."""
    flat = maps.flatten(1)
    lo = flat.min(1).values.view(-1, *[1] * (maps.dim() - 1))
    hi = flat.max(1).values.view(-1, *[1] * (maps.dim() - 1))
    span = hi - lo
    return torch.where(span > eps, (maps - lo) / span.clamp(min=eps), torch.zeros_like(maps))
