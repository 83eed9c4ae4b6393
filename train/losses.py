"""Training losses: the paper's GRAD(x, z) + LPIPS(y, z), plus an optional L1(y, z).

x: the schnell input, y: the dev target, z: the refiner's output; all (B, 3, H, W) in [0, 1].

- `gradient_loss(x, z)`: mean absolute difference of horizontal and vertical finite differences. It
  ties the output's edges to the *input's*, which keeps schnell's structure (no drift of features)
  and resists both blurring and over-sharpening; the higher its weight, the closer the output's
  sharpness stays to schnell's, even where dev is sharper or softer.
- `LPIPS`: the learned perceptual distance of Zhang et al. (2018) with its VGG16 backbone: unit-
  normalised features of five layers, squared differences weighted by learned 1x1 layers, averaged
  over space and summed. The real weights (torchvision's ImageNet VGG16 and LPIPS v0.1's linear layers)
  are downloaded once into torch's hub cache; if they cannot be loaded, `LPIPSWeightsError` says so.
  `LPIPS(pretrained=False)` builds it from seeded random weights: only for offline tests, and only
  when asked for explicitly.
"""

import torch
import torch.nn.functional as F
from torch import nn

VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"
LPIPS_VGG_URL = "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth"
# VGG16 `features` layout: (out_channels | "M" for max-pool); LPIPS reads the ReLUs closing each block.
VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
LPIPS_TAPS = (3, 8, 15, 22, 29)  # indices of relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 in `features`
LPIPS_CHANNELS = (64, 128, 256, 512, 512)


class LPIPSWeightsError(RuntimeError):
    """The pretrained LPIPS weights could not be loaded; the message says what to do."""


def gradient_loss(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Mean |d(z) - d(x)| over horizontal and vertical neighbour differences; 0 when z == x."""
    horizontal = (z[..., :, 1:] - z[..., :, :-1]) - (x[..., :, 1:] - x[..., :, :-1])
    vertical = (z[..., 1:, :] - z[..., :-1, :]) - (x[..., 1:, :] - x[..., :-1, :])
    return horizontal.abs().mean() + vertical.abs().mean()


def build_vgg16_features() -> nn.Sequential:
    layers, in_channels = [], 3
    for item in VGG16_LAYOUT:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(in_channels, item, 3, padding=1), nn.ReLU(inplace=False)]
            in_channels = item
    return nn.Sequential(*layers)


class LPIPS(nn.Module):
    """LPIPS distance (VGG16, v0.1) between images in [0, 1]; returns one value per batch item."""

    def __init__(self, pretrained: bool = True, backbone_url: str = VGG16_URL, linear_url: str = LPIPS_VGG_URL):
        super().__init__()
        self.features = build_vgg16_features()
        self.linear = nn.ModuleList(nn.Conv2d(channels, 1, 1, bias=False) for channels in LPIPS_CHANNELS)
        # The ImageNet input normalisation LPIPS uses, for inputs scaled to [-1, 1].
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))
        if pretrained:
            self._load_pretrained(backbone_url, linear_url)
        else:
            generator = torch.Generator().manual_seed(0)
            for parameter in self.parameters():
                parameter.data = torch.rand(parameter.shape, generator=generator) * 0.1
        self.requires_grad_(False)
        self.eval()

    def _load_pretrained(self, backbone_url: str, linear_url: str):
        try:
            backbone = torch.hub.load_state_dict_from_url(backbone_url, map_location="cpu", weights_only=True)
            linear = torch.hub.load_state_dict_from_url(linear_url, map_location="cpu", weights_only=True)
        except Exception as error:
            raise LPIPSWeightsError(
                f"The pretrained LPIPS weights could not be loaded ({type(error).__name__}: {error}). They are "
                f"downloaded once from {backbone_url} and {linear_url} into torch's hub cache "
                "(TORCH_HOME); give this machine network access once or copy them there. To train without "
                "LPIPS, pass --lpips-weight 0."
            ) from error
        self.features.load_state_dict({key.removeprefix("features."): value for key, value in backbone.items() if key.startswith("features.")})
        # LPIPS stores its layers as lin{i}.model.1 (dropout, then the 1x1 convolution).
        self.linear.load_state_dict({f"{index}.weight": linear[f"lin{index}.model.1.weight"] for index in range(len(LPIPS_CHANNELS))})

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        first, second = (self._normalise(image) for image in (first, second))
        distance = 0.0
        tap = 0
        for index, layer in enumerate(self.features[: LPIPS_TAPS[-1] + 1]):
            first, second = layer(first), layer(second)
            if index == LPIPS_TAPS[tap]:
                difference = (unit_normalise(first) - unit_normalise(second)) ** 2  # (B, C, h, w)
                distance = distance + self.linear[tap](difference).mean(dim=(1, 2, 3))  # (B,)
                tap += 1
        return distance

    def _normalise(self, image: torch.Tensor) -> torch.Tensor:
        return ((image * 2 - 1) - self.shift) / self.scale


def unit_normalise(features: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    return features / (features.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


class RefinerLoss(nn.Module):
    """grad_weight * GRAD(x, z) + lpips_weight * LPIPS(y, z) + l1_weight * L1(y, z), with each term reported."""

    def __init__(self, grad_weight: float, lpips_weight: float, l1_weight: float, lpips: LPIPS | None = None):
        super().__init__()
        if lpips_weight > 0 and lpips is None:
            raise ValueError("lpips_weight > 0 needs an LPIPS module")
        self.grad_weight, self.lpips_weight, self.l1_weight = grad_weight, lpips_weight, l1_weight
        self.lpips = lpips if lpips_weight > 0 else None

    def forward(self, schnell: torch.Tensor, dev: torch.Tensor, output: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        terms = {"grad": gradient_loss(schnell, output), "l1": F.l1_loss(output, dev)}
        if self.lpips is not None:
            terms["lpips"] = self.lpips(output, dev).mean()
        total = self.grad_weight * terms["grad"] + self.l1_weight * terms["l1"]
        if self.lpips is not None:
            total = total + self.lpips_weight * terms["lpips"]
        return total, {name: value.detach().item() for name, value in terms.items()}
