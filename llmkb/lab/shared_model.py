"""The shared model: one small byte-level GPT (the ``shared`` preset) trained once per build on the default corpus (CPython's
``pydoc_data.topics`` prose), cached, and reused by every topic that only needs *a* trained model
(embeddings, attention maps, sampling, KV cache). Topics whose experiment *is* training train their own.

Use it from an experiment that declares ``needs=["shared-model/train"]``::

    model, tokenizer = load_shared_model(ctx.need("shared-model/train"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmkb.lab.cache import Result
from llmkb.lab.registry import RunContext
from llmkb.lab.topic import Topic
from llmkb.train.shared_model import SHARED_STEPS_FULL, SHARED_STEPS_QUICK

if TYPE_CHECKING:
    from llmkb.data import ByteTokenizer
    from llmkb.nn import GPT

TOPIC = Topic("shared-model")
SHARED_MODEL = TOPIC.name("train")


@TOPIC.experiment(
    "train",
    profiles={"quick": {"steps": SHARED_STEPS_QUICK}, "full": {"steps": SHARED_STEPS_FULL}},
    title="Train the shared model (shared preset, pydoc corpus)",
)
def train_shared(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train the ``shared`` preset on the pydoc corpus and keep its checkpoint in the result directory."""
    from llmkb.train import train_shared_model

    res = train_shared_model(steps=cfg["steps"], out_dir=ctx.out_dir / "model", progress=ctx.show_progress)
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


def load_shared_model(result: Result) -> tuple[GPT, ByteTokenizer]:
    """The trained shared model (in eval mode) and its tokenizer, from the ``shared-model/train`` result.

    Returns:
        The model, a :class:`llmkb.nn.GPT`, and its tokenizer, a :class:`llmkb.data.ByteTokenizer`.
    """
    from llmkb.data import ByteTokenizer
    from llmkb.nn import GPT

    model = GPT.load(result.dir / "model")
    model.eval()
    return model, ByteTokenizer()
