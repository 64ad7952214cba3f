"""Learned codecs (CompressAI's architectures and CompressAI-compatible models of your own), measured
like every other codec: real bytes, a decode from the file alone, in another process.

The bitstream file (`bench.codecs.learned.container`) holds a 12-byte header and the strings of
`model.compress()`; `bytes`/`bpp` count the whole file over the unpadded pixels, `payload_bytes` the
strings alone (what CompressAI's eval_model counts).

Decoding runs in a decoder process (`bench.codecs.learned.decoder`), a fresh interpreter that reads
only that file; with the encoder on a GPU the same file is also decoded on the CPU.  Each device's
decode is checked against the encoder side (`decode_check_<device>`, `decode_max_diff_<device>` in
8-bit levels, `decode_check_by_<device>`; `decode_check` / `decode_max_diff` over all devices):
 - "latents": for the non-autoregressive fixed-rate models decoded on the encoder's device with the
   same threads, the latents the decoder entropy-decoded (the input of its g_s) must be bit-identical
   to the ones the encoder quantised, and the decoder's weights to the encoder's (sha256 of both); its
   picture is then g_s of the encoder's latents with the encoder's weights on the same device, i.e. the
   encoder-side reconstruction, with no second synthesis.  When they differ, the encoder side computes
   g_s of its latents and the pixel difference is measured.
 - "pixels": otherwise (another device, autoregressive and variable-rate models, your own models, or
   `decode_check=pixels`) the encoder side computes its reconstruction and the pictures are compared:
   g_s of the latents compress() quantised (what eval-mode forward() gives, without g_a again) for the
   non-autoregressive fixed-rate models, `decompress()` of the encoder's own strings for the others.
Everything runs in turn, never beside a timed call.

Timing protocol: the first `warmup` runs of each model shape and coded size in a process are not
timed (the first of them is the complexity count, `complexity=true`); the timed call is bracketed by
`torch.cuda.synchronize()` on CUDA; compress/decompress time is split into network (the model's
parts) and entropy coding (the rest); threads and device are columns.  See
`bench.codecs.learned.complexity` for what is counted.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.codecs.base import Codec, Decoded, Encoded, clock
from bench.codecs.learned import complexity as cx
from bench.codecs.learned.container import float32, pack, read
from bench.codecs.learned.models import (VARIABLE_RATE, ZOO_LAMBDAS, init_model, is_builtin, load_checkpoint, load_zoo, zoo_file,
                                         zoo_qualities)
from bench.core.assets import user_or_asset
from bench.core.device import resolve_device, synchronize
from bench.core.errors import BenchError, CodecUnavailable
from bench.core.files import sha256_file
from bench.core.timing import Timing

# Non-autoregressive fixed-rate architectures whose encoder-side reconstruction is g_s of the latents
# compress() quantised (eval-mode forward() computes the same, and runs g_a, h_a, h_s again).
FAST_REFERENCE = {"bmshj2018-factorized", "bmshj2018-factorized-relu", "bmshj2018-hyperprior", "mbt2018-mean"}
_CDF_BUFFERS = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")

# Per process: complexity counts per (side, model shape, coded size), and what has been warmed up.
_COUNTS: dict[tuple, dict] = {}
_WARM: set[tuple] = set()


def shape_key(model) -> str:
    """The model's class and tensor shapes (not its weights): what its MAC count depends on."""
    h = hashlib.sha1(f"{type(model).__module__}.{type(model).__qualname__}".encode())
    for name, t in model.state_dict().items():
        if not name.endswith(_CDF_BUFFERS):
            h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
    return h.hexdigest()[:16]


class CompressAIModel(Codec):
    """CompressAI image models and CompressAI-compatible models of your own: zoo, checkpoints, manifest."""

    point_name = "quality"
    point_type = float
    revision = 2  # 2: decode in a fresh process, complexity and timing-split columns
    path_params = ("checkpoints", "manifest")
    WEIGHTS = ("zoo", "checkpoint", "manifest", "init")

    @classmethod
    def defaults(cls):
        return {
            "arch": "bmshj2018-hyperprior",  # a CompressAI architecture, or your model class (import path)
            "model_args": {},  # your model class's constructor keywords (CompressAI architectures take N, M)
            "metric": "mse",  # which zoo weights (mse | ms-ssim)
            "weights": "zoo",  # zoo | checkpoint | manifest | init (locally initialised: no RD meaning)
            "checkpoints": {},  # weights=checkpoint: {point: path}
            "manifest": None,  # weights=manifest: JSON listing {point, file, lambda, sha256, N, M}
            "N": None,
            "M": None,
            "lambdas": {},  # weights=checkpoint: {point: lambda}, recorded per row
            "seed": 0,  # weights=init: torch.manual_seed(seed + point)
            "device": "auto",  # auto | cpu | cuda
            "pad_multiple": 64,
            "pad_mode": "constant",  # centred zero padding as CompressAI's eval_model; or replicate
            "decode_check": True,  # true (latents where that proves it, else pixels) | pixels | false
            "warmup": 1,  # untimed runs per model shape and coded size in each process (the first is the count)
            "complexity": True,  # parameters and kMAC/px per part, by torch.utils.flop_counter and fvcore
            "cross_device_decode": True,  # encoder on CUDA: decode every bitstream on the CPU too
        }

    def __init__(self, threads: int = 1, **params):
        super().__init__(threads, **params)
        p = self.params
        if p["weights"] not in self.WEIGHTS:
            raise BenchError(f"{self._name()}: weights must be {', '.join(self.WEIGHTS[:-1])} or {self.WEIGHTS[-1]}, not {p['weights']!r}")
        arch = str(p["arch"])
        if p["weights"] in ("zoo", "init") and not is_builtin(arch):
            raise BenchError(f"{self._name()}: weights={p['weights']} is for CompressAI's architectures only; give {arch!r} "
                             "its weights with weights=checkpoint")
        if p["weights"] == "zoo" and p["metric"] not in ZOO_LAMBDAS:
            raise BenchError(f"compressai: zoo metric must be one of {', '.join(ZOO_LAMBDAS)}, not {p['metric']!r}")
        if p["pad_mode"] not in ("constant", "replicate"):
            raise BenchError(f"compressai: pad_mode must be constant or replicate, not {p['pad_mode']!r}")
        if isinstance(p["pad_multiple"], bool) or not isinstance(p["pad_multiple"], int) or p["pad_multiple"] < 1:
            raise BenchError(f"compressai: pad_multiple must be a positive integer, not {p['pad_multiple']!r}")
        if str(p["device"]).lower() != "auto" and str(p["device"]).lower() != "cpu" and not str(p["device"]).lower().startswith("cuda"):
            raise BenchError(f"compressai: device must be auto, cpu or cuda, not {p['device']!r}")
        self._check_arch(arch)
        if p["decode_check"] not in (True, False, "pixels"):
            raise BenchError(f"{self._name()}: decode_check must be true, false or pixels, not {p['decode_check']!r}")
        if int(p["warmup"]) < 0:
            raise BenchError(f"{self._name()}: warmup must be >= 0, not {p['warmup']!r}")
        self._models: dict[Any, Any] = {}
        self._pending: dict[str, dict] = {}
        self._device: str | None = None
        self._shape_keys: dict[int, str] = {}
        self._weights_sha: dict[int, str] = {}
        self._entries = self._manifest_entries() if p["weights"] == "manifest" else {}

    def _name(self) -> str:
        return "compressai"

    def _check_arch(self, arch: str) -> None:
        if arch in VARIABLE_RATE:
            raise BenchError(f"compressai: {arch} is a variable-rate model: use codec=compressai_vbr (rate point = quantisation step)")

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
        if w == "init":
            return None
        lam = {self._key(k): v for k, v in (self.params["lambdas"] or {}).items()}
        return lam.get(self._key(point))

    def check_point(self, point):
        point = super().check_point(point)
        w, arch = self.params["weights"], self.params["arch"]
        if w == "zoo" or (w == "init" and self.params["N"] is None):
            if float(point) not in [float(q) for q in zoo_qualities(arch)]:
                raise BenchError(f"compressai: {arch} zoo qualities are {zoo_qualities(arch)}, not {point!r}")
            return int(point)
        if w == "init":
            if float(point) != int(point):
                raise BenchError(f"compressai: weights=init points are integers (the seed offset), not {point!r}")
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
        if w == "init":
            return {}
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
        if self.params["weights"] == "init":
            ident += f" locally initialised (seed {self.params['seed']})"
        return ident

    def check(self) -> None:
        # the decoder process starts now: it imports torch and CompressAI while this process does
        self.start_decoders()
        try:
            import compressai  # noqa: F401
        except ImportError:
            raise CodecUnavailable("compressai: the compressai package is not installed (pip install 'lic-bench[learned]')") from None
        if self.params["complexity"]:
            try:
                import fvcore  # noqa: F401
            except ImportError:
                raise CodecUnavailable("compressai: complexity=true needs fvcore (pip install fvcore), "
                                       "or set codec.params.complexity=false") from None
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

    def _load(self, key):
        """A model for the point `key` (its weights), not yet on the device."""
        p = self.params
        if p["weights"] == "zoo":
            if int(key) not in zoo_qualities(p["arch"]):
                raise BenchError(f"compressai: {p['arch']} zoo qualities are {zoo_qualities(p['arch'])}, not {key:g}")
            return load_zoo(p["arch"], p["metric"], int(key))
        if p["weights"] == "init":
            return init_model(p["arch"], int(p["seed"]) + int(key), p["N"], p["M"], quality=int(key))
        if p["weights"] == "manifest":
            if int(key) not in self._entries:
                raise BenchError(f"compressai: manifest has points {sorted(self._entries)}, not {key:g}")
            e = self._entries[int(key)]
            got = sha256_file(e["file"])
            if got != e["sha256"]:
                raise BenchError(f"compressai: {e['file']} has sha256 {got[:12]}..., manifest says {e['sha256'][:12]}...")
            return load_checkpoint(e["file"], e.get("arch", p["arch"]), e.get("N"), e.get("M"))[0]
        return load_checkpoint(self._checkpoint_for(key), p["arch"], p["N"], p["M"], p["model_args"])[0]

    def _model_key(self, point):
        return self._key(point)

    def _model(self, point):
        key = self._model_key(point)
        if key in self._models:
            return self._models[key]
        import torch

        torch.set_num_threads(self.threads)
        model = self._load(key)
        device = self.device()
        if device.startswith("cuda"):
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
        self._models[key] = model.eval().to(device)
        return self._models[key]

    # ---- rate of one coding call (variable-rate models override) --------------------------------
    def _rate(self, point) -> float | None:
        return None

    def _coding_kwargs(self, model, rate) -> dict:
        return {}

    # ---- devices and decoder processes --------------------------------------------------------
    def device(self) -> str:
        if self._device is None:
            self._device = resolve_device(self.params["device"], "compressai device")
        return self._device

    def _decode_devices(self) -> list[str]:
        """The configured device (resolved by the decoder process itself), plus the CPU when the encoder
        runs on CUDA and cross_device_decode is on."""
        devs = [str(self.params["device"] or "auto").lower()]
        if self.params["cross_device_decode"] and self.device().startswith("cuda") and "cpu" not in devs:
            devs.append("cpu")
        return devs

    def start_decoders(self) -> None:
        """Start this configuration's decoder process(es) without waiting for them."""
        if getattr(self, "_in_decoder", False):
            return
        from bench.codecs.learned.decoder import decoder_for

        devs = [str(self.params["device"] or "auto").lower()]
        if self._device is not None:
            devs = self._decode_devices()
        for d in devs:
            decoder_for(d, self.threads)

    def _target(self) -> str:
        cls = type(self)
        module = inspect.getmodule(cls)
        if cls.__module__.startswith("bench_plugin_") and module is not None and getattr(module, "__file__", None):
            return f"{module.__file__}:{cls.__qualname__}"
        return f"{cls.__module__}:{cls.__qualname__}"

    def _submit(self, dev: str, path: Path, sha: str, point, workdir: Path) -> tuple:
        """Give the file to `dev`'s decoder process; returns (process, request id)."""
        from bench.codecs.learned.decoder import decoder_for

        params = dict(self.params)
        config_key = hashlib.sha1(json.dumps([self._target(), params, self.threads], sort_keys=True, default=str).encode()).hexdigest()
        proc = decoder_for(dev, self.threads)
        out = Path(workdir).resolve() / f"decoded_{dev.replace(':', '')}.npy"
        rid = proc.submit({"adapter": self._target(), "params": params, "config_key": config_key, "path": str(Path(path).resolve()),
                           "sha256": sha, "point": point, "out": str(out)})
        return proc, rid

    # ---- coding ------------------------------------------------------------------------------
    def _sync(self):
        synchronize(self.device())

    def _to_uint8(self, x_hat, unpad, what: str = "decoder") -> np.ndarray:
        import torch
        import torch.nn.functional as F

        x = F.pad(x_hat, unpad)
        if not bool(torch.isfinite(x).all()):
            # NaN would become 0 and pass the decode check against an equally broken reconstruction
            bad = int((~torch.isfinite(x)).sum())
            raise RuntimeError(f"the model's {what} output holds {bad} NaN or infinite values (weights that overflow?)")
        x = x.clamp(0, 1)
        return np.ascontiguousarray((x[0].permute(1, 2, 0).cpu().numpy() * 255.0 + 0.5).astype(np.uint8))

    def _padding(self, h: int, w: int):
        from compressai.ops import compute_padding

        return compute_padding(h, w, min_div=int(self.params["pad_multiple"]))

    def _shape_key(self, model) -> str:
        if id(model) not in self._shape_keys:
            self._shape_keys[id(model)] = shape_key(model)
        return self._shape_keys[id(model)]

    def _timed(self, model, call, side: str, coded: tuple[int, int]):
        """Untimed runs first (warm-up; the first of them counts the complexity) the first time this
        model shape meets this coded size in this process, then the timed run.
        Returns (probe of the timed run, its output, its Timing, complexity counts or None)."""
        import torch

        from bench.codecs.learned.complexity import Probe

        skey = (side, self._shape_key(model), tuple(coded))
        count = bool(self.params["complexity"]) and skey not in _COUNTS
        warm = (*skey, self.device())
        untimed = max(int(self.params["warmup"]), int(count)) if warm not in _WARM else int(count)
        t0 = time.perf_counter()
        for i in range(untimed):
            if i == 0 and count:
                probe = Probe(model, self._sync, count=True)
                probe.run(call)
                _COUNTS[skey] = probe.counts()
            else:
                with torch.no_grad():
                    call()
        _WARM.add(warm)
        untimed_s = time.perf_counter() - t0
        probe = Probe(model, self._sync)
        probe.untimed_s = untimed_s
        self._sync()
        with clock() as c:
            out = probe.run(call)
            self._sync()
        return probe, out, c.timing, _COUNTS.get(skey) if self.params["complexity"] else None

    def _timing_columns(self, side: str, probe, timing: Timing) -> dict[str, Any]:
        name = "encode" if side == "enc" else "decode"
        return {f"{name}_network_s": probe.network_s, f"{name}_entropy_s": max(0.0, timing.wall - probe.network_s),
                f"{name}_warmup_s": probe.untimed_s}

    def encode(self, rgb: np.ndarray, point, workdir: Path) -> Encoded:
        self.start_decoders()
        import torch
        import torch.nn.functional as F

        model = self._model(point)
        rate = self._rate(point)
        kw = self._coding_kwargs(model, rate)
        device = self.device()
        self.start_decoders()  # the CPU one too, now that the device is known
        h, w = rgb.shape[:2]
        # contiguous NCHW, as ToTensor gives: a channels-last view takes other conv kernels (other bytes)
        on = next(model.parameters()).device  # where the model is (the device the configuration resolved to)
        x = torch.from_numpy(np.array(rgb, dtype=np.float32) / 255.0).permute(2, 0, 1).unsqueeze(0).contiguous().to(on)
        pad, unpad = self._padding(h, w)
        xp = F.pad(x, pad, mode=self.params["pad_mode"], **({"value": 0} if self.params["pad_mode"] == "constant" else {}))
        coded = (int(xp.shape[-2]), int(xp.shape[-1]))
        probe, out, timing, counts = self._timed(model, lambda: model.compress(xp, **kw), "enc", coded)
        strings = [s[0] for s in out["strings"]]
        data = pack(strings, tuple(out["shape"]), h, w, rate)
        path = Path(workdir) / "bitstream.lic"
        path.write_bytes(data)  # the unit's scratch file (the harness moves it): no fsync on the way
        extra: dict[str, Any] = {
            "lambda": self.lmbda(point), "payload_bytes": sum(len(s) for s in strings),
            "header_bytes": len(data) - sum(len(s) for s in strings),
            "device": device, "pad_mode": f"{self.params['pad_mode']} centred to x{self.params['pad_multiple']}",
            "cudnn_deterministic": bool(torch.backends.cudnn.deterministic), "coded_height": coded[0], "coded_width": coded[1],
            "timing_warmup": int(self.params["warmup"]),
            "timing_sync": "torch.cuda.synchronize" if device.startswith("cuda") else "none (cpu)",
            "torch_threads": int(torch.get_num_threads()), **self._timing_columns("enc", probe, timing),
        }
        if rate is not None:
            extra["rate_quant_step"] = rate
        if self.params["complexity"]:
            extra.update(cx.parameter_columns(cx.parameter_counts(model)))
            extra.update(cx.columns("enc", counts, h * w))
            extra["kmac_counters"] = _counters_note()
        meta: dict[str, Any] = {"point": point}
        with torch.no_grad(), clock() as cc:
            ref, y_hat, bits = self._encoder_side(model, xp, out, probe, kw)
            extra["bpp_estimated"] = bits / (h * w)
            if ref is not None:
                np.save(Path(workdir) / "encoder_recon.npy", self._to_uint8(ref, unpad, "encoder-side reconstruction"))
                meta["encoder_recon"] = str(Path(workdir) / "encoder_recon.npy")
            if y_hat is not None:
                np.save(Path(workdir) / "encoder_latents.npy", y_hat.cpu().numpy())
                meta.update({"encoder_latents": str(Path(workdir) / "encoder_latents.npy"), "latents_sha256": _sha(y_hat),
                             "weights_sha256": self._weights(model), "device": device,
                             "torch_threads": int(torch.get_num_threads())})
        extra["check_s"] = cc.timing.wall
        # the decoder process starts on the file now (after this process's work: nothing runs beside a timed call)
        sha = hashlib.sha256(data).hexdigest()
        job = self._submit(self._decode_devices()[0], path, sha, point, workdir)
        self._pending[str(path.resolve())] = {"sha256": sha, "job": job}
        step = f", step {rate:g}" if rate else ""
        cmd = f"{self.params['arch']}.compress() [{self.params['weights']}, point {point}{step}, {device}]"
        return Encoded(path, cmd, timing, meta, extra=extra)

    def _weights(self, model) -> str:
        """sha256 of every tensor of the model as loaded here (weights and CDF tables)."""
        if id(model) not in self._weights_sha:
            h = hashlib.sha256()
            for name, t in model.state_dict().items():
                h.update(name.encode())
                h.update(t.detach().cpu().contiguous().numpy().tobytes())
            self._weights_sha[id(model)] = h.hexdigest()
        return self._weights_sha[id(model)]

    def _encoder_side(self, model, xp, out, probe, kw):
        """(reconstruction for a pixel check or None, quantised latents for a latent check or None,
        estimated bits); see the module docstring."""
        import torch

        arch, o = str(self.params["arch"]), probe.outputs
        check = self.params["decode_check"]
        if arch in FAST_REFERENCE and "g_a" in o and (arch.startswith("bmshj2018-factorized") or {"h_a", "h_s"} <= set(o)):
            # eval-mode forward() from the latents compress() computed (tests check it equals forward())
            y = o["g_a"]
            if arch.startswith("bmshj2018-factorized"):
                y_hat, y_lik = model.entropy_bottleneck(y)
                liks = [y_lik]
            else:
                z_hat, z_lik = model.entropy_bottleneck(o["h_a"])
                scales, means = (o["h_s"].chunk(2, 1) if arch == "mbt2018-mean" else (o["h_s"], None))
                y_hat, y_lik = model.gaussian_conditional(y, scales, means=means)
                liks = [y_lik, z_lik]
            bits = sum(float(-torch.log2(lk).sum()) for lk in liks)
            if not check:
                return None, None, bits
            # another device decodes too (GPU encoder): the picture is needed; on the GPU it is cheap
            pixels = check == "pixels" or len(self._decode_devices()) > 1
            return (model.g_s(y_hat) if pixels else None), y_hat, bits
        fwd = model(xp, **{k: v for k, v in kw.items() if k != "s"})
        bits = sum(float(-torch.log2(lk).sum()) for lk in fwd["likelihoods"].values())
        ref = model.decompress(out["strings"], out["shape"], **kw)["x_hat"] if check else None
        return ref, None, bits

    def decode(self, enc: Encoded, workdir: Path) -> Decoded:
        """Wait for the decoder process(es) (given the file when encode() wrote it, or now) and compare
        their pictures with the encoder side's."""
        path = Path(enc.path).resolve()
        sha = sha256_file(path)
        devices = self._decode_devices()
        pending = self._pending.pop(str(path), None)
        if pending is None or pending["sha256"] != sha:  # not submitted by this adapter, or the file changed since
            if pending is not None:
                pending["job"][0].reply(pending["job"][1])  # drop the stale reply
            pending = {"job": self._submit(devices[0], path, sha, self._point_of(enc), workdir)}
        replies = {devices[0]: pending["job"][0].reply(pending["job"][1])}
        for dev in devices[1:]:  # one device after the other: no decode runs beside another's timing
            proc, rid = self._submit(dev, path, sha, self._point_of(enc), workdir)
            replies[dev] = proc.reply(rid)
        first = next(iter(replies))
        r0 = replies[first]
        if "error" in r0:
            raise (BenchError if r0.get("user_error") else RuntimeError)(f"decoder process ({first}): {r0['error']}")
        rgb = np.load(r0["out"])
        meta = enc.meta
        ref = np.load(meta["encoder_recon"]) if meta.get("encoder_recon") else None
        extra: dict[str, Any] = {"decode_devices": ",".join(r.get("device", d) for d, r in replies.items()),
                                 "decode_torch_threads": r0.get("torch_threads"), "decode_warmup_s": r0.get("untimed_s"),
                                 "decode_network_s": r0["network_s"], "decode_entropy_s": max(0.0, r0["wall"] - r0["network_s"])}
        checks, diffs = [], []
        for dev, r in replies.items():
            name = str(r.get("device", dev)).replace(":", "")
            if "error" in r:
                extra[f"decode_check_{name}"] = False
                extra[f"decode_error_{name}"] = r["error"]
                checks.append(False)
                continue
            extra[f"decode_s_{name}"] = r["wall"]
            pic = rgb if dev == first else np.load(r["out"])
            by = None
            same = all(r.get(k) == meta.get(k) for k in ("device", "torch_threads", "weights_sha256", "latents_sha256"))
            if ref is None and meta.get("latents_sha256") and same:
                by, diff = "latents", 0  # same latents, weights, device and threads: g_s gives the encoder-side picture
            else:
                if ref is None and meta.get("encoder_latents"):  # latents or weights differ: measure the pictures
                    ref = self._reference_from_latents(meta, pic.shape)
                if ref is not None:
                    by = "pixels"
                    diff = int(np.abs(ref.astype(np.int16) - pic).max()) if pic.shape == ref.shape else 255
            if by is not None:
                extra[f"decode_check_{name}"] = diff == 0
                extra[f"decode_max_diff_{name}"] = diff
                extra[f"decode_check_by_{name}"] = by
                checks.append(diff == 0)
                diffs.append(diff)
        if checks:
            extra["decode_check"] = all(checks)
            extra["decode_max_diff"] = max(diffs) if diffs else 255
        if self.params["complexity"] and r0.get("counts"):
            extra.update(cx.columns("dec", r0["counts"], int(r0["height"]) * int(r0["width"])))
        timing = Timing(wall=float(r0["wall"]), cpu=float(r0["cpu"]))
        return Decoded(rgb, f"{self.params['arch']}.decompress() in a decoder process [{extra['decode_devices']}]", timing, extra)

    def decode_here(self, path: Path, point, out: Path, sha: str) -> dict:
        """The decoder process's side: decode `path` (nothing else) and save the picture to `out`."""
        import torch

        self._in_decoder = True
        data = Path(path).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha:
            raise BenchError(f"bitstream {path} changed between encode and decode")
        bs = read(data)
        model = self._model(point)
        rate = self._rate_from_file(bs.rate)
        kw = self._coding_kwargs(model, rate)
        pad, unpad = self._padding(bs.height, bs.width)
        coded = (bs.height + pad[2] + pad[3], bs.width + pad[0] + pad[1])
        strings = [[s] for s in bs.strings]
        shape = torch.Size(bs.latent_hw)
        probe, res, timing, counts = self._timed(model, lambda: model.decompress(strings, shape, **kw), "dec", coded)
        rgb = self._to_uint8(res["x_hat"], unpad)
        np.save(out, rgb)
        reply = {"out": str(out), "wall": timing.wall, "cpu": timing.cpu, "network_s": probe.network_s, "untimed_s": probe.untimed_s,
                 "counts": counts, "height": bs.height, "width": bs.width, "device": self.device(),
                 "torch_threads": int(torch.get_num_threads())}
        latents = probe.inputs.get("g_s")
        if latents and isinstance(latents[0], torch.Tensor):
            reply.update({"latents_sha256": _sha(latents[0]), "weights_sha256": self._weights(model)})
        return reply

    def _reference_from_latents(self, meta: dict, shape) -> np.ndarray:
        """The encoder-side picture from the latents encode() kept: g_s on the encoder's device."""
        import torch

        model = self._model(meta["point"])
        y_hat = torch.from_numpy(np.load(meta["encoder_latents"])).to(next(model.parameters()).device)
        h, w = shape[:2]
        _, unpad = self._padding(h, w)
        with torch.no_grad():
            return self._to_uint8(model.g_s(y_hat), unpad)

    def _rate_from_file(self, rate):
        if rate is not None:
            raise BenchError("compressai: this bitstream carries a rate (a variable-rate model's): decode it with compressai_vbr")
        return None

    def _point_of(self, enc: Encoded):
        return enc.meta["point"]


def _sha(t) -> str:
    """sha256 of a tensor's values (+0.0 folds -0.0 into 0.0: round() gives -0.0 where the decoder has 0.0)."""
    return hashlib.sha256((t.detach() + 0.0).cpu().contiguous().numpy().tobytes()).hexdigest()


@functools.lru_cache(maxsize=1)
def _counters_note() -> str:
    from importlib import metadata

    import torch

    try:
        fv = metadata.version("fvcore")
    except metadata.PackageNotFoundError:
        fv = "?"
    return (f"torch.utils.flop_counter (torch {torch.__version__}; FLOPs/2) and fvcore {fv} FlopCountAnalysis; "
            "on the real compress()/decompress() at the coded size, per pixel of the original picture")
