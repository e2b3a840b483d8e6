import torch
from hydra.utils import instantiate

from fst.checkpoint import export
from fst.config import compose_config
from fst.losses.perceptual import PerceptualLoss
from fst.models.multistyle import MultiStyleNet
from fst.models.transformer import TransformerNet
from fst.models.vgg import VGGFeatures
from fst.optimize.compare import iterations_to_match, main
from fst.optimize.sweep import SETTINGS, gatys_weights
from tests.conftest import random_photo

LBFGS = instantiate(compose_config("optimize", ["pixel_optimizer=lbfgs"]).pixel_optimizer)


def test_gatys_weights_reproduce_the_papers_sums() -> None:
    torch.manual_seed(0)
    content_layer, layers = "relu4_2", ["relu1_1", "relu2_1"]
    vgg = VGGFeatures("vgg19", weights="random", input_convention="caffe")
    # Same size for all three: the paper's A_l is an unnormalised sum over the style's positions.
    content, style, image = (torch.rand(1, 3, 48, 40) for _ in range(3))
    f_img, f_content, f_style = (vgg(x, [content_layer, *layers]) for x in (image, content, style))
    channels = {k: v.shape[1] for k, v in f_img.items()}
    positions = f_img[content_layer].shape[-1] * f_img[content_layer].shape[-2]
    ratio = 1e-3
    content_weight, style_layers = gatys_weights(ratio, content_layer, layers, channels, positions)
    loss = PerceptualLoss(vgg, [content_layer], style_layers, content_weight, 1.0)

    # The paper's definitions, written out with unnormalised sums.
    def raw_gram(f: torch.Tensor) -> torch.Tensor:
        flat = f[0].reshape(f.shape[1], -1)
        return flat @ flat.t()

    content_sum = 0.5 * ((f_img[content_layer] - f_content[content_layer]) ** 2).sum()
    style_sum = sum(
        ((raw_gram(f_img[n]) - raw_gram(f_style[n])) ** 2).sum() / (4 * channels[n] ** 2 * h_w**2) / len(layers)
        for n in layers
        for h_w in [f_img[n].shape[-1] * f_img[n].shape[-2]]
    )
    terms = loss(image, loss.content_target(content), loss.style_target(style))
    assert torch.isclose(terms["content"], ratio * content_sum, rtol=1e-4)
    assert torch.isclose(terms["style"], style_sum, rtol=1e-4)


def test_sweep_settings_are_the_papers() -> None:
    settings = compose_config("optimize", SETTINGS)
    assert settings.loss.vgg.pooling == "avg" and list(settings.loss.content_layers) == ["relu4_2"]
    assert list(settings.loss.style_layers) == [f"relu{i}_1" for i in range(1, 6)]


def test_network_comparison_counts_iterations() -> None:
    torch.manual_seed(0)
    vgg = VGGFeatures("vgg19", weights="random", input_convention="caffe")
    loss = PerceptualLoss(vgg, ["relu2_1"], ["relu1_1", "relu2_1"], 1.0, 1e3)
    style = loss.style_target(torch.rand(1, 3, 32, 32))
    net = TransformerNet(channels=[8, 16, 32], num_residual_blocks=1).eval()
    result = iterations_to_match(net, loss, style, torch.rand(1, 3, 32, 32), LBFGS, max_iterations=30)
    assert result["network_loss"] > 0
    if result["iterations"] is not None:
        assert result["optimised_loss"] <= result["content_init_loss"]
        assert result["iterations"] <= 30


def test_compare_judges_each_style_of_a_multi_style_file(tmp_path, vgg_file, assets, capsys) -> None:
    names = ["udnie", "the_scream"]
    net = MultiStyleNet(names, channels=(8, 16, 32), num_residual_blocks=1)
    vgg = VGGFeatures("vgg19", weights=str(vgg_file), input_convention="caffe")
    loss = PerceptualLoss(vgg, ["relu2_2"], ["relu1_2", "relu2_2"], 1.0, 2.0, 0.0, style_size=64)
    styles = [{"name": n, "file": f"{n}.jpg", "sha256": ""} for n in names]
    path = export(net, tmp_path / "duo.safetensors", {"styles": styles, "loss": loss.config()})
    photo = tmp_path / "photo.png"
    random_photo(40, 32).save(photo)
    main([str(path), str(photo), "--image-size", "32", "--max-iterations", "2", "--vgg-weights", str(vgg_file)])
    lines = capsys.readouterr().out.splitlines()
    summaries = [line for line in lines if "photos matched" in line]
    assert [line.split(":")[0] for line in summaries] == names
