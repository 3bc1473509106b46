"""Real headless Chromium for tests: Debian's `chromium` and `chromedriver` (apt-get install chromium
chromium-driver), driven by Selenium with those binaries named, so nothing is downloaded. Screenshots go to
ARTEFACTS (DMS_TEST_ARTEFACTS, default build/test-artefacts), kept after the run for a person to look at."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ARTEFACTS = Path(os.environ.get("DMS_TEST_ARTEFACTS", ROOT / "build" / "test-artefacts"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def available() -> str | None:
    """None when a browser test can run, else why not."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]
    if missing:
        return f"{', '.join(missing)} missing (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium missing (the dev extra)"
    return None


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--disable-extensions", "--no-first-run"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: Any, name: str, full_page: bool = True) -> Path:
    """The page as PNG in ARTEFACTS/name (the whole page's height when `full_page`)."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    if full_page:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        # the window is taller than the page by its (headless) frame: leave room for it
        driver.set_window_size(driver.get_window_size()["width"], max(600, int(height) + 200))
    out = ARTEFACTS / name
    assert driver.save_screenshot(str(out)), f"no screenshot written to {out}"
    return out
