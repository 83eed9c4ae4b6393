"""`python -m train` and `python -m train.evaluate` on small paired datasets, all offline."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from refine import RefinerUNet
from refine.pipeline import PortraitPipeline
from tests.conftest import REPOSITORY
from tests.train.photo_pairs import write_photo_pairs
from train.data import load_pairs, to_tensor
from train.evaluate import evaluate, format_table
from train.evaluate import main as evaluate_main
from train.metrics import psnr
from train.training import latest_checkpoint
from train.training import main as train

QUICK = ["--lpips-weight", "0", "--resolution", "64", "--batch-size", "4", "--checkpointing-steps", "0"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return str(write_photo_pairs(tmp_path_factory.mktemp("photos") / "pairs", side=160))


@pytest.fixture(scope="module")
def trained(photos, tmp_path_factory):
    """40 steps with validation every 20, logged to TensorBoard."""
    output = tmp_path_factory.mktemp("trained")
    train(["--dataset", photos, "--output-dir", str(output), *QUICK, "--max-steps", "40", "--lr", "1e-3", "--validation-steps", "20", "--report-to", "tensorboard"])
    return output


def tensorboard_events(output):
    events = EventAccumulator(str(next((output / "logs").rglob("events.out.tfevents.*")).parent), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    return events


def test_a_few_steps_decrease_the_loss_and_validation_is_logged(trained):
    events = tensorboard_events(trained)
    losses = [event.value for event in events.Scalars("loss")]
    assert len(losses) == 40
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5
    assert [event.step for event in events.Scalars("validation/psnr_refined")] == [20, 40]
    assert "validation/schnell_refined_dev" in events.Tags()["images"]
    validation = json.loads((trained / "validation.json").read_text())
    assert validation["psnr_refined"] > validation["psnr_schnell"]


def test_saved_folder_loads_with_from_pretrained_and_refines(trained):
    assert {"config.json", "model.safetensors", "README.md", "training_config.json"} <= {path.name for path in trained.iterdir()}
    refiner = RefinerUNet.from_pretrained(trained)
    image = Image.new("RGB", (50, 30), (120, 90, 60))
    refined = PortraitPipeline(refiner).refine(image, 1.0)
    assert refined.size == (50, 30) and refined.tobytes() != image.tobytes()
    card = (trained / "README.md").read_text()
    assert "Non-Commercial License" in card and "psnr_refined" in card and "RefinerUNet.from_pretrained" in card


def test_evaluate_reports_what_it_measured(photos, trained, tmp_path):
    results = evaluate(photos, str(trained), use_lpips=False, fid=True)
    assert results["images"] == 2
    rows = load_pairs(photos, "test")
    direct = sum(psnr(to_tensor(row["schnell"])[None], to_tensor(row["dev"])[None]).item() for row in rows) / 2
    assert results["metrics"]["psnr_schnell"] == pytest.approx(direct)
    assert results["metrics"]["psnr_refined"] > results["metrics"]["psnr_schnell"]
    assert "at least 50 images" in results["distribution"]["skipped"]
    assert results["latency"]["median_seconds"] > 0
    table = format_table(results)
    assert "PSNR" in table and "SSIM" in table and "head latency" in table

    evaluate_main(["--dataset", photos, "--refiner", str(trained), "--skip-lpips", "--output", str(tmp_path / "eval.json")])
    assert json.loads((tmp_path / "eval.json").read_text())["metrics"].keys() == results["metrics"].keys()


def test_killed_training_resumes_at_the_saved_step(photos, tmp_path):
    command = [sys.executable, "-m", "train", "--dataset", photos, "--output-dir", str(tmp_path), *QUICK[:-2],
               "--checkpointing-steps", "5", "--validation-steps", "0", "--report-to", "none"]
    process = subprocess.Popen([*command, "--max-steps", "1000"], cwd=REPOSITORY, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while len(list((tmp_path / "checkpoints").glob("step-*"))) < 2:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    latest = latest_checkpoint(tmp_path / "checkpoints")
    saved_step = int(latest.name.split("-")[1])
    resumed = subprocess.run([*command, "--resume", "--max-steps", str(saved_step + 3)], cwd=REPOSITORY, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from {latest} at step {saved_step}" in resumed.stdout
    assert (tmp_path / "model.safetensors").exists()


def test_two_accelerate_processes_train(photos, tmp_path):
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    finished = subprocess.run([*launcher, "-m", "train", "--dataset", photos, "--output-dir", str(tmp_path), *QUICK,
                               "--max-steps", "4", "--validation-steps", "0", "--report-to", "none"],
                              cwd=REPOSITORY, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "2 process(es) on cpu" in finished.stdout
    assert RefinerUNet.from_pretrained(tmp_path) is not None


def test_push_to_hub_uploads_weights_and_card(photos, tmp_path, fake_hub):
    hub = fake_hub()
    train(["--dataset", photos, "--output-dir", str(tmp_path), *QUICK, "--max-steps", "2", "--validation-steps", "0",
           "--report-to", "none", "--push-to-hub", "me/portrait-refiner"])
    assert {"config.json", "model.safetensors", "README.md"} <= set(hub.files)
    assert hub.files["model.safetensors"] == (tmp_path / "model.safetensors").read_bytes()


def test_learnability_held_out_psnr_rises_by_several_db(photos, tmp_path):
    """A short CPU run on real photographs learns a consistent look and generalises to held-out photos."""
    train(["--dataset", photos, "--output-dir", str(tmp_path), "--lpips-weight", "0", "--resolution", "96",
           "--max-steps", "250", "--validation-steps", "0", "--checkpointing-steps", "0", "--report-to", "none"])
    results = evaluate(photos, str(tmp_path), use_lpips=False)
    gain = results["metrics"]["psnr_refined"] - results["metrics"]["psnr_schnell"]
    assert gain > 5, results["metrics"]


def test_ema_streaming_and_bf16_options_run(photos, tmp_path):
    from safetensors.torch import load_file

    common = ["--dataset", photos, *QUICK, "--max-steps", "3", "--validation-steps", "0", "--report-to", "none", "--lr", "1e-2"]
    train([*common, "--output-dir", str(tmp_path / "plain")])
    train([*common, "--output-dir", str(tmp_path / "ema"), "--ema-decay", "0.5"])
    plain, ema = (load_file(tmp_path / name / "model.safetensors") for name in ("plain", "ema"))
    assert plain.keys() == ema.keys()
    assert any(not torch.equal(plain[key], ema[key]) for key in plain)  # the averaged weights were saved

    train([*common, "--output-dir", str(tmp_path / "streaming"), "--streaming"])
    # accelerate fixes the precision once per process: bf16 runs in its own process.
    subprocess.run([sys.executable, "-m", "train", *common, "--output-dir", str(tmp_path / "bf16"), "--mixed-precision", "bf16"],
                   cwd=REPOSITORY, check=True, capture_output=True, timeout=600)
    for name in ("streaming", "bf16"):
        assert RefinerUNet.from_pretrained(tmp_path / name).config.channels == (64, 128, 256)


def test_a_dataset_without_test_split_trains_without_validation(photos, tmp_path):
    import shutil

    only_train = tmp_path / "only_train"
    shutil.copytree(photos, only_train)
    for shard in (only_train / "data").glob("test-*"):
        shard.unlink()
    output = tmp_path / "output"
    metrics = train(["--dataset", str(only_train), "--output-dir", str(output), *QUICK, "--max-steps", "2",
                     "--validation-steps", "1", "--report-to", "none"])
    assert metrics == {} and (output / "model.safetensors").exists()


def test_crops_shrink_to_images_smaller_than_the_resolution(photos, tmp_path, capsys):
    from train.training import TrainingConfig, crop_size

    first = load_pairs(photos, "train")[0]
    shorter = min(first["schnell"].size)
    assert crop_size(TrainingConfig(resolution=64), first) == 64
    assert crop_size(TrainingConfig(resolution=512), first) == shorter // 16 * 16
    assert "smaller than --resolution 512" in capsys.readouterr().out
