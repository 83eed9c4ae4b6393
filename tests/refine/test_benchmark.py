"""`python -m refine.benchmark` runs and reports both heads."""

import json
import subprocess
import sys

from refine.benchmark import PLAIN_FULL_RESOLUTION, main
from refine.model import RefinerUNet


def test_baseline_is_a_plain_full_resolution_head_of_about_3_5m_parameters():
    assert PLAIN_FULL_RESOLUTION.downscale_factor == 1
    parameters = sum(parameter.numel() for parameter in RefinerUNet(PLAIN_FULL_RESOLUTION).parameters())
    assert 3_300_000 < parameters < 3_700_000


def test_benchmark_writes_figures_for_both_heads(tmp_path):
    results = main(["--resolution", "32", "48", "--warmup", "0", "--repeats", "2", "--json", str(tmp_path / "bench.json")])
    assert json.loads((tmp_path / "bench.json").read_text()) == results
    assert [(head["name"], head["resolution"]) for head in results["heads"]] == [
        ("refiner", 32), ("plain_full_resolution", 32), ("refiner", 48), ("plain_full_resolution", 48)
    ]
    for head in results["heads"]:
        assert 0 < head["min_seconds"] <= head["median_seconds"] <= head["max_seconds"]
    assert results["dtype"] == "float32"


def test_benchmark_help():
    output = subprocess.run([sys.executable, "-m", "refine.benchmark", "--help"], capture_output=True, text=True, check=True)
    assert "--resolution" in output.stdout
