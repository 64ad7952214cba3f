"""Learned codecs (CompressAI's architectures and CompressAI-compatible models of your own), measured
like every other codec: real bytes, separate decode.

The bitstream file (`bench.codecs.learned.container`) holds a 12-byte header and the strings of
`model.compress()`; `bytes`/`bpp` count the whole file over the unpadded pixels, `payload_bytes` the
strings alone (what CompressAI's eval_model counts).

Decoding is a separate step that reads only that file.  The decode check compares its picture with
the encoder-side reconstruction of the same latents: `forward()` in eval mode for the
non-autoregressive models (it quantises exactly as compress() does), `decompress()` of the encoder's
own strings for mbt2018 / cheng2020 (their forward() is not the decoder's picture).  A mismatch (GPU
entropy-coding drift is a known failure) flags the row: `decode_check` False, `decode_max_diff`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from bench.codecs.base import Codec, Decoded, Encoded, clock
from bench.codecs.learned.container import pack, unpack
from bench.codecs.learned.models import (AUTOREGRESSIVE, ZOO_LAMBDAS, is_builtin, load_checkpoint, load_zoo,
                                         zoo_file, zoo_qualities)
from bench.core.assets import user_or_asset
from bench.core.device import resolve_device, synchronize
from bench.core.errors import BenchError, CodecUnavailable
from bench.core.files import sha256_file


class CompressAIModel(Codec):
    """CompressAI image models and CompressAI-compatible models of your own: zoo, checkpoints, manifest."""

    point_name = "quality"
    point_type = float
    revision = 1
    path_params = ("checkpoints", "manifest")

    @classmethod
    def defaults(cls):
        return {
            "arch": "bmshj2018-hyperprior",  # a CompressAI architecture, or your model class (import path)
            "model_args": {},  # your model class's constructor keywords (CompressAI architectures take N, M)
            "metric": "mse",  # which zoo weights (mse | ms-ssim)
            "weights": "zoo",  # zoo | checkpoint | manifest
            "checkpoints": {},  # weights=checkpoint: {point: path}
            "manifest": None,  # weights=manifest: JSON listing {point, file, lambda, sha256, N, M}
            "N": None,
            "M": None,
            "lambdas": {},  # weights=checkpoint: {point: lambda}, recorded per row
            "device": "auto",  # auto | cpu | cuda
            "pad_multiple": 64,
            "pad_mode": "constant",  # centred zero padding as CompressAI's eval_model; or replicate
            "decode_check": True,
        }

    def __init__(self, threads: int = 1, **params):
        super().__init__(threads, **params)
        if self.params["weights"] not in ("zoo", "checkpoint", "manifest"):
            raise BenchError(f"compressai: weights must be zoo, checkpoint or manifest, not {self.params['weights']!r}")
        if self.params["weights"] == "zoo" and not is_builtin(str(self.params["arch"])):
            raise BenchError(f"compressai: the zoo has CompressAI's architectures only; give {self.params['arch']!r} "
                             "its weights with weights=checkpoint")
        self._models: dict[Any, Any] = {}
        self._entries = self._manifest_entries() if self.params["weights"] == "manifest" else {}

    # ---- where weights come from -------------------------------------------------------------
    def _manifest_path(self) -> Path:
        return user_or_asset(str(self.params["manifest"]))

    def _manifest_entries(self) -> dict:
        if not self.params["manifest"]:
            raise BenchError("compressai: weights=manifest needs codec.params.manifest=path/to/manifest.json")
        path = self._manifest_path()
        if not path.is_file():
            raise BenchError(f"compressai: manifest not found: {path}")
        data = json.loads(path.read_text())
        return {int(e["point"]): {**e, "file": str(path.parent / e["file"])} for e in data["checkpoints"]}

    @staticmethod
    def _key(point) -> float:
        return float(point)

    def _checkpoints(self) -> dict[float, str]:
        return {self._key(k): v for k, v in (self.params["checkpoints"] or {}).items()}

    def _checkpoint_for(self, point) -> str:
        ck = self._checkpoints()
        if self._key(point) not in ck:
            raise BenchError(f"compressai: no checkpoint for point {point}; codec.params.checkpoints has {sorted(ck)}")
        p = Path(os.path.expanduser(str(ck[self._key(point)])))
        return str(p if p.is_absolute() else Path.cwd() / p)

    def lmbda(self, point) -> float | None:
        w = self.params["weights"]
        if w == "zoo":
            return ZOO_LAMBDAS.get(self.params["metric"], {}).get(int(point))
        if w == "manifest":
            return self._entries.get(int(point), {}).get("lambda")
        lam = {self._key(k): v for k, v in (self.params["lambdas"] or {}).items()}
        return lam.get(self._key(point))

    def check_point(self, point):
        point = super().check_point(point)
        w, arch = self.params["weights"], self.params["arch"]
        if w == "zoo":
            if float(point) not in [float(q) for q in zoo_qualities(arch)]:
                raise BenchError(f"compressai: {arch} zoo qualities are {zoo_qualities(arch)}, not {point!r}")
            return int(point)
        if w == "manifest":
            if float(point) not in [float(k) for k in self._entries]:
                raise BenchError(f"compressai: manifest {self.params['manifest']} has points {sorted(self._entries)}, not {point!r}")
            return int(point)
        if self._key(point) not in self._checkpoints():
            raise BenchError(f"compressai: no checkpoint for point {point!r}; codec.params.checkpoints has "
                             f"{sorted(self._checkpoints())}")
        return point

    def files(self, point=None) -> dict[str, str]:
        """The weights of `point`: their sha256 (not their path) identifies the configuration."""
        if point is None:
            return {}
        w = self.params["weights"]
        if w == "checkpoint":
            return {"checkpoint": self._checkpoint_for(point)}
        if w == "manifest":
            return {"checkpoint": self._entries[int(point)]["file"]} if int(point) in self._entries else {}
        name, directory = zoo_file(self.params["arch"], self.params["metric"], int(point))
        return {"zoo_weights": str(directory / name)} if (directory / name).is_file() else {}

    def version(self) -> str:
        # the packages' __version__ strings, read without importing torch (seconds): a finished sweep
        # reruns without it
        from bench.core.provenance import module_version

        arch = self.params["arch"]
        ident = f"compressai {module_version('compressai')} torch {module_version('torch')} {arch}"
        if self.params["weights"] == "zoo":
            ident += f" zoo {self.params['metric']}"
        return ident

    def check(self) -> None:
        try:
            import compressai  # noqa: F401
        except ImportError:
            raise CodecUnavailable("compressai: the compressai package is not installed (pip install 'lic-bench[learned]')") from None
        resolve_device(self.params["device"], "compressai device")
        if self.params["weights"] == "manifest":
            for e in self._entries.values():
                if not Path(e["file"]).is_file():
                    raise CodecUnavailable(f"compressai: checkpoint {e['file']} listed in {self.params['manifest']} is missing")
                got = sha256_file(e["file"])
                if got != e["sha256"]:
                    raise BenchError(f"compressai: {e['file']} has sha256 {got[:12]}..., manifest says {e['sha256'][:12]}...")
        elif self.params["weights"] == "checkpoint":
            for k in self._checkpoints():
                path = self._checkpoint_for(k)
                if not Path(path).is_file():
                    raise BenchError(f"compressai: checkpoint not found: {path} (point {k:g})")

    def colour(self):
        return {"colour_matrix": "rgb", "colour_range": "full", "colour_chroma": "444", "colour_bit_depth": 8, "colour_siting": "n/a"}

    def _model(self, point):
        key = self._key(point)
        if key in self._models:
            return self._models[key]
        import torch

        torch.set_num_threads(self.threads)
        p = self.params
        if p["weights"] == "zoo":
            if int(key) not in zoo_qualities(p["arch"]):
                raise BenchError(f"compressai: {p['arch']} zoo qualities are {zoo_qualities(p['arch'])}, not {point}")
            model = load_zoo(p["arch"], p["metric"], int(key))
        elif p["weights"] == "manifest":
            if int(key) not in self._entries:
                raise BenchError(f"compressai: manifest has points {sorted(self._entries)}, not {point}")
            e = self._entries[int(key)]
            got = sha256_file(e["file"])
            if got != e["sha256"]:
                raise BenchError(f"compressai: {e['file']} has sha256 {got[:12]}..., manifest says {e['sha256'][:12]}...")
            model, _ = load_checkpoint(e["file"], e.get("arch", p["arch"]), e.get("N"), e.get("M"))
        else:
            model, _ = load_checkpoint(self._checkpoint_for(key), p["arch"], p["N"], p["M"], p["model_args"])
        device = resolve_device(p["device"], "compressai device")
        if device == "cuda":
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
        self._models[key] = model.eval().to(device)
        return self._models[key]

    # ---- coding ------------------------------------------------------------------------------
    def _sync(self):
        synchronize(resolve_device(self.params["device"], "compressai device"))

    def _to_uint8(self, x_hat, unpad) -> np.ndarray:
        import torch.nn.functional as F

        x = F.pad(x_hat, unpad).clamp(0, 1)
        return np.ascontiguousarray((x[0].permute(1, 2, 0).cpu().numpy() * 255.0 + 0.5).astype(np.uint8))

    def _padding(self, h: int, w: int):
        from compressai.ops import compute_padding

        return compute_padding(h, w, min_div=int(self.params["pad_multiple"]))

    def encode(self, rgb: np.ndarray, point, workdir: Path) -> Encoded:
        import torch
        import torch.nn.functional as F

        model = self._model(point)
        device = next(model.parameters()).device
        h, w = rgb.shape[:2]
        # contiguous NCHW, as ToTensor gives: a channels-last view takes other conv kernels (other bytes)
        x = torch.from_numpy(np.array(rgb, dtype=np.float32) / 255.0).permute(2, 0, 1).unsqueeze(0).contiguous().to(device)
        pad, unpad = self._padding(h, w)
        xp = F.pad(x, pad, mode=self.params["pad_mode"], **({"value": 0} if self.params["pad_mode"] == "constant" else {}))
        with torch.no_grad():
            self._sync()
            with clock() as c:
                out = model.compress(xp)
                self._sync()
        strings = [s[0] for s in out["strings"]]
        data = pack(strings, tuple(out["shape"]), h, w)
        path = workdir / "bitstream.lic"
        path.write_bytes(data)
        extra: dict[str, Any] = {
            "lambda": self.lmbda(point), "payload_bytes": sum(len(s) for s in strings), "header_bytes": len(data) - sum(len(s) for s in strings),
            "device": str(device), "pad_mode": f"{self.params['pad_mode']} centred to x{self.params['pad_multiple']}",
            "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        }
        meta: dict[str, Any] = {"point": point}
        with torch.no_grad(), clock() as cc:
            fwd = model(xp)
            bits = sum(float(-torch.log2(lk).sum()) for lk in fwd["likelihoods"].values())
            extra["bpp_estimated"] = bits / (h * w)
            if self.params["decode_check"]:
                if self.params["arch"] in AUTOREGRESSIVE or not is_builtin(str(self.params["arch"])):
                    ref = model.decompress(out["strings"], out["shape"])["x_hat"]
                else:
                    ref = fwd["x_hat"]
                recon = self._to_uint8(ref, unpad)
                np.save(workdir / "encoder_recon.npy", recon)
                meta["encoder_recon"] = str(workdir / "encoder_recon.npy")
        extra["check_s"] = cc.timing.wall
        cmd = f"{self.params['arch']}.compress() [{self.params['weights']}, point {point}, {device}]"
        return Encoded(path, cmd, c.timing, meta, extra=extra)

    def decode(self, enc: Encoded, workdir: Path) -> Decoded:
        import torch

        strings, shape, h, w = unpack(enc.path.read_bytes())
        model = self._model(self._point_of(enc))
        _, unpad = self._padding(h, w)
        with torch.no_grad():
            self._sync()
            with clock() as c:
                x_hat = model.decompress([[s] for s in strings], torch.Size(shape))["x_hat"]
                self._sync()
        rgb = self._to_uint8(x_hat, unpad)
        extra: dict[str, Any] = {}
        if enc.meta.get("encoder_recon"):
            ref = np.load(enc.meta["encoder_recon"])
            diff = int(np.abs(ref.astype(np.int16) - rgb).max())
            extra = {"decode_check": diff == 0, "decode_max_diff": diff}
        return Decoded(rgb, f"{self.params['arch']}.decompress()", c.timing, extra)

    def _point_of(self, enc: Encoded):
        return enc.meta["point"]
