"""Every command that builds an example network (step, player, draw, bptt) takes the same network options with
the same defaults and builds the same network from them; bptt prints the formulas of what it built."""
import pytest

from viz.cli import build_parser, main

COMMANDS = {"step": ["--all"], "player": ["--check", "none"], "draw": [], "bptt": []}
SHARED = ("model", "layers", "steps", "phi", "s0", "seed", "hidden")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_shared_options_have_the_same_defaults_everywhere():
    parser = build_parser()
    defaults = [{k: getattr(parser.parse_args([cmd]), k) for k in SHARED} for cmd in COMMANDS]
    assert all(d == defaults[0] for d in defaults)
    assert defaults[0] == {"model": "seed", "layers": 1, "steps": 3, "phi": "tanh", "s0": "random", "seed": 0,
                           "hidden": 3}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("model,layers", [("seed", 2), ("lstm", 2), ("rnn", 1)])
def test_every_command_accepts_the_shared_options(capsys, tmp_path, command, model, layers):
    out = ["--out", tmp_path / ("p.html" if command == "player" else "g.dot")] if command in ("player", "draw") else []
    code, text, err = run(capsys, command, *COMMANDS[command], *out, "--model", model, "--layers", layers,
                          "--steps", 4, "--phi", "relu", "--s0", "zeros", "--seed", 2, "--hidden", 2)
    assert code == 0, err
    if command == "bptt":
        assert ("two-layer" in text) if model == "seed" else ("2 layers" in text or "1 layer" in text)
        assert text.count("terms sum to") == text.count("equal (max") and "DIFFERENT" not in text


@pytest.mark.parametrize("command", list(COMMANDS))
def test_positive_sizes_are_checked_the_same_way(capsys, command):
    with pytest.raises(SystemExit) as exit:
        main([command, "--steps", "0"])
    assert exit.value.code == 2
    assert "expected a positive integer, got '0'" in capsys.readouterr().err


def test_bptt_titles_what_it_built(capsys):
    _, three, _ = run(capsys, "bptt")
    assert three.startswith("The seed's three-step network: ") and "(2) ∂E_3/∂W_s" in three
    _, five, _ = run(capsys, "bptt", "--steps", 5)
    assert "three-step" not in five and five.startswith("The seed's network unrolled over 5 steps")
    assert "t=5  ∂E_5/∂y_5 · ∂y_5/∂s_5 · ∂s_5/∂W_s" in five and "W_s is used 5 times" in five
    _, two, _ = run(capsys, "bptt", "--layers", 2)
    assert two.startswith("The seed's two-layer network, 3 steps")
    for weight in ("W_x", "W_s", "W_y", "W_s'", "W"):
        assert f"terms sum to {weight}.grad: equal" in two
    assert "∂E/∂s'_2 · ∂s'_2/∂W_s'" in two and "∂E_1/∂O_1 · ∂O_1/∂W" in two
    _, lstm, _ = run(capsys, "bptt", "--model", "lstm", "--layers", 2, "--steps", 3)
    assert "(3) ∂E_3/∂weight_ih_l1: weight_ih_l1 is used once for all steps (t=1, t=2, t=3), in one batched" in lstm
    assert "∂E_3/∂(h^(1)_2, c^(1)_2) · ∂(h^(1)_2, c^(1)_2)/∂weight_ih_l1" in lstm
    assert "∂E_3/∂(h_2, c_2) · ∂(h_2, c_2)/∂weight_ih_l0" in lstm                # layer 0's own states
    assert "∂(h^(1)_2, c^(1)_2)/∂weight_hh_l0" not in lstm
    _, gru, _ = run(capsys, "bptt", "--model", "gru", "--layers", 2, "--steps", 2)
    assert "∂E_2/∂h_1 · ∂h_1/∂bias_hh_l0" in gru and "∂E_2/∂h^(1)_1 · ∂h^(1)_1/∂bias_hh_l1" in gru


def test_draw_titles_and_the_readout_name_agree_with_step_and_player(capsys, tmp_path):
    import viz
    from viz.cli.options import build
    from viz.cli.teach import build as teach_build
    code, text, _ = run(capsys, "draw", "--model", "seed", "--steps", 10, "--out", tmp_path / "s.dot")
    assert code == 0 and "the seed's network unrolled over 10 steps" in text and "three-step" not in text
    _, names = teach_build("gru", 2)
    assert {"head.weight", "head.bias"} <= set(names) and names["head.weight"].name == "head.weight"
    args = build_parser().parse_args(["draw", "--model", "gru", "--steps", "2"])
    example = build(args)
    example.loss.backward(keep_grads=True)
    assert "head.weight" in viz.draw(example.loss).source


def test_train_spells_the_model_as_draw_and_step(capsys):
    parser = build_parser()
    args = parser.parse_args(["train", "adding", "--model", "rnn", "--phi", "relu"])
    assert (args.model, args.phi) == ("rnn", "relu")
    code, text, err = run(capsys, "train", "adding", "--model", "rnn", "--phi", "relu", "--steps", 2, "--hidden", 4,
                          "--seq-len", 4, "--batch-size", 2, "--quiet")
    assert code == 0, err
    assert "relu-RNN" in text
    assert parser.parse_args(["train", "adding", "--model", "rnn-relu"]).model == "rnn-relu"     # the old name
    assert run(capsys, "train", "adding", "--model", "gru", "--phi", "relu", "--steps", 1)[0] == 2
