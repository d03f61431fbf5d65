"""The web app in a real browser: Debian's Chromium, headless, driven by Playwright.

Types a prompt, generates, waits until the 3D viewer has drawn the GLB and the video plays,
downloads the BVH and parses it; checks the empty-prompt message. With
MOTIONLCM_APP_SCREENSHOTS=1 the screenshots are saved to docs/media/app_*.png (used in the
README; off by default so test runs leave the checkout clean). Set MOTIONLCM_APP_TEST_CKPT (a checkpoint folder)
and MOTIONLCM_APP_TEST_BODY (mannequin) to take them with another model and body.
"""
import io
import os
import time
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
MEDIA = Path(__file__).resolve().parents[1] / "docs" / "media"
BODY_LABELS = {"stick": "Stick figure", "mannequin": "Mannequin", "smpl": "SMPL"}

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)"),
    pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword is deprecated).*"),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install playwright)")
pytest.importorskip("gradio", reason="the app tests need gradio (pip install 'motionlcm[app]')")

from tests.app_helpers import running_app  # noqa: E402


@pytest.fixture(scope="module")
def app_url(trained):
    checkpoint = os.environ.get("MOTIONLCM_APP_TEST_CKPT") or trained["lcm"]
    with running_app(Path(checkpoint)) as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1700}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(40_000)
    page.goto(app_url)
    yield page
    context.close()


def canvas_has_drawing(page, selector: str) -> bool:
    """True once the canvas shows more than its background (a few distinct colours)."""
    from PIL import Image

    image = Image.open(io.BytesIO(page.locator(selector).screenshot())).convert("RGB")
    pixels = np.asarray(image).reshape(-1, 3)
    background = np.median(pixels, axis=0)
    return np.mean(np.abs(pixels - background).sum(axis=1) > 60) > 0.002


def wait_for_drawing(page, selector: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not canvas_has_drawing(page, selector):
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} stayed empty for {timeout_s:.0f} s")
        page.wait_for_timeout(500)


def save_screenshot(image: bytes, name: str) -> None:
    if not os.environ.get("MOTIONLCM_APP_SCREENSHOTS"):
        return
    MEDIA.mkdir(parents=True, exist_ok=True)
    tmp = MEDIA / f".{name}.tmp"
    tmp.write_bytes(image)
    tmp.replace(MEDIA / name)


def test_generate_view_and_download_in_the_browser(page, tmp_path):
    import pybvh

    body = os.environ.get("MOTIONLCM_APP_TEST_BODY", "stick")
    page.locator("#prompt textarea").fill("a person walks forward, then spins around and claps")
    page.locator("#body").get_by_text(BODY_LABELS[body]).click()
    page.locator("#generate").click()

    page.locator("#viewer canvas").wait_for()
    wait_for_drawing(page, "#viewer canvas")
    assert "Generated in" in page.locator("#timing").inner_text()
    page.wait_for_function("document.querySelector('#video video')?.readyState >= 2", timeout=50_000)

    link = page.locator("#downloads a[download$='.bvh']").first
    with page.expect_download() as download:
        link.click()
    bvh_path = tmp_path / download.value.suggested_filename
    download.value.save_as(bvh_path)
    bvh = pybvh.read_bvh_file(bvh_path, world_up="+y")
    assert bvh.frame_count == 80 and len(bvh.joint_names) == 22
    assert page.locator("#downloads a[download$='.mp4']").count() == 1

    page.wait_for_timeout(1500)  # let the video and the animation move on a little
    save_screenshot(page.screenshot(), "app_overview.png")  # a full_page shot would resize (and blank) the 3D canvas
    save_screenshot(page.locator("#viewer").screenshot(), "app_viewer.png")

    page.locator("#prompt textarea").fill("something else")
    page.locator("#history [data-testid='cell-0-0']").click()  # the newest result's prompt
    page.wait_for_function("document.querySelector('#prompt textarea').value.startsWith('a person walks forward')")


def test_empty_prompt_shows_a_message(page):
    page.locator("#generate").click()
    message = page.get_by_text("Please describe a motion")
    message.wait_for()
    assert message.is_visible()
