"""The autodiff core, numpy only. Read it bottom-up:

mode.py        grad mode, scopes, the anomaly switch (thread-local)
ops.py         the ops table: each op's forward, vjp, rule text and LaTeX, display symbol, in one class
lazy.py        how the fast walk adds contributions up without building them (Scatter, Outer, Sum)
anomaly.py     the NaN/Inf checks behind detect_anomaly
tape.py        Node, the reference walk (read first), the fast walk, recomputing freed values
tensor.py      Tensor and `apply`, which records a Node per op
functional.py  concat, stack, linear, softmax, the losses
gradcheck.py   central differences in float64
rng.py         the shared random generator (manual_seed)
"""
