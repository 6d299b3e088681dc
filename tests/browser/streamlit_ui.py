"""Small helpers to drive a Streamlit page with Playwright (after Streamlit's own e2e_playwright helpers)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

SCREENSHOTS = Path(__file__).resolve().parents[2] / "tests" / "screenshots"
_IDLE = "[data-testid='stApp'][data-test-connection-state='CONNECTED'][data-test-script-state='notRunning']"


def wait_for_run(page: Page, timeout: float = 30_000) -> None:
    """Wait until the app is connected and no script runs (then a moment for the DOM to settle)."""
    page.wait_for_selector(_IDLE, timeout=timeout)
    page.wait_for_timeout(150)


def open_app(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_test_id("stSidebarNav")).to_be_visible(timeout=30_000)
    wait_for_run(page)


def go_to(page: Page, title: str) -> None:
    """Switch pages through the sidebar navigation, as a user does."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=False).click()
    expect(page.get_by_test_id("stMain").locator("h1").first).to_have_text(title, timeout=30_000)
    wait_for_run(page)


def main(page: Page) -> Locator:
    return page.get_by_test_id("stMain")


def metric(page: Page, label: str) -> Locator:
    """The value of a metric in the main area (the sidebar has metrics with the same labels)."""
    return main(page).get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def by_key(page: Page, key: str, inner: str = "") -> Locator:
    """A widget by its Streamlit key (rendered as the CSS class st-key-<key>)."""
    return page.locator(f".st-key-{key} {inner}".strip()).first


def press(page: Page, key: str) -> None:
    """A keyboard shortcut: focus the page background first (shortcuts are ignored inside text fields)."""
    main(page).locator("h1").first.click()
    page.keyboard.press(key)


def shown_sample_id(page: Page) -> str:
    text = by_key(page, "review_meta").inner_text()
    return re.search(r"id ([0-9a-f]{16})", text).group(1)


def screenshot(page: Page, name: str) -> Path:
    """The whole page (the viewport grows to the main area's height for the shot)."""
    return screenshot_to(page, SCREENSHOTS, name)


def screenshot_to(page: Page, folder: Path, name: str) -> Path:
    """`screenshot`, into `folder` (a test's tmp_path, say) instead of tests/screenshots/."""
    folder.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or {"width": 1400, "height": 1000}
    height = page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], int(height) + 40)})
    wait_for_run(page)
    path = folder / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    page.set_viewport_size(size)
    return path


def choose(page: Page, key: str, option: str) -> None:
    """Pick an option of the select box with Streamlit key `key` by the start of its label."""
    by_key(page, key).click()
    page.get_by_role("option", name=re.compile("^" + re.escape(option))).first.click()
    wait_for_run(page)


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, poll: float = 0.5) -> None:
    """Wait for a condition outside the page (the workspace, say), failing after `timeout` seconds."""
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting")
        time.sleep(poll)
