import pytest
import torch

from mnist_demo import tutorial
from mnist_demo.models import CNN, FeedForward, architecture, build_model


@pytest.mark.parametrize("ours, theirs", [(FeedForward, tutorial.FeedForward), (CNN, tutorial.CNN)])
def test_tutorial_state_dict_loads_unchanged_both_ways(ours, theirs):
    torch.manual_seed(0)
    ref = theirs()
    model = ours()
    model.load_state_dict(ref.state_dict(), strict=True)
    x = torch.rand(5, 784)
    assert torch.equal(model(x), ref(x))
    back = theirs()
    back.load_state_dict(model.state_dict(), strict=True)
    assert torch.equal(back(x), ref(x))


def test_parameter_names_and_shapes():
    assert {k: tuple(v.shape) for k, v in build_model("linear").state_dict().items()} == {
        "lin.weight": (10, 784), "lin.bias": (10,)}
    assert {k: tuple(v.shape) for k, v in build_model("cnn").state_dict().items()} == {
        "conv1.weight": (16, 1, 3, 3), "conv1.bias": (16,),
        "conv2.weight": (16, 16, 3, 3), "conv2.bias": (16,),
        "conv3.weight": (10, 16, 3, 3), "conv3.bias": (10,)}


@pytest.mark.parametrize("shape", [(3, 784), (3, 28, 28), (3, 1, 28, 28)])
def test_input_shapes(shape):
    for name in ("linear", "cnn"):
        assert build_model(name)(torch.rand(shape)).shape == (3, 10)


def test_feature_maps_shapes():
    maps = CNN().feature_maps(torch.rand(2, 784))
    assert [tuple(m.shape) for m in maps] == [(2, 16, 14, 14), (2, 16, 7, 7), (2, 10, 4, 4)]


def test_final_relu_option_changes_only_the_last_step():
    torch.manual_seed(1)
    with_relu = CNN()
    without = CNN(final_relu=False)
    without.load_state_dict(with_relu.state_dict())
    with torch.no_grad():
        with_relu.conv3.bias.fill_(-5.0)  # every class score negative: the ReLU zeroes them
        without.conv3.bias.fill_(-5.0)
    x = torch.rand(4, 784)
    assert torch.all(with_relu(x) == 0)
    assert torch.all(without(x) < 0)
    assert architecture(with_relu) == {"model": "cnn", "final_relu": "true"}
    assert architecture(without) == {"model": "cnn", "final_relu": "false"}


def test_unknown_model():
    with pytest.raises(ValueError, match="unknown model"):
        build_model("resnet")
