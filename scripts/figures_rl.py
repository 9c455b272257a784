"""The figure of scripts/report_rl: MemoryChain success against lag, one panel per T, one line per method."""

from __future__ import annotations

import itertools
from pathlib import Path

from scripts.records import EXTRA_COLORS, METHOD_COLORS


def method_styles(methods: list[str]) -> dict[str, tuple[str, str]]:
    """``(colour, linestyle)`` per row: a plain method in its own colour, solid; a variant (``"bptt (rtu)"``)
    in a colour and a broken line style of its own, so that no two rows share a line (up to three times as many
    variants as there are extra colours; a screening with more cycles through them again)."""
    extra = itertools.cycle(itertools.product(("--", ":", "-."), EXTRA_COLORS))
    styles = {}
    for method in methods:
        if method in METHOD_COLORS:
            styles[method] = (METHOD_COLORS[method], "-")
        else:
            linestyle, colour = next(extra)
            styles[method] = (colour, linestyle)
    return styles


def plot_memory_chain(grid: dict, path: Path, solved: float, episode: int) -> None:
    """``grid``: what ``report_rl.memory_tables`` returns; ``episode``: the horizon of full-episode runs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    horizons, methods, lags = grid["horizons"], grid["methods"], grid["lags"]
    fig, axes = plt.subplots(1, len(horizons), figsize=(4.2 * len(horizons), 3.6), sharey=True, squeeze=False)
    styles = method_styles(methods)
    for ax, h in zip(axes[0], horizons):
        for i, method in enumerate(methods):
            colour, linestyle = styles[method]
            xs, ys = [], []
            for lag in lags:
                vals = grid["cells"].get((method, h, lag))
                if not vals:
                    continue
                xs.append(lag)
                ys.append(grid["means"][(method, h, lag)])
                jitter = 1 + 0.03 * (i - len(methods) / 2)  # seeds' dots side by side, not on top of each other
                ax.scatter([lag * jitter] * len(vals), [v for _, v in vals], s=10, alpha=0.4, color=colour)
            if xs:
                ax.plot(xs, ys, marker="o", label=method, color=colour, linestyle=linestyle)
        ax.axhline(solved, ls="--", lw=0.8, color="grey")
        if h != episode:
            ax.axvline(h, ls=":", lw=0.8, color="black")
            ax.axvline(4 * h, ls=":", lw=0.8, color="purple")
        ax.set_xscale("log", base=2)
        ax.set_xticks(lags, [str(lag) for lag in lags])
        ax.set_xlabel("MemoryChain lag (memory_length)")
        ax.set_title("one window per episode (T = lag + 2)" if h == episode else f"T = {h}  (dotted: T and 4T)")
        ax.set_ylim(0.3, 1.03)
        ax.legend(loc="lower left", fontsize=7)  # per panel: the full-episode row has a panel of its own
    axes[0][0].set_ylabel("success rate, final 10% of the run")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
