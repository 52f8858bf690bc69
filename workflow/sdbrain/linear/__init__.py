"""Linear models: ridge, decoders, encoding models, banded joint models and their statistics.

One ridge engine (``ridge``), decoders from an ROI to z or c (``decode``), voxel-wise encoding
models (``encode``) with their maps and tables (``encode_maps``), banded ridge joint models (``banded``) and their
comparison with concatenated ones (``partition``), and the statistics they share (``stats``).
"""
