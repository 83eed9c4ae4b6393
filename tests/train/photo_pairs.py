"""A paired dataset in the data_tools layout made from real photographs shipped in scikit-image.

`schnell` is the photograph, `dev` the same photograph with a fixed, learnable look: warmer colours, a
gamma lift and a mild unsharp mask. Whole photographs are held out for the test split, so a head that
scores well there has learned the look, not memorised images.
"""

from importlib.resources import files
from pathlib import Path

import numpy as np
from datasets import Dataset
from PIL import Image, ImageFilter

from data_tools.generate import FEATURES, GenerationConfig, Pair, make_row

TRAIN_PHOTOS = ("astronaut.png", "coffee.png", "motorcycle_left.png", "hubble_deep_field.jpg", "ihc.png", "retina.jpg", "grass.png", "gravel.png", "brick.png")
TEST_PHOTOS = ("chelsea.png", "rocket.jpg")
COLOUR = np.array([[1.10, 0.05, 0.00], [0.00, 1.00, 0.00], [0.00, 0.00, 0.85]], dtype=np.float32)  # warmer


def photograph(name: str, side: int) -> Image.Image:
    image = Image.open(files("skimage") / "data" / name).convert("RGB")
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return image


def dev_look(image: Image.Image) -> Image.Image:
    """The consistent difference the head must learn."""
    sharpened = image.filter(ImageFilter.UnsharpMask(radius=2, percent=60, threshold=0))
    pixels = np.asarray(sharpened, dtype=np.float32) / 255
    pixels = np.clip(pixels @ COLOUR.T, 0, 1) ** 0.8
    return Image.fromarray((pixels * 255).round().astype(np.uint8))


def write_photo_pairs(folder: Path, side: int = 192) -> Path:
    config = GenerationConfig(profile="photographs", schnell_model="photograph", dev_model="photograph+look", width=side, height=side)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for split, names in (("train", TRAIN_PHOTOS), ("test", TEST_PHOTOS)):
        rows = []
        for index, name in enumerate(names):
            schnell = photograph(name, side)
            rows.append(make_row(Pair(f"{split}-{index}", name, index), config, schnell, dev_look(schnell), 0.0, 0.0))
        Dataset.from_list(rows, features=FEATURES).to_parquet(str(folder / "data" / f"{split}-00000.parquet"))
    return folder
