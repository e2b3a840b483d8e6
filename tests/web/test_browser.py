"""The site in headless Chromium: sign up, upload, pick a style, watch progress, see and download.

Needs Debian's `chromium` (CI installs it) and the `playwright` package; skips without them.
Screenshots go to `$FST_SCREENSHOTS_DIR` (docs/screenshots when refreshing them), else a temp dir.
"""

from __future__ import annotations

import email.message
import mailbox
import os
import shutil
import socket
import threading
import time
import types
from pathlib import Path

import pytest
from PIL import Image

from fst import resources
from fst.stylize.engine import StyleEngine
from fst.web.app import create_app
from fst.web.mail import links_in_inbox
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
    # E-mailed links point at this server (the Maildir under the data dir is the inbox).
    public_url = f"http://127.0.0.1:{port}"
    app = create_app(settings.replace(job_stall_s=1.5, paintings_dir=Settings().paintings_dir, public_url=public_url))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    # The first server of a process imports torch and writes the style previews: on a busy 2-core
    # machine that took over 30 s (the test then failed before opening a page).
    deadline = time.time() + 120
    while not server.started:
        assert time.time() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def browser():
    """Headless Chromium (Debian's, as `playwright install` cannot download here), closed after the test."""
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


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


_handed_out: set[str] = set()  # every link is opened once: a repeat means the new mail is not in yet


def mailed_link(settings, to: str, kind: str, wait_s: float = 15.0) -> str:
    """The newest `/verify` or `/reset` link the site e-mailed to `to` that no step has opened yet
    (its Maildir is the inbox). The site sends mail in a background task after the response, so
    the page can be back before the letter: wait for it rather than take the last one again."""
    deadline = time.monotonic() + wait_s
    while True:
        links = links_in_inbox(settings.data_dir, to, kind)
        if links and links[-1].url not in _handed_out:
            _handed_out.add(links[-1].url)
            return links[-1].url
        assert time.monotonic() < deadline, f"no new {kind} link e-mailed to {to} within {wait_s:.0f} s"
        time.sleep(0.1)


def test_mailed_link_waits_for_a_letter_sent_after_the_page_came_back(tmp_path) -> None:
    """CI caught the phone step reading the inbox before the background task had sent the second
    reset letter: it opened the first (spent) link and found no password field."""
    settings = types.SimpleNamespace(data_dir=tmp_path)
    box = mailbox.Maildir(tmp_path / "mail", create=True)

    def deliver(token: str) -> None:
        letter = email.message.EmailMessage()
        letter["To"] = "late@example.com"
        letter.set_content(f"open http://site/reset?token={token}")
        box.add(letter)

    deliver("first")
    assert mailed_link(settings, "late@example.com", "reset").endswith("token=first")
    threading.Timer(0.5, deliver, args=("second",)).start()
    assert mailed_link(settings, "late@example.com", "reset").endswith("token=second")
    with pytest.raises(AssertionError, match="no new reset link"):
        mailed_link(settings, "late@example.com", "reset", wait_s=0.3)


def sign_up_and_confirm(page, server: str, settings, email: str, password: str = "a long enough password") -> None:
    page.goto(server + "/signup")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    assert email in page.inner_text("#signup-sent")  # no session until the e-mailed link is opened
    assert page.locator("text=Log out").count() == 0
    page.goto(mailed_link(settings, email, "verify"))
    assert "is confirmed" in page.inner_text("#verified") and page.locator("text=Log out").count() == 1


def test_sign_up_upload_watch_and_download(browser, server, settings, shots, tmp_path) -> None:
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
    assert "Check your inbox" in page.inner_text("h1")  # signed in by the e-mailed link
    snap(page, shots, "desktop-signup-sent")
    page.goto(mailed_link(settings, "browser@example.com", "verify"))
    page.goto(server + "/")
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

    newcomer = browser.new_context(viewport=PHONE, is_mobile=True).new_page()  # signs up on a phone
    newcomer.goto(server + "/signup")
    newcomer.fill("input[name=email]", "phone@example.com")
    newcomer.fill("input[name=password]", "a long enough password")
    newcomer.click("button[type=submit]")
    assert "Check your inbox" in newcomer.inner_text("h1") and "phone@example.com" in newcomer.inner_text("main")
    assert newcomer.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    snap(newcomer, shots, "phone-signup-sent")
    # The link opened on another device (no sign-up cookie) asks for the sign-up's password.
    laptop = browser.new_context(viewport=DESKTOP).new_page()
    laptop.goto(mailed_link(settings, "phone@example.com", "verify"))
    assert laptop.locator("#confirm-password").count() == 1 and laptop.locator("text=Log out").count() == 0
    assert "Choose your own password" in laptop.inner_text("#not-me")
    laptop.fill("#confirm-password input[name=password]", "a long enough password")
    snap(laptop, shots, "desktop-confirm-password")
    laptop.click("#confirm-password button[type=submit]")
    assert "is confirmed" in laptop.inner_text("#verified") and laptop.locator("text=Log out").count() == 1


def watch_console(page, errors: list[str]) -> None:
    """Console errors (CSP violations are reported there) and uncaught script errors."""
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))


def test_pages_pass_the_policy_and_fit_a_phone(browser, server, settings, shots, tmp_path) -> None:
    errors: list[str] = []
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    watch_console(page, errors)
    sign_up_and_confirm(page, server, settings, "policy@example.com")
    page.goto(server + "/")
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


def reference_photo(tmp_path: Path) -> Path:
    """A warm, sunset-coloured reference for the photo look."""
    path = tmp_path / "sunset.jpg"
    gradient = Image.linear_gradient("L").resize((240, 160))
    Image.merge(
        "RGB",
        (gradient.point(lambda v: 160 + v // 3), gradient.point(lambda v: 60 + v // 3), gradient.point(lambda v: 30)),
    ).save(path)
    return path


def test_photo_look_desktop_and_phone(browser, server, settings, shots, tmp_path) -> None:
    """A photo look from the upload form: the reference photo's colours, shown with before/after."""
    errors: list[str] = []
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    watch_console(page, errors)
    sign_up_and_confirm(page, server, settings, "look@example.com")
    page.goto(server + "/")
    page.set_input_files("input[name=photo]", str(photo(tmp_path)))
    page.set_input_files("input[name=reference]", str(reference_photo(tmp_path)))
    page.locator("#photo-look").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "desktop-photo-look-form.png"))  # the viewport: the new control
    page.click("#upload button[type=submit]")
    page.wait_for_url("**/jobs/*")
    assert "Photo look" in page.inner_text("h1")
    page.wait_for_selector("#result-image", state="visible", timeout=60_000)
    page.wait_for_function("() => document.getElementById('original-image').naturalWidth > 0")
    page.fill("#compare-slider", "50")
    snap(page, shots, "desktop-photo-look-done")
    job_url = page.url

    mobile = browser.new_context(viewport=PHONE, storage_state=context.storage_state(), is_mobile=True).new_page()
    watch_console(mobile, errors)
    mobile.goto(server + "/")
    mobile.locator("#photo-look").scroll_into_view_if_needed()
    assert mobile.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    mobile.screenshot(path=str(shots / "phone-photo-look-form.png"))
    mobile.goto(job_url)
    mobile.wait_for_function("() => document.getElementById('result-image').naturalWidth > 0")
    assert mobile.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    snap(mobile, shots, "phone-photo-look-done")
    mobile.goto(server + "/gallery")
    assert "Photo look" in mobile.inner_text(".tile-name")
    assert errors == [], errors


TIME_LEFT = r"/\d+% · about \d+ s left/"  # what the job page and the gallery show while a job runs


def slowed_engine(monkeypatch: pytest.MonkeyPatch, pause_s: float) -> None:
    """Jobs run the real engine, which waits `pause_s` at each progress report it makes (so a
    tiny photo runs for seconds, long enough to watch); style previews run at full speed."""
    real = StyleEngine.stylize_file

    def slowed(self, photo, target, style, controls=None, on_progress=None) -> None:
        if on_progress is None:
            return real(self, photo, target, style, controls)

        def report(fraction: float) -> None:
            time.sleep(pause_s)
            on_progress(fraction)

        return real(self, photo, target, style, controls, report)

    monkeypatch.setattr(StyleEngine, "stylize_file", slowed)


def test_progress_shows_the_time_left(browser, server, settings, shots, tmp_path, monkeypatch) -> None:
    """The job page and the gallery show "42% · about 6 s left" while the job runs, desktop and phone."""
    slowed_engine(monkeypatch, 0.6)
    errors: list[str] = []
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    watch_console(page, errors)
    sign_up_and_confirm(page, server, settings, "eta@example.com")
    page.goto(server + "/")
    page.set_input_files("input[name=photo]", str(photo(tmp_path)))
    page.click("#upload button[type=submit]")
    page.wait_for_url("**/jobs/*")
    job_url = page.url
    stage_text = "document.getElementById('stage').textContent"
    page.wait_for_function(f"() => {TIME_LEFT}.test({stage_text})", timeout=30_000)
    percent = float(page.inner_text("#stage").split("%")[0])
    assert 0 < percent < 100 and 0 < page.evaluate("document.getElementById('progress').value") < 1
    snap(page, shots, "desktop-job-eta")

    phone = browser.new_context(viewport=PHONE, storage_state=context.storage_state(), is_mobile=True)
    mobile = phone.new_page()
    watch_console(mobile, errors)
    mobile.goto(job_url)
    mobile.wait_for_function(f"() => {TIME_LEFT}.test({stage_text})")
    assert mobile.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    snap(mobile, shots, "phone-job-eta")
    mobile.goto(server + "/gallery")
    tile_text = "document.querySelector('.tile .tile-progress').textContent"
    mobile.wait_for_function(f"() => {TIME_LEFT}.test({tile_text})")
    assert mobile.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    snap(mobile, shots, "phone-gallery-eta")
    # The gallery swaps the finished picture in without a reload.
    mobile.wait_for_selector(".tile img", timeout=60_000)
    page.wait_for_selector("#result-image", state="visible", timeout=60_000)
    assert page.inner_text("#stage") == ""
    assert errors == [], errors


def test_password_reset_and_account_pages(browser, server, settings, shots) -> None:
    """Confirm the address, forget the password, reset it by the e-mailed link, change it, delete
    the account: desktop and phone, no console errors (CSP violations included)."""
    email, password = "reset@example.com", "a long enough password"
    errors: list[str] = []
    page = browser.new_context(viewport=DESKTOP).new_page()
    watch_console(page, errors)
    sign_up_and_confirm(page, server, settings, email, password)
    page.goto(server + "/")
    assert page.locator("#unverified").count() == 0
    page.click("text=Log out")
    page.goto(server + "/login")
    page.click("text=Forgot your password?")
    page.fill("input[name=email]", email)
    page.click("button[type=submit]")
    assert email in page.inner_text("#reset-sent")
    page.goto(mailed_link(settings, email, "reset"))
    page.fill("input[name=password]", "new and quite long password")
    snap(page, shots, "desktop-password-reset")
    page.click("button[type=submit]")
    assert "Your password is changed" in page.inner_text("main")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "new and quite long password")
    page.click("button[type=submit]")
    page.wait_for_selector("form#upload")

    page.click("text=Account")
    assert page.inner_text("#email-status") == "confirmed"
    page.fill("input[name=current_password]", "new and quite long password")
    page.fill("input[name=new_password]", "third time lucky password")
    page.click("#change-password button[type=submit]")
    assert "Your password is changed" in page.inner_text("main")
    snap(page, shots, "desktop-account")

    phone = browser.new_context(viewport=PHONE, is_mobile=True).new_page()
    watch_console(phone, errors)
    phone.goto(server + "/forgot")
    phone.fill("input[name=email]", email)
    phone.click("button[type=submit]")
    phone.goto(mailed_link(settings, email, "reset"))
    phone.fill("input[name=password]", "fourth and final password")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the reset page scrolls sideways on a phone ({width} px)"
    snap(phone, shots, "phone-password-reset")
    phone.click("button[type=submit]")
    phone.fill("input[name=email]", email)
    phone.fill("input[name=password]", "fourth and final password")
    phone.click("button[type=submit]")
    phone.wait_for_selector("form#upload")
    phone.goto(server + "/account")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    snap(phone, shots, "phone-account")
    phone.fill("#delete-account input[name=password]", "fourth and final password")
    phone.once("dialog", lambda dialog: dialog.accept())  # Delete asks first
    phone.click("text=Delete my account")
    phone.wait_for_selector("text=Sign up")
    assert phone.locator("text=Log out").count() == 0
    page.goto(server + "/")  # the desktop session ended with the account
    assert page.locator("text=Log out").count() == 0
    assert errors == [], errors
