"""AdaIN's loss against a hand computation."""

from __future__ import annotations

import math

import pytest
import torch

from fst.losses.adain import AdaINLoss
from fst.models.adain import EPS, ChannelStats, stats_of


def test_terms_by_hand() -> None:
    # Two layers, one channel each. relu4_1 (content and style layer): output [1, 2, 3, 4]
    # (mean 2.5, std sqrt(1.25 + eps)) against a target of zeros -> content MSE = 30 / 4 = 7.5.
    # Style at relu4_1: mean 2.5 vs 0.5 -> 4; std sqrt(1.25 + eps) vs 1 -> (sqrt(1.25 + eps) - 1)^2.
    # relu1_1: output constant 2 (std sqrt(eps)) vs style mean 2, std 0.5 -> 0 + (sqrt(eps) - 0.5)^2.
    output = {
        "relu1_1": torch.full((1, 1, 2, 2), 2.0),
        "relu4_1": torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]]),
    }
    style = {
        "relu1_1": ChannelStats(torch.tensor([[2.0]]), torch.tensor([[0.5]])),
        "relu4_1": ChannelStats(torch.tensor([[0.5]]), torch.tensor([[1.0]])),
    }
    loss = AdaINLoss(style_layers=["relu1_1", "relu4_1"], content_weight=2.0, style_weight=10.0)
    terms = loss(output, torch.zeros(1, 1, 2, 2), style)
    style_by_hand = 4.0 + (math.sqrt(1.25 + EPS) - 1.0) ** 2 + (math.sqrt(EPS) - 0.5) ** 2
    assert terms["content"].item() == pytest.approx(2.0 * 7.5)
    assert terms["style"].item() == pytest.approx(10.0 * style_by_hand, rel=1e-6)
    assert terms["total"].item() == pytest.approx(15.0 + 10.0 * style_by_hand, rel=1e-6)


def test_output_equal_to_target_and_style_costs_nothing() -> None:
    torch.manual_seed(0)
    features = {name: torch.rand(2, 4, 5, 5) for name in ("relu1_1", "relu2_1", "relu3_1", "relu4_1")}
    terms = AdaINLoss()(features, features["relu4_1"], stats_of(features))
    assert terms["total"].item() == pytest.approx(0.0, abs=1e-10)
    assert AdaINLoss().layers == ["relu1_1", "relu2_1", "relu3_1", "relu4_1"]
    assert AdaINLoss().config()["style_weight"] == 10.0


def test_layer_weights_scale_only_their_layer() -> None:
    torch.manual_seed(0)
    output = {name: torch.rand(2, 4, 5, 5) for name in ("relu1_1", "relu4_1")}
    style = stats_of({name: torch.rand(2, 4, 5, 5) for name in output})
    target = torch.rand(2, 4, 5, 5)

    def style_term(weights: dict[str, float]) -> float:
        return AdaINLoss(style_layers=weights, style_weight=1.0)(output, target, style)["style"].item()

    relu1_1, relu4_1 = style_term({"relu1_1": 1.0}), style_term({"relu4_1": 1.0})
    assert relu1_1 > 0 and relu4_1 > 0
    assert style_term({"relu1_1": 400.0, "relu4_1": 1.0}) == pytest.approx(400.0 * relu1_1 + relu4_1, rel=1e-6)
    # A list means equal weights (the paper's); the exported config records the weights.
    assert AdaINLoss(style_layers=["relu1_1", "relu4_1"]).layer_weights == {"relu1_1": 1.0, "relu4_1": 1.0}
    assert AdaINLoss(style_layers={"relu1_1": 400.0}).config()["style_layers"] == {"relu1_1": 400.0}
