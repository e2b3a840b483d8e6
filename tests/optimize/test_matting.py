import numpy as np
import pytest
import torch

from fst.optimize.matting import PhotorealismLoss, matting_laplacian


@pytest.fixture
def laplacian() -> np.ndarray:
    image = np.random.default_rng(0).random((7, 9, 3))
    return matting_laplacian(image).toarray()


def test_symmetric(laplacian: np.ndarray) -> None:
    assert np.abs(laplacian - laplacian.T).max() < 1e-10


def test_positive_semidefinite(laplacian: np.ndarray) -> None:
    assert np.linalg.eigvalsh(laplacian).min() >= -1e-8


def test_constants_in_null_space(laplacian: np.ndarray) -> None:
    assert np.abs(laplacian @ np.ones(len(laplacian))).max() < 1e-10


def test_sparse_with_at_most_25_neighbours() -> None:
    matrix = matting_laplacian(np.random.default_rng(1).random((20, 30, 3)))
    assert matrix.nnz <= 25 * 20 * 30
    assert np.diff(matrix.indptr).max() == 25


def test_loss_and_gradient_match_dense_formula() -> None:
    content = torch.rand(1, 3, 6, 5, dtype=torch.float64)
    term = PhotorealismLoss(content, weight=3.0)
    dense = torch.from_numpy(matting_laplacian(content[0].permute(1, 2, 0).numpy()).toarray()).float()
    image = torch.rand(1, 3, 6, 5, requires_grad=True)
    value = term(image)
    value.backward()
    channels = image.detach()[0].reshape(3, -1).t()  # (HW, 3)
    pixels = channels.shape[0]
    assert torch.isclose(value, 3.0 * (channels * (dense @ channels)).sum() / pixels, rtol=1e-4)
    expected_grad = (3.0 * 2.0 * dense @ channels / pixels).t().reshape(1, 3, 6, 5)
    assert torch.allclose(image.grad, expected_grad, atol=1e-6)


def test_content_itself_scores_near_zero_while_noise_does_not() -> None:
    # Any per-window affine colour map of the content (here the content itself) is nearly free.
    content = torch.rand(1, 3, 16, 16)
    term = PhotorealismLoss(content)
    assert float(term(content)) < 1e-3 * float(term(torch.rand(1, 3, 16, 16)))


def test_size_mismatch_is_an_error() -> None:
    term = PhotorealismLoss(torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="content's size"):
        term(torch.rand(1, 3, 8, 9))


@pytest.mark.slow
def test_handles_512x512() -> None:
    content = torch.rand(1, 3, 512, 512)
    term = PhotorealismLoss(content)
    assert term.laplacian.values().numel() < 7_000_000
    image = torch.rand(1, 3, 512, 512, requires_grad=True)
    term(image).backward()
    assert torch.isfinite(image.grad).all()
