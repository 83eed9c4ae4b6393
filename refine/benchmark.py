"""Benchmark of the refiner head: `python -m refine.benchmark` prints a table and can write JSON.

It times the default `RefinerUNet` (pixel-unshuffle stem) against a plain full-resolution U-Net+CBAM of
about 3.5M parameters in the same run, on the same device, dtype and resolution, with warm-up,
device synchronisation and several timed repetitions (median and spread). Weight values do not change
the cost of a forward pass, so both heads run with random weights: no download is needed.
"""

import argparse
import json
import statistics
import time
from dataclasses import asdict

import torch

from refine.model import RefinerConfig, RefinerUNet

# The paper-style baseline: every convolution at full resolution, 3.5M parameters.
PLAIN_FULL_RESOLUTION = RefinerConfig(downscale_factor=1, channels=(35, 70, 140, 280), blocks_per_level=1)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def time_head(config: RefinerConfig, resolution: int, batch_size: int, device: str, dtype: torch.dtype, warmup: int, repeats: int) -> dict:
    """Seconds per forward pass of a head with `config` on a (batch, 3, resolution, resolution) input."""
    model = RefinerUNet(config).to(device, dtype).to(memory_format=torch.channels_last).eval()
    image = torch.rand(batch_size, 3, resolution, resolution, device=device, dtype=dtype)
    image = image.contiguous(memory_format=torch.channels_last)
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
        "parameters": sum(parameter.numel() for parameter in model.parameters()),
        "median_seconds": statistics.median(seconds),
        "min_seconds": min(seconds),
        "max_seconds": max(seconds),
        "repeats": repeats,
    }


def synchronize(device: str):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=int, nargs="+", default=[1024], help="square image sizes to time")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=DTYPES, default=None, help="default: bfloat16 on cuda, float32 on cpu")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-baseline", action="store_true", help="time only the default head")
    parser.add_argument("--json", dest="json_path", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    dtype_name = args.dtype or ("bfloat16" if torch.device(args.device).type == "cuda" else "float32")
    heads = {"refiner": RefinerConfig()}
    if not args.skip_baseline:
        heads["plain_full_resolution"] = PLAIN_FULL_RESOLUTION

    results = {"device": describe_device(args.device), "dtype": dtype_name, "batch_size": args.batch_size, "heads": []}
    print(f"device: {results['device']}, dtype: {dtype_name}, batch size: {args.batch_size}")
    print(f"{'head':<24}{'params':>10}{'resolution':>12}{'median s':>11}{'min s':>9}{'max s':>9}")
    for resolution in args.resolution:
        for name, config in heads.items():
            figures = time_head(config, resolution, args.batch_size, args.device, DTYPES[dtype_name], args.warmup, args.repeats)
            results["heads"].append(dict(figures, name=name, resolution=resolution))
            print(
                f"{name:<24}{figures['parameters'] / 1e6:>9.2f}M{resolution:>12}"
                f"{figures['median_seconds']:>11.4f}{figures['min_seconds']:>9.4f}{figures['max_seconds']:>9.4f}"
            )
        if not args.skip_baseline:
            refiner, baseline = results["heads"][-2:]
            speedup = baseline["median_seconds"] / refiner["median_seconds"]
            print(f"{'':<24}refiner is {speedup:.1f}x faster than the plain full-resolution head at {resolution}")
    if args.json_path:
        with open(args.json_path, "w") as file:
            json.dump(results, file, indent=2)
    return results


def describe_device(device: str) -> str:
    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


if __name__ == "__main__":
    main()
