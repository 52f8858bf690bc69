"""Evaluation of reconstructions: feature networks, metric recipes, identification and validity.

The feature networks (``networks``) and each group's metric recipes (``recipes``), two-way
identification (``evaluate``), and whether a method reconstructs or retrieves (``validity``,
``validity_tables``, ``controls``).
"""
