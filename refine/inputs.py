"""Checks and conversions for everything a user can send: prompts, seeds, sizes, and uploaded images.

Pure functions. Each either returns a clean value or raises `InputError` with a message meant for the
person who sent the request; the app shows it as a `gr.Error` and keeps serving.
"""

import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_SEED = 2**31 - 1  # as in the FLUX.1 Spaces; fits the dataset's int64 seed column
MAX_PROMPT_CHARACTERS = 2000  # T5 reads 256 tokens, about 1,000 characters; more is surely a mistake
SIZE_MIN, SIZE_MAX, SIZE_STEP = 256, 1536, 16  # FLUX needs multiples of 16 (8x VAE, 2x2 patches)
STEPS_MIN, STEPS_MAX = 1, 8  # schnell is distilled for 1-4 steps
MAX_IMAGE_PIXELS = 4096 * 4096  # larger uploads are refused before they are decoded


class InputError(ValueError):
    """A request that cannot be served as sent; the message says why and what would work."""


def check_prompt(prompt: str | None) -> str:
    prompt = (prompt or "").strip()
    if not prompt:
        raise InputError("The prompt is empty: describe the portrait you want.")
    if len(prompt) > MAX_PROMPT_CHARACTERS:
        raise InputError(
            f"The prompt has {len(prompt):,} characters; the limit is {MAX_PROMPT_CHARACTERS:,} "
            "(the text encoder reads about 1,000 characters)."
        )
    return prompt


def check_seed(seed: float | int | None, randomize: bool) -> int:
    """The seed to use: a fresh random one if `randomize`, else the given one, checked."""
    if randomize:
        return random.randint(0, MAX_SEED)
    if seed is None or float(seed) != int(seed):
        raise InputError(f"The seed must be a whole number from 0 to {MAX_SEED:,}, got {seed!r}.")
    if not 0 <= int(seed) <= MAX_SEED:
        raise InputError(f"The seed must be from 0 to {MAX_SEED:,}, got {int(seed):,}.")
    return int(seed)


def check_size(width: float | int, height: float | int) -> tuple[int, int]:
    for name, value in (("width", width), ("height", height)):
        if value is None or float(value) != int(value) or not SIZE_MIN <= int(value) <= SIZE_MAX:
            raise InputError(f"The {name} must be a whole number from {SIZE_MIN} to {SIZE_MAX}, got {value!r}.")
        if int(value) % SIZE_STEP:
            raise InputError(f"The {name} must be a multiple of {SIZE_STEP} (FLUX's grid), got {int(value)}.")
    return int(width), int(height)


def check_steps(steps: float | int) -> int:
    if steps is None or float(steps) != int(steps) or not STEPS_MIN <= int(steps) <= STEPS_MAX:
        raise InputError(f"The number of steps must be a whole number from {STEPS_MIN} to {STEPS_MAX}, got {steps!r}.")
    return int(steps)


def check_strength(strength: float | int) -> float:
    if strength is None or not 0.0 <= float(strength) <= 1.0:
        raise InputError(f"The strength must be from 0 (unchanged) to 1 (fully refined), got {strength!r}.")
    return float(strength)


def load_image(path: str | Path | None) -> Image.Image:
    """Open an uploaded file as an RGB image, or RGBA where it has transparency.

    Handles: EXIF rotation (applied), animated images (first frame), palette/grey/CMYK (converted),
    16-bit and 32-bit greyscale (scaled to 8 bits). Refuses with a clear message: no file, an empty
    file, a file that is not an image, a truncated image, and images over MAX_IMAGE_PIXELS, which are
    refused from their header alone so that a decompression bomb is never decoded.
    """
    if path is None:
        raise InputError("No image was given: upload a PNG, JPEG or WebP image.")
    path = Path(path)
    if not path.is_file():
        raise InputError("The uploaded file could not be found on the server; please upload it again.")
    if path.stat().st_size == 0:
        raise InputError("The uploaded file is empty (0 bytes).")
    try:
        image = Image.open(path)
    except Image.DecompressionBombError as error:  # Pillow's own limit, far above ours
        raise InputError(f"The image is too large to open safely: {error}") from error
    except (UnidentifiedImageError, OSError) as error:
        raise InputError("The uploaded file is not an image this app can read (PNG, JPEG, WebP, GIF, BMP, TIFF).") from error
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise InputError(
            f"The image is {width}x{height} = {width * height:,} pixels; the limit is {MAX_IMAGE_PIXELS:,} "
            "(4096x4096). Please downscale it first."
        )
    try:
        image.seek(0)  # the first frame of an animated GIF or WebP
        image.load()
        image = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError) as error:  # Pillow's ways of saying "broken data"
        raise InputError(f"The image file is damaged or truncated and cannot be decoded ({error}).") from error
    return to_rgb_or_rgba(image)


def to_rgb_or_rgba(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB, or RGBA when the image carries transparency."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit PNGs load as integer modes; Pillow's own convert would clip them to white.
        values = np.asarray(image, dtype=np.float64)
        image = Image.fromarray((values.clip(0, 65535) / 257).round().astype(np.uint8))
    elif image.mode == "F":
        image = Image.fromarray(np.asarray(image).clip(0, 255).round().astype(np.uint8))
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")
