import pytest
import torch

from fst.losses.perceptual import PerceptualLoss
from fst.losses.terms import gram_matrix, total_variation
from fst.models.vgg import VGGFeatures
from fst.resize import resize


@pytest.fixture
def tiny_loss() -> PerceptualLoss:
    torch.manual_seed(0)
    vgg = VGGFeatures("vgg16", weights="random", input_convention="caffe")
    return PerceptualLoss(vgg, ["relu2_2"], {"relu1_2": 1.0, "relu2_2": 0.5}, 2.0, 3.0, 4.0)


def test_vgg_truncated_after_deepest_used_layer(tiny_loss: PerceptualLoss) -> None:
    assert tiny_loss.vgg.names[-1] == "relu2_2"
    assert len(tiny_loss.vgg.features) == 9


def test_loss_terms_match_hand_computation(tiny_loss: PerceptualLoss) -> None:
    style, content, output = torch.rand(1, 3, 32, 32), torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    terms = tiny_loss(output, content, tiny_loss.style_target(style))

    vgg = tiny_loss.vgg
    out_f, content_f, style_f = (vgg(x, ["relu1_2", "relu2_2"]) for x in (output, content, style))
    expected_content = 2.0 * ((out_f["relu2_2"] - content_f["relu2_2"]) ** 2).mean()
    expected_style = 3.0 * sum(
        w * ((gram_matrix(out_f[n]) - gram_matrix(style_f[n])) ** 2).mean()
        for n, w in {"relu1_2": 1.0, "relu2_2": 0.5}.items()
    )
    expected_tv = 4.0 * total_variation(output)
    assert torch.allclose(terms["content"], expected_content, rtol=1e-5)
    assert torch.allclose(terms["style"], expected_style, rtol=1e-5)
    assert torch.allclose(terms["tv"], expected_tv, rtol=1e-5)
    assert torch.allclose(terms["total"], expected_content + expected_style + expected_tv, rtol=1e-5)


def test_fixed_content_target_equals_passing_the_content(tiny_loss: PerceptualLoss) -> None:
    content, output = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    style = tiny_loss.style_target(torch.rand(1, 3, 32, 32))
    fixed = tiny_loss(output, tiny_loss.content_target(content), style)
    assert torch.equal(fixed["total"], tiny_loss(output, content, style)["total"])


def test_identical_images_have_zero_content_and_style_loss(tiny_loss: PerceptualLoss) -> None:
    image = torch.rand(1, 3, 32, 32)
    terms = tiny_loss(image, image, tiny_loss.style_target(image))
    assert float(terms["content"]) == 0.0
    assert float(terms["style"]) < 1e-6


def test_blended_styles_average_their_grams(tiny_loss: PerceptualLoss) -> None:
    a, b = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    blended = tiny_loss.style_target([a, b], blend=[3.0, 1.0]).grams["relu1_2"]
    ga, gb = (tiny_loss.style_target(x).grams["relu1_2"] for x in (a, b))
    assert torch.allclose(blended, 0.75 * ga + 0.25 * gb, atol=1e-6)


def test_style_images_are_resized_to_style_size() -> None:
    vgg = VGGFeatures("vgg16", weights="random", input_convention="caffe")
    loss = PerceptualLoss(vgg, ["relu1_2"], ["relu1_2"], style_size=16)
    big = torch.rand(1, 3, 64, 48)
    small = resize(big, (16, 12))
    unsized = PerceptualLoss(vgg, ["relu1_2"], ["relu1_2"])
    torch.testing.assert_close(loss.style_target(big).grams["relu1_2"], unsized.style_target(small).grams["relu1_2"])


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_config_rebuilds_the_same_loss(pooling: str, tmp_path) -> None:
    # The exported metadata must rebuild the loss exactly: pooling was once missing, so an
    # avg-pooled net would have been judged by a max-pooling loss.
    from safetensors.torch import save_file

    torch.manual_seed(0)
    vgg = VGGFeatures("vgg19", weights="random", input_convention="caffe", pooling=pooling)
    weights = tmp_path / "vgg.safetensors"
    save_file({f"features.{k}": v.contiguous() for k, v in vgg.features.state_dict().items()}, str(weights))
    loss = PerceptualLoss(vgg, ["relu3_1"], {"relu2_1": 1.0, "relu3_1": 0.5}, 2.0, 3.0, 4.0, style_size=24)
    rebuilt = PerceptualLoss.from_config(loss.config(), str(weights))
    assert rebuilt.config() == loss.config() and rebuilt.config()["pooling"] == pooling
    content, output = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    style = torch.rand(1, 3, 40, 40)
    torch.testing.assert_close(
        rebuilt(output, content, rebuilt.style_target(style)), loss(output, content, loss.style_target(style))
    )


@pytest.fixture
def relative_loss() -> PerceptualLoss:
    torch.manual_seed(0)
    vgg = VGGFeatures("vgg16", weights="random", input_convention="caffe")
    return PerceptualLoss(vgg, ["relu2_2"], {"relu1_2": 1.0, "relu2_2": 0.5}, 2.0, 3.0, 0.0, relative=True)


def test_relative_terms_match_hand_computation(relative_loss: PerceptualLoss) -> None:
    style, content, output = torch.rand(1, 3, 32, 32), torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    terms = relative_loss(output, content, relative_loss.style_target(style))

    vgg = relative_loss.vgg
    out_f, content_f, style_f = (vgg(x, ["relu1_2", "relu2_2"]) for x in (output, content, style))
    expected_content = expected_style = 0.0
    for i in range(2):  # each image against its own photo, then averaged
        o, c = out_f["relu2_2"][i], content_f["relu2_2"][i]
        expected_content += 2.0 * ((o - c) ** 2).sum() / (c**2).sum() / 2
        for name, weight in {"relu1_2": 1.0, "relu2_2": 0.5}.items():
            target = gram_matrix(style_f[name])[0]
            left = ((gram_matrix(out_f[name][i : i + 1])[0] - target) ** 2).sum()
            photo = ((gram_matrix(content_f[name][i : i + 1])[0] - target) ** 2).sum()
            expected_style += 3.0 * weight * left / photo / 2
    assert torch.allclose(terms["content"], expected_content, rtol=1e-4)
    assert torch.allclose(terms["style"], expected_style, rtol=1e-4)


def test_relative_style_is_one_per_layer_for_the_photo_itself(relative_loss: PerceptualLoss) -> None:
    """The photo is exactly as far from the style as itself: weight x 1 per layer, whatever the scale."""
    photo, style = torch.rand(2, 3, 32, 32), torch.rand(1, 3, 32, 32)
    for scale in (1.0, 10.0):  # raw Gram errors grow ~scale^4; the relative term does not move
        terms = relative_loss(photo * scale, photo * scale, relative_loss.style_target(style * scale))
        assert float(terms["style"]) == pytest.approx(3.0 * (1.0 + 0.5), rel=1e-5)
        assert float(terms["content"]) == 0.0


def test_relative_loss_with_a_fixed_content_target_equals_passing_the_content(
    relative_loss: PerceptualLoss,
) -> None:
    content, output = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    style = relative_loss.style_target(torch.rand(1, 3, 32, 32))
    fixed = relative_loss(output, relative_loss.content_target(content), style)
    assert torch.allclose(fixed["total"], relative_loss(output, content, style)["total"], rtol=1e-6)


def test_relative_flag_survives_the_config_round_trip(relative_loss: PerceptualLoss) -> None:
    config = relative_loss.config()
    assert config["relative"] is True
    # Files exported before the flag existed hold absolute losses.
    assert PerceptualLoss.from_config({k: v for k, v in config.items() if k != "relative"}, "random").relative is False


def test_relative_terms_train_the_output_only(relative_loss: PerceptualLoss) -> None:
    """Both relative terms carry a gradient to the output; the photo's yardsticks carry none."""
    content = torch.rand(2, 3, 32, 32, requires_grad=True)
    output = torch.rand(2, 3, 32, 32, requires_grad=True)
    terms = relative_loss(output, content, relative_loss.style_target(torch.rand(1, 3, 32, 32)))
    for name in ("content", "style"):
        (grad,) = torch.autograd.grad(terms[name], output, retain_graph=True)
        assert float(grad.abs().sum()) > 0.0, name
    assert terms["total"].grad_fn is not None
    assert content.grad is None
