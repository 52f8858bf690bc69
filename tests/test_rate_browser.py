"""A rater in a real headless Chromium (Debian's chromium and chromium-driver, via Selenium):
clicks and keys through 20 trials, reloads mid-way and resumes, finishes; the database holds
exactly those answers and the analysis reproduces their accuracy."""
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from browser import MISSING, chromium
from rate_helpers import Server, add_rater, make_trial_set, rate_cli
from sdbrain.rate import analysis

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING)
SCREENSHOT_COPY = Path("/tmp/rate_screenshot.png")


@pytest.fixture
def browser():
    driver = chromium()
    yield driver
    driver.quit()


def shown(driver) -> tuple[int, int]:
    """(trial, answered so far) of the page on screen."""
    body = driver.find_element("tag name", "body")
    return int(body.get_attribute("data-trial")), int(body.get_attribute("data-done"))


def answer(driver, how: str, choice: str) -> int:
    """Answer the trial on screen by a button click or a key; wait for the next page; the trial answered."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    trial, done = shown(driver)
    if how == "click":
        driver.find_element("id", f"choose-{choice}").click()
    else:
        key = {("left", 0): "f", ("right", 0): "j", ("left", 1): Keys.ARROW_LEFT, ("right", 1): Keys.ARROW_RIGHT}
        driver.find_element("tag name", "body").send_keys(key[(choice, trial % 2)])
    # the page reloads after the answer is stored: wait for the next one (elements of the old page go stale)
    WebDriverWait(driver, 20, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
        and d.find_element("tag name", "body").get_attribute("data-done") == str(done + 1))
    return trial


def test_a_rater_answers_twenty_trials_in_chromium(tmp_path, browser):
    trials = make_trial_set(tmp_path, subjects=("subj01",), methods=("z", "c"), n_images=10, per_rater=20, size=32)
    database = tmp_path / "ratings.sqlite"
    token = add_rater(trials, database, "alice")
    table = pd.read_csv(trials, sep="\t").set_index("trial")
    given = {}
    with Server(trials, database) as server:
        browser.get(f"{server.url}/r/{token}")
        assert shown(browser) == (1, 0) and browser.find_element("id", "original").get_attribute("naturalWidth") == "32"
        # the page's style and script run under its Content-Security-Policy (their nonce): laid out, and answering
        assert browser.execute_script("return getComputedStyle(document.getElementById('original')).width") == "256px"
        for k in range(10):  # by clicking; right, wrong, right, ... against the truth
            trial = shown(browser)[0]
            choice = table.at[trial, "target"] if k % 3 else {"left": "right", "right": "left"}[table.at[trial, "target"]]
            given[answer(browser, "click", choice)] = choice
        browser.refresh()  # the rater reloads (or closes and reopens the link): the next unanswered trial
        assert shown(browser) == (11, 10) and "10 of 20 answered" in browser.page_source
        assert browser.find_element("id", "progress").get_attribute("value") == "10"
        browser.save_screenshot(str(tmp_path / "trial_page.png"))  # a trial page, half-way
        shutil.copyfile(tmp_path / "trial_page.png", SCREENSHOT_COPY)
        for k in range(10):  # by keyboard
            trial = shown(browser)[0]
            choice = "left" if k % 2 else "right"
            given[answer(browser, "key", choice)] = choice
        assert "Thank you, alice" in browser.find_element("id", "thanks").text
    con = sqlite3.connect(database)
    stored = dict(con.execute("SELECT trial, choice FROM answers"))
    con.close()
    assert stored == given and sorted(stored) == list(range(1, 21))
    rate_cli("export", "--trials", trials, "--db", database, "--out", tmp_path / "answers.tsv")
    row = analysis.accuracy(analysis.read_answers(tmp_path / "answers.tsv")).query("rater == 'alice'")
    for method, part in table.loc[sorted(given)].groupby("method"):
        expected = sum(given[t] == part.at[t, "target"] for t in part.index) / len(part)
        assert row.set_index("method").at[method, "accuracy"] == pytest.approx(expected)
