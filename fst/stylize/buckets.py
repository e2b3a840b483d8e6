"""Size buckets: a folder of mixed sizes shares a few compiled shapes.

torch.compile builds one graph per input shape (15-47 s each on a 2-core CPU), and
`dynamic=True` still recompiled for a second size here (`benchmarks/stylize_net_modes.py`). So
each image is padded by reflection up to a multiple of `bucket` pixels
(`fst.models.transformer.pad_to`) and cropped back. Plain instance norm would then include the
padding in its statistics (32-39 dB against the unpadded output, `benchmarks/stylize_bucket_psnr.py`);
`fst.models.norms.MaskedNet` takes every instance norm's mean and variance over the `valid_mask`
region only (40-43 dB; what remains is the net's own border handling).
"""

from __future__ import annotations

import torch


def bucket_size(height: int, width: int, bucket: int) -> tuple[int, int]:
    """The padded (height, width): each side rounded up to a multiple of `bucket` (>= 8)."""
    return max(8, height + (-height) % bucket), max(8, width + (-width) % bucket)


def valid_mask(height: int, width: int, size: tuple[int, int]) -> torch.Tensor:
    """(1, 1, *size) float mask: 1 over the image's own (height, width), 0 over the padding."""
    mask = torch.zeros(1, 1, *size)
    mask[..., :height, :width] = 1.0
    return mask
