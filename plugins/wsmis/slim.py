"""``vgg16-slim``: VGG16's layer layout with every width divided by 8, a CPU stand-in for the
quick profile (the paper uses VGG16 and ResNet-50; at 48-96 px a dilated VGG16 or ResNet costs
seconds per batch on one core). Batch norm follows each convolution (VGG16-BN's layout),
since it trains from scratch in a few hundred steps. Same output-stride rule as the core
VGG16: stride 8 removes pools 4 and 5 and dilates the fifth block by 2.

``forward`` returns the five blocks' outputs (before their pool), strides 1, 2, 4, 8, 8:
the classifier explains the last, IRNet reads all five.
"""

from __future__ import annotations

import torch
from torch import nn

# VGG16 (configuration D): convolutions per block and their width in units of ``base``
_BLOCKS = ((2, 1), (2, 2), (3, 4), (3, 8), (3, 8))


class SlimVGG(nn.Module):
    def __init__(self, base: int = 8, in_channels: int = 1):
        super().__init__()
        self.blocks = nn.ModuleList()
        cin = in_channels
        for index, (convs, mult) in enumerate(_BLOCKS):
            layers: list[nn.Module] = []
            dilation = 2 if index == 4 else 1
            for _ in range(convs):
                layers += [
                    nn.Conv2d(cin, base * mult, 3, padding=dilation, dilation=dilation, bias=False),
                    nn.BatchNorm2d(base * mult),
                    nn.ReLU(inplace=True),
                ]
                cin = base * mult
            self.blocks.append(nn.Sequential(*layers))
        self.channels = [base * mult for _, mult in _BLOCKS]
        self.pool = nn.MaxPool2d(2, 2, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for index, block in enumerate(self.blocks):
            if 0 < index < 4:  # pools 1-3; pools 4 and 5 removed for output stride 8
                x = self.pool(x)
            x = block(x)
            out.append(x)
        return out
