"""Which devices the model workers use, decided in the bot process without importing torch.

The bot process never imports torch or CUDA (that costs seconds and, with CUDA, memory on
the GPU); only the workers do. So the bot plans its workers from cheap signals: the
`CLASSBOT_DEVICE` setting, `CUDA_VISIBLE_DEVICES`, and the NVIDIA driver's /proc entries.
Each worker then confirms its device with torch when it starts (`torch_device`).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any, Literal

Accelerator = Literal["cuda", "mps", "cpu"]

# Default parameter caps (CLASSBOT_MAX_MODEL_PARAMS=0): what runs at classroom speed for a
# few dozen students. 1.5B in fp16 is ~3 GB of weights, comfortable on any CUDA card;
# 400M on CPU still answers 50 tokens in a few seconds.
DEFAULT_PARAM_CAPS: dict[Accelerator, int] = {
    "cuda": 1_500_000_000,
    "mps": 1_000_000_000,
    "cpu": 400_000_000,
}

# /imagine's caps: a whole pipeline (denoiser, VAE, text encoders) counts. SD 1.5 is ~1.07B,
# sd-turbo (SD 2.1) ~1.3B, SDXL ~3.5B; on CPU only the 1-4 step turbo models answer in
# seconds, so the CPU cap admits SD-sized pipelines but not SDXL.
DEFAULT_IMAGE_PARAM_CAPS: dict[Accelerator, int] = {
    "cuda": 4_000_000_000,
    "mps": 4_000_000_000,
    "cpu": 1_500_000_000,
}

_NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


def _cuda_count() -> int:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [part for part in visible.split(",") if part.strip() and part.strip() != "-1"]
        if not ids:
            return 0
        return len(ids) if _NVIDIA_GPUS.is_dir() or Path("/dev/nvidia0").exists() else 0
    if _NVIDIA_GPUS.is_dir():
        return sum(1 for _ in _NVIDIA_GPUS.iterdir())
    return 1 if Path("/dev/nvidia0").exists() else 0


def _apple_silicon() -> bool:
    return platform.system() == "Darwin" and platform.machine() == "arm64"


def accelerator(setting: str) -> Accelerator:
    """The kind of device the workers will use for `CLASSBOT_DEVICE` (auto, cpu, cuda, mps)."""
    if setting in ("cpu", "cuda", "mps"):
        return setting  # type: ignore[return-value]
    if _cuda_count() > 0:
        return "cuda"
    return "mps" if _apple_silicon() else "cpu"


def plan_devices(setting: str) -> list[str]:
    """One entry per model worker: every visible GPU gets its own worker, else one CPU/MPS."""
    kind = accelerator(setting)
    if kind == "cuda":
        return [f"cuda:{i}" for i in range(max(1, _cuda_count()))]
    return [kind]


def param_cap(
    max_model_params: int, setting: str, caps: dict[Accelerator, int] = DEFAULT_PARAM_CAPS
) -> int:
    """The largest model allowed: the setting, or the device's default when it is 0."""
    return max_model_params or caps[accelerator(setting)]


def torch_device(name: str) -> Any:
    """In a worker: the torch device for a planned name, falling back to CPU if absent."""
    import torch

    if name.startswith("cuda") and torch.cuda.is_available():
        index = int(name.partition(":")[2] or 0)
        if index < torch.cuda.device_count():
            return torch.device("cuda", index)
    if name == "mps" and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def memory_budget_bytes(budget_mb: int, device: Any) -> int:
    """In a worker: the budget for loaded models (0 = 80% of the GPU, or half the RAM)."""
    if budget_mb:
        return budget_mb * 1024 * 1024
    if device.type == "cuda":
        import torch

        return int(torch.cuda.get_device_properties(device).total_memory * 0.8)
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = 8 * 1024**3
    return int(ram * 0.5)
