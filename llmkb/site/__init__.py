"""The MkDocs side of llmkb: a plugin (entry point ``llmkb``) that builds the knowledge graph,
backlinks, learning path and roadmap, runs the lab experiments (cached) and turns their results
into generated figures, tables, numbers and widget data."""
