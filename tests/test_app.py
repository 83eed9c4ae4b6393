"""The app as its users reach it: a real `python app.py --profile tiny` called through gradio_client."""

import json
import urllib.request

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from tests.bad_inputs import ACCEPTED, REFUSED, expected_size, portrait_like, write_bad_inputs

GOOD_GENERATE = dict(prompt="portrait of a smiling baker", seed=11, randomize_seed=False, width=320, height=256, steps=2, strength=1.0)


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    return write_bad_inputs(tmp_path_factory.mktemp("uploads"))


def generate(client, **overrides):
    return client.predict(**dict(GOOD_GENERATE, **overrides), api_name="/generate")


def assert_generate_works(client):
    (before, after), seed, timings = generate(client)
    assert Image.open(before).size == Image.open(after).size == (320, 256)
    assert seed == 11
    assert set(timings) == {"text_encoding", "denoising", "decoding", "refining"}


def test_generate_returns_both_images_at_the_requested_size_and_the_seed(client):
    assert_generate_works(client)


def test_generate_is_reproducible_and_randomize_returns_the_seed_used(client):
    (first, _), _, _ = generate(client)
    (second, _), _, _ = generate(client)
    assert Image.open(first).tobytes() == Image.open(second).tobytes()
    (_, _), drawn_seed, _ = generate(client, randomize_seed=True)
    assert isinstance(drawn_seed, int) and 0 <= drawn_seed <= 2**31 - 1


def test_refine_returns_an_image_of_the_input_size(client, tmp_path):
    path = tmp_path / "face.png"
    portrait_like((75, 41)).save(path)
    before, after = client.predict(handle_file(str(path)), 1.0, api_name="/refine")
    assert Image.open(before).size == Image.open(after).size == (75, 41)
    assert Image.open(before).tobytes() != Image.open(after).tobytes()


def test_refine_with_strength_zero_returns_the_input_unchanged(client, tmp_path):
    path = tmp_path / "face.png"
    portrait_like((64, 64)).save(path)
    before, after = client.predict(handle_file(str(path)), 0.0, api_name="/refine")
    assert Image.open(after).convert("RGB").tobytes() == portrait_like((64, 64)).tobytes()


@pytest.mark.parametrize("name", REFUSED)
def test_bad_uploads_get_a_clear_error_and_the_server_carries_on(client, bad_files, name):
    with pytest.raises(AppError, match=REFUSED[name]):
        client.predict(handle_file(str(bad_files[name])), 1.0, api_name="/refine")
    assert_generate_works(client)


@pytest.mark.parametrize("name", ACCEPTED)
def test_unusual_uploads_are_refined_at_their_size(client, bad_files, name):
    before, after = client.predict(handle_file(str(bad_files[name])), 1.0, api_name="/refine")
    assert Image.open(after).size == expected_size(name, bad_files[name])
    if name in ("rgba.png", "la.png"):  # transparency comes back untouched
        assert Image.open(after).getchannel("A").tobytes() == Image.open(bad_files[name]).convert("RGBA").getchannel("A").tobytes()


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(prompt=""), "empty"),
        (dict(prompt="x" * 10_000), "10,000 characters"),
        # Out-of-range slider and number values are refused by Gradio's own validation, before the handler.
        (dict(width=240), "less than minimum value 256"),
        (dict(height=1600), "greater than maximum value 1536"),
        (dict(width=328), "multiple of 16"),
        (dict(seed=-5), "less than minimum value 0"),
        (dict(seed=2**40), "greater than maximum value 2147483647"),
        (dict(steps=20), "greater than maximum value 8"),
        (dict(strength=3), "greater than maximum value 1"),
    ],
)
def test_bad_generate_requests_get_a_clear_error_and_the_server_carries_on(client, overrides, message):
    with pytest.raises(AppError, match=message):
        generate(client, **overrides)
    assert_generate_works(client)


def test_api_lists_both_named_endpoints(client):
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/generate", "/refine"} <= set(endpoints)


def test_mcp_server_offers_both_tools(app_url):
    with urllib.request.urlopen(app_url + "gradio_api/mcp/schema", timeout=30) as response:
        tools = {tool["name"]: tool for tool in json.load(response)}
    assert "generate" in tools and "refine" in tools
    assert "FLUX.1-schnell" in tools["generate"]["description"]


def test_flux_profile_without_refiner_weights_stops_with_the_fix(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import REPOSITORY

    environment = {key: value for key, value in os.environ.items() if key not in ("REFINER_MODEL", "PORTRAIT_PROFILE")}
    finished = subprocess.run([sys.executable, "app.py"], cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=300)
    assert finished.returncode != 0
    assert "No refiner weights are set" in finished.stderr and "REFINER_MODEL" in finished.stderr
