"""Loss terms: the gradient term, LPIPS wiring (offline backbone and the pretrained loading path)."""

import pytest
import torch

from train.losses import LPIPS, LPIPS_CHANNELS, LPIPSWeightsError, RefinerLoss, build_vgg16_features, gradient_loss


def test_gradient_loss_is_zero_for_identical_images_and_for_a_flat_shift():
    image = torch.rand(2, 3, 32, 32)
    assert gradient_loss(image, image).item() == 0
    assert gradient_loss(image, image + 0.1).item() == pytest.approx(0, abs=1e-6)  # a colour shift keeps edges


def test_gradient_loss_sees_blur_and_sharpening():
    image = torch.rand(1, 3, 32, 32)
    blurred = torch.nn.functional.avg_pool2d(image, 3, stride=1, padding=1)
    assert gradient_loss(image, blurred) > 0.05
    assert gradient_loss(image, image + (image - blurred)) > 0.05


def test_lpips_with_an_offline_backbone_is_a_distance_with_gradients():
    lpips = LPIPS(pretrained=False)
    first, second = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    assert torch.equal(lpips(first, first), torch.zeros(2))
    distance = lpips(first, second)
    assert distance.shape == (2,) and (distance > 0).all()
    output = first.clone().requires_grad_(True)
    lpips(output, second).sum().backward()
    assert output.grad.abs().sum() > 0
    assert not any(parameter.requires_grad for parameter in lpips.parameters())


def test_lpips_loads_the_torchvision_and_lpips_weight_layouts(tmp_path, monkeypatch):
    # Files in the published layouts, served from disk: the real loader runs, with no network.
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    backbone = {f"features.{key}": torch.randn_like(value) for key, value in build_vgg16_features().state_dict().items()}
    backbone["classifier.0.weight"] = torch.zeros(1)  # torchvision's file holds more than the features
    linear = {f"lin{index}.model.1.weight": torch.rand(1, channels, 1, 1) for index, channels in enumerate(LPIPS_CHANNELS)}
    torch.save(backbone, tmp_path / "vgg16-backbone.pth")
    torch.save(linear, tmp_path / "lpips-vgg.pth")
    lpips = LPIPS(backbone_url=(tmp_path / "vgg16-backbone.pth").as_uri(), linear_url=(tmp_path / "lpips-vgg.pth").as_uri())
    assert torch.equal(lpips.features[0].weight, backbone["features.0.weight"])
    assert torch.equal(lpips.linear[4].weight, linear["lin4.model.1.weight"])


def test_lpips_without_its_weights_stops_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    missing = (tmp_path / "missing.pth").as_uri()
    with pytest.raises(LPIPSWeightsError, match="--lpips-weight 0"):
        LPIPS(backbone_url=missing, linear_url=missing)


def test_refiner_loss_weights_its_terms():
    schnell, dev = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    loss, terms = RefinerLoss(grad_weight=0.5, lpips_weight=0, l1_weight=2.0)(schnell, dev, dev)
    assert set(terms) == {"grad", "l1"} and terms["l1"] == 0
    assert loss.item() == pytest.approx(0.5 * terms["grad"])
    with pytest.raises(ValueError, match="LPIPS"):
        RefinerLoss(grad_weight=1, lpips_weight=1, l1_weight=0)
    loss, terms = RefinerLoss(1, 1, 0, LPIPS(pretrained=False))(schnell, dev, schnell)
    assert terms["grad"] == 0 and loss.item() == pytest.approx(terms["lpips"])
