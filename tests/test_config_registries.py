"""``GPTConfig``'s docstring names exactly the choices its registries accept: a new kernel, positional scheme,
norm or feed-forward network registered without its line in the docstring fails here."""

from __future__ import annotations

import re

import pytest

from llmkb.nn import GPTConfig
from llmkb.nn.attention import KERNELS
from llmkb.nn.config import NORM_POSITIONS
from llmkb.nn.ffn import FFNS
from llmkb.nn.norm import NORMS
from llmkb.nn.positional import POSITIONAL

REGISTRIES = {
    "positional": POSITIONAL,
    "norm": NORMS,
    "norm_position": NORM_POSITIONS,
    "activation": FFNS,
    "attention": KERNELS,
}


def _attribute_entry(doc: str, field: str) -> str:
    """The text of ``field``'s entry under ``Attributes:`` (up to the next attribute at the same indent)."""
    m = re.search(rf"^(\s+){field}: (.*?)(?=^\1\w+: |\Z)", doc, flags=re.M | re.S)
    if m is None:
        raise AssertionError(f"GPTConfig's docstring has no entry for {field}")
    return m.group(2)


@pytest.mark.parametrize("field", sorted(REGISTRIES))
def test_config_docstring_names_every_registered_choice(field: str) -> None:
    named = set(re.findall(r"``([a-z][a-z0-9-]*)``", _attribute_entry(GPTConfig.__doc__ or "", field)))
    assert named == set(REGISTRIES[field]), (
        f"{field}: docstring {sorted(named)}, registry {sorted(REGISTRIES[field])}"
    )


def test_attribute_entry_stops_at_the_next_field() -> None:
    doc = "    Attributes:\n        a: one ``x``\n            more ``y``.\n        b: ``z``.\n"
    assert set(re.findall(r"``(\w)``", _attribute_entry(doc, "a"))) == {"x", "y"}
    with pytest.raises(AssertionError):
        _attribute_entry(doc, "c")
