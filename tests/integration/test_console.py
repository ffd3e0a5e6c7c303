"""The web console in a real headless browser (Debian's chromium through Selenium) against
``vidpipe local serve`` started as a user would: upload a sample through the page, watch it
succeed, and see its key frames and report."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.support.browser import chromium
from tests.support.helpers import ROOT, sample


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``vidpipe local serve --port 0`` in a subprocess; its console URL."""
    tmp_path = tmp_path_factory.mktemp("serve")
    env = {**os.environ, "POWERTOOLS_METRICS_DISABLED": "true"}
    out, errors = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    # files, not pipes: a server that logs much must never block on a full pipe
    with out.open("w") as stdout, errors.open("w") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vidpipe.cli",
                "local",
                "serve",
                "--port",
                "0",
                "--state-dir",
                str(tmp_path / "state"),
            ],
            cwd=ROOT,
            env=env,
            stdout=stdout,
            stderr=stderr,
            text=True,
        )
    try:
        deadline = time.monotonic() + 120
        while not (found := re.search(r"console: (http://127\.0\.0\.1:\d+/)", out.read_text())):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"no console URL: {out.read_text()!r} {errors.read_text()[-2000:]}"
                )
            time.sleep(0.2)
        yield found.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.samples
def test_a_sample_goes_through_upload_status_and_results_in_a_browser(served, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    clip = sample("documentary_cuts.mp4")
    with chromium(tmp_path / "profile", window="412,1800") as browser:  # a phone's width
        browser.get(served)
        wait = WebDriverWait(browser, 240)
        # the stages come from GET /options; frame-extract is the default plan
        box = wait.until(ec.presence_of_element_located((By.ID, "stage-frame-extract")))
        assert box.is_selected()
        label = browser.find_element(By.CSS_SELECTOR, "label[for=stage-frame-extract]")
        assert "frame-extract" in label.text
        browser.find_element(By.ID, "shortcode").send_keys("console1")
        browser.find_element(By.ID, "file").send_keys(str(clip))
        browser.find_element(By.ID, "upload-button").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "state"), "succeeded"))
        assert browser.find_element(By.ID, "progress").get_attribute("value") == "100"
        rows = browser.find_elements(By.CSS_SELECTOR, "#stage-table tbody tr")
        assert [r.find_element(By.TAG_NAME, "th").text for r in rows] == ["frame-extract"]
        wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#keyframes img")) == 6)
        captions = [f.text for f in browser.find_elements(By.CSS_SELECTOR, "#keyframes figcaption")]
        assert captions[0].startswith("scene 0 · 00:00:")
        # every key frame really loads from its presigned URL
        loaded = browser.execute_script(
            "return Promise.all(Array.from(document.querySelectorAll('#keyframes img'))"
            ".map(i => i.decode().then(() => i.naturalWidth).catch(() => 0)))"
        )
        assert len(loaded) == 6 and all(w > 0 for w in loaded)
        pictures = [
            i.get_attribute("alt") for i in browser.find_elements(By.CSS_SELECTOR, "#pictures img")
        ]
        assert {"frames/preview.gif", "frames/contact_sheet.jpg"} <= set(pictures)
        # the report, with its own six key frames
        frame = wait.until(ec.visibility_of_element_located((By.ID, "report")))
        browser.switch_to.frame(frame)
        wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "Key frames (6)"))
        assert len(browser.find_elements(By.CSS_SELECTOR, "#keyframes img")) == 6
        browser.switch_to.default_content()
        assert browser.find_element(By.ID, "errors").text == ""
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], errors


def test_a_refused_upload_is_shown_as_an_error(served, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    notes = tmp_path / "notes.txt"
    notes.write_text("not a video")
    with chromium(tmp_path / "profile") as browser:
        browser.get(served)
        wait = WebDriverWait(browser, 60)
        wait.until(ec.presence_of_element_located((By.ID, "stage-frame-extract")))
        browser.find_element(By.ID, "file").send_keys(str(notes))
        # the keyboard alone: focus the button and press Enter
        button = browser.find_element(By.ID, "upload-button")
        browser.execute_script("arguments[0].focus()", button)
        button.send_keys("\n")
        wait.until(ec.text_to_be_present_in_element((By.ID, "errors"), "400 invalid_identifier"))
        assert "notes.txt" in browser.find_element(By.ID, "errors").text
        assert browser.find_element(By.ID, "errors").get_attribute("role") == "alert"
        # every form control has a label
        unlabelled = browser.execute_script(
            "return Array.from(document.querySelectorAll('input, select'))"
            ".filter(i => i.type !== 'hidden' && i.labels.length === 0).map(i => i.id)"
        )
        assert unlabelled == []
