from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from fst.models.vgg import VGGFeatures, VGGWeightsError, layer_names


def test_layer_names_follow_the_paper() -> None:
    names = layer_names("vgg19")
    assert names[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    # Indices of the shared assets' README (torchvision layout): relu4_2 = 22, relu5_1 = 29.
    assert names.index("relu4_2") == 22 and names.index("relu5_1") == 29
    assert names.index("relu4_3") == 24 and len(layer_names("vgg16")) == 31


def test_caffe_convention_is_bgr_0_255_minus_mean() -> None:
    vgg = VGGFeatures("vgg16", weights="random", input_convention="caffe")
    rgb = torch.tensor([0.0, 0.5, 1.0]).view(1, 3, 1, 1)
    expected = torch.tensor([255.0 - 103.939, 127.5 - 116.779, 0.0 - 123.68]).view(1, 3, 1, 1)
    assert torch.allclose(vgg.normalize(rgb), expected)


def test_torchvision_convention_is_mean_std() -> None:
    vgg = VGGFeatures("vgg16", weights="random", input_convention="torchvision")
    rgb = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    assert torch.allclose(vgg.normalize(rgb), torch.zeros(1, 3, 1, 1), atol=1e-6)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_loads_torchvision_layout_files(tmp_path: Path, suffix: str) -> None:
    source = VGGFeatures("vgg16", weights="random")
    state = {f"features.{k}": v.half() for k, v in source.features.state_dict().items()}  # fp16 like the asset
    path = tmp_path / f"vgg16{suffix}"
    save_file(state, str(path)) if suffix == ".safetensors" else torch.save(state, path)
    loaded = VGGFeatures("vgg16", weights=str(path))
    x = torch.rand(1, 3, 16, 16)
    expected = VGGFeatures("vgg16", weights="random")
    expected.features.load_state_dict({k.removeprefix("features."): v.float() for k, v in state.items()})
    assert torch.allclose(loaded(x, ["relu3_3"])["relu3_3"], expected(x, ["relu3_3"])["relu3_3"])
    assert not any(p.requires_grad for p in loaded.parameters())


def test_wrong_architecture_file_is_one_line(tmp_path: Path) -> None:
    state = {f"features.{k}": v for k, v in VGGFeatures("vgg16", weights="random").features.state_dict().items()}
    save_file(state, str(tmp_path / "vgg16.safetensors"))
    with pytest.raises(VGGWeightsError, match="not vgg19 weights"):
        VGGFeatures("vgg19", weights=str(tmp_path / "vgg16.safetensors"))


def test_offline_torchvision_weights_say_how_to_supply_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.models._api as api

    def offline(*args: object, **kwargs: object) -> None:
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(api, "load_state_dict_from_url", offline)
    with pytest.raises(VGGWeightsError) as error:
        VGGFeatures("vgg19", weights="torchvision")
    assert "FST_VGG_WEIGHTS" in str(error.value) and "\n" not in str(error.value)


def test_stays_frozen_in_train_mode() -> None:
    vgg = VGGFeatures("vgg16", weights="random", last_layer="relu2_2")
    vgg.train()
    assert not vgg.training and vgg.names[-1] == "relu2_2"


def test_real_caffe_weights_give_sparse_positive_activations(vgg_file: Path, assets: Path) -> None:
    from fst.io.images import load_tensor

    vgg = VGGFeatures("vgg19", weights=str(vgg_file), input_convention="caffe", last_layer="relu5_1")
    photo = load_tensor(assets / "content" / "chicago_1.jpg", long_side=256).unsqueeze(0)
    with torch.no_grad():
        features = vgg(photo, ["relu1_1", "relu5_1"])
    # Sanity figures from the asset's README: ~0.5 of relu1_1 units positive, far fewer at relu5_1.
    assert 0.3 < float((features["relu1_1"] > 0).float().mean()) < 0.7
    assert float((features["relu5_1"] > 0).float().mean()) < 0.35
