"""`python -m refine.benchmark`: the tiny profile end to end, the full-size configs, the head comparison."""

import json
import subprocess
import sys

import pytest
from PIL import Image

from refine.benchmark import PLAIN_FULL_RESOLUTION, main
from refine.full_size import build_full_size_components
from refine.model import RefinerUNet


def test_tiny_benchmark_reports_every_stage_saving_and_head(tmp_path):
    results = main([
        "--profile", "tiny", "--resolution", "64", "--batch-size", "2", "--dev-steps", "3", "5",
        "--refiner-resolutions", "32", "--warmup", "0", "--repeats", "2",
        "--json", str(tmp_path / "bench.json"), "--chart", str(tmp_path / "chart.png"),
    ])
    assert json.loads((tmp_path / "bench.json").read_text()) == json.loads(json.dumps(results))
    assert {"device", "dtype", "profile", "resolution", "batch_size", "compile", "warmup", "repeats"} <= set(results)
    assert list(results["pipelines"]) == ["schnell+refiner", "dev-3", "dev-5"]
    for name, pipeline in results["pipelines"].items():
        expected = {"text_encoding", "denoising", "decoding"} | ({"refining"} if name == "schnell+refiner" else set())
        assert set(pipeline["stages"]) == expected
        for figures in [*pipeline["stages"].values(), pipeline["denoising_step"], pipeline["end_to_end"]]:
            assert 0 < figures["min"] <= figures["median"] <= figures["max"]
        stage_sum = sum(figures["median"] for figures in pipeline["stages"].values())
        assert pipeline["end_to_end"]["median"] == pytest.approx(stage_sum, rel=0.5)
    assert set(results["cost_reduction_percent"]) == set(results["schnell_only_cost_reduction_percent"]) == {"dev-3", "dev-5"}
    assert results["cost_reduction_percent"]["dev-5"] > results["cost_reduction_percent"]["dev-3"]
    assert 0 < results["refiner_share_percent"] < 100
    assert set(results["images_per_hour"]) == set(results["pipelines"])
    assert [(head["name"], head["resolution"]) for head in results["heads"]] == [("refiner", 32), ("plain_full_resolution", 32)]
    assert Image.open(tmp_path / "chart.png").size[0] > 0


def test_heads_only_compares_the_head_with_the_plain_baseline_at_each_resolution():
    results = main(["--heads-only", "--refiner-resolutions", "32", "48", "--warmup", "0", "--repeats", "2",
                    "--large-image-sizes", "160", "--tile-size", "64"])
    assert [(row["size"], row["tile_size"], row["tiled"]) for row in results["large_images"]] == [(160, 64, True), (160, 160, False)]
    assert all(row["seconds"] > 0 and row["peak_memory_gb"] >= 0 for row in results["large_images"])
    assert "pipelines" not in results
    assert [(head["name"], head["resolution"]) for head in results["heads"]] == [
        ("refiner", 32), ("plain_full_resolution", 32), ("refiner", 48), ("plain_full_resolution", 48)
    ]
    for head in results["heads"]:
        assert 0 < head["min_seconds"] <= head["median_seconds"] <= head["max_seconds"]


def test_baseline_is_a_plain_full_resolution_head_of_about_3_5m_parameters():
    assert PLAIN_FULL_RESOLUTION.downscale_factor == 1
    parameters = sum(parameter.numel() for parameter in RefinerUNet(PLAIN_FULL_RESOLUTION).parameters())
    assert 3_300_000 < parameters < 3_700_000


def test_random_weights_build_the_published_full_size_configs_without_memory():
    components = build_full_size_components("meta")
    billions = {name: sum(parameter.numel() for parameter in module.parameters()) / 1e9 for name, module in components.items()}
    assert billions["schnell_transformer"] == pytest.approx(11.9, abs=0.05)  # FLUX.1's 12B transformer
    assert billions["dev_transformer"] > billions["schnell_transformer"]  # plus the guidance embedding
    assert billions["text_encoder_2"] == pytest.approx(4.76 + 0.13, abs=0.05)  # T5-XXL encoder (+ untied input embedding)
    assert billions["text_encoder"] == pytest.approx(0.123, abs=0.002)  # CLIP-L text model
    assert billions["vae"] == pytest.approx(0.084, abs=0.002)
    assert components["dev_transformer"].config.guidance_embeds and not components["schnell_transformer"].config.guidance_embeds
    assert all(parameter.device.type == "meta" for module in components.values() for parameter in module.parameters())


def test_random_weights_need_the_flux_profile():
    finished = subprocess.run([sys.executable, "-m", "refine.benchmark", "--profile", "tiny", "--random-weights"], capture_output=True, text=True)
    assert finished.returncode == 2 and "--random-weights" in finished.stderr


def test_compile_option_times_the_compiled_head():
    results = main(["--heads-only", "--refiner-resolutions", "32", "--skip-baseline", "--compile", "--warmup", "1", "--repeats", "1"])
    assert results["compile"] is True and results["heads"][0]["median_seconds"] > 0


def test_full_size_builders_create_parameters_on_the_device_in_the_dtype():
    import torch

    from refine.full_size import building_on

    with building_on("cpu", torch.bfloat16):
        layer = torch.nn.Linear(4, 4)
    assert layer.weight.dtype == torch.bfloat16 and layer.weight.device.type == "cpu"
    assert torch.get_default_dtype() == torch.float32  # restored afterwards
