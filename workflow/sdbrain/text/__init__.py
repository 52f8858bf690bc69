"""The decoded text prompt: BLIP's image tokens decoded from the brain, and captions written from them.

The released code's third input (its technical report): Stable Diffusion then reconstructs conditioned on the
decoded caption.
"""
