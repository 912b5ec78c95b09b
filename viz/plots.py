"""Plots of what the core measured (matplotlib, the optional `plot` extra): the gradient-flow lab's figure."""
import numpy as np


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
    axes[0].legend(fontsize=8)
    axes[2].legend(fontsize=8)
    fig.suptitle(f"Gradient flow through {T} steps (E_T reads only the last state)")
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig
