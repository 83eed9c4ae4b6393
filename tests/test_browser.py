"""The page in a real browser: headless Debian Chromium driven by Playwright, against the tiny app."""

import re
import shutil
import tempfile

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.bad_inputs import portrait_like

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without these flags Chromium stalls on network calls this machine blocks (see DESIGN.md).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def page(app_url):
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        page = browser.new_page()
        page.goto(app_url)
        yield page
        browser.close()


def test_page_says_it_runs_the_tiny_profile(page):
    expect(page.get_by_text("Tiny profile")).to_be_visible(timeout=30_000)


def test_generate_shows_before_and_after(page):
    page.get_by_label("Prompt").fill("portrait of a lighthouse keeper, soft light")
    page.get_by_label("Width").first.fill("256")
    page.get_by_label("Height").first.fill("256")
    page.get_by_role("button", name="Generate", exact=True).click()
    slider_images = page.locator("#generated img")
    expect(slider_images).to_have_count(2, timeout=60_000)
    for index in range(2):
        expect(slider_images.nth(index)).to_have_attribute("src", re.compile(r"\S+"), timeout=60_000)
        # The browser decoded a 256-pixel-wide image, not a broken link.
        width = slider_images.nth(index).evaluate("image => image.decode().then(() => image.naturalWidth)")
        assert width == 256


def test_refine_tab_refines_an_upload(page, tmp_path):
    path = tmp_path / "face.png"
    portrait_like((96, 64)).save(path)
    page.get_by_role("tab", name="Refine").click()
    page.locator("#upload input[type=file]").set_input_files(str(path))
    page.get_by_role("button", name="Refine", exact=True).click()
    expect(page.locator("#refined img")).to_have_count(2, timeout=60_000)
