"""A topic's one name: :class:`Topic` registers its experiments and figures under ``"<slug>/<name>"``.

The slug is the page folder without its number (``docs/02-positional-embeddings`` → ``positional-embeddings``)
and the lab package is the slug with ``_`` for ``-`` (``llmkb/lab/topics/positional_embeddings/``); tests are
``tests/test_lab_<package>.py``. Nothing else spells the topic::

    from llmkb.lab.topic import Topic

    TOPIC = Topic("positional-embeddings")

    @TOPIC.experiment("compare", profiles={"quick": {...}, "full": {...}})
    def compare(cfg, ctx): ...

    @TOPIC.figure("compare", "val-loss", caption="…")
    def val_loss(res): ...

Pages quote ``{{ lab.value("positional-embeddings/compare", "best") }}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from llmkb.lab import cache
from llmkb.lab.registry import ExperimentFn, FigureFn, experiment, figure, run

__all__ = ["Topic"]

_SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Topic:
    """The registry handle of one topic.

    Attributes:
        slug: lower-case words joined by ``-`` (the page folder without its ``<nn>-`` prefix).
    """

    slug: str

    def __post_init__(self) -> None:
        """Reject slugs that could not name a page folder."""
        if not _SLUG.match(self.slug):
            raise ValueError(
                f"topic slug {self.slug!r} must be lower-case words joined by '-', e.g. 'kv-cache'"
            )

    @property
    def package(self) -> str:
        """The Python package name of the topic's lab code (``kv-cache`` → ``kv_cache``)."""
        return self.slug.replace("-", "_")

    def name(self, short: str) -> str:
        """The full experiment name ``"<slug>/<short>"``."""
        return f"{self.slug}/{short}"

    def experiment(
        self,
        short: str,
        *,
        profiles: Mapping[str, Mapping[str, Any]],
        needs: Iterable[str] = (),
        title: str = "",
    ) -> Callable[[ExperimentFn], ExperimentFn]:
        """Register an experiment ``"<slug>/<short>"`` (see :func:`llmkb.lab.experiment`)."""
        return experiment(self.name(short), topic=self.slug, profiles=profiles, needs=needs, title=title)

    def figure(self, short: str, name: str, caption: str = "") -> Callable[[FigureFn], FigureFn]:
        """Register a figure ``name`` drawn from the result of ``"<slug>/<short>"``."""
        return figure(self.name(short), name, caption)

    def run(self, short: str, profile: str | None = None) -> cache.Result:
        """The (cached) result of ``"<slug>/<short>"``."""
        return run(self.name(short), profile)
