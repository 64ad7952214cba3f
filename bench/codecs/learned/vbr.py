"""CompressAI's variable-rate models (bmshj2018-hyperprior-vbr, mbt2018-mean-vbr, mbt2018-vbr; Kamisli
et al., DCC 2024) as a codec: one model, its quantisation step as a continuous rate point.

Coded as CompressAI's eval_model codes them (`--vbr_quantstep`): stage 2, scale = 1/step, the
rate-dependent entropy bottleneck's z tables rebuilt for each step.  The step travels in the bitstream
(`bench.codecs.learned.container`, a float32), so the decoder process needs the file and nothing else;
everything else (decoder process, checks, timing, complexity) is `CompressAIModel`'s.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.codecs.base import Codec
from bench.codecs.learned.adapter import CompressAIModel
from bench.codecs.learned.container import float32
from bench.codecs.learned.models import VARIABLE_RATE, VBR_VARIABLE_BOTTLENECK, init_model, load_checkpoint, load_zoo, zoo_file
from bench.core.errors import BenchError


class CompressAIVbr(CompressAIModel):
    """CompressAI's variable-rate models (-vbr): one model, its quantisation step as a continuous rate point."""

    point_name = "quant_step"
    point_type = float
    point_range = (1.0, 10.0)  # the steps CompressAI's vbr models are trained for (Gain 1.0 .. 0.1)
    revision = 1
    path_params = ("checkpoint",)
    WEIGHTS = ("zoo", "checkpoint", "init")

    @classmethod
    def defaults(cls):
        d = {k: v for k, v in super().defaults().items() if k not in ("model_args", "checkpoints", "manifest", "lambdas")}
        d.update({"arch": "bmshj2018-hyperprior-vbr", "checkpoint": None})  # weights=checkpoint: one file for every rate
        return d

    def __init__(self, threads: int = 1, **params):
        super().__init__(threads, **params)
        self._rates: dict[tuple[int, float], dict] = {}

    def _name(self) -> str:
        return "compressai_vbr"

    def _check_arch(self, arch: str) -> None:
        if arch not in VARIABLE_RATE:
            raise BenchError(f"compressai_vbr: {arch!r} is not a variable-rate model; known: {', '.join(sorted(VARIABLE_RATE))} "
                             "(fixed-rate models: codec=compressai_zoo / compressai_checkpoint)")

    def lmbda(self, point) -> float | None:
        return None

    def check_point(self, point):
        return Codec.check_point(self, point)

    def _checkpoint_path(self) -> str:
        if not self.params["checkpoint"]:
            raise BenchError("compressai_vbr: weights=checkpoint needs codec.params.checkpoint=path/to/model.pth.tar")
        p = Path(os.path.expanduser(str(self.params["checkpoint"])))
        return str(p if p.is_absolute() else Path.cwd() / p)

    def files(self, point=None) -> dict[str, str]:
        """One file for every rate: part of every point's identity."""
        if point is not None:
            return {}
        w = self.params["weights"]
        if w == "checkpoint":
            return {"checkpoint": self._checkpoint_path()}
        if w == "zoo":
            name, directory = zoo_file(self.params["arch"], self.params["metric"], None)
            return {"zoo_weights": str(directory / name)} if (directory / name).is_file() else {}
        return {}

    def check(self) -> None:
        if self.params["weights"] == "checkpoint" and not Path(self._checkpoint_path()).is_file():
            raise BenchError(f"compressai_vbr: checkpoint not found: {self._checkpoint_path()}")
        if self.params["weights"] == "zoo":
            zoo_file(self.params["arch"], self.params["metric"], None)  # a metric the zoo lacks: one clear error now
        super().check()

    def _model_key(self, point):
        return "vbr"

    def _load(self, key):
        p = self.params
        if p["weights"] == "zoo":
            return load_zoo(p["arch"], p["metric"], None)
        if p["weights"] == "init":
            return init_model(p["arch"], int(p["seed"]), p["N"], p["M"])
        return load_checkpoint(self._checkpoint_path(), p["arch"], p["N"], p["M"])[0]

    def _rate(self, point) -> float:
        return float32(point)

    def _rate_from_file(self, rate):
        if rate is None:
            raise BenchError("compressai_vbr: this bitstream carries no rate (a fixed-rate model's)")
        return rate

    def _coding_kwargs(self, model, rate) -> dict:
        """stage 2 (the variable-rate path, as eval_model) at scale 1/step; the z tables of the rate-dependent
        entropy bottleneck rebuilt for that step (kept per step: switching back costs nothing)."""
        import torch

        scale = 1.0 / torch.tensor(float(rate), dtype=torch.float32, device=next(model.parameters()).device)
        if self.params["arch"] in VBR_VARIABLE_BOTTLENECK:
            eb = model.entropy_bottleneck
            names = ("_quantized_cdf", "_offset", "_cdf_length")
            k = (id(model), float(rate))
            if getattr(model, "_bench_rate", None) != float(rate):
                if k in self._rates:
                    for n in names:
                        setattr(eb, n, self._rates[k][n])
                else:
                    model.update(force=True, scale=scale)
                    self._rates[k] = {n: getattr(eb, n) for n in names}
                model._bench_rate = float(rate)
        return {"stage": 2, "s": 0, "inputscale": scale}
