"""Data on disk: NSD's files, ingestion of betas, and the file contract of arrays.

NSD's files (``nsd``), ingestion of betas into per-ROI matrices (``ingest``), and the file
contract of arrays with the 73k ids of their rows (``io``).
"""
