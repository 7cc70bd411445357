"""The HTML pictures in a real headless browser: they render, the head picker works, nothing errs or goes online.

Needs Debian's chromium and chromium-driver and the selenium package (.ci/run installs them).
"""

import json
import os
import shutil

import pytest

from gptlite import Tokenizer
from gptlite.inspect import main as inspect_main

from helpers import MODELS

TEXT = "After John and Mary went to the store, John gave a bottle of milk to"


def chromium_paths():
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "chromium-headless-shell"))), None)
    return browser, shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if os.environ.get("CI"):
        from selenium import webdriver  # CI installs it: a missing browser must fail there, not skip
    else:
        webdriver = pytest.importorskip("selenium.webdriver")
    binary, driver_path = chromium_paths()
    if binary is None or driver_path is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs chromium and chromedriver (apt-get install chromium chromium-driver)")
        pytest.skip("no chromium / chromedriver on this machine")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    path = tmp_path_factory.mktemp("page") / "inspect.html"
    assert inspect_main([TEXT, "--model", str(MODELS / "tiny"), "--html", str(path), "--generate", "5"]) == 0
    return path


def backgrounds(elements):
    return [e.value_of_css_property("background-color") for e in elements]


def test_the_page_renders_and_the_head_picker_changes_the_cells(browser, page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get_log("performance")  # drain what the browser did before our page (its own new-tab page)
    browser.get(page.as_uri())
    n_tokens = len(Tokenizer.from_pretrained("gpt2").encode(TEXT))
    tokens = browser.find_elements(By.CSS_SELECTOR, ".tokens .tok")
    assert len(tokens) >= 2 * n_tokens and tokens[1].text == " John"
    assert "expected" in tokens[1].get_attribute("title")  # hovering shows the alternatives
    cells = browser.find_elements(By.CSS_SELECTOR, "td.cell")
    assert len(cells) == n_tokens**2 and all(c.is_displayed() for c in cells[:5])
    head_0 = backgrounds(cells)
    assert len(set(head_0)) > 10  # the weights are drawn, not one flat colour
    Select(browser.find_element(By.CSS_SELECTOR, "select.head")).select_by_value("1")
    head_1 = backgrounds(cells)
    assert head_1 != head_0
    assert "head 1" in browser.find_element(By.CSS_SELECTOR, ".which").text
    strip = browser.find_elements(By.CSS_SELECTOR, ".strip .tok")
    before = backgrounds(strip)
    ActionChains(browser).move_to_element(strip[5]).perform()  # the token-to-token view follows the pointer
    assert backgrounds(strip) != before and "selected" in strip[5].get_attribute("class")
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.lens tr")) == 1 + 3  # header + embed, h.0, h.1
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    requested = [json.loads(e["message"])["message"] for e in browser.get_log("performance")]
    urls = [m["params"]["request"]["url"] for m in requested if m["method"] == "Network.requestWillBeSent"]
    ours = [url for url in urls if not url.startswith(("chrome:", "chrome-untrusted:"))]  # the browser's own pages
    assert ours == [page.as_uri()], urls  # the page itself, and nothing from the network


def test_a_tokenizers_split_view_renders_each_token_with_its_id(browser, tmp_path):
    from selenium.webdriver.common.by import By

    text = "def add(a, b):\n    return a + b  # GPT-4's tokens"
    tokenizer = Tokenizer.from_pretrained("cl100k_base")
    view = tokenizer.view(text)
    ids = tokenizer.encode(text)
    assert view.ids == ids and "".join(view.tokens) == text and str(view).startswith(f"{len(ids)} tokens: def|")
    view.save(tmp_path / "split.html")
    browser.get((tmp_path / "split.html").as_uri())
    spans = browser.find_elements(By.CSS_SELECTOR, ".tokens .tok")
    assert [s.get_attribute("title") for s in spans] == [f"id {i}" for i in ids]
    assert len(set(backgrounds(spans[:2]))) == 2  # neighbours in different colours
    assert "cl100k_base" in browser.find_element(By.CSS_SELECTOR, "h3").text
