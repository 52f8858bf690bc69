"""Maps and figures: functional-space volumes, pycortex, flatmaps, the WebGL viewer and the paper's figures.

Volumes in the subject's functional space (``volumes``), pycortex's filestore (``pycortex_env``),
flatmaps (``flatmaps``), the WebGL viewer (``viewer``) and the paper's figures (``figures``).
"""
