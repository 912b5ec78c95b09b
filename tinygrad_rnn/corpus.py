"""A short text the character-level language model learns from (written for this project)."""

TEXT = """\
A recurrent network reads a sequence one step at a time. At every step it takes the new input and the state
it kept from the step before, mixes them with the same weights, and writes a new state. The state is the
memory of the network: everything it knows about the past must pass through it.

To learn, the network is unrolled over time. The unrolled network is an ordinary graph in which the same
weight is used once at every step. Backpropagation walks this graph backwards, from the loss to the first
step, and every use of a shared weight adds its own share to the gradient of that weight. This is all that
backpropagation through time means: the gradient of a weight is the sum of what each time step sends back.

The gradient that reaches an early step has passed through many steps on the way. At each step it is
multiplied by the derivative of the activation and by the recurrent weights. When these factors are small,
the product shrinks with every step and the gradient vanishes: the network cannot learn that something far
in the past matters. When the factors are large, the product grows and the gradient explodes. A tanh unit
has a derivative below one, so long products of it fade. A relu unit passes the gradient unchanged where it
is active, which helps against vanishing, but then nothing stops the product from growing. Clipping is the
simple cure for explosions: when the norm of the gradient is larger than a limit, scale the whole gradient
down so that its norm equals the limit. The direction stays the same; only the step becomes shorter.

The long short-term memory network adds a cell state and three gates. The forget gate decides how much of
the old cell state to keep. The input gate decides how much new information to write. The output gate
decides how much of the cell to show as the new hidden state. Because the cell state is updated by adding,
not by squashing, the gradient can flow along it for many steps with little loss. The forget gate is the
key: when it stays open, the memory stays.

The gated recurrent unit is a smaller cousin. It has a reset gate and an update gate. The reset gate decides
how much of the old state to use when it proposes a candidate state. The update gate mixes the old state and
the candidate: keep the old, take the new, or something in between. With fewer gates it is faster, and on
many tasks it learns as well as the long short-term memory network.

Training a language model on characters is a good way to watch a recurrent network learn. At first it
writes noise. Soon it finds the spaces between words and the most common letters. Then short words appear,
then longer ones, and at last whole phrases from the text it reads. Each sample it prints is a small report
of what the state has learned to remember.

Truncated backpropagation through time keeps long texts cheap. The text is cut into pieces of a few dozen
characters. The state is carried from one piece to the next, so the network still reads the text as one
stream, but the graph is cut at each boundary: the state is detached, and gradients stop there. The network
sees far back in its forward pass, yet pays only for the last few steps in its backward pass.

Every number in this small framework comes from one record of the forward pass. The same record gives the
gradients, the pictures of the unrolled graph, and the steps of the backward walk that you can play one at
a time. There is no second way to compute a gradient, so there is nothing to disagree.
"""
