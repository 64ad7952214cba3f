"""Train a CompressAI image model on a folder of photos (CPU or GPU), Hydra-configured.

    bench train arch=bmshj2018-hyperprior N=96 M=128 lmbda=0.013 steps=3000

Random crops with flips, RateDistortionLoss at one lambda, the auxiliary loss on its own optimiser,
a progress bar, and a resumable training state written atomically every `checkpoint_every` steps
(`<out>.state`, with optimisers and RNG state).  The final file `<out>` is small: weights with the
CDF tables (after `update(force=True)`) and the metadata the adapter and the manifest need; the
adapter loads it as any local checkpoint.  On CPU, `torch.set_flush_denormal(True)`: without it a
run slowed about 5x after ~500 steps (FIELD-NOTES).
"""

from __future__ import annotations

import glob
import io
import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig
from tqdm import tqdm

from bench.codecs.learned.models import build, read_checkpoint
from bench.core.errors import BenchError
from bench.core.files import atomic_write_bytes, sha256_file


def load_patches_source(root: str, pattern: str, patch: int) -> list[np.ndarray]:
    from PIL import Image

    files = sorted(glob.glob(os.path.join(root, pattern)) if "{" not in pattern else
                   sum((glob.glob(os.path.join(root, p + pattern[pattern.index("}") + 1:]))
                        for p in pattern[pattern.index("{") + 1:pattern.index("}")].split(",")), []))
    if not files:
        raise BenchError(f"no training images match {pattern!r} under {root}")
    images = []
    for f in sorted(files):
        with Image.open(f) as im:
            a = np.asarray(im.convert("RGB"))
        if min(a.shape[:2]) >= patch:
            images.append(a)
    return images


def batch_of_crops(images: list[np.ndarray], n: int, patch: int, rng: random.Random):
    import torch

    out = np.empty((n, patch, patch, 3), np.uint8)
    for i in range(n):
        a = images[rng.randrange(len(images))]
        y = rng.randrange(a.shape[0] - patch + 1)
        x = rng.randrange(a.shape[1] - patch + 1)
        c = a[y:y + patch, x:x + patch]
        if rng.random() < 0.5:
            c = c[:, ::-1]
        out[i] = c
    return torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0)


def learning_rate(cfg, step: int) -> float:
    """`cosine`: from `lr` down to `lr_min` over all steps (after `warmup` linear steps), the schedule
    that converged here; `step`: `lr`, then `lr_final` for the last `lr_final_frac` of the steps."""
    if cfg.get("lr_schedule", "step") == "cosine":
        warm = int(cfg.get("warmup", 0) or 0)
        if step < warm:
            return cfg.lr * (step + 1) / warm
        t = (step - warm) / max(1, cfg.steps - warm)
        return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * min(1.0, t)))
    return cfg.lr if step < int(cfg.steps * (1 - cfg.lr_final_frac)) else cfg.lr_final


def validation_images(cfg) -> list[np.ndarray]:
    """Held-out pictures (BSDS500 val/ by default, never Kodak), centre-cropped to a multiple of 64."""
    if not cfg.get("val_glob") or not cfg.get("val_count"):
        return []
    try:
        found = load_patches_source(cfg.data, cfg.val_glob, 64)[: int(cfg.val_count)]
    except BenchError:
        print(f"[train] no validation pictures match {cfg.val_glob!r} under {cfg.data}: no progress log", flush=True)
        return []
    out = []
    for a in found:
        h, w = (a.shape[0] // 64) * 64, (a.shape[1] // 64) * 64
        y, x = (a.shape[0] - h) // 2, (a.shape[1] - w) // 2
        out.append(np.ascontiguousarray(a[y:y + h, x:x + w]))
    return out


def validate(model, images: list[np.ndarray], device: str) -> dict:
    """Mean likelihood bpp and PSNR-RGB of eval-mode forward() (quantised latents) on held-out pictures:
    the progress curve; the real bytes are measured later by the adapter on Kodak."""
    import torch

    if not images:
        return {}
    was_training = model.training
    model.eval()
    bpps, psnrs = [], []
    with torch.no_grad():
        for a in images:
            x = torch.from_numpy(a).permute(2, 0, 1)[None].float().div(255).to(device)
            out = model(x)
            n = x.shape[2] * x.shape[3]
            bits = sum(torch.log(l).sum() / -math.log(2) for l in out["likelihoods"].values())
            bpps.append(float(bits) / n)
            mse = float(((out["x_hat"].clamp(0, 1) - x) ** 2).mean())
            psnrs.append(-10 * math.log10(max(mse, 1e-10)))
    model.train(was_training)
    return {"val_bpp": float(np.mean(bpps)), "val_psnr": float(np.mean(psnrs))}


def _save_torch(obj, path: Path) -> None:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def train(cfg: DictConfig) -> Path:
    import torch
    from compressai.losses import RateDistortionLoss

    torch.set_num_threads(int(cfg.threads))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_flush_denormal(True)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    out = Path(cfg.out)
    state_path = out.with_name(out.name + ".state")

    model = build(cfg.arch, cfg.N, cfg.M).to(device)
    if cfg.init_from:
        state, _ = read_checkpoint(cfg.init_from)
        model.load_state_dict(state, strict=False)
    params = {n for n, p in model.named_parameters() if not n.endswith(".quantiles")}
    aux = {n for n, p in model.named_parameters() if n.endswith(".quantiles")}
    named = dict(model.named_parameters())
    opt = torch.optim.Adam([named[n] for n in sorted(params)], lr=cfg.lr)
    aux_opt = torch.optim.Adam([named[n] for n in sorted(aux)], lr=cfg.aux_lr)
    step, seconds_before = 0, 0.0
    if cfg.resume and state_path.is_file():
        st = torch.load(state_path, map_location=device, weights_only=False)  # our own file, written below
        model.load_state_dict(st["state_dict"])
        opt.load_state_dict(st["optimizer"])
        aux_opt.load_state_dict(st["aux_optimizer"])
        step = st["step"]
        seconds_before = float(st.get("train_seconds", 0.0))
        rng.setstate(st["rng"])
        torch.set_rng_state(st["torch_rng"])
        print(f"[train] resumed {state_path} at step {step}")
    criterion = RateDistortionLoss(lmbda=cfg.lmbda, metric=cfg.metric)
    images = load_patches_source(cfg.data, cfg.data_glob, cfg.patch)
    val_images = validation_images(cfg)
    log_path = out.with_name(out.name + ".log.csv")
    if not log_path.exists() or step == 0:
        atomic_write_bytes(log_path, b"step,train_seconds,lr,train_loss,train_bpp,train_psnr,val_bpp,val_psnr\n")
    print(f"[train] {cfg.arch}(N={cfg.N}, M={cfg.M}) lambda={cfg.lmbda} {cfg.metric} on {len(images)} images, "
          f"{cfg.patch}px x {cfg.batch}, {cfg.steps} steps, {device}", flush=True)
    model.train()
    bar = tqdm(total=cfg.steps, initial=step, unit="step", mininterval=1 if sys.stderr.isatty() else 30)
    started, ema, skipped = time.perf_counter(), None, 0
    while step < cfg.steps:
        lr = learning_rate(cfg, step)
        for g in opt.param_groups:
            g["lr"] = lr
        x = batch_of_crops(images, cfg.batch, cfg.patch, rng).to(device)
        opt.zero_grad()
        aux_opt.zero_grad()
        res = criterion(model(x), x)
        if not torch.isfinite(res["loss"]):
            # A rare batch can drive a likelihood to 0 (infinite bits): skip it, count it, and give up
            # only when it keeps happening.  The count is written into the checkpoint's metadata.
            skipped += 1
            if skipped > 20:
                raise BenchError(f"loss non-finite on {skipped} batches (last at step {step}, lr {lr}); "
                                 f"resume from {state_path} with a lower lr")
            continue
        res["loss"].backward()
        if cfg.clip_grad:
            torch.nn.utils.clip_grad_norm_([named[n] for n in params], cfg.clip_grad)
        opt.step()
        aux_loss = model.aux_loss()
        aux_loss.backward()
        aux_opt.step()
        step += 1
        vals = {k: float(v.detach()) for k, v in res.items()}
        ema = vals if ema is None else {k: 0.98 * ema[k] + 0.02 * vals[k] for k in vals}
        psnr = -10 * math.log10(max(ema.get("mse_loss", 1e-10), 1e-10))
        bar.set_postfix(loss=f"{ema['loss']:.3f}", bpp=f"{ema['bpp_loss']:.3f}", psnr=f"{psnr:.2f}", aux=f"{float(aux_loss.detach()):.1f}")
        bar.update()
        val_every = int(cfg.get("val_every", 0) or 0)
        if val_every and (step % val_every == 0 or step == cfg.steps):
            v = validate(model, val_images, device)
            with open(log_path, "a") as f:
                f.write(f"{step},{seconds_before + time.perf_counter() - started:.1f},{lr:.3g},{ema['loss']:.5f},{ema['bpp_loss']:.5f},"
                        f"{psnr:.3f},{v.get('val_bpp', float('nan')):.5f},{v.get('val_psnr', float('nan')):.3f}\n")
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            _save_torch({"state_dict": model.state_dict(), "optimizer": opt.state_dict(), "aux_optimizer": aux_opt.state_dict(),
                         "step": step, "rng": rng.getstate(), "torch_rng": torch.get_rng_state(),
                         "train_seconds": seconds_before + time.perf_counter() - started}, state_path)
    bar.close()
    # The entropy bottleneck's quantiles (the aux loss) converge slower than the network; the CDF
    # tables are built from them, so settle them before writing (cheap: no image, no backward
    # through the transforms).  Unsettled quantiles cost real bytes over the likelihood estimate.
    for g in aux_opt.param_groups:
        g["lr"] = cfg.aux_final_lr
    for _ in range(int(cfg.aux_final_steps)):
        aux_opt.zero_grad()
        aux_loss = model.aux_loss()
        aux_loss.backward()
        aux_opt.step()
    # Ship float16 weights (half the file size): round the model itself first, then build the CDF
    # tables from the rounded weights, so the file is exactly the model that was evaluated.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    model.eval().update(force=True)
    meta = {"arch": cfg.arch, "N": int(cfg.N), "M": int(cfg.M), "metric": cfg.metric, "lmbda": float(cfg.lmbda),
            "steps": int(cfg.steps), "patch": int(cfg.patch), "batch": int(cfg.batch), "data": str(cfg.data),
            "data_glob": cfg.data_glob, "init_from": str(cfg.init_from or ""), "device": device,
            "lr_schedule": str(cfg.get("lr_schedule", "step")), "lr": float(cfg.lr),
            "train_seconds": round(seconds_before + time.perf_counter() - started, 1),
            "val": validate(model, val_images, device), "final_aux_loss": round(float(model.aux_loss()), 3),
            "skipped_nonfinite_batches_this_run": skipped,
            "final_ema": {k: round(v, 5) for k, v in (ema or {}).items()}}
    # Only the learned parameters go to float16.  Buffers keep their dtype: they hold constants far
    # below float16's range (the 1e-9 likelihood bound, GDN's 2^-36 pedestal) and the scale table the
    # CDFs were built for; rounding them made likelihoods 0 (infinite bits) in an earlier version.
    names = {n for n, _ in model.named_parameters()}
    slim = {k: (v.detach().cpu().half() if k in names and v.is_floating_point() else v.detach().cpu())
            for k, v in model.state_dict().items()}
    _save_torch({"state_dict": slim, "weights_dtype": "float16", **meta}, out)
    print(f"[train] wrote {out} ({out.stat().st_size / 1e6:.2f} MB, sha256 {sha256_file(out)[:16]}...)")
    return out
