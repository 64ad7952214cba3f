"""How heavy a learned codec is and where its time goes, measured on the calls it really makes.

Parts are the model's top-level submodules (g_a, h_a, h_s, g_s, context_prediction, entropy_parameters,
entropy_bottleneck, gaussian_conditional, a variable-rate model's QuantABCD ...) and its own parameters
(a variable-rate model's Gain).  `parameter_counts` splits the parameters by part.

`Probe.run(call)` runs one `compress()` (the encoder side) or `decompress()` (the decoder side) and
 - splits its wall time: *network* = time inside the parts that are not entropy models, *entropy coding*
   = the rest of the call (quantisation, CDF indexes, rANS, the Python loop of a serial model);
 - with `count=True`, counts its multiply-accumulates per part, twice:
   * "torch": `torch.utils.flop_counter.FlopCounterMode` around the whole call (it reports 2 FLOPs per
     MAC for convolutions and matrix products: halved here);
   * "fvcore": every part's module call and every countable function called outside the parts,
     recorded with its inputs during that run, traced once per distinct input shape by fvcore's
     `FlopCountAnalysis` (a jit graph and fvcore's own per-op formulas, in MACs) and multiplied by the
     number of times it ran.
   Ops in the body of compress()/decompress() go to the part whose parameters they use: the serial
   context model of mbt2018 / cheng2020 is `F.conv2d` with context_prediction's (masked) 5x5 kernel on one
   latent position at a time, and entropy_parameters runs once per position: both are counted per
   position, as the decoder runs them (the dense kernel is multiplied, masked zeros included).  Ops that
   use no part's parameters go to "other".

Why by hand: no library splits a model's MACs by part, and none can trace a compress() with an
entropy coder inside; the counting itself is the two libraries'.  Tests check both counters against
CompressAI models of known size and against each other.
"""

from __future__ import annotations

import json
import time
import warnings
from collections import defaultdict
from functools import partial
from typing import Any, Callable

COUNTERS = ("torch", "fvcore")
FVCORE_VERSION_NOTE = "fvcore FlopCountAnalysis"

# op names of either counter -> the op family the report compares
_MATMUL = {"mm", "addmm", "bmm", "baddbmm", "matmul", "linear", "einsum", "_scaled_mm", "addmv", "mv", "dot"}


def op_family(op: Any) -> str:
    """'conv', 'matmul' (linear layers, mm, bmm, einsum), 'attention' or the op's own name, for
    torch's `aten.convolution.default`-style keys and fvcore's 'conv' / 'linear' / ... alike."""
    name = str(op).split("::")[-1]
    if name.startswith("aten."):
        name = name[5:]
    name = name.split(".")[0]
    if "conv" in name:
        return "conv"
    if name in _MATMUL:
        return "matmul"
    if "scaled_dot_product" in name or "attention" in name:
        return "attention"
    return name


def _countable_functions() -> set:
    """Torch functions that either counter counts: recorded when called outside the parts."""
    import torch
    import torch.nn.functional as F

    names = [(F, "conv1d"), (F, "conv2d"), (F, "conv3d"), (F, "conv_transpose1d"), (F, "conv_transpose2d"),
             (F, "conv_transpose3d"), (F, "linear"), (F, "bilinear"), (torch, "matmul"), (torch, "mm"), (torch, "bmm"),
             (torch, "addmm"), (torch, "baddbmm"), (torch, "einsum"), (torch, "tensordot"), (torch, "conv2d"),
             (torch.Tensor, "matmul"), (torch.Tensor, "__matmul__"), (torch.Tensor, "mm"), (torch.Tensor, "bmm"),
             (F, "batch_norm"), (F, "layer_norm"), (F, "group_norm"), (F, "instance_norm"), (F, "interpolate"),
             (F, "adaptive_avg_pool2d"), (F, "grid_sample"), (F, "scaled_dot_product_attention")]
    return {getattr(mod, n) for mod, n in names if hasattr(mod, n)}


def parameter_counts(model) -> dict[str, int]:
    """{part: parameters}; their sum is the model's total (shared parameters counted once)."""
    out: dict[str, int] = {}
    for name, p in model.named_parameters():
        part = name.split(".", 1)[0]
        out[part] = out.get(part, 0) + int(p.numel())
    return out


def entropy_parts(model) -> set[str]:
    """Top-level parts that are CompressAI entropy models (their time is entropy coding, not network)."""
    kinds: tuple = ()
    try:
        from compressai.entropy_models import EntropyModel, EntropyModelVbr

        kinds = (EntropyModel, EntropyModelVbr)
    except ImportError:
        try:
            from compressai.entropy_models import EntropyModel

            kinds = (EntropyModel,)
        except ImportError:
            pass
    return {name for name, m in model.named_children() if kinds and isinstance(m, kinds)}


def _tensors_in(obj, out: list) -> list:
    import torch

    if isinstance(obj, torch.Tensor):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _tensors_in(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _tensors_in(o, out)
    return out


def _signature(args, kwargs) -> tuple:
    """What decides an op's MAC count: tensor shapes and dtypes, and the other arguments' values."""
    import torch

    def one(a):
        if isinstance(a, torch.Tensor):
            return ("T", tuple(a.shape), str(a.dtype))
        if isinstance(a, (list, tuple)):
            return tuple(one(x) for x in a)
        if isinstance(a, dict):
            return tuple(sorted((k, one(v)) for k, v in a.items()))
        return repr(a)

    return one(tuple(args)), one(dict(kwargs))


def _clone(obj):
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, (list, tuple)):
        return type(obj)(_clone(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _clone(v) for k, v in obj.items()}
    return obj


class Probe:
    """Runs one coding call with hooks on the model's parts: the network / entropy-coding split of its
    time, the last inputs and output of each part (latents, for the decode check) and, with
    `count=True`, its MACs per part by both counters (`counts()`)."""

    def __init__(self, model, sync: Callable[[], None] = lambda: None, count: bool = False):
        self.model, self.sync, self.count = model, sync, count
        self.owner: dict[int, str] = {}
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            self.owner[id(t)] = name.split(".", 1)[0]
        self.entropy = entropy_parts(model)
        parts = {n for n, _ in model.named_children()} | {n for n, _ in model.named_parameters(recurse=False)}
        self.network = parts - self.entropy
        self.network_s = 0.0
        self.outputs: dict[str, Any] = {}  # last output of each part's top-level call
        self.inputs: dict[str, tuple] = {}  # and its positional inputs (the decoder's latents: inputs["g_s"])
        self._stack: list[tuple[str, float, dict | None]] = []
        self._torch: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))  # part -> op -> FLOPs
        self._calls: dict[tuple, list] = {}  # signature -> [part, fn, args, kwargs, times]
        self._fc = None
        self._countable = _countable_functions() if count else set()

    # ---- bookkeeping shared by the hooks and the function mode
    def _global(self) -> dict:
        counts = getattr(self._fc, "flop_counts", None)
        return dict(counts["Global"]) if counts is not None else dict(self._fc.get_flop_counts().get("Global", {}))

    def _record(self, part: str, fn, args, kwargs) -> None:
        key = (part, id(fn), _signature(args, kwargs))
        if key in self._calls:
            self._calls[key][4] += 1
        else:
            self._calls[key] = [part, fn, _clone(tuple(args)), _clone(dict(kwargs)), 1]

    def _begin(self, part: str, fn, args, kwargs) -> None:
        if self._stack:  # a part inside a part: counted and timed with the outer one
            self._stack.append((part, 0.0, None))
            return
        network = part in self.network
        if network:
            self.sync()
        before = None
        if self.count:
            self._record(part, fn, args, kwargs)
            before = self._global()
        self._stack.append((part, time.perf_counter() if network else -1.0, before))

    def _end(self, output=None) -> None:
        part, t0, before = self._stack.pop()
        if self._stack:
            return
        if t0 >= 0:
            self.sync()
            self.network_s += time.perf_counter() - t0
        if output is not None:
            self.outputs[part] = output
        if before is not None:
            for op, v in self._global().items():
                d = v - before.get(op, 0)
                if d:
                    self._torch[part][op_family(op)] += d

    def _owner_of(self, args, kwargs) -> str | None:
        """The part whose parameter is an argument (directly, or in a short tuple/list such as torch.cat's):
        a long list (torch.tensor(values) of decoded symbols) is never walked."""
        for a in (*args, *kwargs.values()):
            for t in (a if isinstance(a, (list, tuple)) and len(a) <= 8 else (a,)):
                part = self.owner.get(id(t))
                if part is not None:
                    return part
        return None

    # ---- running
    def run(self, call: Callable[[], Any]):
        import torch
        from torch.overrides import TorchFunctionMode

        probe = self

        class Body(TorchFunctionMode):
            """Ops called in compress()/decompress() themselves, outside any part's forward."""

            def __torch_function__(self, func, types, args=(), kwargs=None):
                kwargs = kwargs or {}
                if probe._stack:
                    return func(*args, **kwargs)
                part = probe._owner_of(args, kwargs)
                if part is None:
                    if func in probe._countable:
                        probe._record("other", func, args, kwargs)
                    return func(*args, **kwargs)
                probe._begin(part, func, args, kwargs)
                try:
                    return func(*args, **kwargs)
                finally:
                    probe._end()

        handles = []
        for name, child in self.model.named_children():
            handles.append(child.register_forward_pre_hook(partial(self._pre, name), with_kwargs=True))
            handles.append(child.register_forward_hook(partial(self._post, name), always_call=True))
        try:
            if self.count:
                from torch.utils.flop_counter import FlopCounterMode

                self._fc = FlopCounterMode(display=False)
                with torch.no_grad(), self._fc, Body():
                    out = call()
                total = self._global()
                attributed: dict[str, int] = defaultdict(int)
                for ops in self._torch.values():
                    for fam, v in ops.items():
                        attributed[fam] += v
                for op, v in total.items():
                    attributed[op_family(op)] -= v
                for fam, v in attributed.items():
                    if v < 0:
                        self._torch["other"][fam] += -v
            else:
                with torch.no_grad(), Body():
                    out = call()
        finally:
            for h in handles:
                h.remove()
            self._stack.clear()
        return out

    def _pre(self, name, module, args, kwargs):
        if not self._stack:
            self.inputs[name] = args
        self._begin(name, module, args, kwargs)

    def _post(self, name, module, args, output):
        self._end(output)

    # ---- results
    def counts(self) -> dict:
        """{"torch": {part: {op family: MACs}}, "fvcore": {...}, "notes": [...]} of the counted run."""
        if not self.count:
            raise RuntimeError("Probe(count=False) counts nothing")
        torch_macs = {p: {f: v // 2 for f, v in ops.items() if v} for p, ops in self._torch.items()}
        fv, notes = count_fvcore(list(self._calls.values()))
        return {"torch": {p: o for p, o in torch_macs.items() if o}, "fvcore": fv, "notes": notes}


def count_fvcore(calls: list) -> tuple[dict, list[str]]:
    """MACs per part and op family of recorded calls [part, fn, args, kwargs, times], by fvcore."""
    import torch
    from fvcore.nn import FlopCountAnalysis

    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    notes = []
    for part, fn, args, kwargs, times in calls:
        replay = _Replay(fn, args, kwargs)
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                fa = FlopCountAnalysis(replay, tuple(replay.inputs))
                fa.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
                by_op = fa.by_operator()
        except Exception as exc:  # noqa: BLE001 - a call fvcore cannot trace is reported, not fatal
            first = str(exc).splitlines()[0][:120] if str(exc) else ""
            notes.append(f"fvcore could not trace {part} ({type(exc).__name__}: {first})")
            continue
        for op, v in by_op.items():
            if v:
                out[part][op_family(op)] += int(v) * int(times)
    return {p: dict(o) for p, o in out.items() if o}, notes


_REPLAY = None


def _Replay(fn, args, kwargs):
    """One recorded call as a module fvcore can trace: its tensors are the inputs, the rest is fixed.
    (The class is made on first use: importing this module must not import torch.)"""
    global _REPLAY
    if _REPLAY is None:
        import torch

        class Replay(torch.nn.Module):
            def __init__(self, fn, args, kwargs):
                super().__init__()
                if isinstance(fn, torch.nn.Module):
                    self.module, self._fn = fn, None
                else:
                    self._fn = fn
                self.inputs: list = []
                self._args = self._template(args)
                self._kwargs = self._template(kwargs)

            def _template(self, obj):
                if isinstance(obj, torch.Tensor):
                    self.inputs.append(obj)
                    return ("__input__", len(self.inputs) - 1)
                if isinstance(obj, list):
                    return [self._template(o) for o in obj]
                if isinstance(obj, tuple):
                    return tuple(self._template(o) for o in obj)
                if isinstance(obj, dict):
                    return {k: self._template(v) for k, v in obj.items()}
                return obj

            def _fill(self, obj, tensors):
                if isinstance(obj, tuple) and len(obj) == 2 and obj[0] == "__input__":
                    return tensors[obj[1]]
                if isinstance(obj, list):
                    return [self._fill(o, tensors) for o in obj]
                if isinstance(obj, tuple):
                    return tuple(self._fill(o, tensors) for o in obj)
                if isinstance(obj, dict):
                    return {k: self._fill(v, tensors) for k, v in obj.items()}
                return obj

            def forward(self, *tensors):
                fn = self._fn if self._fn is not None else self.module
                out = fn(*self._fill(self._args, tensors), **self._fill(self._kwargs, tensors))
                return tuple(_tensors_in(out, []))

        _REPLAY = Replay
    return _REPLAY(fn, args, kwargs)


# ---------------------------------------------------------------------------------------- row columns


def macs_per_part(counts: dict, counter: str) -> dict[str, int]:
    return {part: sum(ops.values()) for part, ops in counts.get(counter, {}).items()}


def columns(side: str, counts: dict | None, pixels: int) -> dict[str, Any]:
    """Row columns of one side ('enc' | 'dec'): kMAC per pixel of the original picture, total and per
    part, for each counter; `kmac_ops_<side>` holds the per-op-family split (JSON) for the report."""
    if not counts:
        return {}
    row: dict[str, Any] = {}
    ops: dict[str, dict] = {}
    for counter in COUNTERS:
        parts = macs_per_part(counts, counter)
        row[f"kmac_{side}_{counter}"] = sum(parts.values()) / pixels / 1e3
        for part, v in sorted(parts.items()):
            row[f"kmac_{side}_{counter}_{part}"] = v / pixels / 1e3
        ops[counter] = {part: {f: v / pixels / 1e3 for f, v in sorted(o.items())} for part, o in counts.get(counter, {}).items()}
    row[f"kmac_ops_{side}"] = json.dumps(ops, sort_keys=True)
    if counts.get("notes"):
        row[f"kmac_notes_{side}"] = "; ".join(counts["notes"])
    return row


def parameter_columns(params: dict[str, int]) -> dict[str, Any]:
    row: dict[str, Any] = {"params": int(sum(params.values()))}
    row.update({f"params_{part}": int(v) for part, v in sorted(params.items())})
    return row


def disagreements(ops_json: str, tol: float = 0.01) -> list[tuple[str, float, float, list[str]]]:
    """[(part, torch, fvcore, op families that differ)] where the counters differ by more than `tol`
    (relative); the side's total is the part 'total'."""
    ops = json.loads(ops_json) if isinstance(ops_json, str) else (ops_json or {})
    t, f = ops.get("torch", {}), ops.get("fvcore", {})
    out = []

    def differ(a: dict, b: dict) -> list[str]:
        fams = sorted(set(a) | set(b))
        return [x for x in fams if _rel(a.get(x, 0.0), b.get(x, 0.0)) > tol]

    tot_t: dict[str, float] = defaultdict(float)
    tot_f: dict[str, float] = defaultdict(float)
    for part in sorted(set(t) | set(f)):
        a, b = t.get(part, {}), f.get(part, {})
        for k, v in a.items():
            tot_t[k] += v
        for k, v in b.items():
            tot_f[k] += v
        if _rel(sum(a.values()), sum(b.values())) > tol:
            out.append((part, sum(a.values()), sum(b.values()), differ(a, b)))
    if _rel(sum(tot_t.values()), sum(tot_f.values())) > tol:
        out.append(("total", sum(tot_t.values()), sum(tot_f.values()), differ(tot_t, tot_f)))
    return out


def _rel(a: float, b: float) -> float:
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))
