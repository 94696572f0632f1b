"""``llmkb bench llamacpp`` (llama.cpp on our GGUF files): its pass rule and its error without the bindings. The
comparison itself runs with ``make llamacpp``, which builds llama-cpp-python once (not part of ``make test``)."""

from __future__ import annotations

import sys

from llmkb.bench.llamacpp import F32_TOLERANCE, within_format_error
from llmkb.cli import main


def test_a_reduced_precision_file_passes_within_twice_its_formats_own_error():
    assert within_format_error(
        {"max_abs_vs_float": 0.105, "format_error": 0.062}
    )  # Q8_0 of the trained model
    assert not within_format_error({"max_abs_vs_float": 0.2, "format_error": 0.062})
    assert within_format_error({"max_abs_vs_float": F32_TOLERANCE, "format_error": 0.0})
    assert not within_format_error({"max_abs_vs_float": 2 * F32_TOLERANCE, "format_error": 0.0})


def test_without_the_bindings_the_bench_says_to_run_make_llamacpp(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # importing it now raises ImportError
    assert main(["bench", "llamacpp", "--out", str(tmp_path / "out")]) == 2
    assert "run `make llamacpp`" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
