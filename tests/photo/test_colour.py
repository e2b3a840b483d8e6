"""Colour transfers between pixel sets: each matches what it claims, region by region with masks."""

from __future__ import annotations

import torch

from fst.photo import colour


def _sets() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    photo = torch.randn(4000, 3, generator=generator) @ torch.tensor([[1.0, 0.5, 0], [0, 1, 0.3], [0, 0, 0.5]])
    reference = torch.rand(3000, 3, generator=generator) * torch.tensor([20.0, 5.0, 40.0]) + 10
    return photo, reference


def test_reinhard_matches_mean_and_std() -> None:
    photo, reference = _sets()
    moved = colour.reinhard(photo, reference)
    assert torch.allclose(moved.mean(0), reference.mean(0), atol=1e-3)
    assert torch.allclose(moved.std(0), reference.std(0), rtol=1e-3)


def test_covariance_matches_the_whole_covariance() -> None:
    photo, reference = _sets()
    moved = colour.covariance(photo, reference)
    assert torch.allclose(torch.cov(moved.T), torch.cov(reference.T), rtol=1e-3, atol=1e-2)
    assert torch.allclose(moved.mean(0), reference.mean(0), atol=1e-3)


def test_sliced_matches_the_marginals_of_a_non_gaussian_distribution() -> None:
    photo, reference = _sets()  # the reference is uniform: no mean-and-variance map gets its shape
    quantiles = torch.linspace(0.05, 0.95, 19)

    def marginal_error(moved: torch.Tensor) -> float:
        return float((moved.quantile(quantiles, 0) - reference.quantile(quantiles, 0)).abs().max())

    sliced_error = marginal_error(colour.sliced(photo, reference))
    assert sliced_error < 1.6  # of a range 40 wide (4 %)
    assert sliced_error < 0.5 * marginal_error(colour.covariance(photo, reference))


def test_each_region_takes_its_own_regions_colours() -> None:
    photo = torch.rand(1, 3, 20, 20)
    reference = torch.zeros(1, 3, 10, 10)
    reference[:, :, :5] = torch.tensor([80.0, 40, 40]).view(1, 3, 1, 1)  # top: one colour
    reference[:, :, 5:] = torch.tensor([30.0, -20, -40]).view(1, 3, 1, 1)  # bottom: another
    reference = reference + torch.rand(1, 3, 10, 10)  # some spread, so covariances exist
    photo_regions = torch.zeros(2, 1, 20, 20)
    photo_regions[0, :, :, :10], photo_regions[1, :, :, 10:] = 1, 1  # left, right
    reference_regions = torch.zeros(2, 1, 10, 10)
    reference_regions[0, :, :5], reference_regions[1, :, 5:] = 1, 1
    for method in ("reinhard", "covariance", "sliced"):
        moved = colour.transfer_by_region(photo, reference, method, photo_regions, reference_regions)
        left, right = moved[0, :, :, :10].mean((1, 2)), moved[0, :, :, 10:].mean((1, 2))
        assert torch.allclose(left, torch.tensor([80.5, 40.5, 40.5]), atol=0.5), method
        assert torch.allclose(right, torch.tensor([30.5, -19.5, -39.5]), atol=0.5), method
        whole = colour.transfer_by_region(photo, reference, method)
        assert (whole[0, :, :, :10].mean((1, 2)) - left).abs().max() > 10  # without masks: mixed
