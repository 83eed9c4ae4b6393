"""Generate the paired dataset: for each (prompt, seed), one FLUX.1-schnell and one FLUX.1-dev image.

    python -m data_tools.generate --out DIR --num-pairs 1000            # real models, on a GPU
    python -m data_tools.generate --profile tiny --out DIR --num-pairs 12
    python -m data_tools.generate --random-weights --out DIR --num-pairs 20   # throughput on a GPU, no download
    accelerate launch -m data_tools.generate --out DIR --num-pairs 100000   # one process per GPU

Both images of a pair start from the *same initial noise*: the packed latents are prepared once from
the row's seed and handed to both pipelines. Text encoders and VAE are loaded once and shared when
the two checkpoints' configs say they are the same (`--share` overrides).

Rows are written as parquet shards with `datasets` Image features into DIR/data/{split}-r{rank}-{n}.parquet,
each shard written to a hidden temporary file and renamed when complete, so a run killed at any moment
(SIGKILL included) leaves only whole shards. Re-running the same command reads the ids already written
and generates only the missing pairs: the result has exactly --num-pairs rows, no duplicates. Under
`accelerate launch` each process takes every world_size-th missing id and writes its own shards.
PNG encoding and parquet writing run in a background thread so the GPU does not wait for them.
"""

import argparse
import hashlib
import json
import queue
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pyarrow.parquet as pq
import torch
from datasets import Dataset, Features, Image, Value, disable_progress_bars
from tqdm.auto import tqdm

from data_tools.prompts import sample_prompts
from refine.pipeline import StageTimer, run_flux

SCHNELL_MODEL = "black-forest-labs/FLUX.1-schnell"
DEV_MODEL = "black-forest-labs/FLUX.1-dev"
TINY_MODELS = ("tiny-random/flux-schnell", "tiny-random/flux-dev")  # recorded by --profile tiny
RANDOM_MODELS = ("random-weights/FLUX.1-schnell", "random-weights/FLUX.1-dev")  # recorded by --random-weights
CONFIG_FILE = "generation.json"
DATA_DIR = "data"
FEATURES = Features(
    {
        "id": Value("string"),
        "prompt": Value("string"),
        "seed": Value("int64"),
        "width": Value("int32"),
        "height": Value("int32"),
        "schnell": Image(),
        "dev": Image(),
        "schnell_model": Value("string"),
        "dev_model": Value("string"),
        "schnell_steps": Value("int32"),
        "dev_steps": Value("int32"),
        "dev_guidance": Value("float32"),
        "schnell_seconds": Value("float32"),
        "dev_seconds": Value("float32"),
    }
)


@dataclass
class GenerationConfig:
    """What defines the rows; saved as DIR/generation.json and checked when a run is resumed."""

    profile: str = "flux"  # "flux" (real checkpoints) or "tiny" (random miniature models, offline)
    schnell_model: str = SCHNELL_MODEL
    dev_model: str = DEV_MODEL
    prompt_seed: int = 0  # seed of the prompt sampler
    base_seed: int = 0  # row i uses image seed base_seed + i
    width: int = 1024
    height: int = 1024
    schnell_steps: int = 4
    dev_steps: int = 28
    dev_guidance: float = 3.5
    schnell_max_sequence_length: int = 256  # schnell reads at most 256 T5 tokens
    dev_max_sequence_length: int = 512
    test_fraction: float = 0.05  # share of ids in the test split, by a stable hash of the id
    random_weights: bool = False  # full-size FLUX.1 configs with random weights: measures throughput, no download


@dataclass
class Pair:
    """One row to generate: its stable id, prompt and seed."""

    id: str
    prompt: str
    seed: int


def pair_id(prompt_seed: int, index: int) -> str:
    return f"s{prompt_seed}-{index:08d}"


def split_of(row_id: str, test_fraction: float) -> str:
    """'train' or 'test', from a stable hash of the id: the same on every machine and every run."""
    fraction = int.from_bytes(hashlib.sha256(row_id.encode()).digest()[:8], "big") / 2**64
    return "test" if fraction < test_fraction else "train"


def plan_pairs(config: GenerationConfig, num_pairs: int) -> list[Pair]:
    prompts = sample_prompts(num_pairs, config.prompt_seed)
    return [Pair(pair_id(config.prompt_seed, index), prompt, config.base_seed + index) for index, prompt in enumerate(prompts)]


def make_row(pair: Pair, config: GenerationConfig, schnell_image, dev_image, schnell_seconds: float, dev_seconds: float) -> dict:
    """One dataset row in the contract's columns."""
    return {
        "id": pair.id,
        "prompt": pair.prompt,
        "seed": pair.seed,
        "width": config.width,
        "height": config.height,
        "schnell": schnell_image,
        "dev": dev_image,
        "schnell_model": config.schnell_model,
        "dev_model": config.dev_model,
        "schnell_steps": config.schnell_steps,
        "dev_steps": config.dev_steps,
        "dev_guidance": config.dev_guidance,
        "schnell_seconds": schnell_seconds,
        "dev_seconds": dev_seconds,
    }


def written_ids(out_dir: Path) -> set[str]:
    """Ids already in complete shards; reads only the id column."""
    ids: set[str] = set()
    for shard in sorted((out_dir / DATA_DIR).glob("*.parquet")):
        ids.update(pq.read_table(shard, columns=["id"]).column("id").to_pylist())
    return ids


class ShardWriter:
    """Encodes rows and writes parquet shards in a background thread; each shard appears atomically."""

    def __init__(self, out_dir: Path, rank: int, rows_per_shard: int, test_fraction: float):
        self.data_dir = out_dir / DATA_DIR
        self.rank, self.rows_per_shard, self.test_fraction = rank, rows_per_shard, test_fraction
        existing = [int(path.stem.rsplit("-", 1)[1]) for path in self.data_dir.glob(f"*-r{rank:03d}-*.parquet")]
        self.next_shard = max(existing, default=-1) + 1  # never overwrite a shard of an earlier run
        self.buffers: dict[str, list[dict]] = {"train": [], "test": []}
        self.queue: queue.Queue = queue.Queue(maxsize=4)  # bounded: memory stays flat if disks are slow
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="shard-writer", daemon=True)
        self.thread.start()

    def submit(self, rows: list[dict]):
        self._raise_if_failed()
        self.queue.put(rows)

    def close(self):
        self.queue.put(None)
        self.thread.join()
        self._raise_if_failed()

    def _raise_if_failed(self):
        if self.error is not None:
            raise RuntimeError("writing a shard failed; re-run the same command to resume") from self.error

    def _run(self):
        try:
            while (rows := self.queue.get()) is not None:
                for row in rows:
                    buffer = self.buffers[split_of(row["id"], self.test_fraction)]
                    buffer.append(row)
                    if len(buffer) >= self.rows_per_shard:
                        self._flush(buffer)
            for buffer in self.buffers.values():
                self._flush(buffer)
        except BaseException as error:  # handed to the main thread by submit/close
            self.error = error

    def _flush(self, buffer: list[dict]):
        if not buffer:
            return
        split = split_of(buffer[0]["id"], self.test_fraction)
        name = f"{split}-r{self.rank:03d}-{self.next_shard:05d}.parquet"
        temporary = self.data_dir / f".{name}.tmp"  # hidden: never read as data
        Dataset.from_list(buffer, features=FEATURES).to_parquet(str(temporary))
        temporary.replace(self.data_dir / name)
        self.next_shard += 1
        buffer.clear()


def load_generators(config: GenerationConfig, share: str, device, dtype):
    """The schnell and dev FluxPipelines, sharing text encoders and VAE when their configs match."""
    from diffusers import FluxPipeline

    if config.profile == "tiny":
        from refine.tiny import build_tiny_flux, build_tiny_transformer

        schnell = build_tiny_flux(config.schnell_max_sequence_length)
        dev = FluxPipeline(**dict(schnell.components, transformer=build_tiny_transformer(guidance_embeds=True, seed=1)))
        dev.set_progress_bar_config(disable=True)
        return schnell.to(device), dev.to(device)

    if config.random_weights:
        from refine.full_size import build_full_size_flux_pair

        return build_full_size_flux_pair(device, dtype)
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel

    schnell = FluxPipeline.from_pretrained(config.schnell_model, dtype=dtype)
    if share == "never" or (share == "auto" and not shared_components_match(schnell, config.dev_model)):
        dev = FluxPipeline.from_pretrained(config.dev_model, dtype=dtype)
    else:
        dev = FluxPipeline(
            **dict(
                schnell.components,
                transformer=FluxTransformer2DModel.from_pretrained(config.dev_model, subfolder="transformer", dtype=dtype),
                scheduler=FlowMatchEulerDiscreteScheduler.from_pretrained(config.dev_model, subfolder="scheduler"),
            )
        )
    for pipeline in (schnell, dev):
        pipeline.set_progress_bar_config(disable=True)
    return schnell.to(device), dev.to(device)


def shared_components_match(schnell, dev_model: str) -> bool:
    """True when dev's text encoders and VAE have the same configs as schnell's (so one copy serves both)."""
    from diffusers import AutoencoderKL
    from transformers import AutoConfig

    def comparable(config: dict) -> dict:
        return {key: value for key, value in config.items() if not key.startswith("_") and key not in ("transformers_version", "dtype", "torch_dtype")}

    checks = [
        (schnell.text_encoder.config.to_dict(), AutoConfig.from_pretrained(dev_model, subfolder="text_encoder").to_dict()),
        (schnell.text_encoder_2.config.to_dict(), AutoConfig.from_pretrained(dev_model, subfolder="text_encoder_2").to_dict()),
        (dict(schnell.vae.config), AutoencoderKL.load_config(dev_model, subfolder="vae")),
    ]
    return all(comparable(ours) == comparable(theirs) for ours, theirs in checks)


def generate_batch(schnell, dev, pairs: list[Pair], config: GenerationConfig, device, dtype) -> tuple[list, list, float, float]:
    """Generate one batch of pairs from the same initial noise; returns images and seconds per model."""
    prompts = [pair.prompt for pair in pairs]
    # One CPU generator per row: a row's noise depends on its seed alone, not on the batch it is in.
    generators = [torch.Generator("cpu").manual_seed(pair.seed) for pair in pairs]
    latents, _ = schnell.prepare_latents(
        len(pairs), schnell.transformer.config.in_channels // 4, config.height, config.width, dtype, device, generators
    )  # (B, tokens, channels) packed noise, given to both models
    schnell_timer, dev_timer = StageTimer(device), StageTimer(device)
    schnell_images = run_flux(schnell, prompts, None, config.width, config.height, config.schnell_steps, 0.0,
                              config.schnell_max_sequence_length, schnell_timer, latents=latents.clone())
    dev_images = run_flux(dev, prompts, None, config.width, config.height, config.dev_steps, config.dev_guidance,
                          config.dev_max_sequence_length, dev_timer, latents=latents.clone())
    return schnell_images, dev_images, sum(schnell_timer.seconds.values()), sum(dev_timer.seconds.values())


def check_resume_config(out_dir: Path, config: GenerationConfig):
    """Write the config on the first run; refuse to resume a folder made with different settings."""
    path = out_dir / CONFIG_FILE
    if path.exists():
        saved = json.loads(path.read_text())
        differences = {key: (saved.get(key), value) for key, value in asdict(config).items() if saved.get(key) != value}
        if differences:
            raise SystemExit(
                f"{out_dir} holds rows made with other settings ({differences}, as (saved, now)); "
                "use a new --out folder or the same settings."
            )
    else:
        path.write_text(json.dumps(asdict(config), indent=2) + "\n")


def parse_args(argv=None) -> tuple[GenerationConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="output folder (created; re-use it to resume)")
    parser.add_argument("--num-pairs", required=True, type=int, help="total pairs wanted in the folder")
    parser.add_argument("--batch-size", type=int, default=1, help="prompts per model call")
    parser.add_argument("--rows-per-shard", type=int, default=64, help="rows per parquet file")
    parser.add_argument("--share", choices=("auto", "always", "never"), default="auto",
                        help="share text encoders and VAE between schnell and dev: when configs match (auto), always, never")
    defaults = GenerationConfig()
    for field in fields(GenerationConfig):
        flag, default = f"--{field.name.replace('_', '-')}", getattr(defaults, field.name)
        if isinstance(default, bool):
            parser.add_argument(flag, action="store_true")
        else:
            parser.add_argument(flag, type=type(default), default=default)
    args = parser.parse_args(argv)
    if args.profile not in ("flux", "tiny"):
        parser.error("--profile must be flux or tiny")
    if args.width % 16 or args.height % 16:
        parser.error("--width and --height must be multiples of 16")
    config = GenerationConfig(**{field.name: getattr(args, field.name) for field in fields(GenerationConfig)})
    # Say in every row when the images come from random weights.
    stand_ins = TINY_MODELS if config.profile == "tiny" else RANDOM_MODELS if config.random_weights else None
    if stand_ins:
        config.schnell_model = stand_ins[0] if config.schnell_model == SCHNELL_MODEL else config.schnell_model
        config.dev_model = stand_ins[1] if config.dev_model == DEV_MODEL else config.dev_model
    return config, args


def main(argv=None):
    from accelerate import PartialState

    config, args = parse_args(argv)
    disable_progress_bars()  # datasets' per-shard bars would break the one progress bar that matters
    state = PartialState(cpu=not torch.cuda.is_available())  # CPU processes (gloo) on a machine without GPUs
    device = state.device
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    out_dir: Path = args.out
    if state.is_main_process:
        (out_dir / DATA_DIR).mkdir(parents=True, exist_ok=True)
        for leftover in (out_dir / DATA_DIR).glob(".*.tmp"):  # shards a killed run did not finish
            leftover.unlink()
        check_resume_config(out_dir, config)
    state.wait_for_everyone()  # every process scans the same finished shards, before anyone writes

    done = written_ids(out_dir)
    missing = [pair for pair in plan_pairs(config, args.num_pairs) if pair.id not in done]
    mine = missing[state.process_index :: state.num_processes]
    state.wait_for_everyone()
    schnell, dev = load_generators(config, args.share, device, dtype)
    writer = ShardWriter(out_dir, state.process_index, args.rows_per_shard, config.test_fraction)

    model_seconds = 0.0
    start = time.perf_counter()
    progress = tqdm(total=len(mine), unit="pair", desc=f"pairs (process {state.process_index})", disable=not state.is_local_main_process)
    with torch.inference_mode():
        for first in range(0, len(mine), args.batch_size):
            batch = mine[first : first + args.batch_size]
            schnell_images, dev_images, schnell_seconds, dev_seconds = generate_batch(schnell, dev, batch, config, device, dtype)
            model_seconds += schnell_seconds + dev_seconds
            writer.submit([
                make_row(pair, config, schnell_image, dev_image, schnell_seconds / len(batch), dev_seconds / len(batch))
                for pair, schnell_image, dev_image in zip(batch, schnell_images, dev_images)
            ])
            progress.update(len(batch))
    writer.close()
    progress.close()
    wall_seconds = time.perf_counter() - start

    summary = {
        "process": state.process_index,
        "pairs_generated": len(mine),
        "wall_seconds": round(wall_seconds, 3),
        "model_seconds": round(model_seconds, 3),
        # Time outside the model calls (data handling, waiting on the writer), relative to model time.
        "overhead_percent": round(100 * (wall_seconds - model_seconds) / model_seconds, 2) if model_seconds else 0.0,
        "pairs_per_hour": round(3600 * len(mine) / wall_seconds, 1) if wall_seconds and mine else 0.0,
    }
    print(json.dumps(summary))
    state.wait_for_everyone()
    if state.is_main_process:
        total = len(written_ids(out_dir))
        print(f"{out_dir}: {total} of {args.num_pairs} pairs written")
    return summary


if __name__ == "__main__":
    main()
