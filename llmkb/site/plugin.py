"""The ``llmkb`` MkDocs plugin.

Hooks, in build order:

- ``on_config``: fixes the lab profile and cache for the whole build (notebook kernels inherit them),
  reads every topic's front matter (a reference to a missing page, or a prerequisite cycle, fails the
  build), builds the navigation when ``mkdocs.yml`` has none, registers widget scripts, and keys
  mkdocs-jupyter's cache by the llmkb sources so it cannot serve outputs of older code.
- ``on_files``: runs the lab experiments (cached), renders their figures, exports widget data, writes
  ``graph.json``, the API reference pages and each lab's ``lab.ipynb`` — all as generated files, so
  nothing is written into ``docs/`` and ``mkdocs serve`` does not loop.
- ``on_page_markdown``: fills ``{{ lab.* }}`` placeholders and the ``<!-- llmkb:* -->`` blocks (roadmap,
  graph, learning path) and adds prerequisites and typed links with backlinks to every topic page.
- ``on_page_content``: converts math to MathML.

With ``LLMKB_FALLBACK=quick`` (``make serve``) a full-profile build shows each experiment whose full result is
not cached from the quick profile instead, marked on its page (:mod:`llmkb.site.preview`), and under
``mkdocs serve`` computes the missing full results in the background (:mod:`llmkb.site.runner`), rebuilding
as they land (``on_serve``, ``on_post_build``, ``on_shutdown``). Without it (``make site``) nothing falls back.
"""

from __future__ import annotations

import hashlib
import html
import importlib
import json
import os
import pkgutil
import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.config import config_options as c
from mkdocs.config.base import Config
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, get_plugin_logger
from mkdocs.structure.files import File, Files
from mkdocs.utils import get_relative_url

from llmkb.site import graph as kgraph
from llmkb.site import notebooks, preview, roadmap
from llmkb.site.mathml import MathError, render_math
from llmkb.site.pages import FrontMatterError, Topic, backlinks, next_topics, read_topics
from llmkb.site.placeholders import PLACEHOLDER, PlaceholderError, outside_code, substitute
from llmkb.site.runner import LabRunner, landed_file

log = get_plugin_logger(__name__)

_REFERENCE_SKIP = {"cli", "commands", "site", "errors", "bench"}
_DATA_URL = re.compile(
    r"\{\{\s*lab\.data_url\(\s*(['\"])(?P<exp>.+?)\1\s*,\s*(['\"])(?P<path>.+?)\3\s*\)\s*\}\}"
)


class _PluginConfig(Config):
    profile = c.Type(str, default="")
    fallback = c.Type(str, default="")
    cache_dir = c.Type(str, default="")
    auto_nav = c.Type(bool, default=True)
    lab_modules = c.Type(list, default=[])


def _llmkb_source_hash() -> str:
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


SEARCH_BOOST: dict[str, float] = {"topic": 4.0, "lab": 0.5, "reference": 0.25}
"""Search weight of a topic page, a lab notebook page and an API reference page."""


REFERENCE_TEXT_CHARS = 200
"""Characters of an API reference entry kept in the search index: its name and docstring summary."""


def trim_search_index(path: Path) -> None:
    """Cut every API reference entry of the search index (written by the search plugin, which runs first) to
    its summary, so that the reference — most of the site's text, with its source listings — does not drown
    the topic pages; its names stay searchable."""
    if not path.is_file():
        return
    index = json.loads(path.read_text(encoding="utf-8"))
    for doc in index.get("docs", []):
        if doc.get("location", "").startswith("reference/"):
            doc["text"] = doc.get("text", "")[:REFERENCE_TEXT_CHARS]
    path.write_text(json.dumps(index, separators=(",", ":")), encoding="utf-8")


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")


class LLMKBPlugin(BasePlugin[_PluginConfig]):
    """Knowledge graph, roadmap, build-time labs and math for the llmkb site."""

    def __init__(self) -> None:
        # kept across the rebuilds of one `mkdocs serve` (the plugin has on_shutdown): per-build state is
        # set in _reset, the background lab run lives as long as the process
        self.runner = LabRunner()
        self.serving = False
        self._reset()

    def _reset(self) -> None:
        self.topics: dict[str, Topic] = {}
        self.results: dict[str, Any] = {}
        self.figure_files: dict[tuple[str, str], File] = {}
        self.data_files: dict[tuple[str, str], File] = {}
        self.topic_files: dict[str, File] = {}
        self.profile = "quick"
        self.fallback = ""
        self.quick: set[str] = set()  # experiments shown from the fallback profile in this build
        self.missing: list[str] = []  # shown experiments without a cached result of the build's profile
        self.cache = Path(".cache/llmkb")
        self.jupyter_execute = True

    # ------------------------------------------------------------------ config
    def on_config(self, config):
        self._reset()
        self.profile = self.config.profile or os.environ.get("LLMKB_PROFILE", "quick")
        if self.profile not in ("quick", "full"):
            raise PluginError(f"llmkb: unknown lab profile {self.profile!r}; use quick or full")
        os.environ["LLMKB_PROFILE"] = self.profile
        self.fallback = self.config.fallback or os.environ.get("LLMKB_FALLBACK", "")
        if self.fallback not in preview.FALLBACKS:
            raise PluginError(f"llmkb: unknown lab fallback {self.fallback!r}; use quick or nothing")
        if self.fallback == self.profile:
            self.fallback = ""
        root = Path(config.config_file_path).resolve().parent
        cache = Path(self.config.cache_dir or os.environ.get("LLMKB_CACHE", root / ".cache" / "llmkb"))
        if not cache.is_absolute():
            cache = root / cache
        os.environ["LLMKB_CACHE"] = str(cache)
        self.cache = cache
        docs = Path(config.docs_dir)
        try:
            self.topics = read_topics(docs)
            self.path = kgraph.learning_path(self.topics)
            roadmap.status(self.topics)
        except (FrontMatterError, kgraph.CycleError, ValueError) as exc:
            raise PluginError(f"llmkb: {exc}") from None
        widgets = (
            sorted((docs / "assets" / "widgets").glob("*.js"))
            if (docs / "assets" / "widgets").is_dir()
            else []
        )
        for w in widgets:
            uri = w.relative_to(docs).as_posix()
            if uri not in [str(s) for s in config.extra_javascript]:
                config.extra_javascript.append(uri)
        jup = config.plugins.get("mkdocs-jupyter")
        if jup is not None:
            jup.config["cache_dir"] = str(
                root / ".cache" / "mkdocs-jupyter" / f"{_llmkb_source_hash()}-{self.profile}"
            )
            self.jupyter_execute = bool(jup.config["execute"])
        if self.config.auto_nav and not config.nav:
            config.nav = self._nav(docs)
        return config

    def _reference_modules(self) -> list[str]:
        import llmkb

        mods = [m.name for m in pkgutil.iter_modules(llmkb.__path__) if m.name not in _REFERENCE_SKIP]
        return sorted(mods)

    def _nav(self, docs: Path) -> list:
        nav: list = [{"Home": "index.md"}]
        topics = []
        for tid in sorted(self.topics, key=lambda t: self.topics[t].number):
            t = self.topics[tid]
            label = f"{t.number}. {t.title}"
            if t.has_lab:
                # the footer's Previous/Next show these titles: name the topic, not just "Notes"
                notes, lab_title = f"{t.title}: notes", f"{t.title}: lab"
                topics.append({label: [{notes: t.src_uri}, {lab_title: f"{t.id}/lab.py"}]})
            else:
                topics.append({label: t.src_uri})
        if topics:
            nav.append({"Topics": topics})
        for title, uri in (
            ("Knowledge graph", "graph.md"),
            ("Learning path", "learning-path.md"),
            ("How this site is built", "how-it-is-built.md"),
        ):
            if (docs / uri).is_file():
                nav.append({title: uri})
        ref = [{"Overview": "reference/index.md"}] + [
            {f"llmkb.{m}": f"reference/{m}.md"} for m in self._reference_modules()
        ]
        nav.append({"API reference": ref})
        return nav

    # ------------------------------------------------------------------- files
    def on_files(self, files: Files, config) -> Files:
        self._add_reference_pages(files, config)
        self._run_labs(files, config)
        for t in self.topics.values():
            f = files.get_file_from_path(t.src_uri)
            if f is not None:
                self.topic_files[t.id] = f
            if t.has_lab:
                self._add_notebook(files, config, t)
        jup = config.plugins.get("mkdocs-jupyter")
        if jup is not None and self.jupyter_execute:
            labs = [Path(config.docs_dir) / t.id / "lab.py" for t in self.topics.values() if t.has_lab]
            # a preview shows notebooks that read quick fallbacks unexecuted: never run those here
            notebooks.prerender(
                [nb for nb in labs if not self._quick_reads(self.topics[nb.parent.name], nb)], jup.config
            )
        g = kgraph.build_graph(self.topics)
        pos = kgraph.layout(g)
        self.graph, self.pos = g, pos
        data = kgraph.to_json(g, pos, lambda n: self.topic_files[n].url if n in self.topic_files else "")
        data["learning_path"] = self.path
        files.append(File.generated(config, "graph.json", content=json.dumps(data, indent=1)))
        return files

    def _add_reference_pages(self, files: Files, config) -> None:
        mods = self._reference_modules()
        lines = [
            "# API reference",
            "",
            "Every public function and class of the `llmkb` package, generated from its",
            "docstrings. Topic pages link here.",
            "",
        ]
        for m in mods:
            lines.append(f"- [`llmkb.{m}`]({m}.md)")
            body = f"# `llmkb.{m}`\n\n::: llmkb.{m}\n"
            files.append(File.generated(config, f"reference/{m}.md", content=body))
        files.append(File.generated(config, "reference/index.md", content="\n".join(lines) + "\n"))

    def _add_notebook(self, files: Files, config, t: Topic) -> None:
        import jupytext

        src = Path(config.docs_dir) / t.id / "lab.py"
        nb = jupytext.read(src, fmt="py:percent")
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        files.append(File.generated(config, f"{t.id}/lab.ipynb", content=jupytext.writes(nb, fmt="ipynb")))

    def _run_labs(self, files: Files, config) -> None:
        from llmkb import lab
        from llmkb.lab.batch import ExperimentFailed, run_batch
        from llmkb.lab.cache import to_jsonable
        from llmkb.lab.registry import is_cached, render_figure

        number = {t.slug: t.number for t in self.topics.values()}
        try:
            for mod in self.config.lab_modules:
                importlib.import_module(mod)
            exps = sorted(
                (e for e in lab.experiments().values() if e.topic in number),
                key=lambda e: (number[e.topic], e.name),
            )
            cached = {n for n in lab.experiments() if is_cached(n, self.profile)} if self.fallback else set()
        except Exception as exc:
            raise PluginError(f"llmkb: importing the lab experiments failed: {exc!r}") from exc
        shown = preview.resolve([e.name for e in exps], self.profile, self.fallback, cached)
        self.missing = [n for n, p in shown.items() if p != self.profile]
        if self.fallback:  # every experiment without a full result, shown or not (a page may quote any)
            self.quick = set(lab.experiments()) - cached
        ran = 0
        for profile in dict.fromkeys(shown.values()):
            group = [n for n, p in shown.items() if p == profile]
            try:
                done = run_batch(group, profile, report=log.info)
            except ExperimentFailed as exc:
                raise PluginError(f"llmkb: {exc}") from exc
            self.results.update(done.results)
            ran += len(done.ran)
        for exp in exps:
            res = self.results[exp.name]
            tag = "-quick" if exp.name in self.quick else ""
            for fig in lab.figures_of(exp.name):
                path = render_figure(fig, res)
                uri = f"figures/{exp.name}/{fig.name}{tag}.png"
                f = File.generated(config, uri, abs_src_path=str(path))
                files.append(f)
                self.figure_files[(exp.name, fig.name)] = f
        note = (
            f", {len(self.missing)} from the quick profile until their full results land"
            if self.missing
            else ""
        )
        log.info(f"lab [{self.profile}]: {len(exps)} experiments shown, {ran} run now (needs included){note}")
        # widget data requested by any page
        docs = Path(config.docs_dir)
        found: list[re.Match] = []
        for md in sorted(docs.rglob("*.md")):
            outside_code(
                md.read_text(encoding="utf-8"), lambda part: found.extend(_DATA_URL.finditer(part)) or part
            )
        for m in found:
            key = (m["exp"], m["path"])
            if key in self.data_files:
                continue
            value = to_jsonable(self._lookup(*key))
            tag = "-quick" if m["exp"] in self.quick else ""
            uri = f"data/{m['exp']}/{_safe_name(m['path'])}{tag}.json"
            f = File.generated(config, uri, content=json.dumps(value, separators=(",", ":")))
            files.append(f)
            self.data_files[key] = f

    def _lookup(self, exp: str, path: str) -> Any:
        if exp not in self.results:
            from llmkb import lab

            if exp not in lab.experiments():
                raise PlaceholderError(f"no experiment named {exp!r}")
            self.results[exp] = lab.run(exp, "quick" if exp in self.quick else self.profile)
        try:
            return self.results[exp].path(path)
        except (KeyError, IndexError, TypeError):
            raise PlaceholderError(f"experiment {exp!r} has no result at {path!r}") from None

    # ------------------------------------------------------------------- pages
    def _set_search_weight(self, page) -> None:
        """Topic pages rank first for their own terms; their lab notebooks and the API reference (most of the
        index's text) rank after them (Material reads ``search.boost`` from the page's meta)."""
        src = page.file.src_uri
        t = self.topics.get(posixpath.dirname(src))
        if t is not None and src == t.src_uri:
            boost = SEARCH_BOOST["topic"]
        elif src.endswith("/lab.py"):
            boost = SEARCH_BOOST["lab"]
        elif src.startswith("reference/lab"):
            page.meta["search"] = {"exclude": True}  # the labs' own code: their topic pages are what to find
            return
        elif src.startswith("reference/"):
            boost = SEARCH_BOOST["reference"]
        else:
            return
        page.meta.setdefault("search", {}).setdefault("boost", boost)

    def on_page_markdown(self, markdown: str, page, config, files: Files) -> str:
        self._set_search_weight(page)
        src = page.file.src_uri
        if src.endswith(".py"):
            return markdown

        def figure_path(exp: str, name: str) -> str:
            f = self.figure_files.get((exp, name))
            if f is None:
                raise PlaceholderError(f"no figure {name!r} for experiment {exp!r}")
            return posixpath.relpath(f.src_uri, posixpath.dirname(src) or ".")

        def figure_caption(exp: str, name: str) -> str:
            from llmkb.lab.registry import get_figure

            return get_figure(exp, name).caption

        def data_url(exp: str, path: str) -> str:
            return get_relative_url(self.data_files[(exp, path)].url, page.url)

        from_quick: set[str] = set()

        def quick(exp: str) -> bool:
            if exp in self.quick:
                from_quick.add(exp)
                return True
            return False

        if PLACEHOLDER.search(markdown):
            try:
                markdown = substitute(
                    markdown,
                    lookup=self._lookup,
                    figure_path=figure_path,
                    data_url=data_url,
                    figure_caption=figure_caption,
                    quick=quick,
                )
            except PlaceholderError as exc:
                raise PluginError(f"llmkb: {src}: {exc}") from None

        def href(tid: str) -> str:
            return get_relative_url(self.topic_files[tid].url, page.url)

        if "<!-- llmkb:roadmap -->" in markdown:
            markdown = markdown.replace("<!-- llmkb:roadmap -->", roadmap.render(self.topics, href))
        if "<!-- llmkb:graph -->" in markdown:
            svg = kgraph.to_svg(self.graph, self.pos, href)
            markdown = markdown.replace("<!-- llmkb:graph -->", f'<div class="llmkb-graph-wrap">{svg}</div>')
        if "<!-- llmkb:learning-path -->" in markdown:
            markdown = markdown.replace("<!-- llmkb:learning-path -->", self._learning_path_md(src))
        topic = next((t for t in self.topics.values() if t.src_uri == src), None)
        if topic is not None:
            markdown = self._decorate_topic(markdown, topic)
        if from_quick:
            markdown = preview.after_h1(markdown, preview.banner_markdown())
        return markdown

    def _rel(self, src: str, tid: str) -> str:
        return posixpath.relpath(self.topics[tid].src_uri, posixpath.dirname(src) or ".")

    def _learning_path_md(self, src: str) -> str:
        out = []
        for i, tid in enumerate(self.path, 1):
            t = self.topics[tid]
            pre = ", ".join(f"[{self.topics[p].title}]({self._rel(src, p)})" for p in t.prerequisites)
            line = f"{i}. **[{t.title}]({self._rel(src, tid)})** — {t.summary}"
            if pre:
                line += f"  \n   *Needs:* {pre}"
            out.append(line)
        return "\n".join(out) if out else "*No topic pages yet.*"

    def _decorate_topic(self, markdown: str, t: Topic) -> str:
        src = t.src_uri

        def links(ids: list[str]) -> str:
            return " · ".join(f"[{self.topics[i].title}]({self._rel(src, i)})" for i in ids) or "—"

        head = []
        if t.prerequisites:
            head.append(f'!!! info "Before you read"\n    Prerequisites: {links(t.prerequisites)}\n')
        if t.modules:
            code = ", ".join(f"[`{m}`][{m}]" for m in t.modules)
            head.append(
                f"<small>Code: {code}"
                + (" · [Lab notebook](lab.py) · [download .ipynb](lab.ipynb)" if t.has_lab else "")
                + "</small>\n"
            )
        nexts = next_topics(self.topics)[t.id]
        back = sorted(backlinks(self.topics)[t.id], key=lambda i: self.topics[i].number)
        tail = [
            "",
            "## Connections",
            "",
            "| | |",
            "|---|---|",
            f"| **Prerequisites** | {links(t.prerequisites)} |",
            f"| **Related** | {links(t.related)} |",
            f"| **Next** | {links(nexts)} |",
            f"| **Referenced by** | {links(back)} |",
            "",
        ]
        # put the header block right after the first H1 (or at the top)
        m = re.search(r"^# .*$", markdown, re.M)
        block = "\n".join(head)
        if m:
            markdown = markdown[: m.end()] + "\n\n" + block + markdown[m.end() :]
        else:
            markdown = block + "\n" + markdown
        return markdown.rstrip() + "\n" + "\n".join(tail)

    def _notebook_quick(self, page) -> set[str]:
        """The quick fallbacks a lab notebook page reads (its topic's experiments and its ``lab.run`` calls)."""
        src = page.file.src_uri
        t = self.topics.get(posixpath.dirname(src))
        if t is None or src != f"{t.id}/lab.py" or page.file.abs_src_path is None:
            return set()
        return self._quick_reads(t, Path(page.file.abs_src_path))

    def _quick_reads(self, t: Topic, notebook: Path) -> set[str]:
        """The quick fallbacks topic ``t``'s notebook reads (its experiments and its ``lab.run`` calls)."""
        if not self.quick:
            return set()
        from llmkb import lab

        names = preview.notebook_experiments(notebook)
        names |= {e.name for e in lab.experiments().values() if e.topic == t.slug}
        return names & self.quick

    def on_pre_page(self, page, config, files: Files):
        # mkdocs-jupyter (after llmkb in mkdocs.yml) reads `execute` per page: a notebook that reads a missing
        # full result is shown unexecuted in a preview, instead of running full experiments in its kernel
        jup = config.plugins.get("mkdocs-jupyter")
        if jup is not None and page.file.src_uri.endswith("/lab.py"):
            jup.config["execute"] = self.jupyter_execute and not self._notebook_quick(page)
        return page

    def on_page_content(self, html_text: str, page, config, files: Files) -> str:
        if page.file.src_uri.endswith("/lab.py") and self._notebook_quick(page):
            html_text = preview.notebook_banner_html() + html_text
        if "arithmatex" not in html_text:
            return html_text
        try:
            return render_math(html_text)
        except MathError as exc:
            raise PluginError(f"llmkb: {page.file.src_uri}: {html.escape(str(exc))}") from None

    # ------------------------------------------------------------------- serve
    def _start_runner(self) -> None:
        if (
            self.serving
            and self.missing
            and self.runner.start(self.missing, self.profile, self.cache, self.config.lab_modules)
        ):
            log.info(
                f"lab [{self.profile}]: computing {len(self.missing)} missing results in the background; "
                "pages reload as they land"
            )

    def on_serve(self, server, config, builder):
        if self.fallback:
            watched = landed_file(self.cache, self.profile).parent
            watched.mkdir(parents=True, exist_ok=True)
            server.watch(str(watched), recursive=False)
            self.serving = True
            self._start_runner()
        return server

    def on_post_build(self, config) -> None:
        trim_search_index(Path(config.site_dir) / "search" / "search_index.json")
        self._start_runner()  # a rebuild under serve whose missing results no run is computing

    def on_shutdown(self) -> None:
        self.runner.stop()
