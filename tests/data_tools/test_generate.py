"""Paired generation on the tiny profile: shared noise, the row contract, kill-and-resume, two processes."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from datasets import load_dataset

from data_tools.generate import FEATURES, GenerationConfig, Pair, generate_batch, load_generators, main, split_of, written_ids
from tests.conftest import REPOSITORY

TINY_ARGS = ["--profile", "tiny", "--width", "128", "--height", "128", "--dev-steps", "3"]


def run_generate(out, num_pairs, *extra, launcher=(sys.executable, "-m")):
    command = [*launcher, "data_tools.generate", "--out", str(out), "--num-pairs", str(num_pairs), *TINY_ARGS, *extra]
    return subprocess.Popen(command, cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process) -> str:
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    return output


def rows_by_id(out) -> dict:
    dataset = load_dataset(str(out))
    return {row["id"]: row for split in dataset.values() for row in split}


def test_both_models_start_from_the_same_noise_and_rows_do_not_depend_on_their_batch():
    config = GenerationConfig(profile="tiny", width=128, height=128, dev_steps=2)
    schnell, dev = load_generators(config, "auto", torch.device("cpu"), torch.float32)
    first_inputs = {}

    def capture(name):
        def hook(module, args, kwargs):
            first_inputs.setdefault(name, []).append(kwargs["hidden_states"].clone())
        return hook

    schnell.transformer.register_forward_pre_hook(capture("schnell"), with_kwargs=True)
    dev.transformer.register_forward_pre_hook(capture("dev"), with_kwargs=True)
    pairs = [Pair("a", "portrait of a potter", 5), Pair("b", "portrait of a pilot", 6)]
    with torch.inference_mode():
        generate_batch(schnell, dev, pairs, config, torch.device("cpu"), torch.float32)
    schnell_noise, dev_noise = first_inputs["schnell"][0], first_inputs["dev"][0]  # first denoising step
    assert torch.equal(schnell_noise, dev_noise)
    assert not torch.equal(schnell_noise[0], schnell_noise[1])  # each row has its own seed

    first_inputs.clear()
    with torch.inference_mode():
        generate_batch(schnell, dev, pairs[1:], config, torch.device("cpu"), torch.float32)
    assert torch.equal(first_inputs["schnell"][0][0], schnell_noise[1])


def test_rows_follow_the_contract_and_split_by_a_stable_hash(tmp_path):
    summary = main(["--out", str(tmp_path), "--num-pairs", "12", "--rows-per-shard", "5", "--batch-size", "3", *TINY_ARGS])
    assert summary["pairs_generated"] == 12 and summary["model_seconds"] > 0 and "overhead_percent" in summary
    dataset = load_dataset(str(tmp_path))
    assert set(dataset) == {"train", "test"}  # 12 ids at 5% give both splits with prompt seed 0
    for split, rows in dataset.items():
        assert rows.features == FEATURES
        for row in rows:
            assert split_of(row["id"], 0.05) == split
            assert row["schnell"].size == row["dev"].size == (128, 128)
            assert row["schnell_steps"] == 4 and row["dev_steps"] == 3 and row["dev_guidance"] == pytest.approx(3.5)
            assert row["schnell_model"] == "tiny-random/flux-schnell"
            assert not np.array_equal(np.asarray(row["schnell"]), np.asarray(row["dev"]))
    assert sum(len(rows) for rows in dataset.values()) == 12
    assert split_of("s0-00000001", 0.05) == split_of("s0-00000001", 0.05)


def test_killed_run_resumes_to_exactly_the_requested_pairs(tmp_path):
    # 40 pairs in shards of 2: kill once a random number of shards exist, at a random moment after.
    rng = random.Random()
    shards_before_kill, delay = rng.randint(1, 15), rng.uniform(0.0, 0.3)
    where = f"killed after {shards_before_kill} shards + {delay:.2f}s"
    process = run_generate(tmp_path, 40, "--rows-per-shard", "2")
    deadline = time.monotonic() + 300
    while len(list((tmp_path / "data").glob("*.parquet"))) < shards_before_kill and process.poll() is None:
        assert time.monotonic() < deadline, where
        time.sleep(0.01)
    time.sleep(delay)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = written_ids(tmp_path)
    assert len(before) < 40, f"the run finished before it was {where}"

    finish(run_generate(tmp_path, 40, "--rows-per-shard", "2"))
    assert not list((tmp_path / "data").glob(".*.tmp"))
    ids = [row_id for shard in (tmp_path / "data").glob("*.parquet") for row_id in pq.read_table(shard, columns=["id"])["id"].to_pylist()]
    assert len(ids) == len(set(ids)) == 40, where
    assert before <= set(ids)

    output = finish(run_generate(tmp_path, 40, "--rows-per-shard", "2"))  # nothing left to do
    assert '"pairs_generated": 0' in output
    assert len(rows_by_id(tmp_path)) == 40


def test_resuming_with_other_settings_is_refused(tmp_path):
    finish(run_generate(tmp_path, 2))
    process = run_generate(tmp_path, 2, "--dev-guidance", "5.0")
    output, _ = process.communicate(timeout=300)
    assert process.returncode != 0 and "other settings" in output


def test_two_accelerate_processes_give_the_same_rows_as_one(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    finish(run_generate(one, 10))
    # `accelerate launch --cpu` starts a single process (accelerate issue #2741); the multi-process
    # launcher works on CPUs, where the script picks the gloo backend itself.
    launcher = (sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m")
    output = finish(run_generate(two, 10, launcher=launcher))
    assert '"process": 1' in output  # really two processes
    assert {path.name.split("-")[1] for path in (two / "data").glob("*.parquet")} == {"r000", "r001"}
    rows_one, rows_two = rows_by_id(one), rows_by_id(two)
    assert rows_one.keys() == rows_two.keys() and len(rows_one) == 10
    for row_id, row in rows_one.items():
        assert (row["prompt"], row["seed"]) == (rows_two[row_id]["prompt"], rows_two[row_id]["seed"])
        assert np.array_equal(np.asarray(row["schnell"]), np.asarray(rows_two[row_id]["schnell"]))
    assert json.loads((two / "generation.json").read_text()) == json.loads((one / "generation.json").read_text())


@pytest.fixture(scope="module")
def checkpoint_folders(tmp_path_factory):
    """Tiny schnell and dev checkpoints saved as diffusers folders, standing in for the Hub repos."""
    from diffusers import FluxPipeline

    from refine.tiny import build_tiny_flux, build_tiny_transformer

    root = tmp_path_factory.mktemp("checkpoints")
    schnell = build_tiny_flux()
    schnell.save_pretrained(root / "schnell")
    FluxPipeline(**dict(schnell.components, transformer=build_tiny_transformer(guidance_embeds=True, seed=1))).save_pretrained(root / "dev")
    return root


def load_flux_pair(folders, share):
    config = GenerationConfig(profile="flux", schnell_model=str(folders / "schnell"), dev_model=str(folders / "dev"))
    return load_generators(config, share, torch.device("cpu"), torch.float32)


def test_flux_checkpoints_share_text_encoders_and_vae_when_configs_match(checkpoint_folders):
    schnell, dev = load_flux_pair(checkpoint_folders, "auto")
    assert dev.text_encoder is schnell.text_encoder and dev.text_encoder_2 is schnell.text_encoder_2 and dev.vae is schnell.vae
    assert dev.transformer is not schnell.transformer and dev.transformer.config.guidance_embeds
    schnell, dev = load_flux_pair(checkpoint_folders, "never")
    assert dev.vae is not schnell.vae


def test_flux_checkpoints_with_another_vae_config_load_their_own_unless_forced(checkpoint_folders, tmp_path):
    import shutil

    folders = tmp_path / "changed"
    shutil.copytree(checkpoint_folders, folders)
    vae_config = folders / "dev" / "vae" / "config.json"
    vae_config.write_text(json.dumps(dict(json.loads(vae_config.read_text()), scaling_factor=0.5)))
    schnell, dev = load_flux_pair(folders, "auto")
    assert dev.vae is not schnell.vae and dev.vae.config.scaling_factor == 0.5
    assert dev.text_encoder is not schnell.text_encoder
    schnell, dev = load_flux_pair(folders, "always")
    assert dev.vae is schnell.vae


def test_random_weights_runs_are_labelled_as_such():
    from data_tools.generate import parse_args

    config, _ = parse_args(["--out", "unused", "--num-pairs", "1", "--random-weights"])
    assert config.random_weights and config.profile == "flux"
    assert config.schnell_model == "random-weights/FLUX.1-schnell" and config.dev_model == "random-weights/FLUX.1-dev"
    config, _ = parse_args(["--out", "unused", "--num-pairs", "1"])
    assert not config.random_weights and config.schnell_model == "black-forest-labs/FLUX.1-schnell"
