"""The playground's build step: the shared model exported to ONNX for onnxruntime-web (``docs/playground.md``).

* ``shared-model/onnx``: the trained shared model traced to a decode-ready ONNX graph (KV cache as inputs and
  outputs), written into the result directory and published next to the widget's data; before it is kept, ONNX
  Runtime must reproduce ``GPT.generate``'s greedy tokens on every example prompt (ASCII and not).

It is registered under the shared model's name (it is one of its artifacts, not a topic of its own).
"""

from . import experiments  # noqa: F401
