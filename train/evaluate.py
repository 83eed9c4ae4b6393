"""`python -m train.evaluate`: how much closer to FLUX.1-dev does the refiner bring FLUX.1-schnell?

    python -m train.evaluate --dataset OWNER/flux-paired-portraits --refiner OWNER/refiner [--split test]

For every pair of the split, the schnell image is refined exactly as the app does it (the 8-bit
output of `PortraitPipeline.refine`), and both schnell and refined are compared with dev: LPIPS (real
pretrained VGG weights, or reported as unavailable with the reason), PSNR and SSIM, per image and then
averaged. With --fid, FID and KID (torchmetrics; Inception weights are downloaded) are added when the
split has enough images. The head's latency at 1024x1024 on the current device closes the table.
Everything is printed as a table and written as JSON (--output).
"""

import argparse
import json
import statistics

import torch

from refine.benchmark import time_head
from refine.pipeline import PortraitPipeline, load_refiner
from train.data import load_pairs, to_tensor
from train.losses import LPIPS, LPIPSWeightsError
from train.metrics import psnr, ssim

MIN_IMAGES_FOR_FID = 50  # fewer images give FID/KID estimates too noisy to compare


def distribution_metrics(schnell: list[torch.Tensor], refined: list[torch.Tensor], dev: list[torch.Tensor]) -> dict:
    """FID and KID of schnell and refined against dev, or the reason they were not computed."""
    if len(dev) < MIN_IMAGES_FOR_FID:
        return {"skipped": f"FID/KID need at least {MIN_IMAGES_FOR_FID} images, the split has {len(dev)}"}
    try:
        from torchmetrics.image.fid import FrechetInceptionDistance
        from torchmetrics.image.kid import KernelInceptionDistance
    except ImportError as error:
        return {"skipped": f"torchmetrics[image] is not installed ({error})"}
    results = {}
    try:
        for name, images in (("schnell", schnell), ("refined", refined)):
            fid, kid = FrechetInceptionDistance(normalize=True), KernelInceptionDistance(normalize=True, subset_size=min(50, len(dev)))
            for metric in (fid, kid):
                for real, fake in zip(dev, images):
                    resized = [torch.nn.functional.interpolate(image, size=(299, 299), mode="bilinear") for image in (real, fake)]
                    metric.update(resized[0], real=True)
                    metric.update(resized[1], real=False)
            results[f"fid_{name}"] = fid.compute().item()
            results[f"kid_{name}"] = kid.compute()[0].item()
    except Exception as error:  # most often: the Inception weights cannot be downloaded
        return {"skipped": f"FID/KID could not be computed: {type(error).__name__}: {error}"}
    return results


def evaluate(dataset: str, refiner_source: str, split: str = "test", max_images: int | None = None, use_lpips: bool = True, fid: bool = False) -> dict:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    refiner = load_refiner(refiner_source)
    pipeline = PortraitPipeline(refiner, device=device, dtype=torch.bfloat16 if device == "cuda" else torch.float32)
    lpips, lpips_note = None, None
    if use_lpips:
        try:
            lpips = LPIPS(pretrained=True).to(device)
        except LPIPSWeightsError as error:
            lpips_note = str(error)
    rows = load_pairs(dataset, split)
    if max_images:
        rows = rows.select(range(min(max_images, len(rows))))
    if len(rows) == 0:
        raise SystemExit(f"the {split} split of {dataset} is empty")

    per_image: dict[str, list[float]] = {}
    kept: dict[str, list[torch.Tensor]] = {"schnell": [], "refined": [], "dev": []}
    with torch.inference_mode():
        for row in rows:
            dev = to_tensor(row["dev"])[None].to(device)
            images = {"schnell": to_tensor(row["schnell"])[None].to(device), "refined": to_tensor(pipeline.refine(row["schnell"], 1.0))[None].to(device)}
            for name, image in images.items():
                per_image.setdefault(f"psnr_{name}", []).append(psnr(image, dev).item())
                per_image.setdefault(f"ssim_{name}", []).append(ssim(image, dev).item())
                if lpips is not None:
                    per_image.setdefault(f"lpips_{name}", []).append(lpips(image, dev).item())
                if fid:
                    kept[name].append(image.cpu())
            if fid:
                kept["dev"].append(dev.cpu())

    results = {
        "dataset": dataset,
        "split": split,
        "refiner": refiner_source,
        "images": len(rows),
        "metrics": {name: statistics.fmean(values) for name, values in per_image.items()},
        "metrics_std": {name: statistics.pstdev(values) for name, values in per_image.items()},
    }
    if lpips_note:
        results["lpips_unavailable"] = lpips_note
    if fid:
        results["distribution"] = distribution_metrics(kept["schnell"], kept["refined"], kept["dev"])
    latency = time_head(refiner.config, 1024, 1, device, pipeline.dtype, warmup=1, repeats=3)
    results["latency"] = {"device": device, "dtype": str(pipeline.dtype).removeprefix("torch."), "resolution": 1024, "median_seconds": latency["median_seconds"]}
    return results


def format_table(results: dict) -> str:
    metrics = results["metrics"]
    lines = [
        f"{results['dataset']} [{results['split']}], {results['images']} images, refiner {results['refiner']}",
        f"{'metric (vs dev)':<18}{'schnell':>12}{'refined':>12}{'better':>9}",
    ]
    for metric, higher_is_better in (("lpips", False), ("psnr", True), ("ssim", True)):
        if f"{metric}_schnell" not in metrics:
            continue
        before, after = metrics[f"{metric}_schnell"], metrics[f"{metric}_refined"]
        better = after > before if higher_is_better else after < before
        lines.append(f"{metric.upper():<18}{before:>12.4f}{after:>12.4f}{'yes' if better else 'no':>9}")
    if "lpips_unavailable" in results:
        lines.append(f"LPIPS: unavailable ({results['lpips_unavailable']})")
    distribution = results.get("distribution", {})
    if "skipped" in distribution:
        lines.append(f"FID/KID: {distribution['skipped']}")
    for metric in ("fid", "kid"):
        if f"{metric}_schnell" in distribution:
            lines.append(f"{metric.upper():<18}{distribution[f'{metric}_schnell']:>12.4f}{distribution[f'{metric}_refined']:>12.4f}")
    latency = results["latency"]
    lines.append(f"head latency at 1024x1024 on {latency['device']} ({latency['dtype']}): {latency['median_seconds'] * 1000:.1f} ms")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="Hub dataset id or local folder in the data_tools layout")
    parser.add_argument("--refiner", required=True, help="refiner weights: Hub model id or local folder")
    parser.add_argument("--split", default="test")
    parser.add_argument("--max-images", type=int, help="evaluate only the first N pairs")
    parser.add_argument("--skip-lpips", action="store_true", help="do not load LPIPS (no download)")
    parser.add_argument("--fid", action="store_true", help="also compute FID and KID (downloads Inception weights)")
    parser.add_argument("--output", help="write the results to this JSON file")
    args = parser.parse_args(argv)
    results = evaluate(args.dataset, args.refiner, args.split, args.max_images, use_lpips=not args.skip_lpips, fid=args.fid)
    print(format_table(results))
    if args.output:
        with open(args.output, "w") as file:
            json.dump(results, file, indent=2)
    return results


if __name__ == "__main__":
    main()
