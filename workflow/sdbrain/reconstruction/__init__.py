"""Reconstruction of seen images from decoded features: X_z, X_c and X_zc (``reconstruct``)."""
