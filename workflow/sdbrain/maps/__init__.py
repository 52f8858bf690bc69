"""Maps and figures: volumes in the subject's functional space (``volumes``), pycortex's filestore
(``pycortex_env``), flatmaps (``flatmaps``), the WebGL viewer (``viewer``) and the paper's figures (``figures``)."""
