"""Size buckets: a folder of mixed sizes shares a few compiled shapes.

torch.compile builds one graph per input shape (15-47 s each on a 2-core CPU), and
`dynamic=True` still recompiled for a second size here (`benchmarks/stylize_net_modes.py`). So
each image is padded by reflection up to a multiple of `bucket` pixels and cropped back. Plain
instance norm would then include the padding in its statistics (26-41 dB against the unpadded
output); `masked_forward` runs the net with every instance norm's mean and variance taken over the
un-padded region only (42-49 dB; what remains is the net's own border handling). The mask is an
input tensor, not a Python int, so one compiled graph serves every image size of a bucket.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fst.models.transformer import ResidualBlock, TransformerNet


def bucket_size(height: int, width: int, bucket: int) -> tuple[int, int]:
    """The padded (height, width): each side rounded up to a multiple of `bucket` (>= 8)."""
    return max(8, height + (-height) % bucket), max(8, width + (-width) % bucket)


def pad_to(batch: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Pad (N, 3, H, W) at the bottom and right to `size`; reflection, replicate where too small."""
    height, width = batch.shape[-2:]
    pad_h, pad_w = size[0] - height, size[1] - width
    if not (pad_h or pad_w):
        return batch
    # Reflection cannot pad by more than the side length (tiny images): replicate those.
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(batch, (0, pad_w, 0, pad_h), mode=mode)


def valid_mask(height: int, width: int, size: tuple[int, int]) -> torch.Tensor:
    """(1, 1, *size) float mask: 1 over the image's own (height, width), 0 over the padding."""
    mask = torch.zeros(1, 1, *size)
    mask[..., :height, :width] = 1.0
    return mask


def _masked_instance_norm(x: torch.Tensor, norm: nn.InstanceNorm2d, mask: torch.Tensor) -> torch.Tensor:
    factor = mask.shape[-2] // x.shape[-2]  # the net runs at 1/1, 1/2 and 1/4 of the input size
    region = mask[..., ::factor, ::factor]
    count = region.sum()
    # Statistics in float32 even under bf16 autocast (variances underflow otherwise).
    xf = x.float()
    mean = (xf * region).sum((-2, -1), keepdim=True) / count
    var = ((xf - mean).square() * region).sum((-2, -1), keepdim=True) / count
    scale = norm.weight.float()[:, None, None] * torch.rsqrt(var + norm.eps)
    return ((xf - mean) * scale + norm.bias.float()[:, None, None]).to(x.dtype)


def _walk(module: nn.Module, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`module(x)` with every InstanceNorm2d inside it masked (TransformerNet's nesting)."""
    if isinstance(module, nn.InstanceNorm2d):
        return _masked_instance_norm(x, module, mask)
    if isinstance(module, ResidualBlock):
        return x + _walk(module.body, x, mask)
    if isinstance(module, nn.Sequential) and any(isinstance(m, nn.InstanceNorm2d) for m in module.modules()):
        for child in module:
            x = _walk(child, x, mask)
        return x
    return module(x)


def masked_forward(net: TransformerNet, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """TransformerNet on a padded batch, normalised over `mask` only.

    Args:
        x: (N, 3, H, W) in [0, 1], H and W multiples of 4 (a bucket size).
        mask: (1, 1, H, W), 1 over the region the statistics are taken from.
    """
    y = _walk(net.decoder, _walk(net.residuals, _walk(net.encoder, x, mask), mask), mask)
    if net.output_head == "tanh":
        return (torch.tanh(y) + 1.0) * 0.5
    return y.clamp(0.0, 1.0)
