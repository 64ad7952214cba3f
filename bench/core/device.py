"""The torch device choice shared by learned codecs and deep metrics: auto = CUDA when torch sees one."""

from __future__ import annotations

from bench.core.errors import BenchError


def resolve_device(device: str | None = "auto", what: str = "device") -> str:
    """auto -> 'cuda' when torch sees a GPU, else 'cpu'; an explicit cuda without a GPU is a user error."""
    import torch

    d = str(device or "auto").lower()
    if d == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if d != "cpu" and not d.startswith("cuda"):
        raise BenchError(f"{what} must be auto, cpu or cuda, not {device!r}")
    if d.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError(f"{what}={device} asked but torch sees no CUDA device")
    return d


def synchronize(device: str) -> None:
    """Wait for queued CUDA work before reading a clock (CompressAI's timings skip this)."""
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()
