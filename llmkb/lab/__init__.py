"""The build-time lab pipeline.

An *experiment* is a plain function of a config, registered with :func:`experiment`, with two
profiles: ``quick`` (seconds; tests and CI) and ``full`` (what the published site shows). Its result
is cached on disk under a key made of the experiment's code (its module and every llmkb module it
imports, transitively), its config and its profile, so a warm build re-runs nothing and a changed
experiment is always re-run. Figures are functions of a result, registered with :func:`figure`.

Example:
    ```python
    from llmkb.lab import experiment, run

    @experiment("demo/squares", topic="demo", profiles={"quick": {"n": 3}, "full": {"n": 10}})
    def squares(cfg, ctx):
        return {"squares": [i * i for i in range(cfg["n"])]}

    assert run("demo/squares", profile="quick")["squares"] == [0, 1, 4]
    ```
"""

from llmkb.lab.cache import Result, cache_root, run_log
from llmkb.lab.profiles import PROFILES, current_profile
from llmkb.lab.registry import (
    Experiment,
    Figure,
    RunContext,
    discover,
    experiment,
    experiments,
    figure,
    figures_of,
    get_experiment,
    run,
    topic_experiments,
)

__all__ = [
    "PROFILES",
    "Experiment",
    "Figure",
    "Result",
    "RunContext",
    "cache_root",
    "current_profile",
    "discover",
    "experiment",
    "experiments",
    "figure",
    "figures_of",
    "get_experiment",
    "run",
    "run_log",
    "topic_experiments",
]
