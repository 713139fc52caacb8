"""What a run ran on: CPU, cores, RAM, GPU, library versions and the load at the start."""
from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np


def machine_info() -> dict:
    """CPU model, cores, RAM, GPU (if torch sees one) and library versions."""
    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "ram_gb": None,
            "gpu": "none", "torch": "not installed", "python": platform.python_version(), "numpy": np.__version__,
            "load": round(os.getloadavg()[0], 1)}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram_gb"] = round(int(line.split()[1]) / 2 ** 20, 1)
    except OSError:
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info
