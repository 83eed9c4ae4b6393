"""Portrait refiner Space: FLUX.1-schnell portraits with a refiner head that gives them FLUX.1-dev's look.

A thin Gradio UI: it builds the pipeline once at import, checks inputs, and wires two named API
endpoints, `/generate` and `/refine`, used by the browser, `gradio_client` and MCP agents alike.

    python app.py                   # flux profile (refine-only on a machine without a GPU)
    python app.py --profile tiny    # miniature random models: offline, for tests and trials
"""

import argparse
import functools
import importlib.util
import os

import spaces  # noqa: F401  imported before torch: on ZeroGPU it makes CUDA visible at import
import gradio as gr

from refine.inputs import (
    MAX_SEED,
    SIZE_MAX,
    SIZE_MIN,
    SIZE_STEP,
    STEPS_MAX,
    STEPS_MIN,
    InputError,
    check_prompt,
    check_seed,
    check_size,
    check_steps,
    check_strength,
    load_image,
)
from refine.pipeline import ENV_GENERATOR, ENV_PROFILE, ENV_REFINER, PROFILES, MissingWeightsError, load_pipeline

EXAMPLES = [
    "Close-up portrait of an elderly Japanese fisherman with deep wrinkles, soft window light, 85mm lens",
    "Studio headshot of a young Nigerian woman with braided hair, warm smile, neutral grey background",
    "Candid portrait of a red-haired Irish man in his thirties, freckles, overcast daylight, shallow depth of field",
    "Portrait of a Brazilian grandmother laughing in her kitchen, golden hour light, 50mm lens",
    "Black-and-white portrait of a middle-aged Indian professor with glasses, Rembrandt lighting",
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=PROFILES, default=os.environ.get(ENV_PROFILE, "flux"),
                        help=f"which models to run (default: ${ENV_PROFILE} or flux)")
    parser.add_argument("--refiner", help=f"refiner weights: Hub repo id or local folder (default: ${ENV_REFINER})")
    parser.add_argument("--generator", help=f"FLUX.1-schnell repo id or folder (default: ${ENV_GENERATOR} or the official one)")
    parser.add_argument("--refine-only", action="store_true", help="load only the refiner (no generation)")
    return parser.parse_args()


args = parse_args()
try:
    pipeline = load_pipeline(args.profile, refiner=args.refiner, generator=args.generator, refine_only=args.refine_only)
except MissingWeightsError as error:
    raise SystemExit(f"error: {error}") from None


def show_input_errors(handler):
    """Turn an InputError into a gr.Error, so the user sees the reason and the server carries on."""

    @functools.wraps(handler)
    def wrapper(*handler_args):
        try:
            return handler(*handler_args)
        except InputError as error:
            raise gr.Error(str(error)) from None

    return wrapper


def generation_seconds(prompt, seed, width, height, steps, strength) -> int:
    """ZeroGPU reservation in seconds: 1.5 s per megapixel-step (about 10x the H200 cost) plus 10 s."""
    return int(10 + 1.5 * steps * width * height / 1024**2)


@spaces.GPU(duration=generation_seconds)
def generate_on_gpu(prompt, seed, width, height, steps, strength):
    return pipeline.generate(prompt, seed, width, height, steps, strength)


@spaces.GPU(duration=30)
def refine_on_gpu(image, strength):
    return pipeline.refine(image, strength)


@show_input_errors
def generate(prompt: str, seed: float, randomize_seed: bool, width: float, height: float, steps: float, strength: float):
    """Generate a portrait with FLUX.1-schnell and refine it towards FLUX.1-dev's look.

    Args:
        prompt: what the portrait shows (at most 2,000 characters).
        seed: the random seed, a whole number from 0 to 2147483647; ignored when randomize_seed is true.
        randomize_seed: draw a fresh seed; the one used is returned.
        width: image width in pixels, a multiple of 16 from 256 to 1536.
        height: image height in pixels, a multiple of 16 from 256 to 1536.
        steps: FLUX.1-schnell denoising steps, 1 to 8 (4 is the model's design).
        strength: refinement strength, 0 (schnell image unchanged) to 1 (fully refined).

    Returns:
        The (schnell, refined) image pair, the seed used, and the seconds spent in each stage.
    """
    if not pipeline.can_generate:
        raise gr.Error(pipeline.notice)
    prompt = check_prompt(prompt)
    seed = check_seed(seed, randomize_seed)
    width, height = check_size(width, height)
    steps, strength = check_steps(steps), check_strength(strength)
    result = generate_on_gpu(prompt, seed, width, height, steps, strength)
    timings = {stage: round(seconds, 4) for stage, seconds in result.timings.items()}
    return (result.schnell, result.refined), result.seed, timings


@show_input_errors
def refine(image: dict | None, strength: float):
    """Refine an existing image (for example a FLUX.1-schnell portrait) towards FLUX.1-dev's look.

    Args:
        image: the image to refine: PNG, JPEG, WebP, GIF (first frame), BMP or TIFF, up to 4096x4096.
        strength: refinement strength, 0 (unchanged) to 1 (fully refined).

    Returns:
        The (input, refined) image pair, both at the input's size.
    """
    # This event runs with preprocess=False, so the upload arrives as Gradio's file record and is
    # opened here: load_image turns broken, empty and oversized files into clear messages.
    picture = load_image(image["path"] if image else None)
    strength = check_strength(strength)
    return picture, refine_on_gpu(picture, strength)


with gr.Blocks(title="Portrait refiner") as demo:
    gr.Markdown(
        "# Portrait refiner\nFLUX.1-schnell portraits passed through a small refiner head that gives them "
        "FLUX.1-dev's look, at a fraction of dev's cost "
        "([paper](https://arxiv.org/abs/2505.02255)). Drag the slider to compare before and after."
    )
    if pipeline.notice:
        gr.Markdown(f"**⚠️ {pipeline.notice}**", elem_id="notice")

    with gr.Tab("Generate"):
        with gr.Row():
            with gr.Column():
                prompt = gr.Textbox(label="Prompt", lines=3, placeholder="Describe a portrait")
                gr.Examples(EXAMPLES, inputs=[prompt])
                with gr.Row():
                    seed = gr.Number(label="Seed", value=42, precision=0, minimum=0, maximum=MAX_SEED)
                    randomize_seed = gr.Checkbox(label="Randomize seed", value=True)
                with gr.Row():
                    width = gr.Slider(SIZE_MIN, SIZE_MAX, value=1024, step=SIZE_STEP, label="Width")
                    height = gr.Slider(SIZE_MIN, SIZE_MAX, value=1024, step=SIZE_STEP, label="Height")
                with gr.Row():
                    steps = gr.Slider(STEPS_MIN, STEPS_MAX, value=4, step=1, label="Steps")
                    strength = gr.Slider(0, 1, value=1, step=0.05, label="Refinement strength")
                generate_button = gr.Button("Generate", variant="primary", interactive=pipeline.can_generate)
            with gr.Column():
                generated = gr.ImageSlider(label="Before (FLUX.1-schnell) | after (refined)", type="pil", format="png", elem_id="generated")
                timings = gr.JSON(label="Seconds per stage")

    with gr.Tab("Refine"):
        with gr.Row():
            with gr.Column():
                upload = gr.Image(label="Image to refine", type="filepath", sources=["upload", "clipboard"], elem_id="upload")
                refine_strength = gr.Slider(0, 1, value=1, step=0.05, label="Refinement strength")
                refine_button = gr.Button("Refine", variant="primary")
            refined = gr.ImageSlider(label="Before | after (refined)", type="pil", format="png", elem_id="refined")

    gr.on(
        [generate_button.click, prompt.submit],
        generate,
        inputs=[prompt, seed, randomize_seed, width, height, steps, strength],
        outputs=[generated, seed, timings],
        api_name="generate",
    )
    refine_button.click(
        refine, inputs=[upload, refine_strength], outputs=refined, api_name="refine", preprocess=False
    )

if __name__ == "__main__":
    demo.queue(max_size=16, default_concurrency_limit=1).launch(
        max_file_size="50mb",
        mcp_server=importlib.util.find_spec("mcp") is not None,  # Gradio's MCP server needs gradio[mcp]
    )
