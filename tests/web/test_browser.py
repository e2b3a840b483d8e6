"""The site in headless Chromium: sign up, upload, pick a style, watch progress, see and download.

Needs Debian's `chromium` (CI installs it) and the `playwright` package; skips without them.
Screenshots go to `$FST_SCREENSHOTS_DIR` (docs/screenshots when refreshing them), else a temp dir.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from fst import resources
from fst.web.app import create_app
from fst.web.settings import Settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="no chromium (apt-get install chromium)")

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(settings, tmp_path):
    import uvicorn

    if not settings.resolved_database_url().startswith("sqlite"):
        pytest.skip("the browser test runs on SQLite only (the API tests cover PostgreSQL)")
    port = free_port()
    # Stalled long enough to watch the job run; the shared paintings (when present) fill the gallery.
    app = create_app(settings.replace(job_stall_s=1.5, paintings_dir=Settings().paintings_dir))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        assert time.time() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("FST_SCREENSHOTS_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def photo(tmp_path: Path) -> Path:
    path = tmp_path / "holiday photo.jpg"
    with Image.open(resources.demo_dir() / "chelsea.jpg") as image:
        image.convert("RGB").resize((240, 160)).save(path, quality=90)
    return path


def snap(page, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_sign_up_upload_watch_and_download(server, shots, tmp_path) -> None:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
            page = context.new_page()
            page.goto(server + "/")
            page.wait_for_load_state("networkidle")
            snap(page, shots, "desktop-landing")
            page.click("text=Sign up")
            page.fill("input[name=email]", "browser@example.com")
            page.fill("input[name=password]", "a long enough password")
            snap(page, shots, "desktop-signup")
            page.click("button[type=submit]")
            page.wait_for_selector("form#upload")
            assert "3 credits" in page.inner_text("header")
            page.set_input_files("input[name=photo]", str(photo(tmp_path)))
            for box in page.locator("input[name=style]:checked").all():  # the form preselects the first style
                box.uncheck()
            page.check("input[name=style][value=starry_night]")
            page.fill("input[name=strength]", "0.9")
            snap(page, shots, "desktop-upload")
            page.click("#upload button[type=submit]")
            page.wait_for_url("**/jobs/*")
            page.wait_for_function("() => document.getElementById('status').textContent === 'running'", timeout=30_000)
            snap(page, shots, "desktop-job-running")
            page.wait_for_selector("#result-image", state="visible", timeout=60_000)
            page.wait_for_function("() => document.getElementById('result-image').naturalWidth > 0")
            assert page.inner_text("#status") == "done"
            snap(page, shots, "desktop-job-done")
            with page.expect_download() as download_info:
                page.click("#download")
            saved = tmp_path / "download.jpg"
            download_info.value.save_as(saved)
            assert Image.open(saved).size == (240, 160)
            page.goto(server + "/gallery")
            assert page.locator(".tile img").count() == 1
            assert "2 credits" in page.inner_text("header")
            snap(page, shots, "desktop-gallery")

            phone = browser.new_context(viewport=PHONE, storage_state=context.storage_state(), is_mobile=True)
            mobile = phone.new_page()
            for path, name in (("/", "phone-upload"), ("/gallery", "phone-gallery")):
                mobile.goto(server + path)
                mobile.wait_for_load_state("networkidle")
                width = mobile.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"], f"{path} scrolls sideways on a phone ({width} px)"
                snap(mobile, shots, name)
            mobile.goto(server + "/gallery")
            mobile.once("dialog", lambda dialog: dialog.accept())  # Delete asks first
            mobile.click("text=Delete")
            mobile.wait_for_url("**/gallery")
            assert mobile.locator(".tile").count() == 0
        finally:
            browser.close()


def watch_console(page, errors: list[str]) -> None:
    """Console errors (CSP violations are reported there) and uncaught script errors."""
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))


def test_pages_pass_the_policy_and_fit_a_phone(server, shots, tmp_path) -> None:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            errors: list[str] = []
            context = browser.new_context(viewport=DESKTOP)
            page = context.new_page()
            watch_console(page, errors)
            page.goto(server + "/signup")
            page.fill("input[name=email]", "policy@example.com")
            page.fill("input[name=password]", "a long enough password")
            page.click("button[type=submit]")
            page.wait_for_selector("form#upload")
            if page.locator("#painting-search").count():  # the shared paintings are there
                total = page.locator("#paintings .painting").count()
                assert total > 24  # every painting, not the first 24
                page.fill("#painting-search", "monet")
                shown = page.locator("#paintings .painting:visible").count()
                assert 0 < shown < total and "Monet" in page.inner_text("#paintings .painting:visible >> nth=0")
                snap(page, shots, "desktop-painting-picker")
                page.fill("#painting-search", "")
            page.set_input_files("input[name=photo]", str(photo(tmp_path)))
            page.fill("input[name=strength]", "0.8")
            assert page.inner_text("#upload output") == "0.8"  # the slider's script runs under the policy
            page.click("#upload button[type=submit]")
            page.wait_for_url("**/jobs/*")
            page.wait_for_function("() => document.getElementById('stage').textContent !== ''", timeout=30_000)
            snap(page, shots, "desktop-job-progress")
            page.wait_for_selector("#result-image", state="visible", timeout=60_000)
            page.wait_for_function("() => document.getElementById('original-image').naturalWidth > 0")
            page.fill("#compare-slider", "35")
            assert "35%" in page.evaluate("() => document.getElementById('result-image').style.clipPath")
            snap(page, shots, "desktop-before-after")
            job_url = page.url
            page.click("text=Create a share link")
            link = page.input_value("#share-url")
            stranger = browser.new_context(viewport=DESKTOP).new_page()  # no account, no cookies
            watch_console(stranger, errors)
            stranger.goto(link)
            stranger.wait_for_function("() => document.querySelector('img.shared').naturalWidth > 0")
            snap(stranger, shots, "desktop-shared")
            page.goto(server + "/gallery")
            missing = page.goto(server + "/no-such-page")
            assert missing.status == 404 and "Page not found" in page.inner_text("h1")
            snap(page, shots, "desktop-404")
            errors = [e for e in errors if "status of 404" not in e]  # the 404 page's own status
            assert errors == [], errors

            phone = browser.new_context(viewport=PHONE, storage_state=context.storage_state(), is_mobile=True)
            mobile = phone.new_page()
            watch_console(mobile, errors)
            for path, name in (("/", "phone-painting-picker"), ("/gallery", "phone-gallery"), ("/nope", "phone-404")):
                mobile.goto(server + path)
                mobile.wait_for_load_state("networkidle")
                width = mobile.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"], f"{path} scrolls sideways on a phone ({width} px)"
                snap(mobile, shots, name)
            mobile.goto(job_url)
            mobile.wait_for_function("() => document.getElementById('original-image').naturalWidth > 0")
            assert mobile.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
            snap(mobile, shots, "phone-before-after")
            mobile.goto(server + "/gallery")
            # A style name with no break opportunity (the column allows 100 characters) must wrap, not widen.
            mobile.evaluate("() => { document.querySelector('.tile-bar span').textContent = 'W'.repeat(100); }")
            width = mobile.evaluate("() => document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"a long style name widens the phone gallery to {width} px"
            mobile.once("dialog", lambda dialog: dialog.dismiss())
            mobile.click("text=Delete")
            mobile.wait_for_timeout(300)
            assert mobile.locator(".tile").count() == 1  # dismissed: nothing deleted
            mobile.once("dialog", lambda dialog: dialog.accept())
            mobile.click("text=Delete")
            mobile.wait_for_url("**/gallery")
            assert mobile.locator(".tile").count() == 0
            assert [e for e in errors if "status of 404" not in e] == []
        finally:
            browser.close()
