"""Compiled nets that outlive the process: AOTInductor packages from `torch.export`, cached on disk.

Any net with the `CompilableNet` interface compiles: the style nets (`TransformerNet`) and the
AdaIN model with its style fixed (`StyledAdaIN`, whose style statistics and alpha are buffers).
One package serves every image size and every style of one net architecture: height and width are
exported as dynamic multiples of the net's stride (and the batch as dynamic), and the weights are
not baked in but loaded into the package as constants. Building one costs 43-60 s on a 2-core CPU;
loading it costs milliseconds, so only the first folder job on a machine pays for it. A machine
that cannot build one (no C++ compiler, say) runs the eager net, with one warning.

Packages are keyed by everything that makes compiled code invalid: the architecture, the precision,
the device (CPU model and instruction set, or GPU name and compute capability), the torch version
and this module's format version. A torch upgrade or another CPU therefore builds a new package
instead of loading a stale one. They live in `$FST_CACHE_DIR`, else `$XDG_CACHE_HOME/fst/compiled`,
else `~/.cache/fst/compiled`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Protocol

import torch
from filelock import FileLock
from torch import nn

from fst.device import cpu_info, intra_op_threads
from fst.io.atomic import atomic_path

log = logging.getLogger(__name__)

FORMAT_VERSION = 3  # bump when what is exported changes
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class CompilableNet(Protocol):
    """What compiling needs of a net: (N, 3, H, W) in [0, 1] -> same size out, padded to `stride`."""

    stride: int
    min_size: int

    def architecture(self) -> dict: ...  # everything but the loaded tensors that shapes the graph
    def pad(self, x: torch.Tensor) -> torch.Tensor: ...
    def named_parameters(self) -> Iterator[tuple[str, nn.Parameter]]: ...
    def named_buffers(self) -> Iterator[tuple[str, torch.Tensor]]: ...
    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


def cache_dir() -> Path:
    """Where packages are kept (created on first use)."""
    if os.environ.get("FST_CACHE_DIR"):
        return Path(os.environ["FST_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "fst" / "compiled"


def machine_tag(device: torch.device) -> str:
    """What the compiled code was generated for: the GPU, or the CPU model and its instruction set."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        major, minor = torch.cuda.get_device_capability(index)
        return f"{torch.cuda.get_device_name(index)} sm{major}{minor} cuda {torch.version.cuda}"
    model, flags = cpu_info()
    return f"{model} flags {hashlib.sha256(' '.join(sorted(flags)).encode()).hexdigest()[:12]}"


def package_path(net: CompilableNet, precision: str, device: torch.device) -> Path:
    """The cache file for this net's class and architecture, precision and device, on this machine and torch."""
    kind = type(net).__name__.lower()
    key = {
        "net": kind,
        "architecture": net.architecture(),
        "precision": precision,
        "device": device.type,
        "machine": machine_tag(device),
        "torch": torch.__version__,
        "format": FORMAT_VERSION,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return cache_dir() / f"{kind}-{precision}-{device.type}-{digest}.pt2"


def autocast(precision: str, device: torch.device) -> AbstractContextManager:
    dtype = _DTYPES.get(precision)
    return torch.autocast(device.type, dtype=dtype) if dtype else nullcontext()


class _Precision(nn.Module):
    """The net under autocast inside its own forward: `torch.export` records autocast only there."""

    def __init__(self, net: CompilableNet, precision: str, device_type: str) -> None:
        super().__init__()
        self.net = net
        self.dtype = _DTYPES.get(precision)
        self.device_type = device_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dtype is None:
            return self.net(x)
        with torch.autocast(self.device_type, dtype=self.dtype):
            return self.net(x).float()


def export_program(net: CompilableNet, precision: str, device: torch.device) -> torch.export.ExportedProgram:
    """`torch.export` of the net's own forward: batch dynamic, H and W dynamic multiples of its stride.

    Inputs must already be padded to the stride (`net.pad`): the export then specialises the net's
    pad and crop to no-ops, and the graph is the net's stages and head only.
    """
    stride = net.stride
    low = -(-net.min_size // stride)  # the smallest side the net accepts unpadded, in strides
    height = torch.export.Dim("height_in_strides", min=low, max=16384 // stride)
    width = torch.export.Dim("width_in_strides", min=low, max=16384 // stride)
    batch = torch.export.Dim("batch", min=1, max=1024)
    # Batch 2 and unequal sides: an example of 1 or of equal sides would be specialised to it.
    example = torch.rand(2, 3, 16 * stride, 24 * stride, device=device)
    shapes = {"x": {0: batch, 2: stride * height, 3: stride * width}}
    # A contiguous copy: the package must be compiled for the layout `CompiledNet` loads weights in.
    net = copy.deepcopy(net).to(memory_format=torch.contiguous_format).eval()
    with torch.no_grad():
        return torch.export.export(_Precision(net, precision, device.type), (example,), dynamic_shapes=shapes)


def build(net: CompilableNet, precision: str, device: torch.device, path: Path) -> Path:
    """Export and compile `net` into an AOTInductor package at `path` (weights left out)."""
    import torch._inductor  # the compiler: imported only when a package is built

    program = export_program(net, precision, device)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".part.pt2") as temp:  # the packager insists on .pt2
        torch._inductor.aoti_compile_and_package(
            program,
            package_path=str(temp),
            # Weights are loaded per style (`CompiledNet`), so one package serves every style; the
            # constants inductor folds (a norm's affine into a conv, say) are refolded from them at
            # load time: without this, 7 of 62 tensors stayed baked in and a second style was wrong.
            inductor_configs={
                "aot_inductor.package_constants_in_so": False,
                "aot_inductor.use_runtime_constant_folding": True,
            },
        )
    return path


class CompiledNet:
    """A loaded package with one style's weights: padded (N, 3, H, W) float in, float out.

    Loaded through the C++ loader itself: `torch._inductor.aoti_load_package` would first import
    the whole compiler, 1.5 s of every run's start-up; this takes milliseconds.
    """

    def __init__(self, path: Path, net: CompilableNet, device: torch.device) -> None:
        index = device.index if device.index is not None else -1
        self.loader = torch._C._aoti.AOTIModelPackageLoader(str(path), "model", False, 1, index)
        # Named as in the exported wrapper; contiguous: the package was compiled for that layout.
        # Buffers that are not saved with the weights (VGG's input mean and scale) are constants too.
        tensors = [*net.named_parameters(), *net.named_buffers()]
        state = {f"net.{name}": tensor.detach() for name, tensor in tensors}
        names = self.loader.get_constant_fqns()
        missing = [name for name in names if name not in state and not name.startswith("_FOLDED_CONST_")]
        if missing:
            raise ValueError(f"the package wants weights this net does not have: {missing[:3]}")
        # The folded constants (`_FOLDED_CONST_*`, e.g. bf16 copies of weights) are derived from
        # these at run time. Arguments: use_inactive, check_full_update, user_managed.
        with intra_op_threads(1):  # ~60 small copies: a second thread costs more than it saves
            weights = {name: state[name].to(device).contiguous() for name in names if name in state}
        self.loader.load_constants(weights, False, False, False)

    def __call__(self, padded: torch.Tensor) -> torch.Tensor:
        (stylized,) = self.loader.run([padded.contiguous()])
        return stylized


def is_cached(net: CompilableNet, precision: str, device: torch.device) -> bool:
    return package_path(net, precision, device).is_file()


def load(net: CompilableNet, precision: str, device: torch.device, build_if_missing: bool) -> CompiledNet | None:
    """The compiled `net` from the cache, built first if missing and allowed; None when unavailable.

    A lock serialises builders, so the ranks of a torchrun job build one package once. A package
    that fails to load (truncated by a crash, another build of torch) is rebuilt once, if allowed.
    """
    path = package_path(net, precision, device)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if not path.is_file() and not build_if_missing:
            return None
        for attempt in range(2):
            if not path.is_file():
                start = time.perf_counter()
                log.warning("compiling the net for %s %s once (cached in %s)", device.type, precision, path.parent)
                try:
                    build(net, precision, device, path)
                except Exception as error:  # no compiler, an unsupported op: the eager net still works
                    log.warning("cannot compile the net, running it eagerly (%s)", _first_line(error))
                    return None
                log.warning("compiled in %.0f s", time.perf_counter() - start)
            try:
                return CompiledNet(path, net, device)
            except Exception as error:  # a bad file must cost a rebuild or the eager net, never the job
                log.warning("cannot load %s (%s)", path, _first_line(error))
                if attempt or not build_if_missing:
                    return None
                path.unlink(missing_ok=True)
    return None


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0][:200]
