"""RefinerUNet: shapes for any size and batch, identity at start, save/load round trip, dtypes."""

import json

import pytest
import torch

from refine import RefinerConfig, RefinerUNet
from refine.tiny import build_tiny_refiner


def randomized(config: RefinerConfig) -> RefinerUNet:
    """A head whose every weight is random (a fresh head's output layer is zero)."""
    torch.manual_seed(1)
    model = RefinerUNet(config)
    torch.nn.init.normal_(model.output.weight, std=0.05)
    return model.eval()


@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (2, 3, 37, 53), (3, 3, 64, 48), (1, 3, 17, 130)])
def test_forward_keeps_shape_and_range_for_any_size_and_batch(shape):
    model = randomized(RefinerConfig(channels=(8, 16, 32), downscale_factor=4))
    image = torch.rand(shape)
    with torch.inference_mode():
        output = model(image)
    assert output.shape == image.shape
    assert 0 <= output.min() and output.max() <= 1
    assert not torch.equal(output, image)  # random weights must change something


def test_batch_items_are_refined_independently():
    model = randomized(RefinerConfig(channels=(8, 16)))
    batch = torch.rand(3, 3, 40, 24)
    with torch.inference_mode():
        together = model(batch)
        alone = torch.cat([model(item[None]) for item in batch])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=0)


def test_fresh_head_is_exactly_the_identity():
    image = torch.rand(2, 3, 33, 47)
    with torch.inference_mode():
        assert torch.equal(RefinerUNet()(image), image)


def test_save_and_load_round_trip_gives_identical_outputs(tmp_path):
    model = randomized(RefinerConfig(channels=(8, 16, 32), blocks_per_level=2, downscale_factor=2))
    model.save_pretrained(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert json.loads((tmp_path / "config.json").read_text())["channels"] == [8, 16, 32]

    loaded = RefinerUNet.from_pretrained(tmp_path)
    assert loaded.config == model.config
    image = torch.rand(2, 3, 50, 70)
    with torch.inference_mode():
        assert torch.equal(loaded(image), model(image))


def test_loading_weights_of_another_shape_fails_instead_of_keeping_random_weights(tmp_path):
    randomized(RefinerConfig(channels=(8, 16))).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(dict(config, channels=[8, 16, 32])))
    with pytest.raises(RuntimeError, match="Missing key"):
        RefinerUNet.from_pretrained(tmp_path)


def test_bfloat16_forward():
    model = randomized(RefinerConfig(channels=(8, 16))).to(torch.bfloat16)
    with torch.inference_mode():
        output = model(torch.rand(1, 3, 30, 30, dtype=torch.bfloat16))
    assert output.dtype == torch.bfloat16 and output.shape == (1, 3, 30, 30)


def test_default_head_works_below_full_resolution():
    config = RefinerConfig()
    assert config.downscale_factor == 4 and config.stride == 16
    parameters = sum(parameter.numel() for parameter in RefinerUNet(config).parameters())
    assert 1_000_000 < parameters < 10_000_000


def test_tiny_refiner_is_seeded():
    image = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        assert torch.equal(build_tiny_refiner()(image), build_tiny_refiner()(image))
