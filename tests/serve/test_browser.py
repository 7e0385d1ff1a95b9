"""The page in a real browser: Debian's Chromium (``/usr/bin/chromium``), headless, driven by
Playwright with a fresh profile (Playwright's own browser download is not used). Skipped, with
the reason, where Chromium or Playwright is missing (``make test`` installs Chromium where it
can: scripts/ensure_chromium.sh).

The result page's screenshot is saved under the test's temporary folder; its path is printed
(``pytest -s`` shows it)."""

from __future__ import annotations

import io
import json
import re
import zipfile

import numpy as np
import pytest

from jegal.data.transcripts import read_txt
from jegal.serve.app import create_app
from jegal.serve.queue import Limits

from .conftest import CHROMIUM, StubProvider, serving

BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A Chromium context with a fresh user-data dir (one per module)."""
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install -y chromium; "
                    "`make test` runs scripts/ensure_chromium.sh, which does it when it can)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=BROWSER_FLAGS, accept_downloads=True,
            viewport={"width": 1100, "height": 1300})
        yield context
        context.close()


@pytest.fixture
def page(browser):
    """A new tab with no cookies: a new visitor, a new session."""
    browser.clear_cookies()
    tab = browser.new_page()
    tab.set_default_timeout(30_000)
    yield tab
    tab.close()


@pytest.fixture(scope="module")
def stub_server(tmp_path_factory, real_files):
    """The page with a 1 MB upload limit and no model (for what is refused before any work)."""
    app = create_app(None, tmp_path_factory.mktemp("serve-stub") / "work", Limits(max_upload_mb=1.0),
                     provider=StubProvider(), examples_dir=real_files)
    with serving(app) as url:
        yield url, app


@pytest.fixture(scope="module")
def model_server(tmp_path_factory, use_model, real_files):  # noqa: F811
    """The page with the small trained model of tests/use."""
    app = create_app(use_model, tmp_path_factory.mktemp("serve-model") / "work", Limits(max_upload_mb=5.0),
                     examples_dir=real_files)
    with serving(app) as url:
        yield url, app


def test_a_file_over_the_limit_is_refused(page, stub_server):
    from playwright.sync_api import expect

    url, app = stub_server
    page.goto(url)
    expect(page.locator("#limits")).to_contain_text("Up to 1 MB")
    big = np.random.default_rng(0).integers(0, 256, 2_000_000, dtype=np.uint8).tobytes()
    page.set_input_files("#video-file", files=[{"name": "big.mp4", "mimeType": "video/mp4", "buffer": big}])
    page.click("#submit")
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error-title")).to_have_text("The upload is too large")
    expect(page.locator("#error-message")).to_contain_text("big.mp4")
    assert not app.state.queue.jobs
    # the server refuses it too, whatever the page checks
    status = page.evaluate("""async () => {
        const form = new FormData();
        form.append("video", new Blob([new Uint8Array(2000000)], {type: "video/mp4"}), "big.mp4");
        try { const r = await fetch("api/jobs", {method: "POST", body: form}); return r.status; }
        catch (err) { return "network error: " + err; }
    }""")
    assert status == 413, status
    assert not app.state.queue.jobs


def test_a_corrupt_file_shows_the_error_message(page, stub_server, real_files):
    from playwright.sync_api import expect

    url, _ = stub_server
    page.goto(url)
    data = (real_files / "sample1.avi").read_bytes()
    noise = np.random.default_rng(1).integers(0, 256, 50_000, dtype=np.uint8).tobytes()
    page.set_input_files("#video-file", files=[{"name": "holiday.avi", "mimeType": "video/x-msvideo",
                                                "buffer": data[:4096] + noise}])
    page.click("#submit")
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error-title")).to_have_text("The video cannot be read")
    expect(page.locator("#error-message")).to_contain_text("holiday.avi")
    expect(page.locator("#error-hint")).not_to_be_empty()
    expect(page.locator("#result")).to_be_hidden()
    expect(page.locator("#submit")).to_be_enabled()  # the visitor can try again


@pytest.fixture
def blocked_server(tmp_path, real_files):
    """The page with a model that is never ready until the test releases it (then it fails): a job stays running."""
    provider = StubProvider(block=True)
    app = create_app(None, tmp_path / "work", Limits(max_upload_mb=5.0), provider=provider, examples_dir=real_files)
    try:
        with serving(app) as url:
            yield url, provider
    finally:
        provider.release.set()


def in_viewport(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return box is not None and 0 <= box["y"] and box["y"] + box["height"] <= size["height"]


def test_after_analyse_the_progress_and_then_the_error_are_in_view(page, blocked_server, real_files):
    from playwright.sync_api import expect

    url, provider = blocked_server
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(url)
    page.set_input_files("#video-file", str(real_files / "sample1.avi"))
    assert not in_viewport(page, "#job-progress") or page.locator("#job").is_hidden()
    page.click("#submit")
    expect(page.locator("#job-state")).to_contain_text("sample1.avi: ")
    assert in_viewport(page, "#job-progress"), page.locator("#job-progress").bounding_box()
    provider.release.set()  # the model fails: the error is shown, in view
    expect(page.locator("#error-title")).to_have_text("The model is not available", timeout=15_000)
    assert in_viewport(page, "#error-title"), page.locator("#error-title").bounding_box()


def test_the_page_asks_again_when_the_server_cannot_be_reached_and_says_when_it_is_back(page, blocked_server,
                                                                                       real_files):
    from playwright.sync_api import expect

    url, provider = blocked_server
    page.goto(url)
    page.set_input_files("#video-file", str(real_files / "sample1.avi"))
    page.click("#submit")
    expect(page.locator("#job-state")).to_contain_text("sample1.avi: ")
    page.route(re.compile(r".*/api/jobs/[0-9a-f]{32}$"), lambda route: route.abort())  # the server is gone
    expect(page.locator("#notice")).to_contain_text("cannot be reached", timeout=10_000)
    expect(page.locator("#notice")).to_contain_text("attempt 2", timeout=10_000)
    expect(page.locator("#error")).to_be_hidden()
    page.unroute(re.compile(r".*/api/jobs/[0-9a-f]{32}$"))
    expect(page.locator("#notice")).to_have_text("The server is back.", timeout=15_000)
    expect(page.locator("#job-state")).to_contain_text("sample1.avi: ")
    # a server that came back without the job (restarted): the page says the job is gone
    page.route(re.compile(r".*/api/jobs/[0-9a-f]{32}$"), lambda route: route.fulfill(
        status=404, content_type="application/json", body=json.dumps({"error": {"reason": "unknown_job"}})))
    expect(page.locator("#error-title")).to_have_text("The job is gone", timeout=10_000)
    expect(page.locator("#error-hint")).to_contain_text("Upload the video again")
    expect(page.locator("#submit")).to_be_enabled()


@pytest.mark.slow
def test_sample1_with_its_transcript_gives_words_their_gesture_scores_a_map_and_a_download(page, model_server,
                                                                                          real_files, tmp_path):
    from playwright.sync_api import expect

    url, _ = model_server
    page.goto(url)
    expect(page.locator("#model-state")).to_contain_text("ready", timeout=300_000)
    expect(page.locator("#examples button")).to_have_count(5)  # 4 real videos + the SynthGest clip
    page.set_input_files("#video-file", str(real_files / "sample1.avi"))
    page.set_input_files("#transcript-file", str(real_files / "sample1.txt"))
    page.click("#submit")
    expect(page.locator("#result")).to_be_visible(timeout=600_000)
    expect(page.locator("#error")).to_be_hidden()
    # the transcript's words, in order
    expected = [w.display for w in read_txt(real_files / "sample1.txt")]
    assert page.locator("#words .word").all_inner_texts() == expected
    # every word shows its gesture score; the tooltip gives the score, p-value, controls and the AVS rule
    shown = page.evaluate("""() => [...document.querySelectorAll('#words .word')].map((e) => ({
        cls: [...e.classList], score: e.dataset.gestureScore, controls: e.dataset.controls, tip: e.title }))""")
    for w in shown:
        assert w["score"] is not None and w["controls"] is not None
        for part in ("gesture score", "p = ", "controls", "AVS probability", "localised"):
            assert part in w["tip"], (part, w["tip"])
    # the map image is loaded
    page.wait_for_function("() => { const i = document.querySelector('#maps img'); "
                           "return i && i.complete && i.naturalWidth > 100; }")
    # the video plays from the server and a click on a word seeks to it
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    duration = page.evaluate("document.getElementById('player').duration")
    assert abs(duration - 56 / 25) < 0.1
    word = page.locator("#words .word").nth(5)
    word.click()
    start = float(word.get_attribute("data-start"))
    assert abs(page.evaluate("document.getElementById('player').currentTime") - start) < 0.05
    expect(word).to_have_class(re.compile(r"(^| )current( |$)"))
    assert page.evaluate("document.getElementById('overlay').width") > 0
    # the download
    with page.expect_download() as info:
        page.click("#download")
    download = info.value
    assert download.suggested_filename == "sample1.spot.zip"
    names = set(zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read())).namelist())
    assert {"sample1.spot/spot.json", "sample1.spot/words.csv", "sample1.spot/maps.npz"} <= names
    assert any(n.startswith("sample1.spot/heatmaps/") and n.endswith(".png") for n in names)
    # the page shows spot.json's decisions: gestured words coloured, words with too few controls not decided
    doc = json.loads(zipfile.ZipFile(download.path()).read("sample1.spot/spot.json"))
    (person,) = doc["people"]
    minimum = doc["gesture_score"]["min_controls"]
    for w, rec in zip(shown, person["words"]):
        assert float(w["score"]) == pytest.approx(rec["gesture_score"], abs=1e-4)
        assert int(w["controls"]) == rec["controls"]
        assert ("gestured" in w["cls"]) == rec["gestured"]
        assert ("undecided" in w["cls"]) == (rec["controls"] < minimum)
        assert ("not decided" in w["tip"]) == (rec["controls"] < minimum)
    assert page.locator("#people .gestured-word").count() == len(person["gestured"])
    open_ = sum(rec["controls"] < minimum for rec in person["words"])
    if open_:
        expect(page.locator("#people .undecided-count")).to_contain_text(f"{open_} word")
    shot = tmp_path / "result.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    print(f"\nscreenshot of the result page: {shot}")
