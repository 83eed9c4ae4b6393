"""RefinerUNet: the paired refiner head that maps FLUX.1-schnell portraits towards FLUX.1-dev's look.

The paper's paired model (arXiv 2505.02255) is a U-Net with residual blocks and CBAM attention that
predicts a residual on the input image. This head keeps that design and makes it fast:

- a pixel-unshuffle stem folds each `downscale_factor` x `downscale_factor` block of pixels into
  channels, so every convolution runs at 1/4 (or 1/16 ...) of the pixels, and a pixel-shuffle output
  unfolds the predicted residual back to full resolution without losing detail;
- no normalisation layers (they cost memory passes and add nothing for a small residual head);
- the output layer starts at zero, so a fresh head is exactly the identity and training starts from
  "change nothing".

`forward` takes and returns RGB tensors in [0, 1] of shape (B, 3, H, W), for any H and W: the input is
padded to a multiple of the U-Net's stride and the output cropped back. Weights are saved as
`config.json` + `model.safetensors` through huggingface_hub's `PyTorchModelHubMixin`.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn


@dataclass
class RefinerConfig:
    image_channels: int = 3  # RGB in, RGB out
    downscale_factor: int = 4  # pixel-unshuffle factor of the stem; 1 gives a plain full-resolution U-Net
    channels: tuple[int, ...] = (64, 128, 256)  # width of each U-Net level, finest to coarsest
    blocks_per_level: int = 2  # residual CBAM blocks per level, in the encoder and in the decoder
    attention_reduction: int = 8  # CBAM channel-attention bottleneck: channels // attention_reduction
    spatial_kernel_size: int = 7  # CBAM spatial-attention convolution size

    def __post_init__(self):
        self.channels = tuple(self.channels)  # config.json stores a list

    @property
    def stride(self) -> int:
        """Input height and width must be multiples of this; forward pads to it."""
        return self.downscale_factor * 2 ** (len(self.channels) - 1)


class ChannelAttention(nn.Module):
    """CBAM channel attention: which feature maps matter, from their average and maximum responses."""

    def __init__(self, channels: int, reduction: int, activation: type[nn.Module] = nn.SiLU):
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), activation(), nn.Conv2d(hidden, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        average = self.mlp(x.mean(dim=(2, 3), keepdim=True))  # (B, C, 1, 1)
        maximum = self.mlp(x.amax(dim=(2, 3), keepdim=True))  # (B, C, 1, 1)
        return x * torch.sigmoid(average + maximum)


class SpatialAttention(nn.Module):
    """CBAM spatial attention: where to look, from the channel-wise average and maximum."""

    def __init__(self, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)  # (B, 2, H, W)
        return x * torch.sigmoid(self.conv(pooled))


class ResidualCBAMBlock(nn.Module):
    """Two 3x3 convolutions, channel then spatial attention, and a residual connection."""

    def __init__(self, in_channels: int, out_channels: int, config: RefinerConfig, activation: type[nn.Module] = nn.SiLU):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.activation = activation()
        self.channel_attention = ChannelAttention(out_channels, config.attention_reduction, activation)
        self.spatial_attention = SpatialAttention(config.spatial_kernel_size)
        self.skip = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(self.activation(self.conv1(x)))
        h = self.spatial_attention(self.channel_attention(h))
        return self.activation(h + self.skip(x))


class RefinerUNet(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="portrait-refiner",
    pipeline_tag="image-to-image",
    tags=["flux", "portrait", "refiner", "image-to-image"],
    paper_url="https://arxiv.org/abs/2505.02255",
):
    """U-Net + CBAM refiner head predicting a residual on an RGB image in [0, 1]."""

    def __init__(self, config: RefinerConfig | None = None):
        super().__init__()
        config = config or RefinerConfig()
        self.config = config
        factor, widths = config.downscale_factor, config.channels
        folded_channels = config.image_channels * factor**2  # channels after the pixel-unshuffle stem

        self.unshuffle = nn.PixelUnshuffle(factor)
        self.stem = nn.Conv2d(folded_channels, widths[0], 3, padding=1)
        self.encoder = nn.ModuleList(
            nn.Sequential(*[ResidualCBAMBlock(width, width, config) for _ in range(config.blocks_per_level)])
            for width in widths
        )
        self.downsample = nn.ModuleList(
            nn.Conv2d(finer, coarser, 3, stride=2, padding=1) for finer, coarser in zip(widths, widths[1:])
        )
        self.upsample = nn.ModuleList(
            nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(coarser, finer, 3, padding=1))
            for finer, coarser in zip(widths, widths[1:])
        )
        # Each decoder level takes its upsampled features concatenated with the encoder's skip features.
        self.decoder = nn.ModuleList(
            nn.Sequential(
                ResidualCBAMBlock(2 * width, width, config),
                *[ResidualCBAMBlock(width, width, config) for _ in range(config.blocks_per_level - 1)],
            )
            for width in widths[:-1]
        )
        self.output = nn.Conv2d(widths[0], folded_channels, 3, padding=1)
        self.shuffle = nn.PixelShuffle(factor)
        # Zero output layer: an untrained head returns its input unchanged.
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Refine `image` (B, 3, H, W) in [0, 1]; returns the same shape, in [0, 1]."""
        height, width = image.shape[-2:]
        stride = self.config.stride
        pad_bottom, pad_right = -height % stride, -width % stride
        # Replicate padding works for any size, even 1x1 (reflect padding needs pad < size).
        x = F.pad(image, (0, pad_right, 0, pad_bottom), mode="replicate") if pad_bottom or pad_right else image

        h = self.stem(self.unshuffle(x * 2 - 1))  # (B, C0, H/f, W/f)
        skips = []
        for level, blocks in enumerate(self.encoder):
            h = blocks(h)
            if level < len(self.downsample):
                skips.append(h)
                h = self.downsample[level](h)  # (B, C[level+1], H/2, W/2)
        for level in reversed(range(len(self.decoder))):
            h = self.upsample[level](h)  # (B, C[level], 2H, 2W)
            h = self.decoder[level](torch.cat([h, skips[level]], dim=1))
        residual = self.shuffle(self.output(h))  # (B, 3, H_padded, W_padded)
        return (x + residual).clamp(0, 1)[..., :height, :width]

    @classmethod
    def _from_pretrained(cls, *, strict: bool = True, **kwargs):
        # The mixin defaults to strict=False, which would leave missing weights random without a word.
        return super()._from_pretrained(strict=strict, **kwargs)
