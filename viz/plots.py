"""Plots of what the core measured (matplotlib, the optional `plot` extra): the gradient-flow lab's figures."""
import os

import numpy as np

from tinygrad_rnn.files import as_path, replacing


def gradient_flow(flows, path=None):
    """Three panels (log scale): ||dE_T/ds_t|| over t, ||ds_T/ds_k|| over T-k, and the per-step terms of
    dE_T/dW_hh with (dashed) and without clipping. Saves to `path` if given; returns the Figure."""
    import matplotlib
    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    T = flows[0].steps
    t = np.arange(1, T + 1)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), constrained_layout=True)
    for f in flows:
        line, = axes[0].semilogy(t, f.state_grad, label=f.label)
        axes[1].semilogy(T - t, f.jacobian, color=line.get_color())
        terms = np.where(f.w_hh_terms > 0, f.w_hh_terms, np.nan)        # t=1 is exactly 0 (s_0 = 0)
        axes[2].semilogy(t, terms, color=line.get_color())
        if f.clip_scale < 1:
            axes[2].semilogy(t, terms * f.clip_scale, color=line.get_color(), linestyle="--")
    axes[0].set(title=r"$\|\partial E_T/\partial s_t\|$", xlabel="time step t")
    axes[1].set(title=r"$\|\partial s_T/\partial s_k\|$ (largest singular value)", xlabel="steps back, T - k")
    axes[2].set(title=r"term of $\partial E_T/\partial W_{hh}$ from step t", xlabel="time step t")
    axes[2].plot([], [], color="gray", label="without clipping")
    axes[2].plot([], [], color="gray", linestyle="--", label=f"clipped (max_norm={flows[0].max_norm:g})")
    for ax in axes:
        ax.grid(True, which="major", alpha=0.3)
    # the models' legend in rows under the panels, where no curve runs
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4), fontsize=9)
    axes[2].legend(fontsize=8)
    fig.suptitle(f"Gradient flow through {T} steps (E_T reads only the last state)")
    if path is not None:
        save_figure(fig, path)
    return fig


def gradient_flow_heatmap(flows, path=None):
    """One panel per model: the (t, k) matrix of ||ds_t/ds_k|| (t >= k; the diagonal is 1) on a log colour
    scale shared by all panels and centred on 1 (blue: the influence of s_k on s_t vanishes, red: it explodes). Saves to `path` if given; returns the Figure."""
    import matplotlib
    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    T = flows[0].steps
    finite = np.concatenate([f.jacobians[np.isfinite(f.jacobians) & (f.jacobians > 0)] for f in flows])
    lo, hi = (finite.min(), finite.max()) if finite.size else (1.0, 1.0)
    reach = max(hi, 1 / lo, 10.0)              # symmetric around 1: blue vanishes, red explodes, white keeps
    norm = LogNorm(vmin=1 / reach, vmax=reach)
    columns = min(3, len(flows))
    rows = -(-len(flows) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns + 1.2, 3.9 * rows), squeeze=False,
                             constrained_layout=True)
    extent = (0.5, T + 0.5, T + 0.5, 0.5)                      # k across, t down, both 1..T
    for ax, f in zip(axes.flat, flows):
        matrix = np.ma.masked_invalid(f.jacobians)
        image = ax.imshow(matrix, norm=norm, cmap="RdBu_r", extent=extent, interpolation="nearest")
        ax.set_facecolor("#d9d9d9")            # t < k: no such Jacobian
        ax.set(title=f.label, xlabel="k (earlier state)", ylabel="t (later state)")
    for ax in axes.flat[len(flows):]:
        ax.axis("off")
    fig.colorbar(image, ax=axes, shrink=0.8, label=r"$\|\partial s_t/\partial s_k\|$ (log scale)")
    fig.suptitle(rf"$\|\partial s_t/\partial s_k\|$: products of one-step Jacobians over {T} steps "
                 "(s = (h, c) for the LSTM; grey: t < k)")
    if path is not None:
        save_figure(fig, path)
    return fig


def save_figure(fig, path):
    """Write a matplotlib figure to `path` atomically, in the format its suffix names, and close it."""
    import matplotlib.pyplot as plt
    path = as_path(path, "plot")
    with replacing(path, "plot") as f:
        fig.savefig(f, dpi=110, format=os.path.splitext(path)[1].lstrip(".").lower() or "png")
    plt.close(fig)
