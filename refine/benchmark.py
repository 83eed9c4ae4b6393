"""Benchmark: what schnell + refiner costs next to FLUX.1-dev, stage by stage, on this machine.

    python -m refine.benchmark --profile tiny                          # anywhere, in seconds
    python -m refine.benchmark --random-weights --device cuda --resolution 1024 --dev-steps 28 50
    python -m refine.benchmark --profile flux --device cuda            # real checkpoints (download)
    python -m refine.benchmark --heads-only --refiner-resolutions 512 1024 2048

It times the project's real objects: `run_flux` (the timed path `PortraitPipeline.generate` uses) for
text encoding, every denoising step and VAE decoding, and `PortraitPipeline.refine` for the refiner,
for schnell (+ refiner) and for dev at each --dev-steps. `--random-weights` builds the published
full-size FLUX.1 configs with random weights (refine/full_size.py): a forward pass costs the same as
with the real checkpoints, without a download. Warm-up runs, then --repeats timed runs with device
synchronisation; medians with min and max; peak GPU memory.

It prints a table and writes JSON (--json) and a PNG chart (--chart): seconds per stage, end to end,
the cost reduction of schnell + refiner against each dev setting, the refiner's share, images per
hour, and the refiner head alone at --refiner-resolutions next to a plain full-resolution U-Net+CBAM
of 3.5M parameters (the paper-style head), measured in the same run. `--compile` measures the same
with `torch.compile` on the transformers and the refiner.
"""

import argparse
import json
import statistics
import threading
import time
from dataclasses import asdict

import torch
from PIL import Image, ImageDraw, ImageFont

from refine.model import RefinerConfig, RefinerUNet
from refine.pipeline import STAGES, PortraitPipeline, StageTimer, load_refiner, run_flux

# The paper-style baseline: every convolution at full resolution, 3.5M parameters.
PLAIN_FULL_RESOLUTION = RefinerConfig(downscale_factor=1, channels=(35, 70, 140, 280), blocks_per_level=1)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
PROMPT = "Close-up portrait of an elderly fisherman, soft window light, 85mm lens"  # fits CLIP's 77 tokens


def spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_head(config: RefinerConfig, resolution: int, batch_size: int, device, dtype: torch.dtype, warmup: int, repeats: int, compile: bool = False) -> dict:
    """Seconds per forward pass of a head with `config` on a (batch, 3, resolution, resolution) input."""
    model = RefinerUNet(config).to(device, dtype).to(memory_format=torch.channels_last).eval()
    parameters = sum(parameter.numel() for parameter in model.parameters())
    model = torch.compile(model) if compile else model
    image = torch.rand(batch_size, 3, resolution, resolution, device=device, dtype=dtype).contiguous(memory_format=torch.channels_last)
    seconds = []
    with torch.inference_mode():
        for iteration in range(warmup + repeats):
            synchronize(device)
            start = time.perf_counter()
            model(image)
            synchronize(device)
            if iteration >= warmup:
                seconds.append(time.perf_counter() - start)
    return {
        "config": json.loads(json.dumps(asdict(config))),  # JSON types: what the file will hold
        "parameters": parameters,
        "median_seconds": statistics.median(seconds),
        "min_seconds": min(seconds),
        "max_seconds": max(seconds),
        "repeats": repeats,
    }


def build_generators(profile: str, random_weights: bool, device, dtype):
    """The schnell-like and dev-like FluxPipelines to time."""
    if profile == "tiny":
        from diffusers import FluxPipeline

        from refine.tiny import build_tiny_flux, build_tiny_transformer

        schnell = build_tiny_flux()
        dev = FluxPipeline(**dict(schnell.components, transformer=build_tiny_transformer(guidance_embeds=True, seed=1)))
        dev.set_progress_bar_config(disable=True)
        return tuple(pipeline.to(device) if dtype == torch.float32 else pipeline.to(device, dtype) for pipeline in (schnell, dev))
    if random_weights:
        from refine.full_size import build_full_size_flux_pair

        return build_full_size_flux_pair(device, dtype)
    from data_tools.generate import GenerationConfig, load_generators

    return load_generators(GenerationConfig(profile="flux"), "auto", torch.device(device), dtype)


def time_generation(flux, portrait: PortraitPipeline | None, steps: int, guidance: float, max_sequence_length: int, args, device) -> dict:
    """Stage seconds over warm-up + repeated runs of one pipeline setting (refining only with `portrait`)."""
    runs, step_seconds = [], []
    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with torch.inference_mode():
        for iteration in range(args.warmup + args.repeats):
            timer = StageTimer(device)
            generator = torch.Generator("cpu").manual_seed(iteration)
            images = run_flux(flux, [PROMPT] * args.batch_size, generator, args.resolution, args.resolution, steps, guidance, max_sequence_length, timer)
            if portrait is not None:
                with timer("refining"):
                    for image in images:
                        portrait.refine(image, 1.0)
            if iteration >= args.warmup:
                runs.append(dict(timer.seconds, end_to_end=sum(timer.seconds.values())))
                step_seconds += timer.step_seconds
    result = {
        "steps": steps,
        "stages": {stage: spread([run[stage] for run in runs]) for stage in STAGES if stage in runs[0]},
        "denoising_step": spread(step_seconds),
        "end_to_end": spread([run["end_to_end"] for run in runs]),
    }
    if torch.device(device).type == "cuda":
        result["peak_memory_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
    return result


def benchmark_pipelines(args, device, dtype) -> dict:
    schnell, dev = build_generators(args.profile, args.random_weights, device, dtype)
    refiner = load_refiner(args.refiner) if args.refiner else RefinerUNet(RefinerConfig())
    portrait = PortraitPipeline(refiner, device=device, dtype=dtype)
    if args.compile:
        schnell.transformer, dev.transformer = torch.compile(schnell.transformer), torch.compile(dev.transformer)
        portrait.refiner = torch.compile(portrait.refiner)
    pipelines = {"schnell+refiner": time_generation(schnell, portrait, args.schnell_steps, 0.0, 256, args, device)}
    for steps in args.dev_steps:
        pipelines[f"dev-{steps}"] = time_generation(dev, None, steps, 3.5, 512, args, device)
    schnell_seconds = pipelines["schnell+refiner"]["end_to_end"]["median"]
    refining = pipelines["schnell+refiner"]["stages"]["refining"]["median"]
    dev_names = [name for name in pipelines if name.startswith("dev-")]
    return {
        "pipelines": pipelines,
        "cost_reduction_percent": {name: 100 * (1 - schnell_seconds / pipelines[name]["end_to_end"]["median"]) for name in dev_names},
        # The bound any head can reach: schnell alone against dev.
        "schnell_only_cost_reduction_percent": {name: 100 * (1 - (schnell_seconds - refining) / pipelines[name]["end_to_end"]["median"]) for name in dev_names},
        "refiner_share_percent": 100 * refining / schnell_seconds,
        "images_per_hour": {name: 3600 * args.batch_size / pipeline["end_to_end"]["median"] for name, pipeline in pipelines.items()},
    }


def benchmark_heads(args, device, dtype) -> list[dict]:
    heads = {"refiner": load_refiner(args.refiner).config if args.refiner else RefinerConfig()}
    if not args.skip_baseline:
        heads["plain_full_resolution"] = PLAIN_FULL_RESOLUTION
    return [
        dict(time_head(config, resolution, args.batch_size, device, dtype, args.warmup, args.repeats, args.compile), name=name, resolution=resolution)
        for resolution in args.refiner_resolutions
        for name, config in heads.items()
    ]


class PeakMemory:
    """Peak memory above the starting level while the block runs: allocator stats on CUDA, sampled RSS on CPU."""

    def __init__(self, device):
        self.device = torch.device(device)
        self.gigabytes = 0.0

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device)
        else:
            import psutil

            self.process, self.running = psutil.Process(), True
            self.start = self.peak = self.process.memory_info().rss
            self.sampler = threading.Thread(target=self._sample, daemon=True)
            self.sampler.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *error):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            self.running = False
            self.sampler.join()
            peak = self.peak
        self.gigabytes = (peak - self.start) / 2**30


def benchmark_large_images(args, device, dtype) -> list[dict]:
    """Refining big images with and without tiles: seconds and peak memory (PortraitPipeline.refine)."""
    refiner = load_refiner(args.refiner) if args.refiner else RefinerUNet(RefinerConfig())
    rows = []
    for size in args.large_image_sizes:
        image = Image.effect_noise((size, size), 64).convert("RGB")
        for tile_size in (args.tile_size, size):  # tiled, then one tile holding the whole image
            portrait = PortraitPipeline(refiner, device=device, dtype=dtype, tile_size=tile_size, tile_overlap=min(64, tile_size // 4))
            with PeakMemory(device) as memory:
                synchronize(device)
                start = time.perf_counter()
                portrait.refine(image, 1.0)
                synchronize(device)
                seconds = time.perf_counter() - start
            rows.append({"size": size, "tile_size": tile_size, "tiled": tile_size < size, "seconds": seconds, "peak_memory_gb": memory.gigabytes})
    return rows


def print_report(results: dict):
    print(f"device: {results['device']}, dtype: {results['dtype']}, profile: {results['profile']}, "
          f"{results['resolution']}x{results['resolution']}, batch {results['batch_size']}, compile: {results['compile']}")
    if "pipelines" in results:
        print(f"{'pipeline':<17}" + "".join(f"{stage:>15}" for stage in (*STAGES, "per step", "end to end")) + f"{'images/h':>11}")
        for name, pipeline in results["pipelines"].items():
            cells = [pipeline["stages"].get(stage, {}).get("median") for stage in STAGES]
            cells += [pipeline["denoising_step"]["median"], pipeline["end_to_end"]["median"]]
            print(f"{name:<17}" + "".join(f"{cell:>15.4f}" if cell is not None else f"{'-':>15}" for cell in cells)
                  + f"{results['images_per_hour'][name]:>11.0f}")
        for name, percent in results["cost_reduction_percent"].items():
            bound = results["schnell_only_cost_reduction_percent"][name]
            print(f"schnell+refiner saves {percent:.1f}% of {name}'s time (schnell alone: {bound:.1f}%)")
        print(f"refiner share of schnell+refiner: {results['refiner_share_percent']:.2f}%")
    if results.get("heads"):
        print(f"{'head':<24}{'params':>10}{'resolution':>12}{'median s':>11}{'min s':>9}{'max s':>9}")
        for head in results["heads"]:
            print(f"{head['name']:<24}{head['parameters'] / 1e6:>9.2f}M{head['resolution']:>12}"
                  f"{head['median_seconds']:>11.4f}{head['min_seconds']:>9.4f}{head['max_seconds']:>9.4f}")
        for resolution in sorted({head["resolution"] for head in results["heads"]}):
            pair = {head["name"]: head["median_seconds"] for head in results["heads"] if head["resolution"] == resolution}
            if "plain_full_resolution" in pair:
                print(f"refiner is {pair['plain_full_resolution'] / pair['refiner']:.1f}x faster than the plain full-resolution head at {resolution}")
    for row in results.get("large_images", []):
        how = f"tiles of {row['tile_size']}" if row["tiled"] else "one piece"
        print(f"refine {row['size']}x{row['size']} in {how}: {row['seconds']:.2f} s, peak memory +{row['peak_memory_gb']:.2f} GB")


def draw_chart(results: dict, path: str):
    """Stacked horizontal bars: seconds per stage of schnell + refiner and of each dev setting."""
    colours = {"text_encoding": (96, 125, 139), "denoising": (66, 133, 244), "decoding": (251, 188, 5), "refining": (234, 67, 53)}
    pipelines = results["pipelines"]
    longest = max(pipeline["end_to_end"]["median"] for pipeline in pipelines.values())
    width, left, bar_height, top = 900, 150, 36, 60
    height = top + len(pipelines) * (bar_height + 18) + 60
    chart = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(chart)
    font = ImageFont.load_default(size=15)
    draw.text((10, 10), f"Seconds per image, {results['resolution']}px, {results['device']} {results['dtype']} ({results['profile']})", fill="black", font=font)
    scale = (width - left - 90) / longest
    for row, (name, pipeline) in enumerate(pipelines.items()):
        y = top + row * (bar_height + 18)
        draw.text((10, y + 10), name, fill="black", font=font)
        x = left
        for stage in STAGES:
            if stage in pipeline["stages"]:
                length = pipeline["stages"][stage]["median"] * scale
                draw.rectangle([x, y, x + max(length, 1), y + bar_height], fill=colours[stage])
                x += length
        draw.text((x + 6, y + 10), f"{pipeline['end_to_end']['median']:.3f} s", fill="black", font=font)
    x = 10
    for stage, colour in colours.items():
        draw.rectangle([x, height - 35, x + 14, height - 21], fill=colour)
        draw.text((x + 20, height - 37), stage.replace("_", " "), fill="black", font=font)
        x += 170
    chart.save(path)


def describe_device(device) -> str:
    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=("flux", "tiny"), default="flux", help="flux: FLUX.1 (real or --random-weights); tiny: miniature")
    parser.add_argument("--random-weights", action="store_true", help="full-size FLUX.1 configs with random weights: no download")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=DTYPES, default=None, help="default: bfloat16 on cuda, float32 on cpu")
    parser.add_argument("--resolution", type=int, default=1024, help="generated image side (multiple of 16)")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--schnell-steps", type=int, default=4)
    parser.add_argument("--dev-steps", type=int, nargs="+", default=[28, 50])
    parser.add_argument("--refiner", help="time these refiner weights (default: the default head; weights do not change the cost)")
    parser.add_argument("--refiner-resolutions", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--skip-baseline", action="store_true", help="do not time the plain full-resolution head")
    parser.add_argument("--heads-only", action="store_true", help="time only the refiner heads, no FLUX")
    parser.add_argument("--large-image-sizes", type=int, nargs="*", default=[], help="also refine images this big, tiled and whole")
    parser.add_argument("--tile-size", type=int, default=1024, help="tile side for --large-image-sizes")
    parser.add_argument("--compile", action="store_true", help="torch.compile the transformers and the refiner")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", dest="json_path", help="write the results to this JSON file")
    parser.add_argument("--chart", help="write a PNG chart of the per-stage cost to this file")
    args = parser.parse_args(argv)
    if args.random_weights and args.profile != "flux":
        parser.error("--random-weights builds the full-size FLUX.1 configs: use it with --profile flux")
    dtype_name = args.dtype or ("bfloat16" if torch.device(args.device).type == "cuda" else "float32")
    dtype = DTYPES[dtype_name]
    results = {
        "device": describe_device(args.device),
        "dtype": dtype_name,
        "profile": "random-weights" if args.random_weights else args.profile,
        "resolution": args.resolution,
        "batch_size": args.batch_size,
        "compile": args.compile,
        "warmup": args.warmup,
        "repeats": args.repeats,
    }
    if not args.heads_only:
        results.update(benchmark_pipelines(args, args.device, dtype))
    results["heads"] = benchmark_heads(args, args.device, dtype)
    results["large_images"] = benchmark_large_images(args, args.device, dtype)
    print_report(results)
    if args.json_path:
        with open(args.json_path, "w") as file:
            json.dump(results, file, indent=2)
    if args.chart and "pipelines" in results:
        draw_chart(results, args.chart)
    return results


if __name__ == "__main__":
    main()
