"""Draw the README's picture: `python -m gptlite.inspect` on the bundled model, in headless Chromium.

    python scripts/screenshot.py            # writes docs/inspect.png

Needs Debian's chromium and chromium-driver and the selenium package (the test extras).
"""

import sys
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from gptlite.inspect import main as inspect_main  # noqa: E402

TEXT = "After John and Mary went to the store, John gave a bottle of milk to"


def main():
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "inspect.html"
        inspect_main([TEXT, "--html", str(page), "--generate", "12", "--seed", "0"])
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1200,1500",
            "--disable-background-networking",
            "--disable-component-update",
            f"--user-data-dir={tmp}/profile",
        ):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=webdriver.ChromeService("/usr/bin/chromedriver"))
        try:
            driver.get(page.as_uri())
            Select(driver.find_element(By.CSS_SELECTOR, "select.layer")).select_by_value("2")
            height = driver.execute_script("return document.body.scrollHeight")
            driver.set_window_size(1200, height + 40)
            (ROOT / "docs").mkdir(exist_ok=True)
            driver.save_screenshot(str(ROOT / "docs" / "inspect.png"))
        finally:
            driver.quit()
    print("wrote docs/inspect.png")


if __name__ == "__main__":
    main()
