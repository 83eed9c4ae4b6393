"""Paired data for training: rows of the data_tools layout as aligned (schnell, dev) tensors.

`load_pairs` opens a Hub dataset id or a local folder with `datasets.load_dataset` (optionally
streaming). `paired_random_crop` cuts the same random window from both images and flips both or
neither, so a pair stays aligned pixel for pixel.
"""

import numpy as np
import torch
import torch.nn.functional as F
from datasets import load_dataset


def to_tensor(image) -> torch.Tensor:
    """PIL image -> (3, H, W) float tensor in [0, 1]."""
    array = np.array(image.convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(array).permute(2, 0, 1)


def paired_random_crop(schnell: torch.Tensor, dev: torch.Tensor, size: int, generator: torch.Generator | None = None):
    """The same random size x size window of both (3, H, W) images, both flipped or neither.

    Images smaller than the window are first scaled up, both by the same factor, so any crop size works.
    """
    if schnell.shape != dev.shape:
        raise ValueError(f"schnell and dev images differ in size: {tuple(schnell.shape)} vs {tuple(dev.shape)}")
    height, width = schnell.shape[-2:]
    if min(height, width) < size:
        factor = size / min(height, width)
        new_size = (max(size, round(height * factor)), max(size, round(width * factor)))
        schnell, dev = (F.interpolate(image[None], size=new_size, mode="bilinear", align_corners=False)[0] for image in (schnell, dev))
        height, width = new_size
    top = int(torch.randint(0, height - size + 1, (1,), generator=generator))
    left = int(torch.randint(0, width - size + 1, (1,), generator=generator))
    schnell, dev = schnell[:, top : top + size, left : left + size], dev[:, top : top + size, left : left + size]
    if torch.rand((), generator=generator) < 0.5:
        schnell, dev = schnell.flip(-1), dev.flip(-1)
    return schnell, dev


def load_pairs(dataset: str, split: str, streaming: bool = False):
    """The split of a paired dataset: Hub id or local folder written by data_tools."""
    return load_dataset(dataset, split=split, streaming=streaming).select_columns(["id", "schnell", "dev"])


def crop_transform(resolution: int):
    """A batch transform for `datasets`: decoded rows -> aligned random crops as tensors."""

    def transform(batch: dict) -> dict:
        crops = [paired_random_crop(to_tensor(schnell), to_tensor(dev), resolution) for schnell, dev in zip(batch["schnell"], batch["dev"])]
        return {"schnell": [crop[0] for crop in crops], "dev": [crop[1] for crop in crops]}

    return transform


def collate(rows: list[dict]) -> dict:
    return {"schnell": torch.stack([row["schnell"] for row in rows]), "dev": torch.stack([row["dev"] for row in rows])}
