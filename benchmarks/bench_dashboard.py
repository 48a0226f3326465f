"""The dashboard with 100 metrics of 100,000 points: server-side downsampling and the page in Chromium.

Measurements over one run of 100 metrics x 100,000 steps (``--quick``: 20 x 20,000),
served by ``swanlog watch`` (the files) and by ``swanlog server`` on SQLite (the run
synced into it first), interleaved per repetition:

- one metric's chart data, ``GET .../metrics/NAME?max_points=2000`` (what the page asks),
  against the baseline of the same metric in full (``?limit=100000``): ms per request,
  median; the ratio says what downsampling saves;
- in headless Chromium (Debian's, through Playwright) on the watch server: time from
  opening the run view to the first chart drawn, on a first visit (empty cache) and on a
  revisit (cached); time to draw every chart while scrolling through them; time for the
  log-scale toggle to redraw the charts in view (how responsive the page stays); and, as
  a baseline in the same page, Plotly drawing one chart from the full 100,000 points
  against drawing it from the downsampled 2,000.

- a runs table of 10,000 runs (``--quick``: 1,000), each with 30 config keys and 20
  summary values, on a ``swanlog server`` on SQLite: a poll as the page makes it every
  3 s (``GET /runs?fields=config,summary&since=REV``, nothing changed) against the
  baseline of the whole list (what a poll cost before revisions); in Chromium, the time
  from opening the page (its files cached, the key given) to the table drawn, and how
  long the page's main thread is blocked (long tasks, over 50 ms each) per poll over 12 s.

Targets (ours; the issue asks that the page "stays responsive with 100 metrics of 100k
points each"): with the page's files in the browser cache, the first chart drawn under
1 s; a control redraws the charts in view in under 0.5 s. A first visit with an empty
cache is reported without a target: parsing Plotly (4.8 MB) dominates it.

    python benchmarks/bench_dashboard.py [--quick] [--reps N] [--metrics N --steps N]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import httpx
from _common import Result, machine, median, parser, print_table, scratch_dir, write_results
from bench_sync import make_run

from tests.browser.conftest import CHROMIUM_ARGS, CHROMIUM_ENV, DEFAULT_CHROMIUM
from tests.serverproc import start_logdir_server, start_server

CHROMIUM = os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM
TARGET_FIRST_S = 1.0
TARGET_TOGGLE_S = 0.5
TARGET_TABLE_S = 2.0  # the runs table of 10,000 runs drawn, page files cached
TARGET_BLOCKED_MS = 50.0  # main thread blocked per poll of that table
CLI = [sys.executable, "-m", "swanlog_cli.main"]


def request_ms(client: httpx.Client, url: str, headers: dict[str, str]) -> float:
    """Milliseconds for one GET, body read and parsed as the page would."""
    t = time.perf_counter()
    r = client.get(url, headers=headers)
    r.raise_for_status()
    r.json()
    return (time.perf_counter() - t) * 1000


def endpoint_results(
    label: str, base: str, run_id: str, names: list[str], headers: dict[str, str], reps: int, n_steps: int
) -> list[Result]:
    """Downsampled against full fetches of the metrics, interleaved, ``reps`` rounds over ``names``."""
    down: list[float] = []
    full: list[float] = []
    with httpx.Client(timeout=60) as client:
        for _ in range(reps):
            for name in names:
                url = f"{base}/api/v1/runs/{run_id}/metrics/{name}"
                down.append(request_ms(client, url + "?max_points=2000", headers))
                full.append(request_ms(client, url + f"?limit={min(n_steps, 100_000)}", headers))
    return [
        Result(
            "dashboard",
            f"chart data of one {n_steps // 1000}k-point metric, {label}",
            "ms",
            median(down),
            "the metric in full",
            median(full),
            "-",
            None,
            samples=down,
            baseline_samples=full,
        )
    ]


PAGE_TIMINGS = """
async () => {
  const wait = (pred, ms) => new Promise((resolve, reject) => {
    const t0 = performance.now();
    (function poll() {
      if (pred()) return resolve(performance.now() - t0);
      if (performance.now() - t0 > ms) return reject(new Error("timed out"));
      setTimeout(poll, 10);
    })();
  });
  const charts = [...document.querySelectorAll(".chart[data-metric]")];
  const t0 = performance.now();
  for (const c of charts) {
    c.scrollIntoView();
    await wait(() => c.dataset.points !== undefined, 60000);
  }
  const all = (performance.now() - t0) / 1000;
  window.scrollTo(0, 0);
  await new Promise((r) => setTimeout(r, 300));
  const first = charts[0];
  const plotted = first.dataset.points;
  const box = document.getElementById("log-scale");
  const t1 = performance.now();
  box.click();
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  const toggle = (performance.now() - t1) / 1000;
  return { all, toggle, plotted, n: charts.length };
}
"""

PLOTLY_BASELINE = """
async ([url]) => {
  const body = await (await fetch(url + "?limit=100000")).json();
  const small = await (await fetch(url + "?max_points=2000")).json();
  const div = document.createElement("div");
  div.style.width = "600px"; div.style.height = "270px";
  document.body.append(div);
  const draw = (pts) => {
    const t = performance.now();
    const trace = { x: pts.map((p) => p.step), y: pts.map((p) => p.value), type: "scatter", mode: "lines" };
    Plotly.newPlot(div, [trace], { height: 270 });
    return (performance.now() - t) / 1000;
  };
  const full = [], down = [];
  for (let i = 0; i < 5; i++) { full.push(draw(body.points)); down.push(draw(small.points)); }
  div.remove();
  return { full, down };
}
"""


def page_results(base: str, run_id: str, metric_url: str, reps: int) -> list[Result]:
    """Open the run view ``reps`` times in a fresh page; the figures of PAGE_TIMINGS and PLOTLY_BASELINE."""
    from playwright.sync_api import sync_playwright

    first: list[float] = []
    again: list[float] = []
    every: list[float] = []
    toggles: list[float] = []
    full_draw: list[float] = []
    down_draw: list[float] = []
    n = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for i in range(reps):
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                page = context.new_page()
                for visit in range(3):  # a first visit (empty cache), then two more in the same tab
                    if visit:
                        page.goto("about:blank")
                    t = time.perf_counter()
                    page.goto(f"{base}/#/runs/{run_id}")
                    page.wait_for_selector(".chart[data-points]", timeout=60_000)
                    (first if visit == 0 else again).append(time.perf_counter() - t)
                got = page.evaluate(PAGE_TIMINGS)
                every.append(got["all"])
                toggles.append(got["toggle"])
                n = got["n"]
                draws = page.evaluate(PLOTLY_BASELINE, [metric_url])
                full_draw += draws["full"]
                down_draw += draws["down"]
                print(
                    f"page rep {i}: first chart {first[-1]:.2f}s (cached: {again[-1]:.2f}s), "
                    f"all {n} charts {got['all']:.2f}s, "
                    f"toggle {got['toggle'] * 1000:.0f}ms",
                    file=sys.stderr,
                )
                context.close()
        finally:
            browser.close()
    return [
        Result(
            "dashboard",
            "open run view -> first chart, empty cache",
            "s",
            median(first),
            "-",
            None,
            "-",
            None,
            samples=first,
        ),
        Result(
            "dashboard",
            "open run view -> first chart, cached page",
            "s",
            median(again),
            "-",
            None,
            f"< {TARGET_FIRST_S:g} s",
            median(again) < TARGET_FIRST_S,
            samples=again,
        ),
        Result(
            "dashboard",
            f"scroll through all {n} charts, each drawn",
            "s",
            median(every),
            "-",
            None,
            "-",
            None,
            samples=every,
        ),
        Result(
            "dashboard",
            "log-scale toggle, charts in view redrawn",
            "s",
            median(toggles),
            "-",
            None,
            f"< {TARGET_TOGGLE_S:g} s",
            median(toggles) < TARGET_TOGGLE_S,
            samples=toggles,
        ),
        Result(
            "dashboard",
            "Plotly draws one chart from 2,000 points",
            "s",
            median(down_draw),
            "from every point",
            median(full_draw),
            "-",
            None,
            samples=down_draw,
            baseline_samples=full_draw,
        ),
    ]


def fill_runs(db_url: str, n_runs: int) -> None:
    """``n_runs`` finished runs in project "bench", each with 30 config keys and 20 summary values."""
    from swanlog_core.server import open_store
    from swanlog_core.server.runs import run_fields
    from swanlog_core.server.settings import Settings

    store, settings = open_store(db_url), Settings()
    try:
        for i in range(n_runs):
            body = {
                "project": "bench",
                "name": f"trial {i}",
                "status": "finished",
                "created": f"2026-11-{1 + i % 28:02d}T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
                "config": {f"cfg{k}": k * i for k in range(30)},
                "summary": {f"m{k}/loss": 0.1 * k + i for k in range(20)},
            }
            store.put_run(f"r{i:06d}", run_fields(body, settings))
    finally:
        store.close()


LONG_TASKS = """
window.__long = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__long.push([e.startTime, e.duration]);
}).observe({ type: "longtask", buffered: true });
"""


def runs_results(tmp: Any, n_runs: int, reps: int) -> list[Result]:
    """A poll of a big runs table against the whole list; the table in Chromium."""
    import orjson
    from playwright.sync_api import sync_playwright

    db_url = f"sqlite:///{tmp / 'runs.db'}"
    fill_runs(db_url, n_runs)
    poll: list[float] = []
    whole: list[float] = []
    shown: list[float] = []
    blocked: list[float] = []
    with start_server(db_url) as server:
        key = server.create_key("bench")
        base = f"http://127.0.0.1:{server.port}"
        headers = {"Authorization": f"Bearer {key}", "Accept-Encoding": "gzip"}
        with httpx.Client(timeout=60) as client:
            url = f"{base}/api/v1/runs?fields=config,summary"
            rev = client.get(url, headers=headers).json()["rev"]
            size = len(client.get(url, headers={**headers, "Accept-Encoding": "identity"}).content)
            for _ in range(reps * 5):
                poll.append(request_ms(client, f"{url}&since={rev}", headers))
                whole.append(request_ms(client, url, headers))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                remember_key = f"sessionStorage.setItem('swanlog.key', {orjson.dumps(key).decode()});"
                page = browser.new_context().new_page()
                page.add_init_script(remember_key)
                page.add_init_script(LONG_TASKS)
                page.goto(base + "/")  # a first visit puts the page's files in the cache
                page.wait_for_selector("#runs-table tbody tr[data-run-id]", timeout=120_000)
                for _ in range(reps):
                    t = time.perf_counter()
                    page.reload()
                    page.wait_for_selector("#runs-table tbody tr[data-run-id]", timeout=120_000)
                    shown.append(time.perf_counter() - t)
                    t0 = page.evaluate("performance.now()")
                    page.wait_for_timeout(12_000)  # four polls
                    tasks = page.evaluate("window.__long")
                    blocked.append(sum(d for s, d in tasks if s >= t0) / 4)
            finally:
                browser.close()
    note = f"the whole list is {size / 1e6:.1f} MB of JSON"
    print(f"runs table: {n_runs:,} runs, {note}", file=sys.stderr)
    return [
        Result(
            "dashboard",
            f"poll of a {n_runs:,}-run table, nothing changed (since=REV)",
            "ms",
            median(poll),
            "the whole list, gzipped",
            median(whole),
            "-",
            None,
            samples=poll,
            baseline_samples=whole,
            note=note,
        ),
        Result(
            "dashboard",
            f"open the {n_runs:,}-run table -> first 500 rows drawn, cached page",
            "s",
            median(shown),
            "-",
            None,
            f"< {TARGET_TABLE_S:g} s",
            median(shown) < TARGET_TABLE_S,
            samples=shown,
        ),
        Result(
            "dashboard",
            f"main thread blocked per 3-s poll of the {n_runs:,}-run table",
            "ms",
            median(blocked),
            "-",
            None,
            f"< {TARGET_BLOCKED_MS:g} ms",
            median(blocked) < TARGET_BLOCKED_MS,
            samples=blocked,
        ),
    ]


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--metrics", type=int, default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--runs", type=int, default=None, help="runs in the runs-table case")
    args = p.parse_args()
    reps = args.reps or 3
    n_metrics = args.metrics or (20 if args.quick else 100)
    n_steps = args.steps or (20_000 if args.quick else 100_000)
    results: list[dict[str, Any]] = []
    with scratch_dir(args.tmp, "dashboard") as tmp:
        t = time.perf_counter()
        logdir = tmp / "logs"
        run_dir, rows = make_run(logdir, n_metrics, n_steps)
        run_id = run_dir.name.rsplit("-", 1)[1]
        names = [name for name, _ in rows[:10]]
        del rows
        print(f"wrote {n_metrics * n_steps:,} points in {time.perf_counter() - t:.1f}s", file=sys.stderr)

        with start_logdir_server(logdir) as watch:
            base = f"http://127.0.0.1:{watch.port}"
            results += endpoint_results("swanlog watch", base, run_id, names, {}, reps, n_steps)
            results += page_results(base, run_id, f"{base}/api/v1/runs/{run_id}/metrics/{names[0]}", reps)

        with start_server(f"sqlite:///{tmp / 'server.db'}") as server:
            key = server.create_key("bench")
            base = f"http://127.0.0.1:{server.port}"
            subprocess.run(
                [*CLI, "sync", str(run_dir), "--server", base, "--api-key", key],
                check=True,
                capture_output=True,
            )
            headers = {"Authorization": f"Bearer {key}"}
            results += endpoint_results(
                "swanlog server (SQLite)", base, run_id, names, headers, reps, n_steps
            )
        results += runs_results(tmp, args.runs or (1000 if args.quick else 10_000), reps)
    print_table(results)
    write_results(args.json, results, {"machine": machine()})


if __name__ == "__main__":
    main()
