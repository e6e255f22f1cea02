"""Which PyTorch peers are installed, and the command that installs the missing ones."""

from __future__ import annotations

from importlib.util import find_spec

INSTALL = "pip install 'genlab[bench]'"  # torch (CPU wheel) pinned, diffusers, torchcfm, torchdiffeq
# each measurement's peer side and the modules it imports
NEEDS = {
    "train_step": ("torch",),
    "sampling": ("torch", "diffusers"),
    "flow2d": ("torch", "torchcfm", "torchdiffeq"),
}


def missing(modules: tuple[str, ...]) -> list[str]:
    """The modules of ``modules`` that cannot be imported here."""
    return [m for m in modules if find_spec(m) is None]


def skip_reason(measurement: str, enabled: bool = True) -> str | None:
    """None when the peer side of ``measurement`` can run, else why not and how to make it run."""
    if not enabled:
        return "peers switched off (--no-peers)"
    gone = missing(NEEDS[measurement])
    if gone:
        return f"not installed: {', '.join(gone)}; install with: {INSTALL}"
    return None


def skipped(reason: str) -> dict:
    """What a measurement reports for a peer that did not run."""
    return {"skipped": True, "reason": reason, "install": INSTALL}
