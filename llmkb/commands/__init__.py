"""Sub-commands of the ``llmkb`` CLI, one module each (``NAME``, ``HELP``, ``add_arguments``, ``run``)."""
