"""Human two-way identification (the paper's subjective evaluation).

Rating trials built by the workflow, a small web app that collects answers into SQLite, and the
analysis of the exported answers. The server is a tool for a lab session, never a rule.

Modules: ``trials`` (building and reading the trial set), ``db`` (SQLite storage), ``app`` (the
web app), ``simulate`` (answers from a stated rule, for the toy world), ``analysis`` (accuracy,
intervals, agreement), ``cli`` (the ``sdbrain-rate`` command).
"""
