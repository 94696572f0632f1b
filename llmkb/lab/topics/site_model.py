"""The site model: one small byte-level GPT trained once per build on the default corpus (CPython's
``pydoc_data.topics`` prose), cached, and reused by every topic that only needs *a* trained model
(embeddings, attention maps, sampling, KV cache). Topics whose experiment *is* training train their own.

Use it from an experiment that declares ``needs=["site/model"]``::

    model, tokenizer = load_site_model(ctx.need("site/model"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmkb.lab import Result, RunContext, experiment
from llmkb.train.site import SITE_STEPS_FULL, SITE_STEPS_QUICK

if TYPE_CHECKING:
    from llmkb.data import ByteTokenizer
    from llmkb.nn import GPT

SITE_MODEL = "site/model"


@experiment(
    SITE_MODEL,
    topic="site",
    profiles={"quick": {"steps": SITE_STEPS_QUICK}, "full": {"steps": SITE_STEPS_FULL}},
    title="Train the shared site model (site preset, pydoc corpus)",
)
def site_model(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train the ``site`` preset on the pydoc corpus and keep its checkpoint in the result directory."""
    from llmkb.train import train_site_model

    res = train_site_model(steps=cfg["steps"], out_dir=ctx.out_dir / "model", progress=ctx.show_progress)
    steps, train_loss = res.series("train_loss")
    val_steps, val_loss = res.series("val_loss")
    return {
        "steps": steps,
        "train_loss": train_loss,
        "val_steps": val_steps,
        "val_loss": val_loss,
        "final_val_loss": res.final_val_loss,
        "seconds": res.wall_time,
        "n_params": res.model.num_parameters(),
    }


def load_site_model(result: Result) -> tuple[GPT, ByteTokenizer]:
    """The trained site model (in eval mode) and its tokenizer, from the ``site/model`` result.

    Returns:
        The model, a :class:`llmkb.nn.GPT`, and its tokenizer, a :class:`llmkb.data.ByteTokenizer`.
    """
    from llmkb.data import ByteTokenizer
    from llmkb.nn import GPT

    model = GPT.load(result.dir / "model")
    model.eval()
    return model, ByteTokenizer()
