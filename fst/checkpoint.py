"""The small inference file: transform-net weights in safetensors plus JSON metadata.

Metadata (header key "fst", a JSON object) holds everything needed to rebuild and describe the
net: `architecture` (the net's constructor arguments), `style` (name, file, sha256) or, for a
multi-style net, `styles` (one such entry per style, in the net's order), `loss`, `steps`,
`image_size`, `fst_version`. Loading never unpickles anything.

An arbitrary-style model (`fst.models.adain`) is marked `"model": "adain"`; its file holds the
truncated VGG encoder beside the decoder, so it needs no other file. `load_adain` loads it; the
style-net loaders refuse it in one line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

import fst
from fst.io.atomic import atomic_path
from fst.models.adain import AdaINModel
from fst.models.multistyle import MultiStyleNet
from fst.models.transformer import TransformerNet

METADATA_KEY = "fst"
SCALE_SUFFIX = ".int8_scale"  # beside an int8 weight: its per-output-channel scale
# int8 only for weights this large: the small ones (the layers at full resolution, where rounding
# shows most) are a tenth of the bytes and stay float16.
INT8_MIN_ELEMENTS = 2**18


class CheckpointError(Exception):
    """A checkpoint that cannot be used; the message is one line naming the file."""


def export(
    net: TransformerNet | AdaINModel,
    path: str | Path,
    metadata: dict[str, Any] | None = None,
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Write `net`'s weights and metadata to `path` atomically (temp file + rename).

    `dtype` is how the weights are stored: float16 halves the file; int8 quarters it (convolution
    weights of `INT8_MIN_ELEMENTS` or more as int8 with a float16 scale per output channel, the rest
    float16). The loaders copy the weights into the float32 model, so inference is unchanged but
    for the rounding.
    """
    path = Path(path)
    meta = {"fst_version": fst.__version__, **(metadata or {}), "architecture": net.architecture()}
    if isinstance(net, AdaINModel):
        meta["model"] = "adain"
    else:
        meta["gflop_per_mpx"] = net.gflop_per_megapixel()  # which of two files holding a style is cheaper
    meta["dtype"] = str(dtype).removeprefix("torch.")
    state = {k: v.detach().to("cpu", torch.float32) for k, v in net.state_dict().items()}
    state = _quantized(state) if dtype == torch.int8 else {k: v.to(dtype).contiguous() for k, v in state.items()}
    with atomic_path(path) as temp:
        save_file(state, str(temp), metadata={METADATA_KEY: json.dumps(meta, sort_keys=True)})
    return path


def _quantized(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Symmetric int8 per output channel for large weights; float16 for the rest."""
    stored = {}
    for key, value in state.items():
        if value.dim() < 2 or value.numel() < INT8_MIN_ELEMENTS:
            stored[key] = value.to(torch.float16).contiguous()
            continue
        scale = value.abs().amax(dim=tuple(range(1, value.dim())), keepdim=True).clamp_min(1e-12) / 127
        scale = scale.to(torch.float16).float()  # quantize against the scale the file will hold
        stored[key] = (value / scale).round().clamp(-127, 127).to(torch.int8).contiguous()
        stored[key + SCALE_SUFFIX] = scale.to(torch.float16).contiguous()
    return stored


def _load_state(path: Path, map_location: str | torch.device) -> dict[str, torch.Tensor]:
    """The file's tensors, int8 weights multiplied back by their scales."""
    state = load_file(str(path), device=str(map_location))
    for key in [k for k in state if k.endswith(SCALE_SUFFIX)]:
        weight = key.removesuffix(SCALE_SUFFIX)
        state[weight] = state[weight].float() * state.pop(key).float()
    return state


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON metadata of an exported file, without loading its tensors."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            raw = (handle.metadata() or {}).get(METADATA_KEY)
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file ({error})") from None
    if raw is None:
        raise CheckpointError(f"{path}: no fst metadata; was it written by fst.checkpoint.export?")
    return json.loads(raw)


def cost_of(path: str | Path, metadata: dict[str, Any] | None = None) -> float:
    """GFLOP per megapixel of an exported net, from its metadata (read from `path` unless given);
    infinity where the file predates it."""
    metadata = read_metadata(path) if metadata is None else metadata
    return float(metadata.get("gflop_per_mpx", math.inf))


def styles_in(path: str | Path, metadata: dict[str, Any] | None = None) -> list[str]:
    """The style names an exported fst file holds, in the net's order (metadata read from `path`
    unless given)."""
    metadata = read_metadata(path) if metadata is None else metadata
    _refuse_adain(path, metadata)
    names = metadata.get("architecture", {}).get("style_names")
    return list(names) if names else [metadata.get("style", {}).get("name", Path(path).stem)]


def load_net(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[TransformerNet, dict[str, Any]]:
    """Rebuild the net from an exported file; returns (net in eval mode, metadata).

    The net is a `MultiStyleNet` when the file holds several styles (`style_names` in its architecture).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    metadata = read_metadata(path)
    _refuse_adain(path, metadata)
    architecture = metadata["architecture"]
    net = MultiStyleNet(**architecture) if "style_names" in architecture else TransformerNet(**architecture)
    try:
        net.load_state_dict(_load_state(path, map_location))
    except RuntimeError as error:
        raise CheckpointError(f"{path}: weights do not match its architecture ({str(error).splitlines()[0]})") from None
    return net.eval(), metadata


def _refuse_adain(path: str | Path, metadata: dict[str, Any]) -> None:
    if metadata.get("model") == "adain":
        raise CheckpointError(f"{path}: an arbitrary-style (AdaIN) model, not a style net: give it a style image")


def load_adain(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[AdaINModel, dict[str, Any]]:
    """Rebuild an `AdaINModel` (encoder and decoder) from its exported file; (model in eval mode, metadata)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    metadata = read_metadata(path)
    if metadata.get("model") != "adain":
        raise CheckpointError(f"{path}: not an arbitrary-style (AdaIN) model; train one with experiment=adain")
    model = AdaINModel(vgg_weights="random", **metadata["architecture"])
    try:
        model.load_state_dict(_load_state(path, map_location))
    except RuntimeError as error:
        raise CheckpointError(f"{path}: weights do not match its architecture ({str(error).splitlines()[0]})") from None
    return model.eval(), metadata
