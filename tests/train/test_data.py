"""Paired augmentation keeps schnell and dev aligned pixel for pixel."""

import pytest
import torch

from train.data import paired_random_crop


@pytest.mark.parametrize("size", [(3, 40, 56), (3, 20, 12)])  # the second is smaller than the crop
def test_paired_crop_and_flip_keep_the_pair_aligned(size):
    schnell = torch.rand(size)
    dev = 1 - schnell  # any pixel-wise relation must survive the augmentation
    generator = torch.Generator().manual_seed(0)
    for _ in range(40):
        schnell_crop, dev_crop = paired_random_crop(schnell, dev, 16, generator)
        assert schnell_crop.shape == dev_crop.shape == (3, 16, 16)
        torch.testing.assert_close(dev_crop, 1 - schnell_crop)
    assert len({paired_random_crop(schnell, dev, 16, generator)[0].sum().item() for _ in range(10)}) > 1


def test_pairs_of_different_sizes_are_refused():
    with pytest.raises(ValueError, match="differ in size"):
        paired_random_crop(torch.rand(3, 32, 32), torch.rand(3, 32, 30), 16)
