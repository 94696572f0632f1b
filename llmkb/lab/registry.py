"""Registry of experiments and figures, and the cached :func:`run`."""

from __future__ import annotations

import importlib
import pkgutil
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from llmkb.lab import cache
from llmkb.lab.profiles import PROFILES, current_profile

T = TypeVar("T")

ExperimentFn = Callable[[dict[str, Any], "RunContext"], Mapping[str, Any]]
FigureFn = Callable[[cache.Result], Any]


@dataclass(frozen=True)
class Experiment:
    """A registered experiment.

    Attributes:
        name: unique name, ``"<topic>/<experiment>"``.
        topic: the topic slug (the page folder without its number, e.g. ``"tokenization"``).
        fn: ``fn(config, ctx) -> mapping`` of JSON-able values and arrays.
        profiles: one config per profile (``quick`` and ``full``).
        needs: names of experiments whose results this one reads (their keys enter its key).
        title: a short human title (for ``llmkb lab list``).
    """

    name: str
    topic: str
    fn: ExperimentFn
    profiles: dict[str, dict[str, Any]]
    needs: tuple[str, ...] = ()
    title: str = ""

    @property
    def module(self) -> str:
        """The module that defines the experiment function."""
        return self.fn.__module__

    def config(self, profile: str) -> dict[str, Any]:
        """The config for ``profile``."""
        return dict(self.profiles[profile])


@dataclass(frozen=True)
class Figure:
    """A figure drawn from an experiment's result: ``fn(result) -> matplotlib Figure``."""

    experiment: str
    name: str
    fn: FigureFn
    caption: str = ""

    @property
    def module(self) -> str:
        """The module that defines the figure function."""
        return self.fn.__module__


@dataclass
class RunContext:
    """What an experiment function gets besides its config.

    Attributes:
        name: the experiment's name.
        profile: the profile it runs under.
        out_dir: a directory for artifacts (checkpoints, large files); it becomes part of the result.
        show_progress: whether progress bars should be shown.
    """

    name: str
    profile: str
    out_dir: Path
    show_progress: bool = False
    _needed: dict[str, cache.Result] = field(default_factory=dict)

    def need(self, name: str) -> cache.Result:
        """The (cached) result of an experiment declared in ``needs``."""
        if name not in self._needed:
            raise KeyError(f"experiment {self.name!r} reads {name!r} but does not declare it in needs=")
        return self._needed[name]

    def progress(self, iterable: Iterable[T], total: int | None = None, desc: str = "") -> Iterable[T]:
        """Wrap an iterable in a progress bar when progress is shown."""
        if not self.show_progress:
            return iterable
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc or self.name, leave=False)


_EXPERIMENTS: dict[str, Experiment] = {}
_FIGURES: dict[tuple[str, str], Figure] = {}
_DISCOVERED = False


def experiment(
    name: str,
    *,
    topic: str,
    profiles: Mapping[str, Mapping[str, Any]],
    needs: Iterable[str] = (),
    title: str = "",
) -> Callable[[ExperimentFn], ExperimentFn]:
    """Register an experiment function.

    Args:
        name: unique name, conventionally ``"<topic>/<experiment>"``.
        topic: topic slug the experiment belongs to.
        profiles: a config for each of ``quick`` and ``full``.
        needs: experiments whose results this one reads via ``ctx.need(name)``.
        title: a short description.

    Returns:
        A decorator that registers the function and returns it unchanged.
    """
    missing = [p for p in PROFILES if p not in profiles]
    if missing:
        raise ValueError(f"experiment {name!r} lacks a config for profile(s) {missing}")

    def deco(fn: ExperimentFn) -> ExperimentFn:
        _EXPERIMENTS[name] = Experiment(
            name=name,
            topic=topic,
            fn=fn,
            profiles={p: dict(c) for p, c in profiles.items()},
            needs=tuple(needs),
            title=title or (fn.__doc__ or "").strip().split("\n")[0],
        )
        return fn

    return deco


def figure(experiment_name: str, name: str, caption: str = "") -> Callable[[FigureFn], FigureFn]:
    """Register a figure drawn from the result of ``experiment_name``.

    The function takes the :class:`~llmkb.lab.cache.Result` and returns a matplotlib Figure.
    """

    def deco(fn: FigureFn) -> FigureFn:
        _FIGURES[(experiment_name, name)] = Figure(experiment_name, name, fn, caption)
        return fn

    return deco


def discover() -> None:
    """Import the shared model and every topic package of :mod:`llmkb.lab.topics`, so that their experiments
    register."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    importlib.import_module("llmkb.lab.shared_model")
    pkg = importlib.import_module("llmkb.lab.topics")
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"llmkb.lab.topics.{info.name}")
    _DISCOVERED = True


def experiments() -> dict[str, Experiment]:
    """All registered experiments (after discovery), by name."""
    discover()
    return dict(_EXPERIMENTS)


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``.

    Raises:
        KeyError: with the list of known names when there is none.
    """
    exps = experiments()
    if name not in exps:
        raise KeyError(f"no experiment named {name!r}; known: {', '.join(sorted(exps)) or 'none'}")
    return exps[name]


def topic_experiments(topic: str) -> list[Experiment]:
    """Experiments of a topic; ``topic`` may be ``"tokenization"`` or ``"01-tokenization"``."""
    slug = topic.split("-", 1)[1] if topic[:2].isdigit() and "-" in topic else topic
    return [e for e in experiments().values() if e.topic == slug]


def figures_of(experiment_name: str) -> list[Figure]:
    """Figures registered for an experiment."""
    experiments()
    return [f for (e, _), f in sorted(_FIGURES.items()) if e == experiment_name]


def get_figure(experiment_name: str, name: str) -> Figure:
    """A registered figure.

    Raises:
        KeyError: when there is no such figure.
    """
    experiments()
    if (experiment_name, name) not in _FIGURES:
        known = [n for (e, n) in _FIGURES if e == experiment_name]
        raise KeyError(f"experiment {experiment_name!r} has no figure {name!r}; it has {known}")
    return _FIGURES[(experiment_name, name)]


def code_of(fn: Callable[..., Any]) -> str:
    """The code hash of a function's module, or of its own bytecode when it has no importable module
    (defined in ``__main__``, a notebook or ``exec``)."""
    module = getattr(fn, "__module__", None)
    if (
        module
        and module != "__main__"
        and module in sys.modules
        and getattr(sys.modules[module], "__file__", None)
    ):
        return cache.code_hash(module)
    code = fn.__code__
    return cache.make_key(
        {"bytecode": code.co_code.hex(), "consts": repr(code.co_consts), "names": code.co_names}
    )


def key_of(name: str, profile: str) -> str:
    """The cache key of an experiment under a profile (code, config, profile, needs' keys)."""
    exp = get_experiment(name)
    parts = {
        "name": name,
        "profile": profile,
        "config": exp.config(profile),
        "code": code_of(exp.fn),
        "env": cache.environment_fingerprint(),
        "needs": {n: key_of(n, profile) for n in exp.needs},
    }
    return cache.make_key(parts)


def is_cached(name: str, profile: str) -> bool:
    """Whether ``name`` and every experiment it needs, transitively, have a cached result under ``profile``
    (so that :func:`run` would run nothing)."""
    exp = get_experiment(name)
    if not all(is_cached(n, profile) for n in exp.needs):
        return False
    return (cache.result_dir(name, profile, key_of(name, profile)) / "result.json").is_file()


def run(
    name: str, profile: str | None = None, *, force: bool = False, show_progress: bool = False
) -> cache.Result:
    """The result of an experiment, from the cache when its key is unchanged, else by running it.

    Args:
        name: experiment name.
        profile: ``quick`` or ``full``; default :func:`~llmkb.lab.current_profile`.
        force: run even when a cached result exists.
        show_progress: show progress bars while running.

    Returns:
        The :class:`~llmkb.lab.cache.Result`; ``result.ran`` tells whether it ran now.
    """
    profile = profile or current_profile()
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
    exp = get_experiment(name)
    needed = {n: run(n, profile, show_progress=show_progress) for n in exp.needs}
    key = key_of(name, profile)
    if not force:
        hit = cache.load(name, profile, key)
        if hit is not None:
            return hit
    staging = cache.staging_dir(name, profile)
    try:
        ctx = RunContext(name, profile, staging, show_progress, needed)
        data = exp.fn(exp.config(profile), ctx)
        if not isinstance(data, Mapping):
            raise TypeError(f"experiment {name!r} returned {type(data).__name__}, expected a mapping")
        return cache.store(name, profile, key, data, staging, replace=force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
