"""A real browser on the Prefect UI: a flow run made through a deployment shows as completed,
with the brand report artifact. Headless Chromium from Debian (no browser download), driven by
the playwright package."""

from pathlib import Path

import pytest
from support.live_prefect import run_artifacts, trigger, wait_for_run

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium; .ci/run does)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed (dev extra)"
    )
    with sync_api.sync_playwright() as pw:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


def test_flow_run_page_shows_the_completed_run_and_its_report(served_project, browser, tmp_path):
    ingest = trigger(served_project, "ingest-and-score/reviews")
    assert (
        wait_for_run(served_project.api_url, ingest, 300, served_project.log)["state_type"]
        == "COMPLETED"
    )
    report = trigger(served_project, "brand-report/daily", {"since": "30d"})
    flow_run = wait_for_run(served_project.api_url, report, 300, served_project.log)
    assert flow_run["state_type"] == "COMPLETED"
    assert "brand-report" in {a["key"] for a in run_artifacts(served_project.api_url, report)}

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{served_project.ui_url}/runs/flow-run/{report}")
    page.get_by_text(flow_run["name"], exact=True).first.wait_for(timeout=60_000)
    # The state badge; log lines say "Finished in state Completed()", never just this.
    page.get_by_text("Completed", exact=True).first.wait_for(timeout=60_000)
    page.get_by_text("Artifacts", exact=True).click()
    # Cards of both artifacts of the run (only the tab shows brand-aggregates).
    page.get_by_text("brand-aggregates", exact=True).wait_for(timeout=60_000)
    run_shot = tmp_path / "flow-run.png"
    page.screenshot(path=str(run_shot), full_page=True)

    # The brand-report card (the flow's link, above, has the same text) opens the report.
    page.get_by_text("brand-report", exact=True).last.click()
    page.wait_for_url("**/artifacts/artifact/**", timeout=60_000)
    page.get_by_text("United Airlines").first.wait_for(timeout=60_000)
    page.get_by_text("Top negative").first.wait_for(timeout=60_000)
    report_shot = tmp_path / "brand-report.png"
    page.screenshot(path=str(report_shot))
    page.close()
    for shot in (run_shot, report_shot):
        assert shot.stat().st_size > 10_000
        print(f"\nscreenshot: {shot}")
