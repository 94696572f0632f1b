"""`make serve` before the full labs are cached: progress lines, the quick-profile fallback and its marks,
the background run that swaps full results in, and `make site`, which never falls back."""

from __future__ import annotations

import importlib
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
from sitekit import ROOT, build, make_project, topic_page

from llmkb.cli import main
from llmkb.lab import experiment, registry
from llmkb.lab.batch import ExperimentFailed, format_elapsed, progress_line, run_batch
from llmkb.lab.cache import count_runs
from llmkb.site import preview
from llmkb.site.placeholders import substitute

pytestmark = pytest.mark.xdist_group("site-fixtures")

LAB = """
import time

from llmkb.lab import experiment

@experiment("p/base", topic="p", profiles={"quick": {"n": 2, "fail": 0}, "full": {"n": 5, "fail": 0}})
def base(cfg, ctx):
    if cfg["fail"]:
        raise RuntimeError("boom\\nsecond line")
    return {"n": cfg["n"]}

@experiment("p/top", topic="p", profiles={"quick": {}, "full": {}}, needs=["p/base"])
def top(cfg, ctx):
    return {"twice": 2 * ctx.need("p/base")["n"]}

@experiment("q/other", topic="q", profiles={"quick": {}, "full": {}})
def other(cfg, ctx):
    return {"x": 1}
"""


@pytest.fixture
def fake_lab(tmp_path, monkeypatch):
    """A throw-away lab module (p/base, p/top needing it, q/other) and an empty cache."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "preview_lab_t.py").write_text(LAB, encoding="utf-8")
    monkeypatch.syspath_prepend(str(src))
    monkeypatch.setenv("LLMKB_CACHE", str(tmp_path / "cache"))
    saved = dict(registry._EXPERIMENTS)
    sys.modules.pop("preview_lab_t", None)
    yield importlib.import_module("preview_lab_t")
    registry._EXPERIMENTS.clear()
    registry._EXPERIMENTS.update(saved)


def test_progress_line_format():
    assert [format_elapsed(s) for s in (0.4, 59.4, 130, 3599, 3720)] == [
        "0s",
        "59s",
        "2m10s",
        "59m59s",
        "1h02m",
    ]
    assert (
        progress_line("full", 3, 20, "positional/compare", elapsed=89.0)
        == "lab [full] 3/20 positional/compare … started (elapsed 1m29s)"
    )
    assert (
        progress_line("full", 3, 20, "positional/compare", elapsed=130.2, seconds=41.23)
        == "lab [full] 3/20 positional/compare … 41.2 s (elapsed 2m10s)"
    )
    assert (
        progress_line("full", 2, 20, "site/model", elapsed=209, seconds=120.2, running=True)
        == "lab [full] 2/20 site/model … running for 2m00s (elapsed 3m29s)"
    )
    assert (
        progress_line("quick", 1, 2, "p/base", elapsed=2, seconds=1.0, error="RuntimeError: boom")
        == "lab [quick] 1/2 p/base … failed after 1.0 s: RuntimeError: boom (elapsed 2s)"
    )


def test_run_batch_reports_each_run_needs_first_and_nothing_when_cached(fake_lab):
    lines: list[str] = []
    done = run_batch(["p/top"], "quick", report=lines.append)
    assert done.ran == ["p/base", "p/top"] and done.results["p/top"]["twice"] == 4
    assert [re.sub(r"\d+\.\d s", "T s", line) for line in lines] == [
        "lab [quick] 1/2 p/base … started (elapsed 0s)",
        "lab [quick] 1/2 p/base … T s (elapsed 0s)",
        "lab [quick] 2/2 p/top … started (elapsed 0s)",
        "lab [quick] 2/2 p/top … T s (elapsed 0s)",
    ]
    lines.clear()
    again = run_batch(["p/top", "q/other"], "quick", report=lines.append)
    assert again.ran == ["q/other"] and set(again.results) == {"p/top", "q/other"}
    assert len(lines) == 2 and all(" 1/1 q/other …" in line for line in lines)


def test_run_batch_reports_a_long_experiment_while_it_runs(fake_lab):
    @experiment("q/slow", topic="q", profiles={"quick": {}, "full": {}})
    def slow(cfg, ctx):  # registered until fake_lab restores the registry
        time.sleep(0.5)
        return {"x": 1}

    lines: list[str] = []
    run_batch(["q/slow"], "quick", report=lines.append, heartbeat=0.1)
    beats = [line for line in lines if " … running for " in line]
    assert lines[0].endswith("started (elapsed 0s)") and 2 <= len(beats) == len(lines) - 2 <= 6
    assert lines[1] == "lab [quick] 1/1 q/slow … running for 0s (elapsed 0s)"


def test_run_batch_failure_is_one_line_and_keep_going_skips_dependents(fake_lab, monkeypatch):
    exp = registry._EXPERIMENTS["p/base"]
    monkeypatch.setitem(exp.profiles, "quick", {"n": 2, "fail": 1})
    lines: list[str] = []
    with pytest.raises(ExperimentFailed, match=r"^experiment p/base failed: RuntimeError: boom second line$"):
        run_batch(["p/top"], "quick", report=lines.append)
    assert lines[-1].startswith("lab [quick] 1/2 p/base … failed after ")
    done = run_batch(["p/top", "q/other"], "quick", report=lines.append, keep_going=True)
    assert done.ran == ["q/other"] and set(done.results) == {"q/other"}
    assert done.failed == {"p/base": "RuntimeError: boom second line", "p/top": "needs p/base, which failed"}


def test_cli_runs_several_targets_and_rewrites_the_landed_file_per_topic(fake_lab, tmp_path, capsys):
    landed = tmp_path / "landed" / "full"
    assert (
        main(["lab", "run", "q/other", "p", "--profile", "full", "--no-bars", "--landed", str(landed)]) == 0
    )
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0].startswith("q/other: ran -> ")
    assert "lab [full] 3/3 p/top … started" in captured.err
    assert landed.read_text().split()[1] == "p"  # the last topic whose chosen results are all in
    assert main(["lab", "run", "--profile", "full"]) == 2
    assert "pass --all" in capsys.readouterr().err


def test_placeholders_mark_quick_results_and_nothing_else():
    results = {"n": 3.14159, "rows": [{"a": 1}], "code": "x"}
    kw = {
        "lookup": lambda exp, path: results[path],
        "figure": lambda e, n, cap, q: f"<figure {e} quick={q}></figure>",
        "data_url": lambda e, p: "d.json",
    }
    page = (
        '{{ lab.value("slow", "n", ".2f") }}|{{ lab.value("fast", "n", ".2f") }}\n\n'
        '{{ lab.table("slow", "rows") }}\n\n{{ lab.figure("slow", "fig") }}\n\n{{ lab.figure("fast", "fig") }}'
    )
    out = substitute(page, quick=lambda exp: exp == "slow", **kw)
    first = out.split("\n")[0]
    assert (
        first
        == '<span class="llmkb-quick" title="quick-profile result: the full one is being computed">3.14</span>|3.14'
    )
    assert (
        '<div class="llmkb-quick" title="quick-profile result: the full one is being computed" markdown>\n\n| a |'
        in out
    )
    assert "<figure slow quick=True>" in out and "<figure fast quick=False>" in out
    assert "llmkb-quick" not in substitute(page, **kw)


def test_resolve_falls_back_only_in_a_preview():
    names = ["a", "b"]
    assert preview.resolve(names, "full", "quick", cached={"a"}) == {"a": "full", "b": "quick"}
    assert preview.resolve(names, "full", "", cached=set()) == {"a": "full", "b": "full"}  # make site
    assert preview.resolve(names, "quick", "quick", cached=set()) == {"a": "quick", "b": "quick"}


def test_make_site_never_falls_back_and_make_serve_does():
    def recipe(target: str) -> str:
        out = subprocess.run(
            ["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        return next(line for line in out.splitlines() if "mkdocs " in line)

    assert recipe("site").split() == [
        "LLMKB_PROFILE=full",
        "LLMKB_FALLBACK=",
        ".venv/bin/mkdocs",
        "build",
        "--strict",
    ]
    assert recipe("serve").startswith("LLMKB_PROFILE=full LLMKB_FALLBACK=quick .venv/bin/mkdocs serve ")


PAGE_LAB = """
from llmkb.lab import experiment, figure

@experiment("alpha/sq", topic="alpha", profiles={"quick": {"n": 3}, "full": {"n": 7}})
def sq(cfg, ctx):
    return {"best": cfg["n"] ** 2, "rows": [{"n": cfg["n"]}]}

@figure("alpha/sq", "bar", caption="Bar")
def bar(res):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.bar([0], [res["best"]])
    return fig
"""


NOTEBOOK = """# %% [markdown]
# # Alpha lab

# %%
import preview_page_lab  # noqa: F401
from llmkb import lab

print("best is", lab.run("alpha/sq")["best"])
"""

JUPYTER = """  - mkdocs-jupyter:
      include: ["*/lab.py"]
      execute: true
      allow_errors: false
"""


def _page_project(tmp_path):
    (tmp_path / "pylab").mkdir()
    (tmp_path / "pylab" / "preview_page_lab.py").write_text(PAGE_LAB, encoding="utf-8")
    body = """
    Best: {{ lab.value("alpha/sq", "best") }}.

    {{ lab.table("alpha/sq", "rows") }}

    {{ lab.figure("alpha/sq", "bar") }}
    """
    pages = {
        "01-alpha/index.md": topic_page("Alpha", body=textwrap.dedent(body), summary="s"),
        "01-alpha/lab.py": NOTEBOOK,
    }
    project = make_project(tmp_path / "proj", pages, lab_modules=["preview_page_lab"])
    yml = project / "mkdocs.yml"  # the lab notebook executed
    yml.write_text(yml.read_text() + JUPYTER, encoding="utf-8")
    return project


def test_preview_build_shows_quick_marked_then_full_and_site_build_never_falls_back(tmp_path, monkeypatch):
    project = _page_project(tmp_path)
    monkeypatch.setenv("LLMKB_CACHE", str(project / ".cache" / "llmkb"))
    page = project / "site" / "01-alpha" / "index.html"
    notebook = project / "site" / "01-alpha" / "lab" / "index.html"
    env = {"LLMKB_FALLBACK": "quick"}

    proc = build(project, profile="full", extra_env=env, pythonpath=tmp_path / "pylab")
    assert proc.returncode == 0, proc.stderr
    html = page.read_text(encoding="utf-8")
    assert preview.BANNER_TITLE in html and 'Best: <span class="llmkb-quick"' in html and ">9</span>" in html
    assert (
        'class="llmkb-figure llmkb-quick"' in html
        and "bar-quick-light.svg" in html
        and "bar-quick-dark.svg" in html
    )
    assert count_runs() == 1  # the quick result only; no full run in the build
    html = notebook.read_text(encoding="utf-8")
    assert preview.NOTEBOOK_TITLE in html and "best is 9" not in html  # shown, not executed

    proc = build(project, profile="full", extra_env={"LLMKB_FALLBACK": ""}, pythonpath=tmp_path / "pylab")
    assert proc.returncode == 0, proc.stderr
    html = page.read_text(encoding="utf-8")
    assert "llmkb-quick" not in html and "Best: 49." in html and count_runs() == 2  # ran full, never quick
    assert (project / ".cache" / "llmkb" / "runs.log").read_text().splitlines()[-1].split()[1:3] == [
        "full",
        "alpha/sq",
    ]

    proc = build(project, profile="full", extra_env=env, pythonpath=tmp_path / "pylab")
    assert proc.returncode == 0, proc.stderr
    html = page.read_text(encoding="utf-8")
    assert "llmkb-quick" not in html and preview.BANNER_TITLE not in html and "Best: 49." in html
    assert count_runs() == 2  # the full result is cached now: the preview shows it and runs nothing
    html = notebook.read_text(encoding="utf-8")
    assert "best is 49" in html and preview.NOTEBOOK_TITLE not in html


SERVE_LAB = """
import time

from llmkb.lab import experiment

@experiment("alpha/sq", topic="alpha", profiles={"quick": {"n": 3}, "full": {"n": 7}})
def sq(cfg, ctx):
    return {"best": cfg["n"] ** 2}

@experiment("beta/slow", topic="beta", profiles={"quick": {"wait": 0}, "full": {"wait": 300}})
def slow(cfg, ctx):
    time.sleep(cfg["wait"])
    return {"waited": cfg["wait"]}
"""


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    return [int(c) for t in tasks.iterdir() for c in (t / "children").read_text().split()]


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return stat.is_file() and stat.read_text().split(") ")[1][0] != "Z"


def _builds_done(log: str) -> bool:
    """Whether every build ``mkdocs serve`` started has finished (none is running now)."""
    return log.count("Building documentation...") == log.count("Documentation built in")


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode()
    except OSError:
        return ""


def _wait_for(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def test_serve_swaps_full_results_in_as_they_land_and_ctrl_c_stops_the_runner(tmp_path):
    (tmp_path / "pylab").mkdir()
    (tmp_path / "pylab" / "preview_serve_lab.py").write_text(SERVE_LAB, encoding="utf-8")
    pages = {
        "01-alpha/index.md": topic_page(
            "Alpha", body='Best: {{ lab.value("alpha/sq", "best") }}.', summary="a"
        ),
        "02-beta/index.md": topic_page(
            "Beta", body='Waited {{ lab.value("beta/slow", "waited") }} s.', summary="b"
        ),
    }
    project = make_project(tmp_path / "proj", pages, lab_modules=["preview_serve_lab"])
    yml = project / "mkdocs.yml"
    yml.write_text(yml.read_text().split("  - autorefs\n")[0], encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cache = project / ".cache" / "llmkb"
    env = {
        **os.environ,
        "LLMKB_PROFILE": "full",
        "LLMKB_FALLBACK": "quick",
        "LLMKB_CACHE": str(cache),
        "NO_MKDOCS_2_WARNING": "1",
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "pylab"), str(ROOT)]),
    }
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        serve = subprocess.Popen(
            [
                sys.executable,
                "-X",
                "faulthandler",
                "-m",
                "mkdocs",
                "serve",
                "--strict",
                "-a",
                f"127.0.0.1:{port}",
            ],
            cwd=project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # as from a terminal: a child inherits an *ignored* SIGINT, and Python then installs no Ctrl-C handler
            preexec_fn=_default_sigint,
        )
    base = f"http://127.0.0.1:{port}/fixture"
    try:
        assert _wait_for(lambda: 'Best: <span class="llmkb-quick"' in _get(f"{base}/01-alpha/"), 120), (
            log.read_text()
        )
        # the runner computes alpha (fast), the serve rebuilds, the page shows the full result unmarked
        assert _wait_for(lambda: "Best: 49." in _get(f"{base}/01-alpha/"), 120), log.read_text()
        assert preview.BANNER_TITLE not in _get(f"{base}/01-alpha/")
        assert 'Waited <span class="llmkb-quick"' in _get(
            f"{base}/02-beta/"
        )  # beta's full run is still going
        runners = _children(serve.pid)
        assert len(runners) == 1 and _alive(runners[0])
        assert _wait_for(lambda: "lab [full] 2/2 beta/slow … started" in log.read_text(), 60), log.read_text()
        # Ctrl-C once no rebuild is running: what this test checks is that serve's shutdown stops the runner; a
        # Ctrl-C that lands inside a build is mkdocs' own business (a hang seen twice in loaded runs, with serve's
        # main thread back in its build loop, may have been one swallowed there)
        assert _wait_for(lambda: _builds_done(log.read_text()), 60), log.read_text()
        sigint_here = signal.getsignal(signal.SIGINT)
        masks = [
            ln for ln in Path(f"/proc/{serve.pid}/status").read_text().splitlines() if ln.startswith("Sig")
        ]
        serve.send_signal(signal.SIGINT)  # Ctrl-C (to serve alone: its shutdown must stop the runner)
        try:
            serve.wait(60)
        except subprocess.TimeoutExpired:
            # say where it hangs: faulthandler prints every thread's stack on SIGABRT
            serve.send_signal(signal.SIGABRT)
            serve.wait(10)
            pytest.fail(
                f"mkdocs serve did not stop on Ctrl-C within 60 s (SIGINT in this worker: {sigint_here!r}; "
                f"serve's signal masks at Ctrl-C: {masks}):\n" + log.read_text()[-6000:]
            )
        assert _wait_for(lambda: not _alive(runners[0]), 30), log.read_text()
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
    runs = [line.split()[1:3] for line in (cache / "runs.log").read_text().splitlines()]
    assert ["full", "alpha/sq"] in runs and ["full", "beta/slow"] not in runs
    assert not list((cache / "full" / "beta" / "slow").glob(".tmp-*"))  # the interrupted run left nothing


def test_background_run_stops_by_itself_when_serve_is_killed(tmp_path):
    (tmp_path / "pylab").mkdir()
    (tmp_path / "pylab" / "preview_serve_lab.py").write_text(SERVE_LAB, encoding="utf-8")
    cache, log = tmp_path / "cache", tmp_path / "runner.log"
    # a stand-in for `mkdocs serve`: starts the runner exactly as the plugin does, then waits to be killed
    parent = textwrap.dedent(
        f"""
        import subprocess, time
        from pathlib import Path
        from llmkb.site.runner import command
        cmd = command(["beta/slow"], "full", Path({str(cache)!r}) / "landed" / "full", ["preview_serve_lab"])
        child = subprocess.Popen(cmd, stderr=open({str(log)!r}, "w"))
        print(child.pid, flush=True)
        time.sleep(600)
        """
    )
    env = {
        **os.environ,
        "LLMKB_CACHE": str(cache),
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "pylab"), str(ROOT)]),
    }
    proc = subprocess.Popen([sys.executable, "-c", parent], env=env, stdout=subprocess.PIPE, text=True)
    try:
        runner = int(proc.stdout.readline())
        assert _wait_for(lambda: "1/1 beta/slow … started" in log.read_text(), 60), log.read_text()
    finally:
        proc.kill()
        proc.wait()
    assert _wait_for(lambda: not _alive(runner), 30), log.read_text()
    assert log.read_text().rstrip().endswith("llmkb: interrupted")
    assert not list((cache / "full" / "beta" / "slow").iterdir())  # no result, no staging folder left
