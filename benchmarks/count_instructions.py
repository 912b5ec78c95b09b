"""Instructions per op and per training step, counted by valgrind's callgrind: free of a shared machine's drift.

    python3 benchmarks/count_instructions.py                  # the per-op chain and LSTM (8, 32, 32, T=200)
    python3 benchmarks/count_instructions.py lstm gru         # and the training steps of these workloads
    python3 benchmarks/count_instructions.py --keep rnn       # and backward(keep_grads=True)'s steps too

Each count runs a fresh python under `valgrind --tool=callgrind` twice, with one warm-up call and then 0 or 2
more calls: half the difference is one call's instructions (imports and warm-up cancel out). One BLAS thread.
Instructions are not time (cache misses and page faults cost no instructions), but two versions of the code
compare to the instruction, where CPU time on a shared VM drifts by half within minutes. Needs valgrind.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(what, n):
    """In the process valgrind watches: one warm-up call of `what`, then n more."""
    sys.path.insert(0, str(ROOT))
    from benchmarks import bench_rnn as br
    if what in ("framework", "kernels"):
        framework, kernels, _ = br.op_chain()
        call = framework if what == "framework" else kernels
    else:
        who, workload = what.split(":")
        kind, *sizes = br.WORKLOADS[workload]
        inputs = br.make_inputs(kind, *sizes)
        call = br.setup_numpy(kind, inputs) if who == "numpy" else br.setup_project(kind, inputs, who == "tg+keep")
    for _ in range(1 + n):
        call()


def instructions(what):
    counts = []
    for n in (0, 2):
        res = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                              __file__, "--run", what, str(n)], capture_output=True, text=True,
                             env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
        found = re.search(r"Collected : (\d+)", res.stderr)
        if res.returncode or not found:
            raise RuntimeError(f"callgrind run of {what} failed:\n{res.stderr[-2000:]}")
        counts.append(int(found.group(1)))
    return (counts[1] - counts[0]) / 2


def main(workloads, keep=False):
    sys.path.insert(0, str(ROOT))
    from benchmarks.bench_rnn import op_chain
    n_ops = op_chain()[2]
    framework, kernels = instructions("framework") / n_ops, instructions("kernels") / n_ops
    print(f"op chain: {framework:,.0f} instructions per op through Tensors, {kernels:,.0f} in the ops' own numpy "
          f"forward/vjp -> framework {framework - kernels:,.0f} per recorded op")
    for w in workloads:
        ours, numpy = instructions(f"tinygrad_rnn:{w}"), instructions(f"numpy:{w}")
        print(f"{w}: tinygrad_rnn {ours / 1e6:,.1f} M instructions per training step, numpy BPTT "
              f"{numpy / 1e6:,.1f} M ({ours / numpy:.2f}x)")
        if keep:
            kept = instructions(f"tg+keep:{w}")
            print(f"{w}: backward(keep_grads=True) {kept / 1e6:,.1f} M ({kept / ours:.2f}x the lean step)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--run"]:
        run(sys.argv[2], int(sys.argv[3]))
    else:
        keep = "--keep" in sys.argv
        main([w for w in sys.argv[1:] if w != "--keep"] or ["lstm-T200"], keep)
