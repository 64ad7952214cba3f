"""Learned codecs from CompressAI, measured like every other codec: real bytes, separate decode.

What a bitstream file holds (and what `bytes`/`bpp` count): a 12-byte header + the entropy-coded
strings that `model.compress()` returns.  Header: magic b"LIC1", original height and width (u16),
latent shape (u16 x 2: the `shape` CompressAI's decompress needs), number of strings (u8) and, per
string, its length (u32 would be 4 more bytes each; we use a LEB128 varint).  `payload_bytes` is the
strings alone (what CompressAI's eval_model counts); `bpp` is the whole file over the unpadded pixels.

Decoding is a separate step that reads only that file.  The decode check compares its picture with
the encoder-side reconstruction of the same latents: `forward()` in eval mode for the
non-autoregressive models (it quantises exactly as compress() does), `decompress()` of the encoder's
own strings for mbt2018 / cheng2020 (their forward() is not the decoder's picture).  A mismatch (GPU
entropy-coding drift is a known failure) flags the row: `decode_check` False, `decode_max_diff`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from bench.codecs.base import Codec, Decoded, Encoded, clock
from bench.errors import BenchError, CodecUnavailable
from bench.learned import AUTOREGRESSIVE, ZOO_LAMBDAS, load_checkpoint, load_zoo, zoo_qualities

MAGIC = b"LIC1"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def pack(strings: list[bytes], latent_hw, height: int, width: int) -> bytes:
    head = MAGIC + b"".join(int(v).to_bytes(2, "big") for v in (height, width, *latent_hw)) + bytes([len(strings)])
    return head + b"".join(_varint(len(s)) for s in strings) + b"".join(strings)


def unpack(buf: bytes) -> tuple[list[bytes], tuple[int, int], int, int]:
    if buf[:4] != MAGIC:
        raise ValueError("not a lic-bench learned-codec bitstream (bad magic)")
    h, w, lh, lw = (int.from_bytes(buf[4 + 2 * i : 6 + 2 * i], "big") for i in range(4))
    n, pos = buf[12], 13
    lengths = []
    for _ in range(n):
        ln, pos = _read_varint(buf, pos)
        lengths.append(ln)
    strings = []
    for ln in lengths:
        strings.append(buf[pos : pos + ln])
        pos += ln
    if pos != len(buf):
        raise ValueError(f"bitstream length {len(buf)} does not match its header ({pos})")
    return strings, (lh, lw), h, w


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise CodecUnavailable("compressai: device=cuda asked but torch sees no CUDA device")
    return device


class CompressAIModel(Codec):
    point_name = "quality"
    revision = 1

    @classmethod
    def defaults(cls):
        return {
            "arch": "bmshj2018-hyperprior",
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
        self._models: dict[Any, Any] = {}
        self._entries = self._manifest_entries() if self.params["weights"] == "manifest" else {}

    # ---- where weights come from -------------------------------------------------------------
    def _manifest_path(self) -> Path:
        p = Path(str(self.params["manifest"]))
        return p if p.is_absolute() else PROJECT_ROOT / p

    def _manifest_entries(self) -> dict:
        if not self.params["manifest"]:
            raise BenchError("compressai: weights=manifest needs codec.params.manifest=path/to/manifest.json")
        path = self._manifest_path()
        if not path.is_file():
            raise BenchError(f"compressai: manifest not found: {path}")
        data = json.loads(path.read_text())
        return {int(e["point"]): {**e, "file": str(path.parent / e["file"])} for e in data["checkpoints"]}

    def _checkpoint_for(self, point) -> str:
        ck = {int(k): v for k, v in (self.params["checkpoints"] or {}).items()}
        if int(point) not in ck:
            raise BenchError(f"compressai: no checkpoint for point {point}; codec.params.checkpoints has {sorted(ck)}")
        p = Path(str(ck[int(point)]))
        return str(p if p.is_absolute() else Path.cwd() / p)

    def lmbda(self, point) -> float | None:
        w = self.params["weights"]
        if w == "zoo":
            return ZOO_LAMBDAS.get(self.params["metric"], {}).get(int(point))
        if w == "manifest":
            return self._entries.get(int(point), {}).get("lambda")
        lam = {int(k): v for k, v in (self.params["lambdas"] or {}).items()}
        return lam.get(int(point))

    def version(self) -> str:
        import compressai
        import torch

        ident = f"compressai {compressai.__version__} torch {torch.__version__} {self.params['arch']}"
        if self.params["weights"] == "manifest":
            sums = ",".join(f"{k}:{e['sha256'][:12]}" for k, e in sorted(self._entries.items()))
            return f"{ident} manifest {self.params['manifest']} [{sums}]"
        if self.params["weights"] == "checkpoint":
            return f"{ident} checkpoints {json.dumps(self.params['checkpoints'], sort_keys=True, default=str)}"
        return f"{ident} zoo {self.params['metric']}"

    def check(self) -> None:
        try:
            import compressai  # noqa: F401
        except ImportError:
            raise CodecUnavailable("compressai: the compressai package is not installed (pip install -e '.[learned]')") from None
        resolve_device(self.params["device"])
        if self.params["weights"] == "manifest":
            for e in self._entries.values():
                if not Path(e["file"]).is_file():
                    raise CodecUnavailable(f"compressai: checkpoint {e['file']} listed in {self.params['manifest']} is missing")

    def colour(self):
        return {"colour_matrix": "rgb", "colour_range": "full", "colour_chroma": "444", "colour_bit_depth": 8, "colour_siting": "n/a"}

    def _model(self, point):
        key = int(point)
        if key in self._models:
            return self._models[key]
        import torch

        torch.set_num_threads(self.threads)
        p = self.params
        if p["weights"] == "zoo":
            if key not in zoo_qualities(p["arch"]):
                raise BenchError(f"compressai: {p['arch']} zoo qualities are {zoo_qualities(p['arch'])}, not {key}")
            model = load_zoo(p["arch"], p["metric"], key)
        elif p["weights"] == "manifest":
            if key not in self._entries:
                raise BenchError(f"compressai: manifest has points {sorted(self._entries)}, not {key}")
            e = self._entries[key]
            got = hashlib.sha256(Path(e["file"]).read_bytes()).hexdigest()
            if got != e["sha256"]:
                raise BenchError(f"compressai: {e['file']} has sha256 {got[:12]}..., manifest says {e['sha256'][:12]}...")
            model, _ = load_checkpoint(e["file"], e.get("arch", p["arch"]), e.get("N"), e.get("M"))
        else:
            model, _ = load_checkpoint(self._checkpoint_for(key), p["arch"], p["N"], p["M"])
        device = resolve_device(p["device"])
        if device == "cuda":
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
        self._models[key] = model.eval().to(device)
        return self._models[key]

    # ---- coding ------------------------------------------------------------------------------
    def _sync(self):
        import torch

        if torch.cuda.is_available() and resolve_device(self.params["device"]) == "cuda":
            torch.cuda.synchronize()

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
                if self.params["arch"] in AUTOREGRESSIVE:
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
