"""Image-quality metrics on (B, 3, H, W) tensors in [0, 1]: PSNR and SSIM, per image.

SSIM follows Wang et al. (2004): an 11x11 Gaussian window with sigma 1.5, constants for a data range
of 1, computed per channel and averaged, the usual definition of scikit-image and torchmetrics.
"""

import torch
import torch.nn.functional as F


def psnr(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB for each image; 100 dB for identical images."""
    mse = (prediction.float() - target.float()).pow(2).mean(dim=(1, 2, 3))
    return torch.where(mse > 0, -10 * torch.log10(mse.clamp_min(1e-10)), torch.full_like(mse, 100.0))


def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    coordinates = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    profile = torch.exp(-(coordinates**2) / (2 * sigma**2))
    profile = profile / profile.sum()
    return profile[:, None] * profile[None, :]  # (size, size)


def ssim(prediction: torch.Tensor, target: torch.Tensor, window_size: int = 11) -> torch.Tensor:
    """Structural similarity for each image (mean over pixels and channels)."""
    prediction, target = prediction.float(), target.float()
    channels = prediction.shape[1]
    window = gaussian_window(window_size).to(prediction.device).expand(channels, 1, window_size, window_size)

    def blur(image):
        return F.conv2d(image, window, groups=channels)  # valid convolution, as in the reference

    c1, c2 = 0.01**2, 0.03**2
    mean_p, mean_t = blur(prediction), blur(target)
    variance_p = blur(prediction * prediction) - mean_p**2
    variance_t = blur(target * target) - mean_t**2
    covariance = blur(prediction * target) - mean_p * mean_t
    numerator = (2 * mean_p * mean_t + c1) * (2 * covariance + c2)
    denominator = (mean_p**2 + mean_t**2 + c1) * (variance_p + variance_t + c2)
    return (numerator / denominator).mean(dim=(1, 2, 3))
