"""Publish a generated dataset folder on the Hugging Face Hub as a dataset people open with one line.

    python -m data_tools.publish DIR --repo-id OWNER/NAME [--private] [--dry-run]

The repository folder is laid out first, beside DIR (DIR-hub, or --staging-dir): the dataset card
(README.md with the YAML that tells `load_dataset` the splits and features), the parquet shards under
data/ (hard links, so no copy of the images is made) and generation.json. `--dry-run` stops there.
Otherwise the folder is uploaded with huggingface_hub's `upload_folder`, which skips files the Hub
already holds when re-run, so an interrupted upload resumes. The token comes from the environment
(HF_TOKEN) or `hf auth login`, through huggingface_hub; it is never printed.
"""

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import pyarrow.parquet as pq
import yaml
from huggingface_hub import DatasetCard, HfApi

from data_tools.generate import CONFIG_FILE, DATA_DIR, FEATURES
from data_tools.prompts import LATIN_LOCALES, PROMPT_TEMPLATE

SPLITS = ("train", "test")
TINY_WARNING = """
**These images come from random miniature models (the `tiny` profile): a test fixture, not portraits.**
"""
DEV_LICENSE_LINK = "https://huggingface.co/black-forest-labs/FLUX.1-dev/blob/main/LICENSE.md"
CITATION = """@misc{wasala2025enhancing,
  title         = {Enhancing AI Face Realism: Cost-Efficient Quality Improvement in Distilled Diffusion Models with a Fully Synthetic Dataset},
  author        = {Wasala and others},
  year          = {2025},
  eprint        = {2505.02255},
  archivePrefix = {arXiv},
  url           = {https://arxiv.org/abs/2505.02255},
}"""


def split_sizes(data_dir: Path) -> dict[str, int]:
    """Rows per split, read from the parquet footers (no image is read)."""
    sizes = {split: 0 for split in SPLITS}
    for shard in data_dir.glob("*.parquet"):
        sizes[shard.name.split("-", 1)[0]] += pq.ParquetFile(shard).metadata.num_rows
    return sizes


def size_category(rows: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return label
    return "1M<n<10M"


def card_metadata(sizes: dict[str, int], pretty_name: str) -> dict:
    """The card's YAML: licence, task categories, tags, size, and the configs and features for load_dataset."""
    present = [split for split in SPLITS if sizes[split]]
    return {
        "pretty_name": pretty_name,
        "license": "other",
        "license_name": "flux-1-dev-non-commercial-license",
        "license_link": DEV_LICENSE_LINK,
        "language": ["en"],
        "task_categories": ["image-to-image", "text-to-image"],
        "tags": ["flux", "flux-schnell", "flux-dev", "portraits", "faces", "synthetic", "paired", "distillation"],
        "size_categories": [size_category(sum(sizes.values()))],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": split, "path": f"{DATA_DIR}/{split}-*.parquet"} for split in present],
            }
        ],
        "dataset_info": {
            "features": FEATURES._to_yaml_list(),
            "splits": [{"name": split, "num_examples": sizes[split]} for split in present],
        },
    }


def card_text(metadata: dict, generation: dict, repo_id: str) -> str:
    """The whole README.md: YAML header, then how the data was made and how to load it."""
    total = sum(split["num_examples"] for split in metadata["dataset_info"]["splits"])
    counts = ", ".join(f"{split['num_examples']:,} {split['name']}" for split in metadata["dataset_info"]["splits"])
    return f"""---
{yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True)}---

# {metadata["pretty_name"]}

{total:,} pairs of synthetic portraits ({counts}). Each row holds two images made from the same
prompt, the same seed and the same initial noise: one by `{generation["schnell_model"]}` and one by
`{generation["dev_model"]}`. It is the paired training data of a refiner head that maps schnell output
to dev's look, following [arXiv 2505.02255](https://arxiv.org/abs/2505.02255).
{TINY_WARNING if generation["profile"] == "tiny" else ""}
## Load it

```python
from datasets import load_dataset

pairs = load_dataset("{repo_id}")  # splits: {", ".join(split["name"] for split in metadata["dataset_info"]["splits"])}
row = pairs["train"][0]
row["schnell"], row["dev"]  # PIL images
```

`streaming=True` reads it without downloading everything first.

## How it was made

| setting | schnell | dev |
| --- | --- | --- |
| model | `{generation["schnell_model"]}` | `{generation["dev_model"]}` |
| steps | {generation["schnell_steps"]} | {generation["dev_steps"]} |
| guidance | 0 | {generation["dev_guidance"]} |
| T5 sequence length | {generation["schnell_max_sequence_length"]} | {generation["dev_max_sequence_length"]} |

- Resolution {generation["width"]}x{generation["height"]}, bf16, diffusers `FluxPipeline`.
- Initial noise: for row `i` the seed is `{generation["base_seed"]} + i`; the packed latents are drawn
  once from a CPU `torch.Generator` with that seed and given to both models.
- Prompts: `data_tools.prompts.sample_prompts(n, seed={generation["prompt_seed"]})`, one template
  filled with real first names and surnames from Faker's person providers in {len(LATIN_LOCALES)} Latin-script locales
  plus romanized Japanese and Chinese names, and a random age (18-90), expression, hair, clothing,
  lighting, framing, background and lens:

  `{PROMPT_TEMPLATE}`
- Splits: a row is in `test` when the first 8 bytes of SHA-256 of its `id`, as a fraction of 2^64,
  fall below {generation["test_fraction"]}; the split of a row never changes as the dataset grows.

## Columns

`id` (stable string), `prompt`, `seed` (int64), `width`, `height`, `schnell` (image), `dev` (image),
`schnell_model`, `dev_model`, `schnell_steps`, `dev_steps`, `dev_guidance`, `schnell_seconds` and
`dev_seconds` (model time per image on the generating GPU).

## Licence

The `dev` images are outputs of FLUX.1-dev and fall under the
[FLUX.1-dev Non-Commercial License]({DEV_LICENSE_LINK}), which restricts them to non-commercial use
and names using outputs to train or distil other models. The `schnell` images come from FLUX.1-schnell
(Apache-2.0). The dataset as a whole is therefore published under the FLUX.1-dev non-commercial terms.
All people named in the prompts are fictional combinations of common names.

## Citation

```bibtex
{CITATION}
```
"""


def stage(source: Path, staging: Path, repo_id: str, pretty_name: str) -> list[str]:
    """Lay out the exact repository folder; returns its files, relative paths."""
    data_dir = source / DATA_DIR
    shards = sorted(data_dir.glob("*.parquet"))
    if not shards:
        raise SystemExit(f"{data_dir} holds no parquet shards: run `python -m data_tools.generate --out {source}` first.")
    generation = json.loads((source / CONFIG_FILE).read_text())
    (staging / DATA_DIR).mkdir(parents=True, exist_ok=True)
    for stale in (staging / DATA_DIR).iterdir():  # shards of an older layout must not be uploaded
        if not (data_dir / stale.name).exists():
            stale.unlink()
    for shard in shards:
        target = staging / DATA_DIR / shard.name
        if not target.exists():
            try:
                os.link(shard, target)  # same bytes, no copy
            except OSError:  # another file system
                shutil.copy2(shard, target)
    shutil.copy2(source / CONFIG_FILE, staging / CONFIG_FILE)
    metadata = card_metadata(split_sizes(data_dir), pretty_name)
    DatasetCard(card_text(metadata, generation, repo_id)).save(staging / "README.md")
    return sorted(str(path.relative_to(staging)) for path in staging.rglob("*") if path.is_file())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset_dir", type=Path, help="folder written by data_tools.generate")
    parser.add_argument("--repo-id", required=True, help="Hub dataset repository, OWNER/NAME")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--dry-run", action="store_true", help="lay out the repository folder, upload nothing")
    parser.add_argument("--staging-dir", type=Path, help="where to lay out the repository folder (default: DIR-hub)")
    parser.add_argument("--pretty-name", default="FLUX.1 schnell/dev paired portraits")
    args = parser.parse_args(argv)
    source = args.dataset_dir.resolve()
    staging = (args.staging_dir or source.with_name(source.name + "-hub")).resolve()
    files = stage(source, staging, args.repo_id, args.pretty_name)
    print(f"repository folder: {staging} ({len(files)} files)")
    for name in files:
        print(f"  {name}")
    if args.dry_run:
        print("dry run: nothing uploaded")
        return staging

    api = HfApi()
    try:
        url = api.create_repo(args.repo_id, repo_type="dataset", private=args.private, exist_ok=True)
        api.upload_folder(
            repo_id=args.repo_id,
            repo_type="dataset",
            folder_path=staging,
            commit_message=f"Upload {len(files)} files of the paired portrait dataset",
        )
    except (Exception, KeyboardInterrupt) as error:  # network, auth, quota, Ctrl-C: say what to do next
        print(
            f"upload did not complete: {type(error).__name__}: {error}\n"
            f"Nothing is lost: {staging} holds the whole repository folder. Re-run the same command to resume;"
            " files the Hub already has are not sent again.",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    print(f"published: {url}")
    return staging


if __name__ == "__main__":
    main()
