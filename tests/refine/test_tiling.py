"""Tiled refinement: exact when the image fits one tile, seamless and close to untiled otherwise."""

import pytest
import torch

from refine import RefinerConfig, RefinerUNet
from refine.tiling import refine_in_tiles, tile_starts
from refine.tiny import build_tiny_refiner


@pytest.mark.parametrize("length, tile, overlap", [(100, 100, 16), (300, 128, 32), (129, 128, 16), (1000, 256, 64)])
def test_tiles_cover_the_image_with_the_overlap(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    assert starts[0] == 0 and starts[-1] + min(tile, length) == length
    assert all(following - start <= tile - overlap for start, following in zip(starts, starts[1:]))


def test_an_image_that_fits_one_tile_is_refined_exactly_as_untiled():
    model = build_tiny_refiner()
    image = torch.rand(1, 3, 120, 97)
    with torch.inference_mode():
        assert torch.equal(refine_in_tiles(model, image, tile_size=128, overlap=16), model(image))


@pytest.mark.parametrize("height, width", [(300, 200), (257, 129), (130, 515)])
def test_blending_is_seamless_for_odd_sizes_and_borders(height, width):
    image = torch.rand(2, 3, height, width)
    identity = RefinerUNet(RefinerConfig(channels=(8, 16)))  # a fresh head is exactly the identity
    with torch.inference_mode():
        torch.testing.assert_close(refine_in_tiles(identity, image, tile_size=64, overlap=16), image, atol=1e-6, rtol=0)


def test_tiled_output_stays_close_to_untiled_and_closer_with_more_overlap():
    model = build_tiny_refiner()
    image = torch.nn.functional.interpolate(torch.rand(1, 3, 24, 32), size=(192, 256), mode="bilinear")  # smooth
    with torch.inference_mode():
        untiled = model(image)
        small = (refine_in_tiles(model, image, tile_size=96, overlap=16) - untiled).abs().mean()
        large = (refine_in_tiles(model, image, tile_size=96, overlap=48) - untiled).abs().mean()
    assert small < 1e-3 and large <= small


def test_bad_overlap_is_refused():
    with pytest.raises(ValueError, match="overlap"):
        refine_in_tiles(build_tiny_refiner(), torch.rand(1, 3, 300, 300), tile_size=64, overlap=64)
