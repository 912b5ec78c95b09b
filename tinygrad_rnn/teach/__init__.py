"""Teaching tools that read the tape to explain it (they print; viz draws): the seed's networks (`seed`), the
backward walk one node at a time and Jacobians (`stepper`), formulas (1)-(3) read off a walk (`bptt`), and the
gradient-flow lab over long sequences (`flow`)."""
