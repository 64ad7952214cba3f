"""The learned codecs' decoder process: every bitstream is decoded in a fresh process from its file.

A decoder in the encoder's own process shares its state (loaded weights, CDF tables built at run
time, kernels chosen on the first call), so a bitstream that only decodes there would pass.  Here
each decode runs in another interpreter started for the purpose (`python -m
bench.codecs.learned.decoder`), which reads the bitstream file and nothing the encoder computed.

The process is persistent: one per (device, threads) in each process that codes, serving every
codec configuration (an adapter and its loaded weights per configuration, the last few kept), so
weights are loaded once, not per unit.  Requests and replies are JSON lines on its stdin/stdout; the
decoded picture comes back as a .npy file.  It exits when its stdin closes (the process that started
it ended) or after `IDLE_S` without a request, and is started again when needed.

It is started without blocking (`decoder_for`): it imports torch and CompressAI while the encoder
does its own work, and the first reply waits for it.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

IDLE_S = 300  # a decoder process with nothing to do for this long exits (a later request starts a new one)
KEEP_CONFIGS = 2  # codec configurations (and their weights) a decoder process keeps loaded
ENV_SYNCED = ("TORCH_HOME", "XDG_CACHE_HOME", "BENCH_CACHE", "CUBLAS_WORKSPACE_CONFIG")


class DecoderProcess:
    """The client side: one decoder process, requests answered in order."""

    def __init__(self, device: str, threads: int, idle_s: float = IDLE_S):
        self.device, self.threads = str(device), int(threads)
        self.owner = os.getpid()
        # its stderr: a file already unlinked (nothing left behind), read back through our descriptor
        fd, path = tempfile.mkstemp(prefix="bench-decoder-", suffix=".log")
        os.unlink(path)
        self._log = fd
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)}
        env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p] + [env.get("PYTHONPATH", "")]).strip(os.pathsep)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.codecs.learned.decoder", "--device", self.device, "--threads", str(self.threads),
             "--idle", str(idle_s)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=fd, env=env, close_fds=True)
        self._next = 0
        self._replies: dict[int, dict] = {}
        self.last_used = time.monotonic()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def submit(self, request: dict[str, Any]) -> int:
        self.last_used = time.monotonic()
        self._next += 1
        request = {**request, "id": self._next, "cwd": os.getcwd(), "sys_path": [p for p in sys.path if p],
                   "env": {k: os.environ.get(k) for k in ENV_SYNCED}}
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise RuntimeError(f"decoder process ({self.device}) is gone: {self.log_tail()}") from None
        return self._next

    def reply(self, request_id: int) -> dict:
        while request_id not in self._replies:
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait()
                raise RuntimeError(f"decoder process ({self.device}) exited {self.proc.returncode}: {self.log_tail()}")
            r = json.loads(line)
            self._replies[int(r["id"])] = r
        self.last_used = time.monotonic()
        return self._replies.pop(request_id)

    def log_tail(self, lines: int = 3) -> str:
        try:
            size = os.fstat(self._log).st_size
            text = os.pread(self._log, 1 << 16, max(0, size - (1 << 16))).decode(errors="replace")
        except OSError:
            return "no log"
        keep = [ln for ln in text.strip().splitlines() if ln.strip() and "Warning" not in ln and "warnings.warn" not in ln]
        return " | ".join(keep[-lines:]) or "no output"

    def close(self) -> None:
        if self.owner != os.getpid():  # inherited through fork: the parent closes it
            return
        try:
            if self.proc.stdin and not self.proc.stdin.closed:
                self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        for close in (self.proc.stdout.close, lambda: os.close(self._log)):
            try:
                close()
            except OSError:
                pass


_DECODERS: dict[tuple[str, int], DecoderProcess] = {}


def decoder_for(device: str, threads: int) -> DecoderProcess:
    """This process's decoder process for (device, threads), started now (without waiting) if needed.
    One inherited through fork belongs to the parent and is never used here."""
    key = (str(device), int(threads))
    d = _DECODERS.get(key)
    # one about to leave on its idle timeout is replaced now rather than raced
    stale = d is not None and d.owner == os.getpid() and time.monotonic() - d.last_used > IDLE_S - 30
    if d is None or d.owner != os.getpid() or not d.alive() or stale:
        if d is not None and d.owner == os.getpid():
            d.close()
        d = _DECODERS[key] = DecoderProcess(device, threads)
    return d


@atexit.register
def close_all() -> None:
    for d in list(_DECODERS.values()):
        d.close()
    _DECODERS.clear()


# ------------------------------------------------------------------------------------------ server


def _lines(fd: int, idle_s: float):
    """Lines from a raw fd; stops at EOF or after `idle_s` without input."""
    buf = b""
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line
        ready, _, _ = select.select([fd], [], [], idle_s)
        if not ready:
            return
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return
        buf += chunk


def _sync_environment(req: dict) -> None:
    for p in reversed(req.get("sys_path") or []):
        if p not in sys.path:
            sys.path.insert(0, p)
    for k, v in (req.get("env") or {}).items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    if req.get("cwd") and os.path.isdir(req["cwd"]):
        os.chdir(req["cwd"])


def serve(device: str, threads: int, idle_s: float = IDLE_S) -> int:
    # stdout is the reply channel: anything a library prints goes to stderr instead
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    import torch

    torch.set_num_threads(int(threads))
    try:  # now, while the encoder does its own work, not on the first request
        import compressai  # noqa: F401
    except ImportError:
        pass  # the request will say what is missing
    from bench.core.errors import BenchError
    from bench.core.plugins import load_target

    adapters: OrderedDict[str, Any] = OrderedDict()
    for raw in _lines(sys.stdin.fileno(), idle_s):
        if not raw.strip():
            continue
        req = json.loads(raw)
        try:
            _sync_environment(req)
            key = req["config_key"]
            adapter = adapters.pop(key, None)
            if adapter is None:
                cls = load_target(req["adapter"], "codec adapter")
                adapter = cls(threads=int(threads), **{**req["params"], "device": device})
            adapters[key] = adapter
            while len(adapters) > KEEP_CONFIGS:
                adapters.popitem(last=False)
            reply = adapter.decode_here(Path(req["path"]), req["point"], Path(req["out"]), req["sha256"])
        except BenchError as exc:
            reply = {"error": str(exc), "user_error": True}
        except Exception as exc:  # noqa: BLE001 - one failed decode is that unit's failure, not the process's
            reply = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
        reply["id"] = req.get("id")
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
    return 0


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="lic-bench learned-codec decoder process (started by the adapter)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--idle", type=float, default=IDLE_S)
    args = ap.parse_args(argv)
    return serve(args.device, args.threads, args.idle)


if __name__ == "__main__":
    raise SystemExit(main())
