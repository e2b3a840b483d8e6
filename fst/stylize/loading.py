"""Load a `TransformerNet` from any checkpoint format users bring, without unpickling code.

Formats:
- fst `.safetensors` (from `fst.checkpoint.export`): architecture from its metadata.
- Lightning `.ckpt` from training: `state_dict` keys `net.<...>`; the architecture is not stored,
  so it is inferred from the tensor shapes.
- pytorch/examples fast_neural_style `.pth`/`.model` state dicts: module names mapped to ours and
  the 0..255 pixel range folded into the first and last convolutions, so the result is a plain
  `TransformerNet` in our [0, 1] convention (exactly equal outputs, exportable to ONNX).
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from fst.checkpoint import METADATA_KEY, CheckpointError, load_net
from fst.models.multistyle import MultiStyleNet
from fst.models.transformer import TransformerNet
from fst.zoo import StyleMix, mix_name

# pytorch/examples layer name -> ours (see fst/models/transformer.py for our nesting).
_EXAMPLES_NAMES = {
    "conv1.conv2d": "encoder.0.0.1",
    "in1": "encoder.0.1",
    "conv2.conv2d": "encoder.1.0.1",
    "in2": "encoder.1.1",
    "conv3.conv2d": "encoder.2.0.1",
    "in3": "encoder.2.1",
    "deconv1.conv2d": "decoder.0.0.1.1",
    "in4": "decoder.0.1",
    "deconv2.conv2d": "decoder.1.0.1.1",
    "in5": "decoder.1.1",
    "deconv3.conv2d": "decoder.2.1",
}
_EXAMPLES_RESIDUAL = {
    "conv1.conv2d": "body.0.0.1",
    "in1": "body.0.1",
    "conv2.conv2d": "body.1.1",
    "in2": "body.2",
}


def strip_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop wrapper prefixes: Lightning's `net.`, DDP's `module.`, torch.compile's `_orig_mod.`."""
    stripped = {}
    for key, value in state.items():
        changed = True
        while changed:
            changed = False
            for prefix in ("module.", "_orig_mod.", "net."):
                if key.startswith(prefix):
                    key, changed = key[len(prefix) :], True
        stripped[key] = value
    return stripped


def is_examples_layout(state: dict[str, torch.Tensor]) -> bool:
    return "conv1.conv2d.weight" in state


def convert_examples_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a pytorch/examples state dict to our names and fold its 0..255 range into the weights.

    Their net maps 255*x to 255*y. Scaling the first conv's weight by 255 makes it see 255*x from our
    x in [0, 1] (exact: the bias is unchanged); dividing the last conv's weight and bias by 255 makes
    it emit y in [0, 1]. Nothing in between changes, so outputs equal theirs divided by 255.
    """
    converted: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        # Legacy InstanceNorm buffers (torch < 0.4 saved them); ours track no running stats.
        if key.endswith(("running_mean", "running_var", "num_batches_tracked")):
            continue
        module, _, leaf = key.rpartition(".")
        match = re.fullmatch(r"res(\d+)\.(.+)", module)
        if match and match.group(2) in _EXAMPLES_RESIDUAL:
            new = f"residuals.{int(match.group(1)) - 1}.{_EXAMPLES_RESIDUAL[match.group(2)]}"
        elif module in _EXAMPLES_NAMES:
            new = _EXAMPLES_NAMES[module]
        else:
            new = module  # unknown: left for the key check to report
        converted[f"{new}.{leaf}"] = value.float()
    first, last = _EXAMPLES_NAMES["conv1.conv2d"], _EXAMPLES_NAMES["deconv3.conv2d"]
    if f"{first}.weight" in converted:
        converted[f"{first}.weight"] = converted[f"{first}.weight"] * 255.0
    for leaf in ("weight", "bias"):
        if f"{last}.{leaf}" in converted:
            converted[f"{last}.{leaf}"] = converted[f"{last}.{leaf}"] / 255.0
    return converted


def infer_architecture(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """TransformerNet constructor arguments read off the tensor shapes of a state dict (our names)."""
    try:
        channels = [int(state[f"encoder.{i}.0.1.weight"].shape[0]) for i in range(3)]
    except KeyError as error:
        raise ValueError(f"no {error.args[0]!r} tensor: not a TransformerNet state dict") from None
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"residuals\.(\d+)\.", k))}
    upsample = "transpose" if "decoder.0.0.weight" in state else "nearest"
    return {"channels": channels, "num_residual_blocks": len(blocks), "upsample": upsample}


def _read_state(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    """Tensors and (for Lightning files) format and style name; never unpickles code."""
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path)), None
        except (SafetensorError, OSError) as error:
            raise CheckpointError(f"{path}: not a readable safetensors file ({error})") from None
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{path}: cannot be loaded safely as weights ({first[:160]})") from None
    meta = None
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        hparams = loaded.get("hyper_parameters") or {}
        meta = {"format": "lightning", "name": hparams.get("style_name") or path.stem}
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise CheckpointError(f"{path}: not a state dict of tensors")
    return loaded, meta


def load_stylizer(
    path: str | Path,
    output_head: str = "clamp",
    device: str | torch.device = "cpu",
    style: StyleMix | None = None,
) -> tuple[TransformerNet, dict[str, Any]]:
    """Load any supported checkpoint as an eval-mode `TransformerNet` in the [0, 1] convention.

    Args:
        path: `.safetensors` (fst export or bare state dict), Lightning `.ckpt`, or pytorch/examples
            `.pth`/`.model`.
        output_head: for formats that do not record it (`.ckpt`, `.pth`): "clamp" or "tanh".
        style: for a multi-style file, the style or mix {name: weight} to fold into a plain net.

    Returns:
        (net, metadata): metadata holds at least `name` (the style name) and `format`.

    Raises:
        CheckpointError: one line naming the file: missing, unreadable, or weights that do not fit.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    if path.suffix == ".safetensors" and _has_fst_metadata(path):
        net, metadata = load_net(path)
        name = metadata.get("style", {}).get("name", path.stem)
        if isinstance(net, MultiStyleNet):
            if not style:
                raise CheckpointError(f"{path}: holds {len(net.style_names)} styles; choose one or a mix of them")
            try:
                net = net.blend(style)
            except (KeyError, ValueError) as error:
                raise CheckpointError(f"{path}: {error.args[0]}") from None
            name = mix_name(style)
        elif style and set(style) != {name}:
            raise CheckpointError(f"{path}: holds only the style {name!r}, not {', '.join(style)}")
        return net.to(device), {**metadata, "name": name, "format": "fst"}
    state, meta = _read_state(path)
    meta = meta or {"format": "state-dict", "name": path.stem}
    state = strip_prefixes({k: v for k, v in state.items() if not k.startswith("loss.")})
    if is_examples_layout(state):
        meta["format"] = "pytorch-examples"
    if meta["format"] == "pytorch-examples":
        state = convert_examples_state(state)
    try:
        architecture = {**infer_architecture(state), "output_head": output_head}
    except ValueError as error:
        raise CheckpointError(f"{path}: {error}") from None
    net = TransformerNet(**architecture)
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    reshaped = [k for k in own if k in state and own[k].shape != state[k].shape]
    if missing or unexpected or reshaped:
        raise CheckpointError(
            f"{path}: weights do not match TransformerNet({_describe(architecture)}): "
            + _diff(missing, unexpected, reshaped)
        )
    net.load_state_dict(state)
    return net.eval().to(device), {**meta, "architecture": architecture}


def _has_fst_metadata(path: Path) -> bool:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return METADATA_KEY in (handle.metadata() or {})
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file ({error})") from None


def _describe(architecture: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in architecture.items())


def _diff(missing: list[str], unexpected: list[str], reshaped: list[str]) -> str:
    """A short summary of a key mismatch instead of torch's multi-line dump."""
    parts = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", reshaped)):
        if keys:
            parts.append(f"{len(keys)} {label} (e.g. {keys[0]})")
    return "; ".join(parts)
