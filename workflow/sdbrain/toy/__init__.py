"""The toy world: a miniature NSD with a known forward model, and a small SD-structured model.

Apart from the method's modules, which never import it: ``world`` (scenes, renders,
captions, voxel classes, the NSD-format writer), ``model`` (a pipeline with seeded
random weights), ``train`` (training the toy diffusion model) and ``score`` (the
attribute classifier that measures it).
"""
