"""The parts of bench/bench_scale.py that are not stages in a fresh process: the browser stage (a real
`streamlit run app.py` driven by Debian's chromium through Playwright), the machine's facts, and the figures as
a markdown block in the "## Scale (issue 12)" section of bench/README.md."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import readme_blocks

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Scale (issue 12)"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
BROWSER_PAGES = ("Data", "Review", "Select", "Export")
DRAW_TIMEOUT_MS = 300_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return bool(response.read().decode().strip() == "ok")
    except OSError:
        return False


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def browser_stage(ws_root: Path) -> dict[str, Any]:
    """Open the app in chromium: the Explore map's first draw and the bytes the browser receives for it, the
    time to switch to each other page, and the server's peak RSS after all of that."""
    from playwright.sync_api import expect, sync_playwright

    sys.path.insert(0, str(ROOT))
    from tests.browser.streamlit_ui import go_to, main, open_app

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CURATION_WORKSPACE": str(ws_root), "CURATION_START_WORKER": "0", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(ROOT)}
    log = open(ws_root.parent / "server.log", "ab")  # noqa: SIM115  (closed in finally, after the server)
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
                               "--server.port", str(port), "--server.headless", "true",
                               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while not _healthy(url):
            if server.poll() is not None or time.time() > deadline:
                raise RuntimeError("the app server did not start; see server.log next to the workspace")
            time.sleep(0.3)
        out: dict[str, Any] = {}
        received = [0]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(DRAW_TIMEOUT_MS)
            page.on("websocket", lambda sock: sock.on(
                "framereceived", lambda payload: received.__setitem__(0, received[0] + len(payload))))
            started = time.perf_counter()
            open_app(page, url)
            out["open_s"] = time.perf_counter() - started
            before, started = received[0], time.perf_counter()
            go_to(page, "Explore")
            chart = main(page).get_by_test_id("stPlotlyChart").first
            expect(chart.locator(".nsewdrag").first).to_be_visible(timeout=DRAW_TIMEOUT_MS)
            expect(chart.locator("canvas").first).to_be_attached(timeout=DRAW_TIMEOUT_MS)
            out["first_draw_s"] = time.perf_counter() - started
            out["explore_received_mb"] = (received[0] - before) / 1e6
            for title in BROWSER_PAGES:
                started = time.perf_counter()
                go_to(page, title)
                out[f"{title.lower()}_s"] = time.perf_counter() - started
            browser.close()
        out["server_peak_rss_mb"] = _vm_hwm_mb(server.pid)
        return out
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def machine_facts() -> str:
    cpu = "unknown CPU"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    flags: set[str] = set()
    ram_gib = float("nan")
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            ram_gib = int(line.split()[1]) / 2**20
    simd = ", ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags) or "no AVX2"
    return (f"{cpu}, {os.cpu_count()} cores (shared), flags {simd}, {ram_gib:.0f} GiB RAM, "
            f"load average {os.getloadavg()[0]:.1f} at the start")


def _cell(results: dict, stage: str, key: str, fmt: str = "{:,.1f}", scale: float = 1.0) -> str:
    r = results.get(stage)
    if r is None:
        return "not run"
    if "error" in r:
        return f"failed: {r['error'][:120]}"
    if "skipped" in r:
        return f"skipped: {r['skipped']}"
    value = r.get(key)
    return "-" if value is None else fmt.format(value * scale)


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("yes" if ok else "**no**")


def _value(results: dict, stage: str, key: str) -> float | None:
    r = results.get(stage) or {}
    value = r.get(key)
    return float(value) if isinstance(value, int | float) else None


def report(rows: int, results: dict, machine: str, argv: str) -> str:
    v = lambda stage, key: _value(results, stage, key)  # noqa: E731
    c = lambda stage, key, fmt="{:,.1f}", scale=1.0: _cell(results, stage, key, fmt, scale)  # noqa: E731
    lines = [f"### {rows:,} rows", "",
             f"`flock /tmp/cpu.lock .venv/bin/python bench/bench_scale.py {argv}` on {machine}.", "",
             f"Pool: Dolly-15k's rows repeated with a variant tag ({rows:,} distinct samples, Dolly's lengths). "
             "Vectors: the real all-MiniLM-L6-v2 vectors of Dolly's rows (both fields), each variant's plus "
             "Gaussian noise (sigma 0.0128 per coordinate, renormalised: cosine 0.970 to its original), written "
             "into the workspace's embedding store; the map is a PCA layout published with `maps.build`. So every "
             "Dolly row has about rows / 14,989 near-copies at cosine 0.94-0.97: the duplicate scan's pair count "
             "is that construction's, not a real pool's. Each stage but the browser runs in a fresh process "
             "(peak RSS = its VmHWM).", "",
             "| figure | value | target (issue 12, at 1M) | met here |", "|---|---|---|---|"]

    def row(label: str, value: str, target: str = "", ok: bool | None = None) -> None:
        lines.append(f"| {label} | {value} | {target} | {_verdict(ok)} |")

    def rss_ok(stage: str) -> bool | None:
        peak = v(stage, "peak_rss_mb")
        return None if peak is None else peak < 4096

    rate = v("import", "rows_per_s")
    row("import (`python -m curation import`), s", c("import", "seconds"))
    row("import, rows/s", c("import", "rows_per_s", "{:,.0f}"), ">= 10,000", None if rate is None else rate >= 1e4)
    row("import, peak RSS MB", c("import", "peak_rss_mb", "{:,.0f}"), "< 4,096, flat", rss_ok("import"))
    row("writing the synthetic vectors (setup, both fields), s", c("embed", "wall_s"))
    row("PCA layout (`maps.pca_2d`), s", c("layout", "pca_s", "{:,.2f}"))
    row("publishing the PCA map (`maps.build`: PCA + k-means colours), s", c("layout", "publish_s"))
    row("UMAP layout, 50-epoch preview (`maps.umap_2d`, cold process), s", c("umap", "seconds"))
    dedup_s = v("dedup", "seconds")
    row("near-duplicate scan (`dedup_scan` job: prompts, floor 0.85), s", c("dedup", "seconds"), "< 600",
        None if dedup_s is None else dedup_s < 600)
    row("near-duplicate scan, pairs found", c("dedup", "pairs", "{:,.0f}"))
    row("near-duplicate scan, peak RSS MB", c("dedup", "peak_rss_mb", "{:,.0f}"), "< 4,096", rss_ok("dedup"))
    gbs, kc_s, k = v("bandwidth", "gbs"), v("kcenter", "seconds"), v("kcenter", "k")
    bound = k * rows * 384 * 4 / (gbs * 1e9) if gbs and k else None
    row("single-thread read bandwidth, GB/s", c("bandwidth", "gbs"))
    row(f"K-Center k = 1% ({int(k or rows // 100):,}), s", c("kcenter", "seconds"))
    row("K-Center bandwidth bound (k passes over N x 384 float32), s",
        "-" if bound is None else f"{bound:,.1f}")
    row("K-Center / bound", "-" if bound is None or kc_s is None else f"{kc_s / bound:.2f}", "<= 1.5",
        None if bound is None or kc_s is None else kc_s / bound <= 1.5)
    row("K-Center, peak RSS MB", c("kcenter", "peak_rss_mb", "{:,.0f}"), "< 4,096", rss_ok("kcenter"))
    row("Vendi (cosine, q = 1), s", c("vendi", "seconds", "{:,.2f}"))
    row("Vendi score", c("vendi", "vendi"))
    export_rate = v("export", "rows_per_s")
    row("export (`python -m curation export OUT.jsonl`), s", c("export", "seconds"))
    row("export, rows/s", c("export", "rows_per_s", "{:,.0f}"), ">= 10,000",
        None if export_rate is None else export_rate >= 1e4)
    row("export, peak RSS MB", c("export", "peak_rss_mb", "{:,.0f}"), "< 4,096, flat", rss_ok("export"))
    draw = v("browser", "first_draw_s")
    row("Explore map, first draw in chromium (click to drawn), s", c("browser", "first_draw_s"), "< 10",
        None if draw is None else draw < 10)
    received = v("browser", "explore_received_mb")
    row("bytes the browser receives opening Explore (websocket), MB", c("browser", "explore_received_mb"),
        "<= 10", None if received is None else received <= 10)
    for title in BROWSER_PAGES:
        row(f"chromium: switch to {title}, s", c("browser", f"{title.lower()}_s"))
    server = v("browser", "server_peak_rss_mb")
    row("app server peak RSS (VmHWM after every page above), MB", c("browser", "server_peak_rss_mb", "{:,.0f}"),
        "< 4,096", None if server is None else server < 4096)
    pages = results.get("pages") or {}
    if "error" in pages or not pages:
        lines += ["", f"Page reruns: {'not run' if not pages else 'failed: ' + pages['error'][:200]}."]
        return "\n".join(lines)
    lines += ["", "Page reruns (Streamlit AppTest, `bench_pages.measure`: *first* = switching to the page in a new "
              "session, *rerun* = median of 5 reruns; *figures MB* = the Plotly JSON the rerun sends):", "",
              "| page | first view s | rerun ms | figures MB | rerun < 1 s | figures <= 10 MB |",
              "|---|---|---|---|---|---|"]
    for page, r in pages["pages"].items():
        if not isinstance(r, dict) or "error" in r:
            lines.append(f"| {page} | failed: {str(r.get('error', r))[:150]} | | | | |")
            continue
        lines.append(f"| {page} | {r['first']:.2f} | {r['rerun'] * 1000:,.0f} | {r['spec_mb']:.1f} | "
                     f"{_verdict(r['rerun'] < 1)} | {_verdict(r['spec_mb'] <= 10)} |")
    lines.append(f"\nPage-rerun process peak RSS: {c('pages', 'peak_rss_mb', '{:,.0f}')} MB.")
    return "\n".join(lines)


def write_report(rows: int, markdown: str) -> None:
    readme_blocks.write_block(SECTION, "scale", f"rows-{rows}", markdown)
