"""Publishing: the dry-run repository folder, the card's YAML, and uploads against a fake Hub."""

import subprocess
import sys

import httpx2
import pytest
import yaml
from datasets import load_dataset

from data_tools import publish
from data_tools.generate import main as generate
from tests.conftest import REPOSITORY
from tests.fake_hub import TOKEN


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dataset") / "portraits"
    generate(["--out", str(folder), "--num-pairs", "12", "--profile", "tiny", "--width", "128", "--height", "128", "--dev-steps", "2"])
    return folder


def test_dry_run_lays_out_a_folder_that_load_dataset_opens(dataset_dir, tmp_path):
    staging = publish.main([str(dataset_dir), "--repo-id", "me/portraits", "--dry-run", "--staging-dir", str(tmp_path / "repo")])
    names = sorted(path.relative_to(staging).as_posix() for path in staging.rglob("*") if path.is_file())
    assert names[0] == "README.md" and "generation.json" in names
    assert {name for name in names if name.startswith("data/")} == {f"data/{path.name}" for path in (dataset_dir / "data").glob("*.parquet")}

    for streaming in (False, True):
        dataset = load_dataset(str(staging), streaming=streaming)
        assert set(dataset) == {"train", "test"}
        rows = [row for split in dataset.values() for row in split]
        assert len(rows) == 12 and len({row["id"] for row in rows}) == 12
        assert rows[0]["schnell"].size == (128, 128) and rows[0]["dev"].size == (128, 128)


def test_card_yaml_parses_and_names_the_licences(dataset_dir, tmp_path):
    staging = publish.main([str(dataset_dir), "--repo-id", "me/portraits", "--dry-run", "--staging-dir", str(tmp_path / "repo")])
    text = (staging / "README.md").read_text()
    header = yaml.safe_load(text.split("---\n")[1])
    assert header["license"] == "other" and "flux-1-dev" in header["license_name"]
    assert {"image-to-image", "text-to-image"} <= set(header["task_categories"])
    assert header["size_categories"] == ["n<1K"] and header["pretty_name"]
    assert [file["split"] for file in header["configs"][0]["data_files"]] == ["train", "test"]
    assert [feature["name"] for feature in header["dataset_info"]["features"]][:3] == ["id", "prompt", "seed"]
    assert sum(split["num_examples"] for split in header["dataset_info"]["splits"]) == 12
    for words in ("Non-Commercial License", "Apache-2.0", "load_dataset(\"me/portraits\")", "2505.02255", "tiny", "same initial noise"):
        assert words in text


def test_upload_sends_the_folder_with_the_token_from_the_environment(dataset_dir, tmp_path, fake_hub, capsys):
    hub = fake_hub()
    staging = publish.main([str(dataset_dir), "--repo-id", "me/portraits", "--staging-dir", str(tmp_path / "repo")])
    local = {path.relative_to(staging).as_posix(): path.read_bytes() for path in staging.rglob("*") if path.is_file()}
    assert hub.files == local
    assert f"Bearer {TOKEN}" in hub.authorizations
    assert TOKEN not in capsys.readouterr().out


@pytest.mark.parametrize("failure", [KeyboardInterrupt(), httpx2.HTTPStatusError("quota", request=None, response=None)])
def test_interrupted_upload_says_how_to_resume_and_the_rerun_completes(dataset_dir, tmp_path, fake_hub, capsys, failure):
    # Ctrl-C in the middle of the commit, or an error huggingface_hub does not retry.
    hub = fake_hub(commit_failure=failure)
    arguments = [str(dataset_dir), "--repo-id", "me/portraits", "--staging-dir", str(tmp_path / "repo")]
    with pytest.raises(SystemExit) as stopped:
        publish.main(arguments)
    assert stopped.value.code == 1
    error = capsys.readouterr().err
    assert "Re-run the same command to resume" in error and TOKEN not in error
    assert hub.files == {}

    staging = publish.main(arguments)
    assert set(hub.files) == {path.relative_to(staging).as_posix() for path in staging.rglob("*") if path.is_file()}


def test_publish_help_runs():
    output = subprocess.run([sys.executable, "-m", "data_tools.publish", "--help"], cwd=REPOSITORY, capture_output=True, text=True, check=True)
    assert "--dry-run" in output.stdout and "--private" in output.stdout
