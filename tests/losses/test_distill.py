import pytest
import torch

from fst.losses.distill import DistillationLoss
from fst.losses.terms import relative_gram_error
from fst.models.vgg import VGGFeatures


def random_vgg() -> VGGFeatures:
    torch.manual_seed(0)
    return VGGFeatures("vgg19", weights="random", input_convention="caffe")


def test_identical_output_costs_nothing() -> None:
    loss = DistillationLoss(random_vgg(), feature_layers={"relu1_1": 1.0, "relu2_1": 1.0}, feature_weight=1.0)
    image = torch.rand(2, 3, 32, 32)
    terms = loss(image, image.clone())
    assert terms["total"].item() == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("norm,expected", [("l1", 0.25), ("mse", 0.0625)])
def test_pixel_term_is_the_mean_error_times_its_weight(norm: str, expected: float) -> None:
    loss = DistillationLoss(pixel_weight=2.0, pixel_norm=norm)
    target = torch.full((1, 3, 8, 8), 0.5)
    terms = loss(target + 0.25, target)
    assert terms["pixel"].item() == pytest.approx(2.0 * expected)
    assert terms["features"].item() == 0.0 and loss.vgg is None  # no feature layers: no VGG kept


def test_feature_term_is_relative_to_the_teachers_energy() -> None:
    # An all-black output has zero relu features wherever the target's are positive: each
    # layer's relative error is then exactly 1, so the term is the sum of the layer weights.
    vgg = random_vgg()
    with torch.no_grad():
        for conv in vgg.features:
            if isinstance(conv, torch.nn.Conv2d):
                conv.bias.zero_()
    loss = DistillationLoss(vgg, pixel_weight=0.0, feature_layers={"relu1_1": 1.0, "relu2_1": 0.5}, feature_weight=3.0)
    caffe_black = torch.tensor([103.939, 116.779, 123.68]).flip(0).view(1, 3, 1, 1) / 255.0  # normalises to 0
    output = caffe_black.expand(2, 3, 24, 24).clone()
    terms = loss(output, torch.rand(2, 3, 24, 24))
    assert terms["features"].item() == pytest.approx(3.0 * 1.5, rel=1e-4)


def test_feature_gradients_reach_the_output_only() -> None:
    loss = DistillationLoss(random_vgg(), feature_layers={"relu2_1": 1.0}, feature_weight=1.0)
    output = torch.rand(1, 3, 16, 16, requires_grad=True)
    target = torch.rand(1, 3, 16, 16, requires_grad=True)
    loss(output, target)["total"].backward()
    assert output.grad is not None and output.grad.abs().sum() > 0
    assert target.grad is None  # the teacher's side is a constant


def test_feature_layers_without_vgg_or_bad_norm_are_refused() -> None:
    with pytest.raises(ValueError, match="need a vgg"):
        DistillationLoss(None, feature_layers={"relu1_1": 1.0})
    with pytest.raises(ValueError, match="need a vgg"):
        DistillationLoss(None, gram_layers={"relu1_1": 1.0})
    with pytest.raises(ValueError, match="pixel_norm"):
        DistillationLoss(pixel_norm="l2")


def test_vgg_is_truncated_after_the_deepest_feature_layer() -> None:
    loss = DistillationLoss(random_vgg(), feature_layers={"relu2_1": 1.0, "relu1_1": 1.0}, feature_weight=1.0)
    assert loss.vgg is not None and loss.vgg.names[-1] == "relu2_1"
    assert loss.config()["feature_layers"] == {"relu2_1": 1.0, "relu1_1": 1.0}


def test_gram_term_ignores_where_the_texture_falls_and_sees_what_it_is() -> None:
    loss = DistillationLoss(random_vgg(), pixel_weight=0.0, gram_layers={"relu2_1": 1.0}, gram_weight=2.0)
    target = torch.rand(1, 3, 32, 32)
    moved = target.roll(shifts=(8, 8), dims=(2, 3))  # the same texture, elsewhere
    flat = torch.full_like(target, 0.5)
    assert loss(moved, target)["gram"].item() < 0.05 * loss(flat, target)["gram"].item()
    # Relative: features scaled by 1/sqrt(2) halve the Gram, |G/2 - G|^2 / |G|^2 = 1/4.
    features = torch.rand(2, 4, 8, 8)
    assert relative_gram_error(features / 2**0.5, features).item() == pytest.approx(0.25, rel=1e-5)


def test_vgg_reaches_the_deepest_of_feature_and_gram_layers() -> None:
    loss = DistillationLoss(
        random_vgg(), feature_layers={"relu1_1": 1.0}, feature_weight=1.0, gram_layers={"relu3_1": 1.0}, gram_weight=1.0
    )
    assert loss.vgg is not None and loss.vgg.names[-1] == "relu3_1"
    assert loss.config()["gram_layers"] == {"relu3_1": 1.0}
