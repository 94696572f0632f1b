"""``llmkb lab list`` and ``llmkb lab run <topic|experiment>... [--all] [--profile full]``."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from llmkb.errors import UsageError

NAME = "lab"
HELP = "List or run the lab experiments of a topic (results are cached)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``list`` and ``run`` sub-commands."""
    sub = parser.add_subparsers(dest="lab_command", metavar="{list,run}")
    sub.required = True
    sub.add_parser("list", help="List topics and their experiments.")
    p = sub.add_parser(
        "run", help="Run topics' experiments (or single experiments), one progress line per experiment run."
    )
    p.add_argument(
        "targets",
        nargs="*",
        metavar="target",
        help="topic slug (tokenization, 01-tokenization) or experiment name",
    )
    p.add_argument("--all", action="store_true", help="every experiment of every topic")
    p.add_argument("--profile", default=None, help="quick or full (default: $LLMKB_PROFILE or quick)")
    p.add_argument("--force", action="store_true", help="re-run even when a cached result exists")
    p.add_argument("--keep-going", action="store_true", help="after a failure, run what does not need it")
    p.add_argument("--no-bars", action="store_true", help="progress lines only, no progress bars")
    p.add_argument(
        "--lab-module",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first: experiments defined outside llmkb (the plugin's lab_modules)",
    )
    p.add_argument(
        "--parent-pid",
        type=int,
        metavar="PID",
        help="stop (keeping nothing of the experiment in progress) when this parent process is gone",
    )
    p.add_argument(
        "--landed",
        metavar="FILE",
        type=Path,
        help="rewrite FILE each time all chosen experiments of a topic have results (`make serve` watches it)",
    )


def _chosen(args: argparse.Namespace) -> list[str]:
    from llmkb.lab import experiments, topic_experiments

    for module in args.lab_module:
        importlib.import_module(module)
    all_exps = experiments()
    if args.all:
        return [e.name for e in sorted(all_exps.values(), key=lambda e: (e.topic, e.name))]
    if not args.targets:
        raise UsageError("name a topic or an experiment, or pass --all")
    names: list[str] = []
    for target in args.targets:
        found = [target] if target in all_exps else [e.name for e in topic_experiments(target)]
        if not found:
            topics = sorted({e.topic for e in all_exps.values()})
            raise UsageError(f"no topic or experiment named {target!r}; topics: {', '.join(topics)}")
        names.extend(n for n in found if n not in names)
    return names


def _landed_writer(names: list[str], profile: str, landed: Path) -> Callable[[str], None]:
    """A callback that rewrites ``landed`` when the topic of a stored result has all its chosen results."""
    from llmkb.lab import get_experiment
    from llmkb.lab.registry import is_cached

    by_topic: dict[str, list[str]] = {}
    for n in names:
        by_topic.setdefault(get_experiment(n).topic, []).append(n)

    def on_result(name: str) -> None:
        group = by_topic.get(get_experiment(name).topic, [])
        if group and all(is_cached(n, profile) for n in group):
            landed.parent.mkdir(parents=True, exist_ok=True)
            landed.write_text(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {get_experiment(name).topic}\n")

    return on_result


def _reporter(bars: bool) -> Callable[[str], None]:
    """Print progress lines to stderr (through tqdm when experiments draw progress bars, so lines and bars
    do not overwrite each other)."""
    if bars:
        from tqdm.auto import tqdm

        return lambda line: tqdm.write(line, file=sys.stderr)
    return lambda line: print(line, file=sys.stderr, flush=True)


def _exit_with_parent(pid: int) -> None:
    """Send ourselves SIGINT, as Ctrl-C would, once the parent ``pid`` is gone (we get reparented)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if the parent ignored SIGINT

    def watch() -> None:
        while os.getppid() == pid:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGINT)  # a real signal: it also wakes a blocking call

    threading.Thread(target=watch, name="llmkb-parent-watch", daemon=True).start()


def run(args: argparse.Namespace) -> int:
    """Run the chosen lab sub-command."""
    from llmkb.lab import PROFILES, current_profile, experiments
    from llmkb.lab.batch import ExperimentFailed, run_batch

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
    names = _chosen(args)
    if args.parent_pid is not None:
        _exit_with_parent(args.parent_pid)
    try:
        done = run_batch(
            names,
            profile,
            report=_reporter(bars=not args.no_bars),
            force=args.force,
            keep_going=args.keep_going,
            show_progress=not args.no_bars,
            on_result=_landed_writer(names, profile, args.landed) if args.landed else None,
        )
    except ExperimentFailed as exc:
        print(f"llmkb: error: {exc}", file=sys.stderr)
        return 1
    for name in names:
        if name in done.failed:
            print(f"llmkb: error: {name}: {done.failed[name]}", file=sys.stderr)
        else:
            status = "ran" if name in done.ran else "cached"
            print(f"{name}: {status} -> {done.results[name].dir}")
    return 1 if done.failed else 0
