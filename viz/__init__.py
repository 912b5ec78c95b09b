"""viz: draw and play what the tinygrad_rnn tape recorded (graphviz). Reads the tape; the core never imports it."""
