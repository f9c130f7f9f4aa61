"""Does a sweep's MLflow experiment open on its runs in a real browser? Headless Chromium, screenshots.

    python benchmarks/mlflow_review.py --sweep runs/demo/sweep [--chromium /usr/bin/chromium]

Needs Debian's chromium (`apt install chromium`) and Playwright for Python (`pip install 'kdssm[browser]'`;
no browser download: Playwright drives the system's). Starts `mlflow ui` on 127.0.0.1 over the sweep's
records (its mlflow.json names them), then, each time in a fresh browser profile (what a new reviewer has):
  from_url      opens the runs view the sweep printed (`review: MLflow: ...`)
  from_list     opens MLflow's home, clicks the experiment's name in the experiments list
  toggled_list  the same after one click on the sidebar's "Model training" (the browser keeps that choice)
  bare_url      opens the experiment's plain address (#/experiments/<id>)
  run           opens the best student's run (its metrics, its name)
and checks that the runs table shows (the students' and teacher's run names on the page, the address on
/runs). It passes when the printed view and the list after the toggle open on the runs: MLflow 3.17's UI
takes the workflow (GenAI or Model training) from the address, else from the browser's stored choice,
whose default is GenAI, and not from the experiment's kind tag, so from_list and bare_url show its GenAI
overview in a fresh browser whatever a sweep writes (reported, not required). Writes
benchmarks/results/mlflow_review.json and the screenshots under docs/mlflow/.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "docs" / "mlflow"
FLAGS = [  # a closed network: no background connections (they are refused, many at a time), no first-run UI
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_ui(uri: str, port: int) -> subprocess.Popen:
    mlflow = Path(sys.executable).with_name("mlflow")
    cmd = [str(mlflow), "ui", "--backend-store-uri", uri, "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"mlflow ui did not answer on port {port} within 120 s")


def click(page, selector: str) -> None:
    """Click the first visible element a Playwright selector finds, after closing the GenAI page's "Detect
    Issues" popup where it covers the page (a reviewer closes it first too)."""
    page.wait_for_timeout(2000)
    popup = page.get_by_role("button", name="Got it")
    if popup.count() and popup.first.is_visible():
        popup.first.click()
    target = page.locator(selector).locator("visible=true").first
    target.wait_for(timeout=60_000)  # pages fill after they load
    target.click()
    page.wait_for_timeout(3000)  # a hash route changes without a load event


def look(browser, url: str, shot: Path, names: list[str], clicks: tuple[tuple[str, str], ...] = ()) -> dict:
    """Open url in a fresh profile, then for each (address, selector) of clicks open the address (if any)
    and click what the selector finds; what the page shows at the end."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.goto(url, wait_until="load")
    for address, selector in clicks:
        if address:
            page.goto(address, wait_until="load")
        click(page, selector)
    seen = []
    for _ in range(40):  # the runs table fills after the page's own requests
        text = page.inner_text("body")
        seen = [n for n in names if n in text]
        if seen:
            break
        page.wait_for_timeout(500)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(shot))
    text = page.inner_text("body")
    out = {
        "opened": url + "".join(f", then {a or 'there'} clicked {t}" for a, t in clicks),
        "landed_on": page.url,
        "on_runs_view": "/runs" in page.url,
        "run_names_shown": len(seen),
        "genai_page": any(word in text for word in ("Traces", "Detect Issues", "token usage")) and not seen,
        "screenshot": str(shot.relative_to(ROOT)),
    }
    context.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", default=str(ROOT / "runs" / "demo" / "sweep"), help="a finished sweep's folder")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from mlflow import MlflowClient
    from playwright.sync_api import sync_playwright

    info = json.loads((Path(args.sweep) / "mlflow.json").read_text())
    client = MlflowClient(info["tracking_uri"])
    runs = client.search_runs([info["experiment_id"]], max_results=200)
    names = [r.info.run_name for r in runs]  # the parent's ("sweep · 8 students, ..."), the teacher's, students
    best = max(
        (r for r in runs if r.data.tags.get("kdssm.role") == "trial"), key=lambda r: r.data.metrics.get("accuracy", 0)
    )
    port = free_port()
    ui = start_ui(info["tracking_uri"], port)
    base = f"http://127.0.0.1:{port}/"
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=FLAGS)
            listing = base + "#/experiments"
            experiment = f'a[href="#/experiments/{info["experiment_id"]}"]'  # its name in the list
            checks = {
                "from_url": look(browser, base + info["runs_view"], SHOTS / "from_url.png", names),
                "from_list": look(browser, listing, SHOTS / "from_list.png", names, (("", experiment),)),
                "toggled_list": look(
                    browser,
                    base + f"#/experiments/{info['experiment_id']}",
                    SHOTS / "toggled_list.png",
                    names,
                    (("", "text=Model training"), (listing, experiment)),
                ),
                "bare_url": look(
                    browser, base + f"#/experiments/{info['experiment_id']}", SHOTS / "bare_url.png", names
                ),
                "run": look(
                    browser,
                    base + f"#/experiments/{info['experiment_id']}/runs/{best.info.run_id}",
                    SHOTS / "best_student_run.png",
                    [best.info.run_name],
                ),
            }
            browser.close()
    finally:
        ui.terminate()
        ui.wait(timeout=30)
    passed = all(checks[k]["on_runs_view"] and checks[k]["run_names_shown"] for k in ("from_url", "toggled_list"))
    for name, check in checks.items():
        print(f"{name}: {check['landed_on']} runs view {check['on_runs_view']}, {check['run_names_shown']} run names")
    write_result(
        "mlflow_review",
        {
            "command": " ".join(sys.argv),
            "experiment": info["experiment"],
            "runs": len(runs),
            "run_names": sorted(names),
            "metrics_on_best_student_run": len(best.data.metrics),
            "passed": passed,
            "checks": checks,
        },
    )
    if not passed:
        sys.exit(1)


if __name__ == "__main__":
    main()
