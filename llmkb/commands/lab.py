"""``llmkb lab list`` and ``llmkb lab run <topic> [--profile full]``."""

from __future__ import annotations

import argparse
import time

from llmkb.errors import UsageError

NAME = "lab"
HELP = "List or run the lab experiments of a topic (results are cached)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``list`` and ``run`` sub-commands."""
    sub = parser.add_subparsers(dest="lab_command", metavar="{list,run}")
    sub.required = True
    sub.add_parser("list", help="List topics and their experiments.")
    p = sub.add_parser("run", help="Run a topic's experiments (or one experiment) with a progress bar.")
    p.add_argument("target", help="topic slug (e.g. tokenization or 01-tokenization) or experiment name")
    p.add_argument("--profile", default=None, help="quick or full (default: $LLMKB_PROFILE or quick)")
    p.add_argument("--force", action="store_true", help="re-run even when a cached result exists")


def run(args: argparse.Namespace) -> int:
    """Run the chosen lab sub-command."""
    from llmkb.lab import PROFILES, current_profile, experiments, topic_experiments
    from llmkb.lab import run as run_experiment

    if args.lab_command == "list":
        by_topic: dict[str, list] = {}
        for exp in experiments().values():
            by_topic.setdefault(exp.topic, []).append(exp)
        for topic in sorted(by_topic):
            print(topic)
            for exp in sorted(by_topic[topic], key=lambda e: e.name):
                print(f"  {exp.name:<40} {exp.title}")
        return 0

    try:
        profile = args.profile or current_profile()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if profile not in PROFILES:
        raise UsageError(f"unknown profile {profile!r}; use one of: {', '.join(PROFILES)}")
    all_exps = experiments()
    chosen = [all_exps[args.target]] if args.target in all_exps else topic_experiments(args.target)
    if not chosen:
        topics = sorted({e.topic for e in all_exps.values()})
        raise UsageError(f"no topic or experiment named {args.target!r}; topics: {', '.join(topics)}")
    from tqdm import tqdm

    bar = tqdm(chosen, desc=f"lab {args.target} [{profile}]", unit="exp")
    for exp in bar:
        bar.set_postfix_str(exp.name)
        t0 = time.perf_counter()
        res = run_experiment(exp.name, profile, force=args.force, show_progress=True)
        status = "ran" if res.ran else "cached"
        tqdm.write(f"{exp.name}: {status} in {time.perf_counter() - t0:.1f}s -> {res.dir}")
    return 0
