"""Shared fixtures: the tiny pipeline, and the app served by a real `python app.py --profile tiny`."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

# Tests never reach the network: huggingface_hub and transformers must fail fast instead.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_pipeline():
    from refine.pipeline import load_pipeline

    return load_pipeline("tiny")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """Start the app as a user would, on a free localhost port, and stop it after the tests."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("app") / "app.log"
    environment = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1", PYTHONUNBUFFERED="1")
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "app.py", "--profile", "tiny"], cwd=REPOSITORY, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while True:
        if server.poll() is not None:
            pytest.fail(f"the app exited with code {server.returncode}:\n{log_path.read_text()}")
        try:
            urllib.request.urlopen(url + "gradio_api/info", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"the app did not answer within 180 s:\n{log_path.read_text()}")
            time.sleep(0.5)
    yield url
    server.terminate()
    server.wait(timeout=30)


from tests.fake_hub import fake_hub  # noqa: E402,F401  shared fixture: the Hub replaced at its HTTP boundary
