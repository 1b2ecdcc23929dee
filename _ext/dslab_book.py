"""Sphinx extension of the dslab book: what the theme and myst-nb cannot be told in _config.yml.

Every page must work offline and behind a slow or dead CDN, so nothing a reader needs may come
from another host. This extension:

- serves MathJax from the site itself (the copy shipped by the PyPI package
  ``sphinx-mathjax-offline``, a dependency of the ``book`` extra): only the files a page can load
  (the TeX-to-HTML bundle, its fonts, TeX extensions loaded on demand, the menu) are copied;
- drops sphinx-thebe's scripts (thebe itself would come from a CDN, and the script was added
  twice) and the saved ipywidgets state a notebook may still carry (the book shows the static
  note of :mod:`dslab.viz.live` instead of dead widgets, see ``nb_mime_priority_overrides``);
- hides ``# NBVAL_...`` marker comments (they tell nbval what to compare, not the reader);
- numbers exercises per chapter (Exercise 1, 2, ... in every chapter) instead of across the book;
- drops the index column of a pandas table when it is only the row number 0, 1, 2, ..., and
  wraps every table of a cell's output in a block that scrolls sideways when it is too wide;
- makes ``repository.url`` in ``_config.yml`` the one setting that names the repository: the
  intro's ``{{ repository }}`` substitution, the repository button and the Binder launch button
  all come from it, and while it is empty they say so or stay hidden instead of breaking.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

#: MathJax files a page can load: the combined TeX input / CommonHTML output bundle, its fonts,
#: the TeX extensions its autoloader fetches on demand, and the right-click menu.
MATHJAX_FILES = (
    "tex-chtml.js",
    "output/chtml/fonts/woff-v2",
    "input/tex/extensions",
    "ui",
    "a11y",
)
MATHJAX_DIR = "mathjax"

_NBVAL_MARKER = re.compile(r"^[ \t]*#[ \t]*NBVAL_[A-Z_]+[ \t]*\n?", re.M)


# -- repository and launch buttons ----------------------------------------------------------------
def _configure_repository(app: Sphinx, config: Any) -> None:
    opts = config.html_theme_options
    url = str(opts.get("repository_url") or "").strip().rstrip("/")
    subs = dict(config.myst_substitutions or {})
    if url:
        opts["use_repository_button"] = True
        subs.setdefault("repository", f"<{url}>")
    else:
        # No public address yet: no button may point nowhere (the theme would fail on an empty
        # URL), and the text says where the address goes.
        launch = dict(opts.get("launch_buttons") or {})
        opts["launch_buttons"] = {k: v for k, v in launch.items() if not k.endswith("_url")}
        for key in ("use_repository_button", "use_issues_button", "use_edit_page_button",
                    "use_source_button"):
            opts[key] = False
        subs.setdefault(
            "repository",
            "not published yet (its address goes in `repository.url` in `_config.yml`, which "
            "also switches on the repository and launch buttons)",
        )
    config.myst_substitutions = subs


# -- offline MathJax ------------------------------------------------------------------------------
def _mathjax_source() -> Path | None:
    try:
        import importlib.util

        spec = importlib.util.find_spec("sphinx-mathjax-offline")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    src = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax"
    return src if (src / "tex-chtml.js").is_file() else None


def _use_local_mathjax(app: Sphinx, config: Any) -> None:
    if _mathjax_source() is None:
        raise RuntimeError(
            "the book serves MathJax itself, from the package sphinx-mathjax-offline; install "
            "the book's dependencies: pip install -e '.[book]'"
        )
    config.mathjax_path = f"{MATHJAX_DIR}/tex-chtml.js"


def _copy_mathjax(app: Sphinx, exc: Exception | None) -> None:
    if exc is not None or app.builder.format != "html":
        return
    src = _mathjax_source()
    dest = Path(app.outdir) / "_static" / MATHJAX_DIR
    for rel in MATHJAX_FILES:
        s, d = src / rel, dest / rel
        d.parent.mkdir(parents=True, exist_ok=True)
        if s.is_dir():
            shutil.copytree(s, d, dirs_exist_ok=True)
        else:
            shutil.copy2(s, d)


# -- page scripts ---------------------------------------------------------------------------------
def _unwanted_script(js: Any) -> bool:
    filename = str(js) if js is not None else ""
    attrs = getattr(js, "attributes", {}) or {}
    body = attrs.get("body", "") or ""
    return (
        "sphinx-thebe" in filename
        or "THEBE_JS_URL" in body
        or attrs.get("type") == "application/vnd.jupyter.widget-state+json"
        or filename.startswith(("http://", "https://", "//"))
    )


def _drop_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    if "script_files" in context:
        context["script_files"] = [js for js in context["script_files"]
                                   if not _unwanted_script(js)]
    if "css_files" in context:
        context["css_files"] = [c for c in context["css_files"] if "sphinx-thebe" not in str(c)]


def _drop_thebe_nodes(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for raw in list(doctree.findall(nodes.raw)):
        text = raw.astext()
        if "text/x-thebe-config" in text or "kernelName =" in text:
            raw.parent.remove(raw)


# -- notebook cells -------------------------------------------------------------------------------
def _in_class(node: nodes.Node, cls: str) -> bool:
    parent = node.parent
    while parent is not None:
        if cls in parent.get("classes", []):
            return True
        parent = parent.parent
    return False


def _strip_nbval_markers(app: Sphinx, doctree: nodes.document) -> None:
    for block in list(doctree.findall(nodes.literal_block)):
        if not _in_class(block, "cell_input"):
            continue
        text = block.astext()
        clean = _NBVAL_MARKER.sub("", text)
        if clean != text:
            new = nodes.literal_block(clean, clean, **block.attributes)
            block.replace_self(new)


def _is_row_number_index(table: Any) -> bool:
    body = table.find("tbody")
    if body is None:
        return False
    rows = body.find_all("tr", recursive=False)
    heads = [r.find_all("th", recursive=False) for r in rows]
    if not rows or any(len(h) != 1 for h in heads):
        return False
    thead = table.find("thead")
    if thead is not None and len(thead.find_all("tr", recursive=False)) != 1:
        return False  # a named index or a column MultiIndex: the index means something
    return [h[0].get_text(strip=True) for h in heads] == [str(i) for i in range(len(rows))]


def _tidy_table_html(html: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    changed = False
    for table in soup.find_all("table"):
        if "dataframe" in (table.get("class") or []) and _is_row_number_index(table):
            for tr in table.find_all("tr"):
                first = tr.find(["th", "td"])
                if first is not None:
                    first.decompose()
            changed = True
        if not (table.parent and "dslab-table-scroll" in (table.parent.get("class") or [])):
            wrapper = soup.new_tag("div", attrs={"class": "dslab-table-scroll"})
            table.wrap(wrapper)
            changed = True
    return str(soup) if changed else html


def _tidy_tables(app: Sphinx, doctree: nodes.document) -> None:
    for raw in list(doctree.findall(nodes.raw)):
        if "html" not in raw.get("format", "") or "<table" not in raw.astext():
            continue
        if not _in_class(raw, "cell_output"):
            continue
        html = _tidy_table_html(raw.astext())
        if html != raw.astext():
            raw.replace_self(nodes.raw("", html, format="html"))


# -- exercise numbers -----------------------------------------------------------------------------
def _number_exercises_per_chapter(app: Sphinx, env: Any) -> list[str]:
    for numbers in env.toc_fignumbers.values():
        exercises = numbers.get("exercise")
        if not exercises:
            continue
        in_order = sorted(exercises.items(), key=lambda kv: kv[1])
        numbers["exercise"] = {key: (i,) for i, (key, _) in enumerate(in_order, start=1)}
    return []


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", _configure_repository)
    app.connect("config-inited", _use_local_mathjax)
    app.connect("build-finished", _copy_mathjax)
    app.connect("doctree-read", _strip_nbval_markers)
    app.connect("doctree-read", _tidy_tables)
    app.connect("doctree-resolved", _drop_thebe_nodes, priority=900)
    app.connect("env-get-updated", _number_exercises_per_chapter, priority=900)
    app.connect("html-page-context", _drop_scripts, priority=900)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
