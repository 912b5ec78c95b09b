"""Bad input gets a clear error naming the op, the shapes and the scope -- and nothing half-recorded."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor
from tinygrad_rnn.core import tape


def leaf(*shape, name=None):
    return Tensor(np.ones(shape), requires_grad=True, name=name)


def creations():
    """The next creation number, read from the counter's repr ("count(17)") without advancing it."""
    return int(repr(tape._creation)[6:-1])


def test_shape_mismatch_inside_a_scope_names_op_shapes_and_scope():
    a, b = leaf(2, 3), leaf(4, 5)
    with tg.scope("lstm"):
        with tg.scope("layer0/t=3"):
            with pytest.raises(tg.OpError) as info:
                a + b
    msg = str(info.value)
    assert "add" in msg and "(2, 3)" in msg and "(4, 5)" in msg and "lstm/layer0/t=3" in msg
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("expr, op, shapes", [
    (lambda a, b: a @ b, "matmul", ["(2, 3)", "(2, 3)"]),
    (lambda a, b: a * b.T, "mul", ["(2, 3)", "(3, 2)"]),
    (lambda a, b: tg.concat([a, b.T], axis=0), "concat", ["(2, 3)", "(3, 2)"]),
    (lambda a, b: tg.stack([a, b.T]), "stack", ["(2, 3)", "(3, 2)"]),
    (lambda a, b: a.reshape(4, 2), "reshape", ["(2, 3)"]),
    (lambda a, b: a.sum(axis=2), "sum", ["(2, 3)"]),
    (lambda a, b: a.max(axis=-3), "max", ["(2, 3)"]),
    (lambda a, b: a.transpose(0, 2), "transpose", ["(2, 3)"]),
    (lambda a, b: a.permute(1, 1), "permute", ["(2, 3)"]),
    (lambda a, b: a.unsqueeze(3), "unsqueeze", ["(2, 3)"]),
    (lambda a, b: a[5], "getitem", ["(2, 3)"]),
])
def test_every_op_names_itself_the_shapes_and_the_scope(expr, op, shapes):
    a, b = leaf(2, 3, name="h"), leaf(2, 3)
    with tg.scope("t=7"):
        with pytest.raises(tg.OpError) as info:
            expr(a, b)
    msg = str(info.value)
    assert msg.startswith(op + "(") and all(s in msg for s in shapes) and "'t=7'" in msg, msg
    assert "h(2, 3)" in msg                          # a named input is shown by its name


def test_error_outside_any_scope_has_no_scope_text():
    with pytest.raises(tg.OpError) as info:
        leaf(2) + leaf(3)
    assert "scope" not in str(info.value)


def test_a_failed_op_records_nothing():
    a, b = leaf(2, 3), leaf(4)
    y = a * 2.0
    before, graph_before = creations(), tg.graph(y)
    for bad in (lambda: y + b, lambda: y @ b, lambda: tg.concat([y, b]), lambda: y["x"], lambda: y + "x",
                lambda: tg.cross_entropy(y, [0, 5]), lambda: tg.mse_loss(y, np.ones(3))):
        with tg.scope("t=1"):
            with pytest.raises((ValueError, TypeError)):
                bad()
    assert creations() == before                      # no Node was made by any of the failures
    assert tg.current_scope() == "" and tg.is_grad_enabled()
    assert tg.graph(y) == graph_before
    y.sum().backward()
    np.testing.assert_array_equal(a.grad, 2.0)
    assert b.grad is None


def test_backward_on_non_scalar_without_grad():
    y = leaf(2, 3) * 2.0
    with pytest.raises(ValueError, match=r"backward\(\).*shape \(2, 3\).*grad="):
        y.backward()


def test_backward_with_a_gradient_of_the_wrong_shape():
    y = leaf(2, 3) * 2.0
    with pytest.raises(ValueError, match=r"grad has shape \(3, 2\).*tensor has shape \(2, 3\)"):
        y.backward(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"grad has shape \(\).*\(2, 3\)"):
        y.backward(1.0)
    y.backward(Tensor(np.ones((2, 3))))                # the right shape, given as a Tensor, works


def test_backward_on_something_without_a_graph():
    with pytest.raises(tg.GraphError, match="requires_grad=True"):
        Tensor(np.ones(2)).sum().backward()


def test_requires_grad_on_an_integer_tensor():
    with pytest.raises(TypeError, match=r"requires_grad.*float.*int64"):
        Tensor(np.array([1, 2]), dtype=np.int64, requires_grad=True)
    assert Tensor(np.array([1, 2]), dtype=np.int64).dtype == np.int64   # fine without requires_grad


@pytest.mark.parametrize("expr, op", [
    (lambda x: x + "a", "add"), (lambda x: "a" + x, "add"), (lambda x: x - None, "sub"),
    (lambda x: x * [1, 2], "mul"), (lambda x: {1: 2} / x, "div"), (lambda x: x ** "2", "pow"),
    (lambda x: x @ "a", "matmul"), (lambda x: x * True, "mul"),
])
def test_mixing_a_tensor_with_an_unsupported_type(expr, op):
    x = leaf(2)
    with pytest.raises(TypeError, match=rf"^{op}: cannot combine a Tensor with"):
        expr(x)


def test_unsupported_values_and_containers():
    with pytest.raises(TypeError, match="Tensor"):
        Tensor("abc")
    with pytest.raises(TypeError, match="Tensor"):
        Tensor([1.0, "x"])
    with pytest.raises(TypeError, match=r"concat: item 1 is a str"):
        tg.concat([leaf(2), "x"])
    with pytest.raises(ValueError, match="at least one"):
        tg.stack([])


def test_loss_input_errors():
    logits = leaf(3, 4)
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 4\)"):
        tg.cross_entropy(logits, [0, 4, 1])
    with pytest.raises(ValueError, match=r"integer class indices of shape \(3,\)"):
        tg.cross_entropy(logits, [0.5, 1, 2])
    with pytest.raises(ValueError, match=r"integer class indices of shape \(\) for logits of shape \(4,\)"):
        tg.cross_entropy(leaf(4), [0])
    with pytest.raises(ValueError, match=r"pred has shape \(3, 4\) but target has shape \(4,\)"):
        tg.mse_loss(logits, np.ones(4))


def test_split_and_chunk_errors():
    x = leaf(5, 2)
    with pytest.raises(ValueError, match=r"do not add up to 5"):
        x.split([2, 2])
    with pytest.raises(ValueError, match="positive"):
        x.split(0)
    with pytest.raises(ValueError, match="positive"):
        x.chunk(0)


def test_item_of_many_values():
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        leaf(2).item()


def test_linear_add_term_of_the_wrong_shape_names_the_op_shapes_and_scope():
    x, w, b = leaf(2, 3), leaf(4, 3), leaf(4)
    with tg.scope("rnn/t=2"), pytest.raises(tg.OpError, match=r"^linear\(.*\(2, 3\).*\(4, 3\).*\(4,\).*\(3, 4\)\) "
                                                              r"in scope 'rnn/t=2': .*output's shape \(2, 4\)"):
        tg.linear(x, w, b, add=leaf(3, 4))


@pytest.mark.parametrize("shape", [(5, 2, 4), (4,), (3, 4)])
def test_linear_add_term_must_have_the_output_shape_with_or_without_a_bias(shape):
    x, w = leaf(2, 3), leaf(4, 3)
    for bias in (None, leaf(4)):
        with pytest.raises(tg.OpError, match=r"^linear\(.*: the added term must have the output's shape \(2, 4\)"):
            tg.linear(x, w, bias, add=leaf(*shape))


@pytest.mark.parametrize("keep_grads", [False, True])
def test_an_op_outside_the_table_whose_vjp_forgets_to_unbroadcast_is_named(keep_grads):
    class AddRow:                     # duck-typed op, not gradchecked with the table: its shapes are checked
        name = "add_row"

        def forward(x, row):
            return x + row, None

        def vjp(g, saved, needs):
            return g, g               # the row's gradient should be summed over the rows

    x, row = leaf(2, 3), leaf(3)
    with pytest.raises(tape.GraphError, match=r"vjp of add_row .* shape \(2, 3\) to an input of shape \(3,\)"):
        tg.core.tensor.apply(AddRow, x, row).sum().backward(keep_grads=keep_grads)
    with pytest.raises(tape.GraphError, match=r"vjp of add_row .* shape \(2, 3\) to an input of shape \(3,\)"):
        tg.core.tensor.apply(AddRow, x.tanh(), row * 2.0).sum().backward(keep_grads=keep_grads)   # freed inputs
