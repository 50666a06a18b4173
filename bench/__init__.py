"""Trainyard's benchmarks: ``python -m bench [--quick] [--no-write] [--only N,M] [--render]``.

One module per figure (dispatch, overhead, env_build, ingestion, chart_cost,
search_efficiency, throughput, memory); ``stack`` starts the throw-away
platform each one measures, ``report`` makes the table. A full run writes
bench/RESULTS.md with the machine's description and bench/notes.md's analysis.
"""
