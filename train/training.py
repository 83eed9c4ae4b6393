"""`python -m train`: fit the refiner head on the paired dataset with accelerate.

    python -m train --dataset OWNER/flux-paired-portraits --output-dir refiner
    accelerate launch -m train --dataset ./portraits --output-dir refiner --mixed-precision bf16
    python -m train --dataset ./portraits --output-dir refiner --resume      # continue from the last checkpoint

Shaped like accelerate's `complete_cv_example.py`: `training_function(config, args)` and `main()`,
`set_seed` before the model, one `prepare`, checkpointing (`save_state` every --checkpointing-steps,
`--resume` from the latest) and tracking (TensorBoard) as options. The loss is the paper's
GRAD(schnell, output) + LPIPS(dev, output), plus an optional L1(dev, output), each weighted by a flag.
Every --validation-steps the head is measured on the test split against dev, next to schnell itself,
and a before/after/target grid is logged. The result is saved with `save_pretrained` (config.json +
model.safetensors + a model card) and, with --push-to-hub, uploaded.
"""

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, ProjectConfiguration, set_seed
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, IterableDataset
from tqdm.auto import tqdm

from refine.model import RefinerConfig, RefinerUNet
from train.data import collate, crop_transform, load_pairs, paired_random_crop, to_tensor
from train.losses import LPIPS, RefinerLoss
from train.metrics import psnr, ssim

CHECKPOINTS = "checkpoints"
DEV_LICENSE_LINK = "https://huggingface.co/black-forest-labs/FLUX.1-dev/blob/main/LICENSE.md"


@dataclass
class TrainingConfig:
    """Everything that defines a run; saved as training_config.json beside the weights."""

    dataset: str = ""  # Hub dataset id or local folder in the data_tools layout
    resolution: int = 256  # side of the random paired crops
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    lr: float = 5e-4
    max_steps: int = 2000  # optimizer steps
    seed: int = 0
    grad_weight: float = 0.1  # GRAD(schnell, output): keep schnell's structure; pulls sharpness towards schnell's
    lpips_weight: float = 1.0  # LPIPS(dev, output): look like dev
    l1_weight: float = 1.0  # L1(dev, output): match dev's colours and tones
    ema_decay: float = 0.0  # 0 turns EMA off; e.g. 0.999 keeps an exponential moving average of the weights
    channels: tuple[int, ...] = RefinerConfig.channels
    blocks_per_level: int = RefinerConfig.blocks_per_level
    downscale_factor: int = RefinerConfig.downscale_factor


class Progress:
    """The optimizer step count, saved and restored with the accelerate checkpoint."""

    def __init__(self):
        self.step = 0

    def state_dict(self):
        return {"step": self.step}

    def load_state_dict(self, state):
        self.step = state["step"]


class StreamingCrops(IterableDataset):
    """Aligned random crops from a streaming dataset, for data larger than the disk."""

    def __init__(self, rows, resolution: int):
        self.rows, self.resolution = rows, resolution

    def __iter__(self):
        for row in self.rows:
            schnell, dev = paired_random_crop(to_tensor(row["schnell"]), to_tensor(row["dev"]), self.resolution)
            yield {"schnell": schnell, "dev": dev}


def crop_size(config: TrainingConfig, first_row: dict) -> int:
    """--resolution, or the images' shorter side (to a multiple of 16) when they are smaller.

    Crops larger than the images would have to be upscaled, and the head would learn the look of
    upscaled images instead of the images it will refine.
    """
    shorter_side = min(first_row["schnell"].size)
    if shorter_side >= config.resolution:
        return config.resolution
    size = max(16, shorter_side // 16 * 16)
    print(f"the images are {first_row['schnell'].size[0]}x{first_row['schnell'].size[1]}, smaller than --resolution {config.resolution}: crops of {size}")
    return size


def build_dataloader(config: TrainingConfig, args) -> DataLoader:
    if args.streaming:
        rows = load_pairs(config.dataset, "train", streaming=True)
        size = crop_size(config, next(iter(rows)))
        rows = rows.shuffle(seed=config.seed, buffer_size=256)
        return DataLoader(StreamingCrops(rows.repeat(None), size), batch_size=config.batch_size, collate_fn=collate)
    rows = load_pairs(config.dataset, "train")
    rows.set_transform(crop_transform(crop_size(config, rows[0])))
    return DataLoader(rows, batch_size=config.batch_size, shuffle=True, collate_fn=collate, num_workers=args.num_workers, drop_last=len(rows) >= config.batch_size)


def validation_images(config: TrainingConfig, count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Up to `count` whole (schnell, dev) pairs of the test split, as (1, 3, H, W) tensors; none without one."""
    try:
        rows = load_pairs(config.dataset, "test")
    except ValueError as error:  # datasets: 'Unknown split "test"'
        print(f"no test split, so no validation: {error}")
        return []
    return [(to_tensor(row["schnell"])[None], to_tensor(row["dev"])[None]) for row in rows.select(range(min(count, len(rows))))]


@torch.no_grad()
def validate(model, pairs, device, lpips: LPIPS | None) -> tuple[dict[str, float], np.ndarray]:
    """Metrics of schnell vs dev and refined vs dev on the test pairs, and a schnell|refined|dev grid."""
    scores: dict[str, list[float]] = {}
    grid_rows = []
    model.eval()
    for index, (schnell, dev) in enumerate(pairs):
        schnell, dev = schnell.to(device), dev.to(device)
        refined = model(schnell).float().clamp(0, 1)
        for name, image in (("schnell", schnell), ("refined", refined)):
            scores.setdefault(f"psnr_{name}", []).append(psnr(image, dev).item())
            scores.setdefault(f"ssim_{name}", []).append(ssim(image, dev).item())
            if lpips is not None:
                scores.setdefault(f"lpips_{name}", []).append(lpips(image, dev).item())
        if index < 4:
            row = torch.cat([schnell, refined, dev], dim=-1)[0]  # (3, H, 3W)
            scale = min(1.0, 192 / row.shape[-2])
            row = torch.nn.functional.interpolate(row[None], scale_factor=scale, mode="area")[0] if scale < 1 else row
            grid_rows.append(row.cpu())
    model.train()
    width = max(row.shape[-1] for row in grid_rows)
    grid = torch.cat([torch.nn.functional.pad(row, (0, width - row.shape[-1])) for row in grid_rows], dim=-2)
    return {name: float(np.mean(values)) for name, values in scores.items()}, grid.numpy()


def model_card(config: TrainingConfig, metrics: dict[str, float], steps: int) -> str:
    rows = "\n".join(f"| {name} | {value:.4f} |" for name, value in sorted(metrics.items()))
    # Only a Hub dataset id belongs in the card's metadata, not a local folder.
    datasets = f"datasets: [{config.dataset}]\n" if not Path(config.dataset).exists() else ""
    return f"""---
library_name: portrait-refiner
pipeline_tag: image-to-image
license: other
license_name: flux-1-dev-non-commercial-license
license_link: {DEV_LICENSE_LINK}
tags: [flux, portrait, refiner, image-to-image, model_hub_mixin, pytorch_model_hub_mixin]
{datasets}---

# Portrait refiner head

A `RefinerUNet` (U-Net with residual blocks and CBAM attention behind a {config.downscale_factor}x
pixel-unshuffle stem) trained to make FLUX.1-schnell portraits look like FLUX.1-dev's, following
[arXiv 2505.02255](https://arxiv.org/abs/2505.02255).

- Dataset: `{config.dataset}` (paired schnell/dev portraits from the same prompt, seed and noise)
- Steps: {steps} at batch {config.batch_size} x {config.gradient_accumulation_steps} accumulation, {config.resolution}px crops, lr {config.lr}
- Loss: {config.grad_weight} GRAD(schnell, output) + {config.lpips_weight} LPIPS(dev, output) + {config.l1_weight} L1(dev, output)

## Validation on the test split (against the dev images)

| metric | value |
| --- | --- |
{rows}

## Use

```python
from refine import RefinerUNet
refiner = RefinerUNet.from_pretrained("THIS_REPO_OR_FOLDER")  # forward: (B, 3, H, W) in [0, 1]
```

In the portrait refiner Space: `python app.py --refiner THIS_REPO_OR_FOLDER`, or set `REFINER_MODEL`.

## Licence

Trained on outputs of FLUX.1-dev, which fall under the
[FLUX.1-dev Non-Commercial License]({DEV_LICENSE_LINK}); that licence covers training and distilling
other models on them, so these weights are for non-commercial use under its terms.
"""


def training_function(config: TrainingConfig, args):
    accelerator = Accelerator(
        cpu=not torch.cuda.is_available(),  # several CPU processes (gloo) on a machine without GPUs
        mixed_precision=args.mixed_precision,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        log_with=None if args.report_to == "none" else args.report_to,
        project_config=ProjectConfiguration(project_dir=args.output_dir, logging_dir=str(Path(args.output_dir) / "logs")),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )
    set_seed(config.seed)
    model = RefinerUNet(RefinerConfig(channels=config.channels, blocks_per_level=config.blocks_per_level, downscale_factor=config.downscale_factor))
    lpips = LPIPS(pretrained=not args.lpips_random_backbone) if config.lpips_weight > 0 or args.validation_lpips else None
    loss_function = RefinerLoss(config.grad_weight, config.lpips_weight, config.l1_weight, lpips)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    dataloader = build_dataloader(config, args)
    model, optimizer, dataloader = accelerator.prepare(model, optimizer, dataloader)
    loss_function.to(accelerator.device)
    ema = AveragedModel(accelerator.unwrap_model(model), multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay)) if config.ema_decay > 0 else None
    progress = Progress()
    accelerator.register_for_checkpointing(progress)
    if ema is not None:
        accelerator.register_for_checkpointing(ema)

    checkpoint_dir = Path(args.output_dir) / CHECKPOINTS
    if args.resume:
        latest = latest_checkpoint(checkpoint_dir)
        if latest is None:
            accelerator.print(f"--resume: no checkpoint in {checkpoint_dir}; starting from step 0")
        else:
            accelerator.load_state(str(latest))
            accelerator.print(f"resumed from {latest} at step {progress.step}")
    accelerator.print(f"{accelerator.num_processes} process(es) on {accelerator.device}, {config.max_steps} steps")
    if accelerator.is_main_process:
        Path(args.output_dir).mkdir(parents=True, exist_ok=True)
        (Path(args.output_dir) / "training_config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
    accelerator.init_trackers("refiner", config={key: str(value) if isinstance(value, tuple) else value for key, value in asdict(config).items()})
    pairs = validation_images(config, args.validation_images) if args.validation_steps else []
    validation_lpips = lpips if args.validation_lpips or config.lpips_weight > 0 else None

    bar = tqdm(total=config.max_steps, initial=progress.step, unit="step", disable=not accelerator.is_local_main_process)
    metrics: dict[str, float] = {}
    images_seen, start = 0, time.perf_counter()
    # A resumed run continues in the epoch it stopped in, after the batches that epoch already used:
    # the sampler's order is seeded by the epoch, so those are the same batches.
    epoch, skip = divmod(progress.step, steps_per_epoch(dataloader, config))
    model.train()
    while progress.step < config.max_steps:
        dataloader.set_epoch(epoch)
        batches = accelerator.skip_first_batches(dataloader, skip * config.gradient_accumulation_steps) if skip else dataloader
        skip = 0
        for batch in batches:
            with accelerator.accumulate(model):
                output = model(batch["schnell"])
                loss, terms = loss_function(batch["schnell"], batch["dev"], output)
                accelerator.backward(loss)
                optimizer.step()
                optimizer.zero_grad()
            images_seen += batch["schnell"].shape[0] * accelerator.num_processes
            if not accelerator.sync_gradients:
                continue
            progress.step += 1
            if ema is not None:
                ema.update_parameters(accelerator.unwrap_model(model))
            rate = images_seen / (time.perf_counter() - start)
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}", images_per_s=f"{rate:.1f}")
            accelerator.log({"loss": loss.item(), **{f"loss_{name}": value for name, value in terms.items()}, "images_per_second": rate}, step=progress.step)
            if args.checkpointing_steps and progress.step % args.checkpointing_steps == 0:
                save_checkpoint(accelerator, checkpoint_dir, progress.step)
            # One process measures; the others carry on. (No pairs when --validation-steps is 0.)
            if pairs and accelerator.is_main_process and (progress.step % args.validation_steps == 0 or progress.step == config.max_steps):
                metrics, grid = validate(ema.module if ema is not None else accelerator.unwrap_model(model), pairs, accelerator.device, validation_lpips)
                accelerator.log({f"validation/{name}": value for name, value in metrics.items()}, step=progress.step)
                log_grid(accelerator, grid, progress.step)
                accelerator.print(f"step {progress.step}: " + ", ".join(f"{name} {value:.4f}" for name, value in sorted(metrics.items())))
            if progress.step >= config.max_steps:
                break
        epoch += 1
    bar.close()

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        final = ema.module if ema is not None else accelerator.unwrap_model(model)
        final.save_pretrained(args.output_dir)
        (Path(args.output_dir) / "README.md").write_text(model_card(config, metrics, progress.step))
        (Path(args.output_dir) / "validation.json").write_text(json.dumps(metrics, indent=2) + "\n")
        if args.push_to_hub:
            from huggingface_hub import HfApi

            api = HfApi()
            api.create_repo(args.push_to_hub, exist_ok=True)
            api.upload_folder(repo_id=args.push_to_hub, folder_path=args.output_dir, allow_patterns=["config.json", "model.safetensors", "README.md", "training_config.json", "validation.json"])
            accelerator.print(f"pushed to https://huggingface.co/{args.push_to_hub}")
    accelerator.end_training()
    return metrics


def steps_per_epoch(dataloader, config: TrainingConfig) -> int:
    try:
        return math.ceil(len(dataloader) / config.gradient_accumulation_steps)
    except TypeError:  # streaming: no length, no epochs
        return 1 << 62


def log_grid(accelerator, grid: np.ndarray, step: int):
    """Log the schnell | refined | dev grid to the trackers that take images."""
    for tracker in accelerator.trackers:
        if tracker.name == "tensorboard":
            tracker.log_images({"validation/schnell_refined_dev": grid[None]}, step=step, dataformats="NCHW")


def save_checkpoint(accelerator, checkpoint_dir: Path, step: int):
    """save_state into a hidden folder, renamed when complete: a kill mid-save leaves no broken checkpoint."""
    final, partial = checkpoint_dir / f"step-{step:08d}", checkpoint_dir / f".step-{step:08d}.partial"
    accelerator.save_state(str(partial))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        partial.rename(final)
    accelerator.wait_for_everyone()


def latest_checkpoint(checkpoint_dir: Path) -> Path | None:
    checkpoints = sorted(checkpoint_dir.glob("step-*"))  # hidden partial folders do not match
    return checkpoints[-1] if checkpoints else None


def parse_args(argv=None) -> tuple[TrainingConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = TrainingConfig()
    for field in fields(TrainingConfig):
        flag = f"--{field.name.replace('_', '-')}"
        default = getattr(defaults, field.name)
        if isinstance(default, tuple):
            parser.add_argument(flag, type=int, nargs="+", default=list(default))
        else:
            parser.add_argument(flag, type=type(default), default=default, required=field.name == "dataset")
    parser.add_argument("--output-dir", required=True, help="where checkpoints, logs and the final weights go")
    parser.add_argument("--streaming", action="store_true", help="stream the dataset instead of downloading it")
    parser.add_argument("--mixed-precision", choices=("no", "fp16", "bf16"), default="no")
    parser.add_argument("--checkpointing-steps", type=int, default=500, help="save_state every N steps (0: never)")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --output-dir")
    parser.add_argument("--validation-steps", type=int, default=250, help="validate every N steps (0: never)")
    parser.add_argument("--validation-images", type=int, default=16)
    parser.add_argument("--validation-lpips", action="store_true", help="report LPIPS in validation even with --lpips-weight 0")
    parser.add_argument("--lpips-random-backbone", action="store_true",
                        help="OFFLINE TESTS ONLY: LPIPS with random weights instead of the pretrained ones")
    parser.add_argument("--report-to", choices=("tensorboard", "none"), default="tensorboard")
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--push-to-hub", metavar="REPO", help="upload the final weights and card to this model repo")
    args = parser.parse_args(argv)
    config = TrainingConfig(**{field.name: getattr(args, field.name) for field in fields(TrainingConfig)})
    config.channels = tuple(config.channels)
    return config, args


def main(argv=None):
    config, args = parse_args(argv)
    return training_function(config, args)
