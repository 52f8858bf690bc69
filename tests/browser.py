"""Debian's headless Chromium through Selenium, for the browser tests (skipped, with the reason, without it)."""
import shutil
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver") or "/usr/bin/chromedriver"
MISSING = ("Debian's chromium and chromium-driver are not installed (.ci/run installs them with apt-get)"
           if not CHROMIUM or not Path(CHROMEDRIVER).exists() else "")
# software WebGL (SwiftShader): the viewer test draws with it on machines without a GPU
FLAGS = ("--headless=new", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader")


def chromium(window="900,1000", console_log: bool = False):
    """A Chrome webdriver of Debian's Chromium; ``console_log`` keeps the page's console for get_log('browser')."""
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="selenium is not installed (pip install -e '.[test]')")
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--window-size={window}"):
        options.add_argument(flag)
    if console_log:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
