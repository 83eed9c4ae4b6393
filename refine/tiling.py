"""Refining images of any size with bounded memory: overlapping tiles, blended without seams.

An image that fits in one tile is refined in one call, so the result is exactly the untiled one.
A larger image is cut into `tile_size` squares that overlap by `overlap` pixels; each tile is refined
on its own (memory grows with the tile, not the image), and in the overlaps the tiles are mixed with
linear ramps that sum to one, so no edge of a tile shows in the result.
"""

import torch


def tile_starts(length: int, tile_size: int, overlap: int) -> list[int]:
    """Start offsets covering [0, length) with tiles of tile_size overlapping by at least `overlap`."""
    if length <= tile_size:
        return [0]
    starts = list(range(0, length - tile_size, tile_size - overlap))
    return starts + [length - tile_size]


def ramp(length: int, overlap: int, fade_in: bool, fade_out: bool) -> torch.Tensor:
    """Weights along one side of a tile: rising over the first overlap, falling over the last."""
    weights = torch.ones(length)
    steps = (torch.arange(overlap) + 0.5) / overlap  # (0, 1): complementary ramps of two tiles sum to 1
    if fade_in:
        weights[:overlap] = steps
    if fade_out:
        weights[-overlap:] = steps.flip(0)
    return weights


def refine_in_tiles(model: torch.nn.Module, image: torch.Tensor, tile_size: int = 1024, overlap: int = 64) -> torch.Tensor:
    """model(image) for a (B, 3, H, W) image, computed tile by tile when it is larger than one tile."""
    if not 0 < overlap < tile_size:
        raise ValueError(f"overlap must be between 0 and tile_size, got {overlap} and {tile_size}")
    height, width = image.shape[-2:]
    if height <= tile_size and width <= tile_size:
        return model(image)
    output = torch.zeros(image.shape, dtype=torch.float32, device=image.device)
    total_weight = torch.zeros((1, 1, height, width), dtype=torch.float32, device=image.device)
    rows, columns = tile_starts(height, tile_size, overlap), tile_starts(width, tile_size, overlap)
    for top in rows:
        tile_height = min(tile_size, height)
        row_weight = ramp(tile_height, overlap, fade_in=top > 0, fade_out=top + tile_height < height)
        for left in columns:
            tile_width = min(tile_size, width)
            column_weight = ramp(tile_width, overlap, fade_in=left > 0, fade_out=left + tile_width < width)
            weight = (row_weight[:, None] * column_weight[None, :]).to(image.device)  # (h, w)
            window = (..., slice(top, top + tile_height), slice(left, left + tile_width))
            output[window] += model(image[window]).float() * weight
            total_weight[window] += weight
    return (output / total_weight).to(image.dtype)
