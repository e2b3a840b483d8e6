import pytest
import torch

from fst.losses.perceptual import PerceptualLoss
from fst.losses.targets import masks_at
from fst.models.vgg import VGGFeatures


@pytest.fixture
def loss() -> PerceptualLoss:
    torch.manual_seed(0)
    vgg = VGGFeatures("vgg19", weights="random", input_convention="caffe")
    return PerceptualLoss(vgg, ["relu2_1"], {"relu1_1": 1.0, "relu2_1": 0.5, "relu3_1": 2.0}, 1.0, 3.0)


def test_one_all_ones_region_equals_plain_style_term(loss: PerceptualLoss) -> None:
    style, output = torch.rand(1, 3, 40, 48), torch.rand(1, 3, 36, 44)
    plain = loss(output, output, loss.style_target(style))["style"]
    regions = loss.region_style_target([style], [torch.ones(1, 1, 40, 48)], torch.ones(1, 1, 36, 44))
    semantic = loss(output, output, regions)["style"]
    assert torch.allclose(semantic, plain, rtol=1e-5)


def test_matching_regions_of_the_style_itself_give_zero_loss(loss: PerceptualLoss) -> None:
    style = torch.rand(1, 3, 32, 32)
    left = torch.zeros(1, 1, 32, 32)
    left[..., :16] = 1
    regions = torch.cat([left, 1 - left])
    target = loss.region_style_target([style], [regions], regions)
    assert float(loss(style, style, target)["style"]) < 1e-6


def test_swapped_regions_are_penalised(loss: PerceptualLoss) -> None:
    # Left half smooth, right half noisy: asking the left to look like the right must cost something.
    style = torch.full((1, 3, 32, 32), 0.5)
    style[..., 16:] = torch.rand(1, 3, 32, 16)
    left = torch.zeros(1, 1, 32, 32)
    left[..., :16] = 1
    target = loss.region_style_target([style], [torch.cat([left, 1 - left])], torch.cat([1 - left, left]))
    assert float(loss(style, style, target)["style"]) > 1e-3


def test_region_count_mismatch_is_an_error(loss: PerceptualLoss) -> None:
    with pytest.raises(ValueError, match="regions"):
        loss.region_style_target([torch.rand(1, 3, 32, 32)], [torch.ones(2, 1, 32, 32)], torch.ones(3, 1, 32, 32))


def test_blended_region_targets_weight_each_style(loss: PerceptualLoss) -> None:
    a, b = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    masks = torch.ones(1, 1, 32, 32)
    blended = loss.region_style_target([a, b], [masks, masks], masks, blend=[1.0, 3.0]).grams["relu1_1"]
    ga, gb = (loss.region_style_target([x], [masks], masks).grams["relu1_1"] for x in (a, b))
    assert torch.allclose(blended, 0.25 * ga + 0.75 * gb, atol=1e-6)


def test_targets_move_between_devices_without_the_loss(loss: PerceptualLoss) -> None:
    target = loss.style_target(torch.rand(1, 3, 32, 32))
    moved = target.to("cpu")
    assert moved is not target and all(torch.equal(moved.grams[k], target.grams[k]) for k in target.grams)


def test_masks_at_averages_areas() -> None:
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :, :1] = 1  # one column of four: half of each left 2x2 cell
    small = masks_at(mask, (2, 2))
    assert torch.allclose(small, torch.tensor([[[[0.5, 0.0], [0.5, 0.0]]]]))


def test_relative_region_terms_are_refused() -> None:
    """Per-region errors have no photo baseline: a relative loss says so instead of mixing units."""
    torch.manual_seed(0)
    vgg = VGGFeatures("vgg19", weights="random", input_convention="caffe")
    loss = PerceptualLoss(vgg, ["relu2_1"], ["relu1_1"], relative=True)
    style, output = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    regions = loss.region_style_target([style], [torch.ones(1, 1, 32, 32)], torch.ones(1, 1, 32, 32))
    with pytest.raises(ValueError, match="per region"):
        loss(output, output, regions)
