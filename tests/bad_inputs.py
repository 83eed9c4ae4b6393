"""Files a user might upload that are not plain RGB images: broken ones and unusual but valid ones."""

import io
from pathlib import Path

from PIL import Image

# Broken or oversized: each must be refused with a message containing these words.
REFUSED = {
    "not_an_image.png": "not an image",
    "empty.png": "empty",
    "truncated.png": "truncated",
    "too_many_pixels.png": "limit",
    "decompression_bomb.png": "too large",
}
# Valid but unusual: each must be converted and refined at its own size.
ACCEPTED = ["one_pixel.png", "animated.gif", "rgba.png", "la.png", "palette.png", "cmyk.jpg", "sixteen_bit.png", "exif_rotated.jpg"]
EXIF_ORIENTATION = 274


def portrait_like(size=(48, 32), mode="RGB") -> Image.Image:
    """A smooth colour gradient: something with structure, not noise."""
    width, height = size
    image = Image.new("RGB", size)
    image.putdata([(255 * x // width, 255 * y // height, 128) for y in range(height) for x in range(width)])
    return image.convert(mode)


def write_bad_inputs(folder: Path) -> dict[str, Path]:
    """Write every file of REFUSED and ACCEPTED into `folder`; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / name for name in [*REFUSED, *ACCEPTED]}
    paths["not_an_image.png"].write_text("this is plain text, not a PNG")
    paths["empty.png"].write_bytes(b"")
    encoded = io.BytesIO()
    portrait_like((256, 256)).save(encoded, format="PNG")
    paths["truncated.png"].write_bytes(encoded.getvalue()[: len(encoded.getvalue()) // 2])
    Image.new("1", (4200, 4200)).save(paths["too_many_pixels.png"])  # 17.6 MP, over the app's 16.8 MP
    Image.new("1", (14000, 14000)).save(paths["decompression_bomb.png"])  # 196 MP, over Pillow's bomb limit
    Image.new("RGB", (1, 1), (200, 30, 30)).save(paths["one_pixel.png"])
    frames = [portrait_like(), portrait_like().rotate(180)]
    frames[0].save(paths["animated.gif"], save_all=True, append_images=frames[1:], duration=100, loop=0)
    portrait_like(mode="RGBA").save(paths["rgba.png"])
    portrait_like(mode="LA").save(paths["la.png"])
    portrait_like(mode="P").save(paths["palette.png"])
    portrait_like(mode="CMYK").save(paths["cmyk.jpg"])
    Image.fromarray(_sixteen_bit_ramp()).save(paths["sixteen_bit.png"])
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6  # "rotate 90 degrees clockwise to display"
    portrait_like((48, 32)).save(paths["exif_rotated.jpg"], exif=exif.tobytes())
    return paths


def _sixteen_bit_ramp():
    import numpy as np

    return (np.arange(32 * 48, dtype=np.uint16).reshape(32, 48) * 40).astype(np.uint16)


def expected_size(name: str, path: Path) -> tuple[int, int]:
    """The size a refined output must have: the stored size, turned for the EXIF-rotated file."""
    width, height = Image.open(path).size
    return (height, width) if name == "exif_rotated.jpg" else (width, height)
