"""The workflow layer: what Snakemake needs, and nothing that computes the method.

It imports no torch, diffusers, transformers or pycortex, so that planning a run (every start of Snakemake, a dry
run, each cluster job's submission) and the table-only rules start fast. ``config`` checks a config against the
schema and the rules that need no data; ``spaces`` is the naming grammar of methods, noise levels and feature spaces;
``plan`` says what a config asks for; ``paths`` names every file under ``results/``; ``job`` runs a rule's script
(its log, threads, GPU, fault injection) and turns the method layer's argument errors into config-key sentences.
"""
