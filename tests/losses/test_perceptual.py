import pytest
import torch

from fst.losses.perceptual import PerceptualLoss, gram_matrix, total_variation
from fst.losses.vgg import VGGFeatures


def test_gram_matrix_by_hand() -> None:
    # Two channels over 2x2 positions: a = [1, 2, 3, 4], b = [0, 1, 0, 1].
    features = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [0.0, 1.0]]]])
    expected = torch.tensor([[[30.0, 6.0], [6.0, 2.0]]]) / (2 * 2 * 2)
    assert torch.allclose(gram_matrix(features), expected)


def test_gram_matrix_is_float32_under_bf16_autocast() -> None:
    features = torch.rand(2, 4, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        gram = gram_matrix(features.bfloat16())
    assert gram.dtype == torch.float32


def test_masked_gram_with_full_mask_equals_plain_gram() -> None:
    features = torch.rand(2, 4, 6, 5)
    assert torch.allclose(gram_matrix(features, torch.ones(1, 1, 6, 5)), gram_matrix(features), atol=1e-6)


def test_total_variation_by_hand() -> None:
    image = torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]]])  # one vertical edge
    # vertical neighbours: 0 difference; horizontal: two differences of 1 over 2 pairs.
    assert torch.isclose(total_variation(image), torch.tensor(1.0))


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
    tiny_loss.set_style(style)
    terms = tiny_loss(output, content)

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


def test_identical_images_have_zero_content_and_style_loss(tiny_loss: PerceptualLoss) -> None:
    image = torch.rand(1, 3, 32, 32)
    tiny_loss.set_style(image)
    terms = tiny_loss(image, image)
    assert float(terms["content"]) == 0.0
    assert float(terms["style"]) < 1e-6


def test_blended_styles_average_their_grams(tiny_loss: PerceptualLoss) -> None:
    a, b = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    tiny_loss.set_style([a, b], blend=[3.0, 1.0])
    blended = tiny_loss.style_targets["relu1_2"]
    tiny_loss.set_style(a)
    ga = tiny_loss.style_targets["relu1_2"]
    tiny_loss.set_style(b)
    gb = tiny_loss.style_targets["relu1_2"]
    assert torch.allclose(blended, 0.75 * ga + 0.25 * gb, atol=1e-6)
