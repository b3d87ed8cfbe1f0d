"""CUDA libraries CTranslate2 needs that the pinned torch does not bring, found and loaded before use.

CTranslate2's wheels are built against CUDA 12 and open `libcublas.so.12` (and `libcublasLt.so.12`)
when a model first runs on the GPU. The pinned torch is a CUDA 13 build: it brings cuBLAS 13 only,
so `backend="ct2", device="cuda"` fails there with "Library libcublas.so.12 is not found". The
`gpu` extra (`pip install -e ".[gpu]"`, i.e. the `nvidia-cublas-cu12` wheel) installs CUDA 12's
cuBLAS into site-packages, where no loader looks; `load_cublas12` finds it there (or on the usual
library path) and loads it process-wide, so CTranslate2's own `dlopen` finds it already loaded.
"""

from __future__ import annotations

import ctypes
import logging
import os
import site
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

CUBLAS12 = ("libcublasLt.so.12", "libcublas.so.12")  # Lt first: libcublas needs it
GPU_EXTRA_FIX = 'pip install -e ".[gpu]"   (or: pip install nvidia-cublas-cu12)'
_loaded: dict[str, str] = {}


class CudaLibraryError(RuntimeError):
    """A CUDA library CTranslate2 needs cannot be loaded; the message names it and the fix."""


def _site_dirs() -> list[Path]:
    paths = [*site.getsitepackages(), site.getusersitepackages(), *sys.path]
    return [Path(p) for p in dict.fromkeys(paths) if p and Path(p).is_dir()]


def candidate_paths(name: str) -> list[str]:
    """Where `name` may be: the nvidia-cublas-cu12 wheel's folder in each site-packages, then
    `$CUDA_HOME/lib64`, then the bare name (the system loader's own search, LD_LIBRARY_PATH)."""
    found = [str(p / "nvidia" / "cublas" / "lib" / name) for p in _site_dirs()]
    found = [p for p in found if Path(p).is_file()]
    for home in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH")):
        if home and (Path(home) / "lib64" / name).is_file():
            found.append(str(Path(home) / "lib64" / name))
    return [*found, name]


def load_cublas12(loader=ctypes.CDLL) -> dict[str, str]:
    """Loads CUDA 12's cuBLAS process-wide (once); returns {library: path it came from}.

    Raises:
        CudaLibraryError: A library is nowhere to be found or cannot be loaded, with the fix.
    """
    for name in CUBLAS12:
        if name in _loaded:
            continue
        errors = []
        for path in candidate_paths(name):
            try:
                loader(path, mode=ctypes.RTLD_GLOBAL)
            except OSError as error:
                errors.append(f"{path}: {error}")
                continue
            _loaded[name] = path
            logger.debug("loaded %s from %s", name, path)
            break
        else:
            raise CudaLibraryError(
                f"CTranslate2 on CUDA needs CUDA 12's cuBLAS ({name}), which the pinned torch (a CUDA 13 build) "
                f"does not bring, and it was not found ({'; '.join(errors[-2:])}). Install it with: {GPU_EXTRA_FIX}"
            )
    return dict(_loaded)


def ct2_cuda_devices() -> int:
    """GPUs CTranslate2 can see (0 without a driver or GPU)."""
    import ctranslate2

    try:
        return ctranslate2.get_cuda_device_count()
    except Exception:  # noqa: BLE001 - any failure to query means: no usable GPU
        return 0


def resolve_ct2_device(device: str, loader=ctypes.CDLL, devices=ct2_cuda_devices) -> str:
    """The device CTranslate2 will run on: "auto" is CUDA only when a GPU is there and cuBLAS 12
    loads (else CPU, saying why); "cuda" loads cuBLAS 12 or raises `CudaLibraryError`.

    Raises:
        CudaLibraryError: device="cuda" and a library is missing (names it and the one-line fix).
        ValueError: device="cuda" on a machine where CTranslate2 sees no GPU.
    """
    if device == "cpu":
        return device
    if device not in ("auto", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    if devices() == 0:
        if device == "auto":
            return "cpu"
        raise ValueError(f"device={device!r}, but CTranslate2 sees no CUDA GPU (no driver or no GPU on this machine)")
    try:
        load_cublas12(loader)
    except CudaLibraryError as error:
        if device != "auto":
            raise
        logger.warning("CTranslate2 runs on the CPU although a GPU is present: %s", error)
        return "cpu"
    return "cuda" if device == "auto" else device
