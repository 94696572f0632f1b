"""Execute the lab notebooks in parallel before MkDocs renders them one by one.

mkdocs-jupyter executes each notebook when it renders its page, one after another, each in a fresh kernel
(startup, imports, figures: seconds each), and keeps the HTML in a cache keyed by the notebook and its options.
:func:`prerender` fills that cache for every notebook that misses it, ``workers`` at a time, with the same
conversion call and the same key, so the pages then render from the cache. A notebook that fails here is left
alone: mkdocs-jupyter runs it again and reports its error as usual (a strict build fails).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

__all__ = ["prerender"]

log = logging.getLogger("mkdocs.plugins.llmkb")

_OPTIONS = (
    "kernel_name",
    "theme",
    "allow_errors",
    "show_input",
    "no_input",
    "no_prompt",
    "remove_tag_config",
    "highlight_extra_classes",
    "include_requirejs",
    "custom_mathjax_url",
)


def _render_one(path: str, options: dict[str, Any], toc_depth: int, out: str) -> str:
    """Execute and convert one notebook as mkdocs-jupyter would; write its cache entry atomically."""
    from mkdocs_jupyter import convert
    from mkdocs_jupyter import plugin as mj

    body = convert.nb2html(path, execute=True, **options)
    toc_tokens, title = mj._get_nb_toc_tokens(path, toc_depth)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"content": body, "toc_tokens": toc_tokens, "title": title}), encoding="utf-8")
    os.replace(tmp, target)
    return path


def prerender(notebooks: Iterable[Path], jupyter_config: Any, workers: int | None = None) -> int:
    """Execute the notebooks whose rendering is not cached yet, in parallel, into mkdocs-jupyter's cache.

    Args:
        notebooks: paths of the notebooks (``docs/<topic>/lab.py``).
        jupyter_config: the mkdocs-jupyter plugin's config (its ``cache``, ``cache_dir`` and conversion
            options decide the cache key, exactly as the plugin computes it for an executed notebook); the
            caller decides that these notebooks are to be executed.
        workers: processes at once; default: the number of CPUs.

    Returns:
        How many notebooks were rendered here.
    """
    from mkdocs_jupyter import plugin as mj

    cfg = jupyter_config
    if not cfg["cache"] or cfg.get("execute_ignore"):
        return 0
    todo = []
    for nb in notebooks:
        out = mj._get_cache_path(cfg["cache_dir"], mj._compute_cache_key(str(nb), cfg, True))
        if not out.exists():
            todo.append((str(nb), str(out)))
    if not todo:
        return 0
    n = max(1, min(len(todo), workers or os.cpu_count() or 1))
    options = {k: cfg[k] for k in _OPTIONS}
    done = 0
    log.info(f"llmkb: executing {len(todo)} lab notebooks, {n} at a time")
    with ProcessPoolExecutor(n, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_render_one, path, options, cfg["toc_depth"], out) for path, out in todo]
        for fut in as_completed(futures):
            try:
                fut.result()
                done += 1
            except Exception as exc:  # noqa: BLE001 - mkdocs-jupyter re-runs it and reports the error
                log.info(f"llmkb: a lab notebook failed in parallel execution ({type(exc).__name__}); "
                         "mkdocs-jupyter will run it again and report")  # fmt: skip
    return done
