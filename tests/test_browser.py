"""The built book, as a reader gets it: every page in headless Chromium, offline.

The book is served from ``_build/html`` on 127.0.0.1 and every request to another host is
blocked, as for a reader offline or behind a CDN that never answers. For every page, on a phone
(390 px wide) and on a laptop (1280 px):

- the page loads, with no error in the console and no request to another host;
- every formula is typeset by MathJax (served by the book itself) and no raw ``$...$`` or
  ``\\(...\\)`` is left in the text;
- every image has loaded (``naturalWidth > 0``); on the laptop no figure is shown at less than
  70 % of its intended size (figures are made for the 688 px column), and every figure has twice
  the pixels it is shown with (sharp on high-DPI screens);
- the navigation works: on the phone, the sidebar toggle opens the site navigation; on the
  laptop, the toggle hides the sidebar;
- nothing the reader should not see is there: ``NBVAL_`` markers, dead widgets, thebe.

Needs Chromium (the Debian package; ``DSLAB_CHROMIUM`` names another binary) and a built book
(``make book``; ``DSLAB_BOOK_HTML`` names another build folder). Without them the tests skip and
say why, unless ``DSLAB_REQUIRE_BROWSER=1`` (as ``make test`` sets it under CI), where that is
a failure.
Screenshots go to a temporary folder (``DSLAB_SHOTS`` names one to keep them), never into the
repository.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(os.environ.get("DSLAB_BOOK_HTML", ROOT / "_build" / "html"))
CHROMIUM = os.environ.get("DSLAB_CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("DSLAB_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
#: The smallest share of its intended width a figure may be shown at on the laptop.
MIN_FIGURE_SCALE = 0.7


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set DSLAB_CHROMIUM)"
    if not (SITE / "index.html").is_file():
        return f"no built book at {SITE} (make book)"
    return None


def _pages() -> list:
    """Every HTML page of the built book, relative to the site root."""
    if not SITE.is_dir():
        return [pytest.param("", marks=pytest.mark.skip(reason=f"no built book at {SITE}"))]
    skip = ("_static", "_sources", "_images", "_downloads")
    pages = sorted(
        p.relative_to(SITE).as_posix()
        for p in SITE.rglob("*.html")
        if not p.relative_to(SITE).parts[0].startswith(skip)
    )
    return pages


@pytest.fixture(scope="module")
def site():
    reason = _missing()
    if reason:
        if REQUIRED:
            pytest.fail(f"DSLAB_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep the test output readable
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=SITE))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def context(site):
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="dslab-chromium-")
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=LAPTOP,
        )
        try:
            yield ctx
        finally:
            ctx.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def shots():
    keep = os.environ.get("DSLAB_SHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        yield Path(keep)
        return
    tmp = tempfile.mkdtemp(prefix="dslab-shots-")
    yield Path(tmp)
    shutil.rmtree(tmp, ignore_errors=True)


class Visit:
    """One page opened with every non-local request blocked and recorded."""

    def __init__(self, context, site: str, page_path: str, viewport: dict) -> None:
        self.site_host = urlparse(site).netloc
        self.external: list[str] = []
        self.console_errors: list[str] = []
        self.failed: list[str] = []
        self.page = context.new_page()
        self.page.set_viewport_size(viewport)
        self.page.route("**/*", self._route)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.console_errors.append(f"page error: {exc}"))
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
        response = self.page.goto(f"{site}/{page_path}", wait_until="load", timeout=30_000)
        self.status = response.status if response else None
        self.page.wait_for_load_state("networkidle", timeout=30_000)

    def _route(self, route) -> None:
        url = route.request.url
        parsed = urlparse(url)
        if parsed.scheme in ("data", "blob", "about") or parsed.netloc == self.site_host:
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def _console(self, msg) -> None:
        if msg.type == "error":
            self.console_errors.append(msg.text)

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def visit(context, site):
    opened: list[Visit] = []

    def open_page(page_path: str, viewport: dict) -> Visit:
        v = Visit(context, site, page_path, viewport)
        opened.append(v)
        return v

    yield open_page
    for v in opened:
        v.close()


def _shot_name(page_path: str, viewport: dict) -> str:
    return page_path.replace("/", "_").removesuffix(".html") + f"-{viewport['width']}.png"


MATH_STATE_JS = r"""() => {
  const math = document.querySelectorAll('.math');
  const typeset = document.querySelectorAll('.math mjx-container');
  const article = (document.querySelector('article') || document.body).cloneNode(true);
  article.querySelectorAll('pre, code, script, style, mjx-container').forEach(e => e.remove());
  const text = article.textContent;
  const raw = [];
  for (const pattern of [/\\\(/g, /\\\[/g, /\$\$/g, /(^|[^\w\\])\$[^$\s][^$\n]*\$/g]) {
    const m = text.match(pattern);
    if (m) raw.push(...m.slice(0, 3));
  }
  return {math: math.length, typeset: typeset.length, raw: raw};
}"""

IMAGES_JS = """() => Array.from(document.images).map(img => ({
  src: img.currentSrc || img.src,
  natural: img.naturalWidth,
  shown: img.getBoundingClientRect().width,
  // the width the figure was made to be shown at (myst-nb writes it into the style)
  intended: parseFloat(img.style.width) || parseFloat(img.getAttribute('width'))
    || img.naturalWidth,
  height: img.getBoundingClientRect().height,
  naturalHeight: img.naturalHeight,
  inOutput: !!img.closest('.cell_output'),
  visible: img.offsetParent !== null,
}))"""


def _wait_for_math(page) -> dict:
    if page.locator(".math").count():
        page.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise",
            timeout=20_000,
        )
        page.evaluate("() => MathJax.startup.promise")
    return page.evaluate(MATH_STATE_JS)


@pytest.mark.parametrize("page_path", _pages())
def test_page_works_offline_on_a_phone_and_a_laptop(visit, shots, page_path):
    for viewport in (PHONE, LAPTOP):
        v = visit(page_path, viewport)
        where = f"{page_path} at {viewport['width']} px"
        assert v.status == 200, f"{where}: HTTP {v.status}"
        math = _wait_for_math(v.page)
        images = v.page.evaluate(IMAGES_JS)
        v.page.screenshot(path=str(shots / _shot_name(page_path, viewport)), full_page=False)

        # Nothing from another host: the page must not even ask.
        assert not v.external, f"{where}: requests to other hosts: {sorted(set(v.external))}"
        assert not v.console_errors, f"{where}: console errors: {v.console_errors}"
        assert not v.failed, f"{where}: failed requests: {v.failed}"

        # Formulas typeset, none left raw.
        assert math["typeset"] >= math["math"], f"{where}: {math['math']} formulas, " \
            f"{math['typeset']} typeset by MathJax"
        assert not math["raw"], f"{where}: raw LaTeX left in the text: {math['raw']}"

        # Images loaded; on the laptop, figures shown near the size they were made for.
        broken = [i["src"] for i in images if i["natural"] == 0]
        assert not broken, f"{where}: images that did not load: {broken}"
        squashed = [
            i["src"].rsplit("/", 1)[-1] for i in images
            if i["visible"] and i["shown"] > 0 and i["naturalHeight"] > 0
            and abs(i["height"] / i["shown"] - i["naturalHeight"] / i["natural"]) > 0.02
        ]
        assert not squashed, f"{where}: images drawn with another aspect ratio: {squashed}"
        if viewport is LAPTOP:
            shrunk = [
                (i["src"].rsplit("/", 1)[-1], round(i["shown"] / i["intended"], 2))
                for i in images
                if i["inOutput"] and i["visible"] and i["shown"] < MIN_FIGURE_SCALE * i["intended"]
            ]
            assert not shrunk, f"{where}: figures shown below {MIN_FIGURE_SCALE:.0%}: {shrunk}"
            blurry = [
                i["src"].rsplit("/", 1)[-1] for i in images
                if i["inOutput"] and i["src"].endswith(".png")
                and i["natural"] < 1.9 * i["intended"]
            ]
            assert not blurry, f"{where}: figures without 2x pixels for high-DPI screens " \
                f"(re-run the notebook): {blurry}"

        # What a reader must not see.
        text = v.page.locator("article").first.inner_text() if v.page.locator(
            "article").count() else ""
        assert "NBVAL_" not in text, f"{where}: nbval markers visible to readers"
        assert v.page.locator(".jupyter-widgets, script[type*='widget-state']").count() == 0, \
            f"{where}: widget views or saved widget state in the page"
        assert v.page.locator("script[src*='thebe'], script[type='text/x-thebe-config']").count() \
            == 0, f"{where}: thebe scripts in the page"
        assert v.page.locator(".primary-toggle").count() <= 1, \
            f"{where}: more than one primary sidebar toggle (the theme binds only the first)"


def _nav_visible(page) -> bool:
    return page.evaluate("""() => {
      const nav = document.querySelector('nav.bd-docs-nav');
      if (!nav) return false;
      const r = nav.getBoundingClientRect();
      const style = getComputedStyle(nav);
      return r.width > 100 && r.height > 50 && r.right > 0 && r.left < window.innerWidth
        && style.visibility !== 'hidden' && style.display !== 'none';
    }""")


@pytest.mark.parametrize("page_path", _pages())
def test_sidebar_toggle_opens_the_navigation_on_a_phone(visit, shots, page_path):
    v = visit(page_path, PHONE)
    if v.page.locator("nav.bd-docs-nav").count() == 0:
        pytest.skip(f"{page_path} has no site navigation")
    toggle = v.page.locator(".primary-toggle:visible")
    assert toggle.count() >= 1, f"{page_path} at 390 px: no visible sidebar toggle"
    assert not _nav_visible(v.page), f"{page_path} at 390 px: navigation shown before the click"
    toggle.first.click()
    v.page.wait_for_timeout(400)
    v.page.screenshot(path=str(shots / _shot_name(page_path, PHONE).replace(".png", "-nav.png")))
    assert _nav_visible(v.page), f"{page_path} at 390 px: the toggle did not open the navigation"
    # A link in the opened navigation leads to another chapter.
    link = v.page.locator("dialog[open] nav.bd-docs-nav a.reference.internal").first
    assert link.count() == 1, f"{page_path} at 390 px: no chapter links in the opened navigation"


def test_sidebar_toggle_hides_and_shows_the_sidebar_on_a_laptop(visit):
    v = visit("chapters/raft.html", LAPTOP)
    assert _nav_visible(v.page), "the sidebar is not shown at 1280 px"
    toggle = v.page.locator(".primary-toggle:visible")
    assert toggle.count() == 1
    toggle.first.click()
    v.page.wait_for_timeout(400)
    assert not _nav_visible(v.page), "the toggle did not hide the sidebar at 1280 px"
    toggle.first.click()
    v.page.wait_for_timeout(400)
    assert _nav_visible(v.page), "the toggle did not bring the sidebar back at 1280 px"


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["390px", "1280px"])
def test_search_from_a_chapter_finds_chapters_offline(visit, viewport):
    v = visit("chapters/raft.html", viewport)
    # One visible search control (an icon on the phone, a field in the sidebar on the laptop).
    button = v.page.locator(".search-button:visible, .search-button-field:visible")
    assert button.count() >= 1, f"no visible search control at {viewport['width']} px"
    button.first.click()
    field = v.page.locator("#pst-search-dialog input[name='q']")
    field.wait_for(state="visible", timeout=5_000)
    field.fill("linearizable")
    field.press("Enter")
    v.page.wait_for_selector("#search-results li", timeout=20_000)
    hits = v.page.locator("#search-results li a").all_inner_texts()
    assert len(hits) >= 2, hits
    assert not v.external and not v.console_errors


def test_a_figure_enlarges_on_click(visit):
    v = visit("chapters/raft.html", LAPTOP)
    img = v.page.locator(".cell_output img").first
    shown = img.bounding_box()["width"]
    img.click()
    big = v.page.locator("dialog#dslab-zoom[open] img")
    big.wait_for(timeout=5_000)
    assert big.bounding_box()["width"] > shown * 1.3, "the enlarged figure is not larger"
    v.page.keyboard.press("Escape")
    assert v.page.locator("dialog#dslab-zoom[open]").count() == 0
