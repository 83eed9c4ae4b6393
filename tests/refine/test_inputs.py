"""Input checks: every bad input gets a clear InputError, every unusual image a correct conversion."""

import numpy as np
import pytest

from refine.inputs import (
    MAX_SEED,
    InputError,
    check_prompt,
    check_seed,
    check_size,
    check_steps,
    check_strength,
    load_image,
)
from tests.bad_inputs import ACCEPTED, REFUSED, expected_size, write_bad_inputs


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    return write_bad_inputs(tmp_path_factory.mktemp("bad_inputs"))


@pytest.mark.parametrize("name", REFUSED)
def test_broken_and_oversized_files_are_refused_clearly(bad_files, name):
    with pytest.raises(InputError, match=REFUSED[name]):
        load_image(bad_files[name])


def test_missing_upload_is_refused():
    with pytest.raises(InputError, match="No image"):
        load_image(None)


@pytest.mark.parametrize("name", ACCEPTED)
def test_unusual_images_are_converted(bad_files, name):
    image = load_image(bad_files[name])
    assert image.mode in ("RGB", "RGBA")
    assert image.size == expected_size(name, bad_files[name])


def test_alpha_is_kept_and_sixteen_bit_is_scaled_not_clipped(bad_files):
    assert load_image(bad_files["rgba.png"]).mode == "RGBA"
    assert load_image(bad_files["la.png"]).mode == "RGBA"
    grey = np.asarray(load_image(bad_files["sixteen_bit.png"]))[..., 0]
    # The ramp spans 0..61400 of 65535: scaled, it spans 0..239; clipped, most of it would be 255.
    assert grey.min() == 0 and grey.max() == round(61400 / 257)
    assert (grey == 255).sum() == 0


def test_exif_rotation_is_applied(bad_files):
    image = load_image(bad_files["exif_rotated.jpg"])
    assert image.size == (32, 48)


@pytest.mark.parametrize("prompt, message", [("", "empty"), ("   \n", "empty"), (None, "empty"), ("x" * 10_000, "10,000 characters")])
def test_bad_prompts(prompt, message):
    with pytest.raises(InputError, match=message):
        check_prompt(prompt)


def test_good_prompt_is_stripped():
    assert check_prompt("  portrait of a baker \n") == "portrait of a baker"


@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1, 10**30, 1.5, None])
def test_bad_seeds(seed):
    with pytest.raises(InputError, match="seed"):
        check_seed(seed, randomize=False)


def test_seeds_kept_or_drawn():
    assert check_seed(123.0, randomize=False) == 123
    drawn = {check_seed(None, randomize=True) for _ in range(20)}
    assert len(drawn) > 1 and all(0 <= seed <= MAX_SEED for seed in drawn)


@pytest.mark.parametrize("width, height, message", [(240, 512, "width"), (512, 1552, "height"), (520, 512, "multiple of 16"), (512.5, 512, "whole number")])
def test_bad_sizes(width, height, message):
    with pytest.raises(InputError, match=message):
        check_size(width, height)


def test_good_size():
    assert check_size(256.0, 1536) == (256, 1536)


@pytest.mark.parametrize("steps", [0, 9, 2.5])
def test_bad_steps(steps):
    with pytest.raises(InputError, match="steps"):
        check_steps(steps)


@pytest.mark.parametrize("strength", [-0.1, 1.01, None])
def test_bad_strength(strength):
    with pytest.raises(InputError, match="strength"):
        check_strength(strength)
