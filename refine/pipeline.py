"""The generate-and-refine pipeline: FLUX.1-schnell makes a portrait, the refiner head gives it dev's look.

`PortraitPipeline` owns its components (a diffusers `FluxPipeline`, loaded once, and a `RefinerUNet`);
both are injected, so tests pass the tiny ones. `load_pipeline` builds it for a profile:

- `flux`: `black-forest-labs/FLUX.1-schnell` and refiner weights from a Hub repo id or a local folder;
  without a GPU (or with `refine_only`) only the refiner is loaded;
- `tiny`: the miniature pipeline of `refine.tiny`, random weights, no network.
"""

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from refine.model import RefinerUNet
from refine.tiling import refine_in_tiles

SCHNELL_MODEL = "black-forest-labs/FLUX.1-schnell"
PROFILES = ("flux", "tiny")
# Environment variables a Space sets in its settings; command-line flags override them.
ENV_PROFILE = "PORTRAIT_PROFILE"
ENV_GENERATOR = "GENERATOR_MODEL"
ENV_REFINER = "REFINER_MODEL"
STAGES = ("text_encoding", "denoising", "decoding", "refining")


@dataclass
class GenerationResult:
    schnell: Image.Image  # the raw FLUX.1-schnell image
    refined: Image.Image  # the same image after the refiner head, blended by strength
    seed: int  # the seed that made it
    timings: dict[str, float] = field(default_factory=dict)  # seconds for each of STAGES


class PortraitPipeline:
    """FLUX.1-schnell generation followed by the refiner head; `generator=None` means refine-only."""

    def __init__(
        self,
        refiner: RefinerUNet,
        generator=None,  # a diffusers FluxPipeline, or None for refine-only
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        max_sequence_length: int = 256,  # schnell reads at most 256 T5 tokens
        notice: str | None = None,  # what a user must know about this pipeline (tiny, refine-only)
        tile_size: int = 1024,  # larger images are refined in overlapping tiles, to bound memory
        tile_overlap: int = 64,
    ):
        self.device = torch.device(device)
        self.dtype = dtype
        self.max_sequence_length = max_sequence_length
        self.notice = notice
        self.tile_size, self.tile_overlap = tile_size, tile_overlap
        # channels_last is the fast memory layout for convolutions on both CPU and GPU.
        self.refiner = refiner.to(self.device, dtype).to(memory_format=torch.channels_last).eval()
        self.generator = generator.to(self.device) if generator is not None else None  # dtype is set at load

    @property
    def can_generate(self) -> bool:
        return self.generator is not None

    def generate(
        self, prompt: str, seed: int, width: int = 1024, height: int = 1024, steps: int = 4, strength: float = 1.0
    ) -> GenerationResult:
        """Generate a portrait with schnell (guidance 0) and refine it; timings per stage in seconds."""
        if self.generator is None:
            raise RuntimeError("This pipeline is refine-only: it has no generator loaded.")
        timer = StageTimer(self.device)
        with torch.inference_mode():
            # A CPU generator gives the same starting noise for a seed on every device.
            generator = torch.Generator("cpu").manual_seed(seed)
            schnell = run_flux(self.generator, [prompt], generator, width, height, steps, 0.0, self.max_sequence_length, timer)[0]
            with timer("refining"):
                refined = self.refine(schnell, strength)
        return GenerationResult(schnell=schnell, refined=refined, seed=seed, timings=timer.seconds)

    def refine(self, image: Image.Image, strength: float = 1.0) -> Image.Image:
        """Refine an RGB or RGBA image. strength 0 returns it unchanged, 1 fully refined, between blends.

        The blend is done on 8-bit values, `input + round(strength * (refined - input))`, so strength 0
        gives back the input bit for bit. An alpha channel passes through untouched. Images larger
        than `tile_size` are refined in overlapping tiles (refine/tiling.py), so memory stays bounded.
        """
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be between 0 and 1, got {strength}")
        alpha = image.getchannel("A") if image.mode == "RGBA" else None
        original = np.array(image.convert("RGB"))  # (H, W, 3) uint8, a writable copy for torch
        with torch.inference_mode():
            pixels = torch.from_numpy(original).to(self.device).permute(2, 0, 1)[None]  # (1, 3, H, W)
            pixels = pixels.to(self.dtype).div(255).contiguous(memory_format=torch.channels_last)
            output = refine_in_tiles(self.refiner, pixels, self.tile_size, self.tile_overlap)
            output = output.float().mul(255).round()[0].permute(1, 2, 0)  # (H, W, 3)
        difference = output.cpu().numpy() - original.astype(np.float32)
        blended = original + np.round(strength * difference)
        refined = Image.fromarray(blended.clip(0, 255).astype(np.uint8))
        if alpha is not None:
            refined.putalpha(alpha)
        return refined


class StageTimer:
    """Wall time of named stages and of each denoising step, waiting for queued GPU work each time."""

    def __init__(self, device: torch.device):
        self.device = torch.device(device)
        self.seconds: dict[str, float] = {}
        self.step_seconds: list[float] = []
        self._mark = 0.0

    @contextmanager
    def __call__(self, stage: str):
        self._synchronize()
        start = self._mark = time.perf_counter()
        yield
        self._synchronize()
        self.seconds[stage] = time.perf_counter() - start

    def step_done(self, pipeline, step, timestep, callback_kwargs):
        """A diffusers `callback_on_step_end`: records the step that just finished."""
        self._synchronize()
        now = time.perf_counter()
        self.step_seconds.append(now - self._mark)
        self._mark = now
        return callback_kwargs

    def _synchronize(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def run_flux(flux, prompts: list[str], generator, width: int, height: int, steps: int, guidance_scale: float,
             max_sequence_length: int, timer: StageTimer, latents: torch.Tensor | None = None) -> list[Image.Image]:
    """Text encoding, denoising and VAE decoding (to PIL images) of a FluxPipeline, each stage timed.

    The starting noise comes from `generator`, or is given as packed `latents` (the dataset gives the
    same noise to schnell and dev).
    """
    with timer("text_encoding"):
        prompt_embeds, pooled_prompt_embeds, _ = flux.encode_prompt(
            prompt=prompts, prompt_2=None, device=timer.device, max_sequence_length=max_sequence_length
        )
    with timer("denoising"):
        latents = flux(
            prompt_embeds=prompt_embeds,
            pooled_prompt_embeds=pooled_prompt_embeds,
            width=width,
            height=height,
            num_inference_steps=steps,
            guidance_scale=guidance_scale,
            max_sequence_length=max_sequence_length,
            generator=generator,
            latents=latents,
            output_type="latent",
            callback_on_step_end=timer.step_done,
        ).images
    with timer("decoding"):
        latents = flux._unpack_latents(latents, height, width, flux.vae_scale_factor)  # (B, C, H/8, W/8)
        latents = latents / flux.vae.config.scaling_factor + flux.vae.config.shift_factor
        images = flux.vae.decode(latents, return_dict=False)[0]  # (B, 3, H, W) in [-1, 1]
        return flux.image_processor.postprocess(images, output_type="pil")


def load_refiner(source: str | None) -> RefinerUNet:
    """Load refiner weights from a Hub repo id or a local folder (config.json + model.safetensors)."""
    if not source:
        raise MissingWeightsError(
            "No refiner weights are set. Pass --refiner REPO_ID_OR_FOLDER, or set the environment "
            f"variable {ENV_REFINER} (in a Space: Settings > Variables), to a Hub model repo or a local "
            "folder holding config.json and model.safetensors (as written by `python -m train`). "
            "For an offline trial with random weights use --profile tiny."
        )
    try:
        return RefinerUNet.from_pretrained(source)
    except Exception as error:  # any failure here means the same thing to the user: no usable weights
        raise MissingWeightsError(
            f"Could not load refiner weights from {source!r}: {error}. It must be a Hub model repo id "
            "you can read (log in with `hf auth login` or set HF_TOKEN for a private one) or a local "
            "folder holding config.json and model.safetensors."
        ) from error


class MissingWeightsError(RuntimeError):
    """Pretrained weights are not available; the message says what is missing and how to set it."""


def load_pipeline(
    profile: str = "flux",
    refiner: str | None = None,
    generator: str | None = None,
    refine_only: bool = False,
) -> PortraitPipeline:
    """Build the pipeline for a profile. Flags win over the environment variables a Space would set."""
    if profile not in PROFILES:
        raise ValueError(f"Unknown profile {profile!r}; choose one of {', '.join(PROFILES)}.")
    if profile == "tiny":
        from refine.tiny import build_tiny_flux, build_tiny_refiner

        notice = (
            "Tiny profile: the images come from miniature FLUX and refiner models with random weights, "
            "built in code. They look like noise, not portraits; this mode is for tests and offline trials."
        )
        return PortraitPipeline(
            build_tiny_refiner(),
            None if refine_only else build_tiny_flux(),
            notice=notice + (" Refine-only mode was asked for." if refine_only else ""),
        )

    refiner_model = load_refiner(refiner or os.environ.get(ENV_REFINER))
    has_gpu = torch.cuda.is_available()  # True on ZeroGPU once `spaces` is imported
    device, dtype = ("cuda", torch.bfloat16) if has_gpu else ("cpu", torch.float32)
    if refine_only or not has_gpu:
        reason = "it was started with --refine-only" if refine_only else "this machine has no GPU"
        notice = f"Refine-only mode: {reason}, so FLUX.1-schnell is not loaded. Upload an image in the Refine tab."
        return PortraitPipeline(refiner_model, None, device=device, dtype=dtype, notice=notice)

    from diffusers import FluxPipeline

    generator_id = generator or os.environ.get(ENV_GENERATOR) or SCHNELL_MODEL
    try:
        flux = FluxPipeline.from_pretrained(generator_id, dtype=dtype)
    except Exception as error:
        raise MissingWeightsError(
            f"Could not load the generator {generator_id!r}: {error}. Pass --generator or set "
            f"{ENV_GENERATOR} to a diffusers FLUX repo id or local folder; gated repos need `hf auth login`."
        ) from error
    flux.set_progress_bar_config(disable=True)
    return PortraitPipeline(refiner_model, flux, device=device, dtype=dtype)
