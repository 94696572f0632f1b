"""The lab kit: what every topic's lab needs and none should rewrite.

* :mod:`~llmkb.lab.kit.tables` — results as ordered tables (the cache sorts dict keys; tables keep columns);
* :mod:`~llmkb.lab.kit.labels` — one printable label per byte or token, the same glyphs everywhere;
* :mod:`~llmkb.lab.kit.smoothing` — a moving average that keeps the x axis;
* :mod:`~llmkb.lab.kit.configs` — ``GPTConfig``/``TrainConfig`` from an experiment config's ``model``/``train``;
* :mod:`~llmkb.lab.kit.runs` — training curves of a run as arrays;
* :mod:`~llmkb.lab.kit.phrases` — generated comparison phrases and rounding for page prose;
* :mod:`~llmkb.lab.kit.style` and :mod:`~llmkb.lab.kit.axes` — the figure style and axis helpers.
"""

from llmkb.lab.kit.configs import model_config, train_config
from llmkb.lab.kit.labels import byte_label, byte_labels, token_labels
from llmkb.lab.kit.phrases import gap_phrase, join_names, round_sig
from llmkb.lab.kit.runs import curves
from llmkb.lab.kit.smoothing import moving_average
from llmkb.lab.kit.tables import table, table_rows

__all__ = [
    "byte_label",
    "byte_labels",
    "curves",
    "gap_phrase",
    "join_names",
    "model_config",
    "moving_average",
    "round_sig",
    "table",
    "table_rows",
    "token_labels",
    "train_config",
]
