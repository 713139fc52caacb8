"""Developer tools and benchmarks, outside the library layers: `rarereads bench` (bench), the
synthetic data behind it (synth), the blind read of picks (blindread), the support-floor
study (floors), the edition-merge figures (merges) and the natural queries (natural_queries).

Each may use `engine`, `train` and `evaluation`; nothing in those imports a tool.
"""
