"""A page's own URL as the first thing a fresh server sees (a bookmark, a tab reconnecting after a restart):
the app's navigation and sidebar, not Streamlit's list of every file in pages/ with the page run alone."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from .streamlit_ui import main, screenshot, wait_for_run


def test_a_fresh_server_opened_at_a_page_url_draws_that_page_inside_the_app(page: Page, app_server):
    page.goto(f"{app_server.url}/jobs")  # this module's server has had no session before
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav).to_be_visible(timeout=30_000)
    wait_for_run(page)
    expect(main(page).get_by_role("heading", name="Jobs")).to_be_visible()
    links = [t.strip().splitlines()[-1] for t in page.get_by_test_id("stSidebarNavLink").all_inner_texts()]
    assert links == ["Start", "Data", "Explore", "Duplicates", "Select", "Review", "Export", "Jobs"]
    expect(page.get_by_test_id("stSidebar").get_by_text("Workspace:")).to_be_visible()  # app.py's sidebar ran
    screenshot(page, "22-direct-page-url")
