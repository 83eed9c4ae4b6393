"""PortraitPipeline on the tiny profile, and profile loading without a network."""

import numpy as np
import pytest
from PIL import Image

from refine.pipeline import ENV_REFINER, STAGES, MissingWeightsError, load_pipeline
from refine.tiny import build_tiny_refiner
from tests.bad_inputs import portrait_like


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image).astype(np.int16)


def test_generate_is_deterministic_for_a_seed(tiny_pipeline):
    first = tiny_pipeline.generate("portrait of a sailor", seed=7, width=256, height=256)
    second = tiny_pipeline.generate("portrait of a sailor", seed=7, width=256, height=256)
    other_seed = tiny_pipeline.generate("portrait of a sailor", seed=8, width=256, height=256)
    assert np.array_equal(pixels(first.schnell), pixels(second.schnell))
    assert np.array_equal(pixels(first.refined), pixels(second.refined))
    assert not np.array_equal(pixels(first.schnell), pixels(other_seed.schnell))
    assert first.seed == 7


def test_generate_honours_the_size_and_times_every_stage(tiny_pipeline):
    result = tiny_pipeline.generate("portrait", seed=1, width=320, height=256, steps=2)
    assert result.schnell.size == result.refined.size == (320, 256)
    assert result.schnell.mode == result.refined.mode == "RGB"
    assert set(result.timings) == set(STAGES)
    assert all(seconds > 0 for seconds in result.timings.values())


def test_strength_zero_is_bit_exact_and_one_refines(tiny_pipeline):
    result = tiny_pipeline.generate("portrait", seed=3, width=256, height=256, strength=0.0)
    assert np.array_equal(pixels(result.schnell), pixels(result.refined))

    image = portrait_like((64, 48))
    assert np.array_equal(pixels(tiny_pipeline.refine(image, 0.0)), pixels(image))
    full_change = np.abs(pixels(tiny_pipeline.refine(image, 1.0)) - pixels(image)).mean()
    half_change = np.abs(pixels(tiny_pipeline.refine(image, 0.5)) - pixels(image)).mean()
    assert full_change > 1
    assert half_change == pytest.approx(full_change / 2, rel=0.1)


def test_refine_keeps_size_and_alpha(tiny_pipeline):
    image = portrait_like((37, 21), mode="RGBA")
    image.putalpha(Image.linear_gradient("L").resize((37, 21)))
    refined = tiny_pipeline.refine(image, 1.0)
    assert refined.mode == "RGBA" and refined.size == (37, 21)
    assert np.array_equal(np.asarray(refined.getchannel("A")), np.asarray(image.getchannel("A")))


def test_refine_rejects_strength_out_of_range(tiny_pipeline):
    with pytest.raises(ValueError, match="strength"):
        tiny_pipeline.refine(portrait_like(), 1.5)


def test_refine_only_tiny_pipeline_cannot_generate():
    pipeline = load_pipeline("tiny", refine_only=True)
    assert not pipeline.can_generate and "Refine-only" in pipeline.notice
    with pytest.raises(RuntimeError, match="refine-only"):
        pipeline.generate("portrait", seed=1)


def test_tiny_profile_says_so(tiny_pipeline):
    assert "random weights" in tiny_pipeline.notice


def test_flux_profile_without_refiner_weights_says_how_to_set_them(monkeypatch):
    monkeypatch.delenv(ENV_REFINER, raising=False)
    with pytest.raises(MissingWeightsError, match=f"--refiner.*{ENV_REFINER}"):
        load_pipeline("flux")


def test_flux_profile_with_unreachable_refiner_names_it(monkeypatch):
    monkeypatch.setenv(ENV_REFINER, "nobody/no-such-refiner")
    with pytest.raises(MissingWeightsError, match="nobody/no-such-refiner"):
        load_pipeline("flux")


def test_flux_profile_loads_refiner_folder_and_goes_refine_only_without_gpu(tmp_path, monkeypatch):
    build_tiny_refiner().save_pretrained(tmp_path)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    pipeline = load_pipeline("flux", refiner=str(tmp_path))
    assert not pipeline.can_generate
    assert "no GPU" in pipeline.notice
    image = portrait_like((40, 40))
    expected = load_pipeline("tiny", refine_only=True).refine(image, 1.0)
    assert np.array_equal(pixels(pipeline.refine(image, 1.0)), pixels(expected))


def test_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="Unknown profile"):
        load_pipeline("huge")


def test_images_larger_than_a_tile_are_refined_in_tiles_close_to_whole():
    from refine.pipeline import PortraitPipeline

    image = portrait_like((200, 150))
    tiled = PortraitPipeline(build_tiny_refiner(), tile_size=64, tile_overlap=16).refine(image, 1.0)
    whole = PortraitPipeline(build_tiny_refiner(), tile_size=256).refine(image, 1.0)
    assert tiled.size == whole.size == (200, 150)
    assert np.abs(pixels(tiled) - pixels(whole)).mean() < 1.0  # under one 8-bit level on average
