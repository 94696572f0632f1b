"""The lab kit's reader-facing helpers: numbers without negative zero, counts that agree with their nouns,
and result tables shown in a lab (HTML in a notebook, aligned text in a script)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmkb.lab.kit import count_of, fmt, html_table, plural, readable, show_table, table, text_table
from llmkb.lab.kit import tables as kit_tables


# ------------------------------------------------------------------------------------------ numbers
@pytest.mark.parametrize(
    ("x", "spec", "out"),
    [
        (-0.0, ".3f", "0"),  # the entropy of a one-hot distribution, as torch computes it
        (0.0, ".3f", "0"),
        (0, "", "0"),
        (-0.0, ".0%", "0%"),
        (-0.0, "", "0"),
        (-0.0, "+.2f", "0"),
        (-0.0001, ".3f", "0"),  # rounds to zero: no sign, no false precision
        (-0.004, ".0%", "0%"),
        (-1e-12, ".1e", "-1.0e-12"),  # an exponent keeps a real sign
        (-0.25, ".2f", "-0.25"),
        (1234.5, ",.0f", "1,234"),
        (np.float64(-0.0), ".2f", "0"),
        (np.float32(-1e-9), ".2f", "0"),
        ("text", "", "text"),
        (True, "", "True"),
    ],
)
def test_fmt_never_writes_a_negative_zero(x, spec, out):
    assert fmt(x, spec) == out


def test_fmt_of_any_tiny_negative_has_no_sign():
    for spec in (".0f", ".1f", ".3f", ".1%", ",.2f", "+.3f"):
        for x in (-1e-9, -4e-6, -0.0):
            assert not fmt(x, spec).startswith("-"), (x, spec)
    assert fmt(-0.5, ".0f") in ("0", "-0") and not fmt(-0.5, ".0f").startswith("-")


@pytest.mark.parametrize(
    ("x", "out"),
    [
        (12704, "12,704"),
        (512, "512"),
        (np.int64(824448), "824,448"),
        (34150.3, "34,150"),
        (999.96, "1,000"),
        (2.12345, "2.123"),
        (0.5, "0.5"),
        (-0.0, "0"),
        (0.00123, "0.00123"),
        (3.14e-8, "3.14e-08"),
        (-2.5e-9, "-2.50e-09"),
        (float("nan"), "nan"),
        ("–", "–"),
    ],
)
def test_readable_numbers(x, out):
    assert readable(x) == out


# ------------------------------------------------------------------------------------------ counts
def test_plural_is_the_one_place_a_count_meets_its_noun():
    assert [plural(n, "block") for n in (0, 1, 2)] == ["0 blocks", "1 block", "2 blocks"]
    assert plural(3, "batch", "batches") == "3 batches"
    assert (
        plural(1, "ends", "end", number=False) == "ends" and plural(2, "ends", "end", number=False) == "end"
    )


@pytest.mark.parametrize(
    ("k", "n", "out"),
    [
        (0, 5, "none of the 5 greedy continuations ends"),
        (1, 5, "1 of the 5 greedy continuations ends"),
        (3, 5, "3 of the 5 greedy continuations end"),
        (5, 5, "all 5 greedy continuations end"),
        (2, 2, "both greedy continuations end"),
        (1, 1, "the only greedy continuation ends"),
    ],
)
def test_count_of_agrees_in_number(k, n, out):
    assert count_of(k, n, "greedy continuation", verb=("ends", "end")) == out


def test_count_of_refuses_impossible_counts():
    with pytest.raises(ValueError, match="3 out of 2"):
        count_of(3, 2, "run")


# ------------------------------------------------------------------------------------------ tables
T = {"columns": ["variant", "loss", "note"], "rows": [["rope", 1.23456, "ok"], ["none", -0.0, "<b>&"]]}


def test_text_table_aligns_numbers_right_and_text_left():
    lines = text_table(T).splitlines()
    assert lines[0] == "variant   loss  note"
    assert lines[1] == "-------  -----  ----"
    assert lines[2:] == ["rope     1.235  ok", "none         0  <b>&"]
    assert len({len(line.rstrip()) for line in lines[:2]}) == 1


def test_tables_take_row_dicts_and_dicts_of_values():
    rows = [{"b": 2, "a": 0.5}, {"b": 10, "a": 0.25}]
    assert text_table(rows) == text_table(table(rows))
    flat = text_table({"n": 3, "fit": {"c0": 0.004, "share": 0.99}}, formats={"fit.share": ".0%"})
    assert flat.splitlines()[2:] == ["n              3", "fit.c0     0.004", "fit.share    99%"]
    with pytest.raises(TypeError, match="not str"):
        text_table("rows")
    with pytest.raises(KeyError, match="los"):
        text_table(T, formats={"los": ".2f"})


def test_formats_and_decimals():
    t = {"columns": ["x", "share"], "rows": [[1.0, 0.123], [2.5, 0.5], [1234.5, 0.0]]}
    assert text_table(t, formats={"share": ".1%"}).splitlines()[2:] == [
        "    1  12.3%",
        "  2.5  50.0%",
        "1,234     0%",  # a zero share is written 0% (kit.fmt)
    ]
    assert text_table(t, decimals=2).splitlines()[2:] == [
        "    1.00   0.12",
        "    2.50   0.50",
        "1,234.50      0",
    ]


def test_html_table_escapes_every_cell_and_header():
    out = html_table(
        {"columns": ["<i>x</i>", "n"], "rows": [["<script>alert(1)</script>", -0.0]]}, caption="a<b"
    )
    assert "<script>" not in out and "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "<th>&lt;i&gt;x&lt;/i&gt;</th>" in out and "<caption>a&lt;b</caption>" in out
    assert '<td style="text-align: right">0</td>' in out  # numeric column, no negative zero
    assert out.startswith('<table class="llmkb-lab-table">') and out.count("<tr>") == 2


def test_show_table_prints_text_outside_a_notebook(capsys):
    assert kit_tables.in_notebook() is False  # pytest is not a Jupyter kernel
    show_table(T, caption="losses")
    assert capsys.readouterr().out == "losses\n" + text_table(T) + "\n"


def test_show_table_displays_html_in_a_notebook(monkeypatch, capsys):
    import IPython.display

    shown = []
    monkeypatch.setattr(kit_tables, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", shown.append)
    show_table(T, formats={"loss": ".2f"}, caption="losses")
    assert capsys.readouterr().out == ""
    assert len(shown) == 1 and shown[0].data == html_table(T, formats={"loss": ".2f"}, caption="losses")
    assert "<td" in shown[0].data and "1.23</td>" in shown[0].data


def test_readable_cells_never_wrap_into_exponents_for_ordinary_values():
    cells = [readable(v) for v in np.linspace(0.001, 99_999, 50)]
    assert not any("e" in c for c in cells) and all(math.isfinite(float(c.replace(",", ""))) for c in cells)


def test_training_facts_count_seeds_steps_and_tokens():
    from llmkb.lab.kit import training_facts

    cfg = {"seeds": [0, 1, 2], "train": {"steps": 30, "batch_size": 16, "seq_len": 64, "lr": 1e-2}}
    assert training_facts(cfg) == {
        "seeds": 3,
        "seeds_text": "3 seeds",
        "steps": 30,
        "tokens_seen": 30 * 16 * 64,
    }
    assert training_facts({**cfg, "seeds": [0]})["seeds_text"] == "1 seed"


def test_human_bytes_never_writes_an_exponent():
    from llmkb.lab.kit.memory import human_bytes

    assert [human_bytes(n) for n in (100, 512 * 1024, 1.57 * 2**20, 1000 * 1024, 999.4 * 1024, 5000 * 2**30)] == [
        "100 B", "512 KiB", "1.57 MiB", "1000 KiB", "999 KiB", "5000 GiB",
    ]  # fmt: skip
