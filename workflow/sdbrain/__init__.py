"""sdbrain: fMRI -> Stable Diffusion reconstruction and encoding (Takagi & Nishimoto 2023)."""
