"""Every media type in the run view: audio players, video, html in a sandbox that runs and fetches
nothing, tables and texts as text, each with its step slider."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import PageLog
from tests.browser.dashboard import media, reveal, start_watch, wait_loaded
from tests.support import PYTHON, python_env

SCRIPT = r"""
import sys
import numpy as np
import swanlog_core as swanlog

with swanlog.init(logdir=sys.argv[1], project="media", name="every-type") as run:
    t = np.linspace(0, 1, 4000, dtype="float32")
    for i in range(3):
        swanlog.log({
            "m/audio": swanlog.Audio(0.5 * np.sin(2 * np.pi * (220 + 110 * i) * t), sample_rate=4000),
            "m/video": swanlog.Video(np.full((4, 8, 8, 3), 60 * i, dtype="uint8"), fps=4),
            "m/html": swanlog.Html(
                f"<h3 id=h>report {i}</h3><script>alert('html {i}')</script>"
                "<img src=x onerror=alert(1)><img src=http://example.com/pixel.png>"
            ),
            "m/table": swanlog.Table(
                columns=["name", "<i>v</i>"], data=[["<b>x</b>", i], ["gap", float("nan")]]
            ),
            "m/text": swanlog.Text(f"note <u>{i}</u>"),
        })
    print(run.id)
"""
# A player fed from a file the page fetched (with the key, when the server asks one).
BLOB_SRC = re.compile(r"^blob:http://127\.0\.0\.1:\d+/")


def test_every_media_type_shows_inert_with_a_step_slider(
    page: Page, page_log: PageLog, tmp_path: Path
) -> None:
    """Audio and video play from the run's files; html renders in a sandbox that runs no script and
    loads nothing; table cells and texts are text; each slider walks the three logged steps."""
    logdir = tmp_path / "swanlog"
    run_id = subprocess.run(
        [PYTHON, "-c", SCRIPT, str(logdir)], env=python_env(), capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    # Chromium reports the sandbox refusing the logged page's script and images as console errors.
    page_log.allow_console(r"Blocked script execution in 'about:srcdoc'")
    page_log.allow_console(r"Content Security Policy directive: \"img-src [^\"]*\".*\(about:srcdoc\)$")
    with start_watch(logdir) as srv:
        page.goto(f"{srv.url}/#/runs/{run_id}")

        audio = reveal(media(page, "m/audio", "audio")).locator("audio")
        expect(audio).to_have_attribute("src", BLOB_SRC)
        handle = audio.element_handle()
        page.wait_for_function("el => el.readyState >= 1", arg=handle)  # the player read the wav
        assert abs(page.evaluate("el => el.duration", handle) - 1.0) < 0.01  # 4,000 samples at 4 kHz

        video = reveal(media(page, "m/video", "video")).locator("img")  # frames are stored as an animated gif
        assert wait_loaded(video) == 8

        html = reveal(media(page, "m/html", "html"))
        frame = html.locator("iframe")
        expect(frame).to_have_attribute("sandbox", "")
        expect(page.frame_locator("div.media[data-type=html] iframe").locator("#h")).to_have_text("report 2")
        slider = html.locator("input.media-step")
        slider.fill("0")
        expect(page.frame_locator("div.media[data-type=html] iframe").locator("#h")).to_have_text("report 0")

        table = reveal(media(page, "m/table", "table"))
        expect(table.locator("th")).to_have_text(["name", "<i>v</i>"])
        expect(table.locator("tbody tr").first.locator("td")).to_have_text(["<b>x</b>", "2"])
        expect(table.locator("tbody tr").nth(1).locator("td")).to_have_text(["gap", "NaN"])

        text = reveal(media(page, "m/text", "text"))
        expect(text.locator("pre")).to_have_text("note <u>2</u>")
        text.locator("input.media-step").fill("1")
        expect(text.locator("pre")).to_have_text("note <u>1</u>")

        assert page.locator("b, i, u, img[src=x]").count() == 0  # none of the logged markup became elements
        assert not [u for u in page_log.requests if u.endswith("/x") or "example.com" in u]
        assert page_log.dialogs == []
        srv.assert_no_tracebacks()
