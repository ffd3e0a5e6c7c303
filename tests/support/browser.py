"""A headless Debian chromium driven through its chromedriver by Selenium (never a downloaded
browser or driver: both binaries are named), or a skip saying what is missing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


@contextmanager
def chromium(profile_dir: Path, window: str = "1280,2000") -> Iterator[Any]:
    """A Selenium Chrome driver for the system's chromium, quit afterwards.

    Skips (fails under ``VIDPIPE_REQUIRE_TOOLS``) when chromium, chromedriver or selenium is
    missing.
    """
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_bin = shutil.which("chromedriver")
    if not (browser and driver_bin):
        if os.environ.get("VIDPIPE_REQUIRE_TOOLS"):
            pytest.fail("VIDPIPE_REQUIRE_TOOLS is set but chromium/chromedriver is missing")
        pytest.skip("no chromium and chromedriver (apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        if os.environ.get("VIDPIPE_REQUIRE_TOOLS"):
            pytest.fail("VIDPIPE_REQUIRE_TOOLS is set but selenium is not installed")
        pytest.skip("selenium is not installed (pip install -e '.[dev]')")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile_dir}",
        f"--window-size={window}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_bin))
    try:
        yield driver
    finally:
        driver.quit()
