"""A fake Hugging Face Hub at the HTTP boundary, for tests of publishing code.

huggingface_hub's own client runs unchanged: `set_client_factory` hands it an httpx client whose
MockTransport answers the endpoints that create_repo and upload_folder use, like the real service.
"""

import base64
import json

import httpx2
import pytest
import yaml
from huggingface_hub import set_client_factory
from huggingface_hub.utils._http import default_client_factory

TOKEN = "hf_fake_token_for_tests_0123456789"


class FakeHub:
    """The Hub endpoints that create_repo and upload_folder use, answering like the real service."""

    def __init__(self, commit_failure: BaseException | None = None):
        self.commit_failure = commit_failure  # raised by the next commit request, once
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.authorizations: set[str] = set()

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        self.requests.append(f"{request.method} {path}")
        self.authorizations.add(request.headers.get("authorization", ""))
        if path == "/api/repos/create":
            body = json.loads(request.content)
            return httpx2.Response(200, json={"url": f"https://huggingface.co/datasets/{body['organization']}/{body['name']}"})
        if path == "/api/validate-yaml":  # the card's YAML is checked before a README is committed
            yaml.safe_load(json.loads(request.content)["content"].split("---\n")[1])
            return httpx2.Response(200, json={"errors": [], "warnings": []})
        if path.endswith("/preupload/main"):
            files = json.loads(request.content)["files"]
            # Files the fake already holds are "ignored", as the Hub does on a resumed upload.
            return httpx2.Response(200, json={"files": [
                {"path": file["path"], "uploadMode": "regular", "shouldIgnore": file["path"] in self.files} for file in files
            ]})
        if path.endswith("/commit/main"):
            if self.commit_failure is not None:
                failure, self.commit_failure = self.commit_failure, None
                raise failure
            for line in request.content.decode().splitlines():
                entry = json.loads(line)
                if entry["key"] == "file":
                    self.files[entry["value"]["path"]] = base64.b64decode(entry["value"]["content"])
            return httpx2.Response(200, json={"commitUrl": "https://huggingface.co/datasets/me/x/commit/" + "0" * 40,
                                              "commitOid": "0" * 40, "pullRequestUrl": None})
        return httpx2.Response(404, json={"error": f"the fake Hub does not know {request.method} {path}"})


@pytest.fixture
def fake_hub(monkeypatch):
    hubs = []

    def install(**options):
        hub = FakeHub(**options)
        hubs.append(hub)
        set_client_factory(lambda: httpx2.Client(transport=httpx2.MockTransport(hub)))
        return hub

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    yield install
    set_client_factory(default_client_factory)  # HF_HUB_OFFLINE comes back with monkeypatch
