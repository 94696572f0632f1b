"""The lab pipeline: cached results keyed by code, config, profile and needs; atomic storage;
the `llmkb lab` CLI."""

from __future__ import annotations

import dataclasses
import importlib
import sys
import textwrap

import numpy as np
import pytest

from llmkb import lab
from llmkb.cli import main
from llmkb.lab import cache, registry


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMKB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def lab_pkg(tmp_path, monkeypatch):
    """A throw-away package with an experiment module that imports a helper module."""
    pkg = tmp_path / "src" / "labpkg_t"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "helper.py").write_text("FACTOR = 2\n")
    (pkg / "unrelated.py").write_text("X = 1\n")
    (pkg / "exp.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            from labpkg_t.helper import FACTOR
            from llmkb.lab import experiment

            CALLS = []

            @experiment("t/double", topic="t", profiles={"quick": {"n": 3}, "full": {"n": 5}})
            def double(cfg, ctx):
                CALLS.append(cfg["n"])
                (ctx.out_dir / "artifact.txt").write_text("kept")
                return {"v": np.arange(cfg["n"]) * FACTOR, "nested": {"a": [1, {"b": np.ones(2)}]}, "s": "x"}

            @experiment("t/uses", topic="t", profiles={"quick": {}, "full": {}}, needs=["t/double"])
            def uses(cfg, ctx):
                return {"sum": int(ctx.need("t/double")["v"].sum())}
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    # experiments registered by this module must not leak into other tests
    saved = dict(registry._EXPERIMENTS)
    sys.modules.pop("labpkg_t.exp", None)
    mod = importlib.import_module("labpkg_t.exp")
    yield pkg, mod
    registry._EXPERIMENTS.clear()
    registry._EXPERIMENTS.update(saved)
    cache.clear_code_hash_cache()
    for name in [m for m in sys.modules if m.startswith("labpkg_t")]:
        sys.modules.pop(name)


def test_run_caches_and_roundtrips_arrays(tmp_cache, lab_pkg):
    _, mod = lab_pkg
    r1 = lab.run("t/double", "quick")
    assert r1.ran and mod.CALLS == [3]
    np.testing.assert_array_equal(r1["v"], [0, 2, 4])
    np.testing.assert_array_equal(r1.path("nested.a.1.b"), [1.0, 1.0])
    assert (r1.dir / "artifact.txt").read_text() == "kept"
    r2 = lab.run("t/double", "quick")
    assert not r2.ran and mod.CALLS == [3] and r2.key == r1.key
    r3 = lab.run("t/double", "full")
    assert r3.ran and r3.key != r1.key and list(r3["v"]) == [0, 2, 4, 6, 8]
    assert cache.count_runs() == 2


def test_editing_an_imported_module_changes_the_key_unrelated_does_not(tmp_cache, lab_pkg):
    pkg, _ = lab_pkg
    k1 = registry.key_of("t/double", "quick")
    (pkg / "unrelated.py").write_text("X = 2\n")
    cache.clear_code_hash_cache()
    assert registry.key_of("t/double", "quick") == k1
    (pkg / "helper.py").write_text("FACTOR = 3\n")
    cache.clear_code_hash_cache()
    assert registry.key_of("t/double", "quick") != k1


def test_a_changed_config_changes_the_key_and_reruns(tmp_cache, lab_pkg):
    """Same code, another quick config: a new key and a new run (no stale result); the old config hits again."""
    _, mod = lab_pkg
    r1 = lab.run("t/double", "quick")
    code = registry.code_of(mod.double)
    exp = registry.get_experiment("t/double")
    registry._EXPERIMENTS["t/double"] = dataclasses.replace(exp, profiles={**exp.profiles, "quick": {"n": 4}})
    assert registry.code_of(mod.double) == code
    r2 = lab.run("t/double", "quick")
    assert r2.key != r1.key and r2.ran and list(r2["v"]) == [0, 2, 4, 6] and mod.CALLS == [3, 4]
    registry._EXPERIMENTS["t/double"] = exp
    r3 = lab.run("t/double", "quick")
    assert r3.key == r1.key and not r3.ran and list(r3["v"]) == [0, 2, 4]


def test_a_need_with_a_changed_config_reruns_the_dependant(tmp_cache, lab_pkg):
    """Only the needed experiment's config changes (the dependant's code and config do not): its key must."""
    _, mod = lab_pkg
    assert lab.run("t/uses", "quick")["sum"] == 6
    k = registry.key_of("t/uses", "quick")
    exp = registry.get_experiment("t/double")
    registry._EXPERIMENTS["t/double"] = dataclasses.replace(exp, profiles={**exp.profiles, "quick": {"n": 4}})
    assert registry.key_of("t/uses", "quick") != k
    rerun = lab.run("t/uses", "quick")
    assert rerun.ran and rerun["sum"] == 12 and mod.CALLS == [3, 4]


def test_a_module_imported_as_from_package_import_module_enters_the_code_hash(tmp_cache, lab_pkg):
    """``from pkg import mod`` imports the submodule ``pkg.mod``: editing it changes the key."""
    pkg, _ = lab_pkg
    (pkg / "other.py").write_text("SCALE = 1\n")
    (pkg / "exp2.py").write_text(
        textwrap.dedent(
            """
            from labpkg_t import other
            from llmkb.lab import experiment

            @experiment("t/scaled", topic="t", profiles={"quick": {}, "full": {}})
            def scaled(cfg, ctx):
                return {"s": other.SCALE}
            """
        )
    )
    importlib.import_module("labpkg_t.exp2")
    k1 = registry.key_of("t/scaled", "quick")
    (pkg / "other.py").write_text("SCALE = 2\n")
    cache.clear_code_hash_cache()
    assert registry.key_of("t/scaled", "quick") != k1


def test_the_code_hash_follows_the_library_submodules_an_experiment_uses():
    """Real cases of ``from pkg import mod``: the tokenization lab's analysis, and the encoder's Unicode tables."""
    closure = dict(cache._closure("llmkb.lab.topics.tokenization.experiments"))
    for name in (
        "llmkb.lab.topics.tokenization.analysis",
        "llmkb.tokenize._fastsplit",
        "llmkb.tokenize._unicode_data",
    ):
        assert name in closure, name
    assert "llmkb.site.plugin" not in closure


def test_needs_enter_the_key_and_results(tmp_cache, lab_pkg):
    pkg, _ = lab_pkg
    assert lab.run("t/uses", "quick")["sum"] == 6
    k = registry.key_of("t/uses", "quick")
    (pkg / "helper.py").write_text("FACTOR = 10\n")
    cache.clear_code_hash_cache()
    assert registry.key_of("t/uses", "quick") != k  # a changed dependency changes the dependant's key


def test_failed_experiment_leaves_nothing_behind(tmp_cache):
    saved = dict(registry._EXPERIMENTS)
    try:

        @lab.experiment("t/boom", topic="t", profiles={"quick": {}, "full": {}})
        def boom(cfg, ctx):
            (ctx.out_dir / "half.bin").write_bytes(b"x")
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            lab.run("t/boom", "quick")
        leftovers = list((tmp_cache / "quick" / "t" / "boom").iterdir())
        assert leftovers == []
        assert cache.count_runs() == 0
    finally:
        registry._EXPERIMENTS.clear()
        registry._EXPERIMENTS.update(saved)


def test_experiment_needs_both_profiles():
    with pytest.raises(ValueError, match="full"):
        lab.experiment("t/bad", topic="t", profiles={"quick": {}})


def test_undeclared_need_is_an_error(tmp_cache, lab_pkg):
    saved = dict(registry._EXPERIMENTS)
    try:

        @lab.experiment("t/sneaky", topic="t", profiles={"quick": {}, "full": {}})
        def sneaky(cfg, ctx):
            return {"x": ctx.need("t/double")["s"]}

        with pytest.raises(KeyError, match="needs="):
            lab.run("t/sneaky", "quick")
    finally:
        registry._EXPERIMENTS.clear()
        registry._EXPERIMENTS.update(saved)


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("LLMKB_PROFILE", "full")
    assert lab.current_profile() == "full"
    monkeypatch.setenv("LLMKB_PROFILE", "huge")
    with pytest.raises(ValueError, match="huge"):
        lab.current_profile()


def test_cli_lab_run_and_list(tmp_cache, lab_pkg, capsys):
    assert main(["lab", "run", "t", "--profile", "quick"]) == 0
    out = capsys.readouterr().out
    assert "t/double: ran" in out and "t/uses: ran" in out
    assert main(["lab", "run", "t/double", "--profile", "quick"]) == 0
    assert "t/double: cached" in capsys.readouterr().out
    assert main(["lab", "list"]) == 0
    assert "t/double" in capsys.readouterr().out


def test_cli_lab_bad_input_exits_2(tmp_cache, capsys):
    assert main(["lab", "run", "no-such-topic"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("llmkb: error: no topic or experiment named 'no-such-topic'") and err.count("\n") == 1
    )
    assert main(["lab", "run", "site", "--profile", "huge"]) == 2
    assert "unknown profile" in capsys.readouterr().err


def test_figures_render_with_the_shared_style(tmp_cache, lab_pkg):
    from llmkb.lab.render import render_figure, svg_facts

    saved = dict(registry._FIGURES)
    try:

        @lab.figure("t/double", "line", caption="c")
        def line(res):
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots()
            ax.plot(res["v"])
            assert plt.rcParams["axes.spines.top"] is False  # shared style active
            return fig

        res = lab.run("t/double", "quick")
        r = render_figure(registry.get_figure("t/double", "line"), res)
        light, dark = r.light.read_text(), r.dark.read_text()
        assert r.fmt == "svg" and light.startswith("<?xml") and "<svg" in light
        assert "#ffffff" in light and "#1e2029" in dark and "#1e2029" not in light  # one file per palette
        w, h, pt = svg_facts(light)
        assert (w, h, pt) == (r.width_in, r.height_in, r.min_font_pt) and 0 < h < w < 7.2 and pt >= 8.25
        assert render_figure(registry.get_figure("t/double", "line"), res) == r  # cached
    finally:
        registry._FIGURES.clear()
        registry._FIGURES.update(saved)


def test_a_concurrent_identical_run_keeps_the_first_result_and_its_figures(tmp_cache):
    """Two builds that miss the cache at once must not delete each other's result directories (CI race)."""
    key = "k" * 16
    first = cache.store("t/race", "quick", key, {"v": 1}, cache.staging_dir("t/race", "quick"))
    (first.dir / "figures").mkdir()
    (first.dir / "figures" / "f.png").write_bytes(b"png")  # the first build is rendering a figure
    second = cache.store("t/race", "quick", key, {"v": 2}, cache.staging_dir("t/race", "quick"))
    assert second.dir == first.dir and second["v"] == 1
    assert (first.dir / "figures" / "f.png").read_bytes() == b"png"
    assert [p.name for p in first.dir.parent.iterdir()] == [key]  # no staging or trash left behind
    forced = cache.store("t/race", "quick", key, {"v": 3}, cache.staging_dir("t/race", "quick"), replace=True)
    assert forced["v"] == 3 and not (forced.dir / "figures").exists()
    assert [p.name for p in first.dir.parent.iterdir()] == [key]


def test_a_figure_too_wide_for_its_text_is_refused_with_the_width_that_fits(tmp_cache, lab_pkg):
    """The size rule: smallest text ≥ 11 px in the 688-px column. A 12-in figure at 9 pt (7.2 px) is refused
    with a message naming the width that would fit; the same figure 6 in wide renders."""
    from llmkb.lab.kit import style
    from llmkb.lab.render import render_figure

    assert style.text_px(9.0, 12.0) == pytest.approx(9 * 96 / 72 * 688 / (96 * 12))
    assert style.text_px(9.0, 6.0) == pytest.approx(12.0)  # natural size: no shrinking
    assert style.readable_width_px(9.0, 6.0) == round(6 * 96 * 11 / 12)
    saved = dict(registry._FIGURES)
    try:
        for name, width in (("wide", 12.0), ("fits", 6.0)):

            @lab.figure("t/double", name, caption=name)
            def draw(res, width=width):
                import matplotlib.pyplot as plt

                fig, ax = plt.subplots(figsize=(width, 3))
                ax.plot(res["v"])
                ax.set_xlabel("step", fontsize=9)
                ax.tick_params(labelsize=9)
                return fig

        res = lab.run("t/double", "quick")
        with pytest.raises(
            ValueError, match=r"t/double/wide: .* renders at [\d.]+ px .* at most 7\.\d in wide"
        ):
            render_figure(registry.get_figure("t/double", "wide"), res)
        assert not list((res.dir / "figures").glob("wide-*"))  # nothing half-written
        r = render_figure(registry.get_figure("t/double", "fits"), res)
        assert r.min_font_pt == 9.0 and 4.5 < r.width_in < 6.0  # the tight box trims the margins
    finally:
        registry._FIGURES.clear()
        registry._FIGURES.update(saved)
