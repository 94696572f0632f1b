"""The lab kit: what every topic's lab needs and none should rewrite.

* :mod:`~llmkb.lab.kit.tables` — results as ordered tables (the cache sorts dict keys; tables keep columns),
  and :func:`show_table` to show one in a lab (HTML in a notebook, aligned text in a script);
* :mod:`~llmkb.lab.kit.numbers` — numbers for readers: no negative zero, no surprise exponents;
* :mod:`~llmkb.lab.kit.labels` — one printable label per byte or token, the same glyphs everywhere;
* :mod:`~llmkb.lab.kit.smoothing` — a moving average that keeps the x axis;
* :mod:`~llmkb.lab.kit.configs` — ``GPTConfig``/``TrainConfig`` from an experiment config's ``model``/``train``;
* :mod:`~llmkb.lab.kit.runs` — training curves of a run as arrays, and the facts of a seeded training config;
* :mod:`~llmkb.lab.kit.evals` — fixed held-out windows, the loss at each position, mean and spread over seeds;
* :mod:`~llmkb.lab.kit.memory` — KV-cache and weight bytes by formula, bytes written for a reader;
* :mod:`~llmkb.lab.kit.phrases` — generated comparison phrases, counts with agreeing nouns and verbs, rounding;
* :mod:`~llmkb.lab.kit.style` and :mod:`~llmkb.lab.kit.axes` — the figure style and axis helpers.
"""

from llmkb.lab.kit.configs import model_config, train_config
from llmkb.lab.kit.labels import byte_label, byte_labels, token_labels
from llmkb.lab.kit.numbers import fmt, readable
from llmkb.lab.kit.phrases import count_of, gap_phrase, join_names, plural, round_sig
from llmkb.lab.kit.runs import curves, training_facts
from llmkb.lab.kit.smoothing import moving_average
from llmkb.lab.kit.tables import html_table, show_table, table, table_rows, text_table

__all__ = [
    "byte_label",
    "byte_labels",
    "count_of",
    "curves",
    "fmt",
    "gap_phrase",
    "html_table",
    "join_names",
    "model_config",
    "moving_average",
    "plural",
    "readable",
    "round_sig",
    "show_table",
    "table",
    "table_rows",
    "text_table",
    "training_facts",
    "token_labels",
    "train_config",
]
