from __future__ import annotations

import torch

from fst.models.norms import MaskedNet
from fst.models.transformer import TransformerNet, pad_to
from fst.stylize.buckets import bucket_size, valid_mask
from fst.stylize.tiling import psnr


def test_bucket_size_rounds_up() -> None:
    assert bucket_size(1000, 750, 128) == (1024, 768)
    assert bucket_size(1024, 1, 64) == (1024, 64)
    assert bucket_size(3, 5, 4) == (8, 8)


def test_full_mask_equals_the_net(tiny_net: TransformerNet) -> None:
    x = torch.rand(2, 3, 32, 48)
    with torch.no_grad():
        torch.testing.assert_close(MaskedNet(tiny_net)(x, valid_mask(32, 48, (32, 48))), tiny_net(x))


def test_padded_bucket_matches_unpadded(tiny_net: TransformerNet) -> None:
    # Statistics over the un-padded region only: the crop matches the plain net up to border effects.
    height, width = 93, 70
    x = torch.rand(1, 3, height, width)
    size = bucket_size(height, width, 64)
    with torch.no_grad():
        plain = tiny_net(x)
        bucketed = MaskedNet(tiny_net)(pad_to(x, size), valid_mask(height, width, size))
        unmasked = tiny_net(pad_to(x, size))[..., :height, :width]  # plain norm: padding skews statistics
    assert bucketed.shape[-2:] == size
    bucketed = bucketed[..., :height, :width]

    def interior(image: torch.Tensor) -> torch.Tensor:
        return image[..., : height - 16, : width - 16]

    masked_psnr = psnr(interior(bucketed), interior(plain))
    assert masked_psnr > 30.0
    assert masked_psnr > psnr(interior(unmasked), interior(plain)) + 3.0


def test_tiny_images_pad_by_replication() -> None:
    x = torch.rand(1, 3, 1, 3)
    padded = pad_to(x, bucket_size(1, 3, 64))
    assert padded.shape == (1, 3, 64, 64)
    assert torch.equal(padded[..., :1, :3], x)
