import torch

from fst.losses.terms import content_loss, gram_loss, gram_matrix, total_variation


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


def test_masked_gram_counts_only_the_masked_area() -> None:
    features = torch.rand(1, 3, 4, 4)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2, :] = 1
    assert torch.allclose(gram_matrix(features, mask), gram_matrix(features[..., :2, :]), atol=1e-6)


def test_total_variation_by_hand() -> None:
    image = torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]]])  # one vertical edge
    # vertical neighbours: 0 difference; horizontal: two differences of 1 over 2 pairs.
    assert torch.isclose(total_variation(image), torch.tensor(1.0))


def test_content_and_gram_loss_by_hand() -> None:
    a, b = torch.ones(1, 2, 2, 2), torch.zeros(1, 2, 2, 2)
    assert torch.isclose(content_loss({"x": a, "y": 2 * a}, {"x": b, "y": b}), torch.tensor(1.0 + 4.0))
    # Gram of all-ones (C=2, HW=4) is 4 / 8 = 0.5 everywhere; against zeros the MSE is 0.25.
    loss = gram_loss({"x": a}, {"x": torch.zeros(1, 2, 2)}, {"x": 3.0})
    assert torch.isclose(loss, torch.tensor(0.75))


def test_entry_weights_scale_each_images_share_of_the_gram_loss() -> None:
    ones, zeros = torch.ones(1, 2, 2, 2), torch.zeros(1, 2, 2, 2)
    features = {"x": torch.cat([ones, zeros])}  # entry 0 errs by 0.25 (above), entry 1 by 0
    target = {"x": torch.zeros(2, 2, 2)}
    plain = gram_loss(features, target, {"x": 1.0})
    weighted = gram_loss(features, target, {"x": 1.0}, entry_weights={"x": torch.tensor([3.0, 1.0])})
    assert torch.isclose(plain, torch.tensor(0.125)) and torch.isclose(weighted, torch.tensor(0.375))
    ignored = gram_loss(features, target, {"x": 1.0}, entry_weights={"x": torch.tensor([0.0, 5.0])})
    assert ignored == 0


def test_entry_weights_apply_only_to_the_layer_they_name() -> None:
    ones = torch.ones(1, 2, 2, 2)
    features = {"x": ones, "y": ones}
    target = {"x": torch.zeros(1, 2, 2), "y": torch.zeros(1, 2, 2)}  # 0.25 per layer (above)
    loss = gram_loss(features, target, {"x": 1.0, "y": 1.0}, entry_weights={"y": torch.tensor([3.0])})
    assert torch.isclose(loss, torch.tensor(0.25 + 0.75))
