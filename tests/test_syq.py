"""SYQ (seed 002 ch. 5): symmetric levels, eq. 5.12 initialisation, eq. 5.10/5.11 gradients,
and bit-exact export of SYQ MLPs (layer- and row-wise scales)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hwnn.nn.layers import QuantLinear
from hwnn.quant.syq import SYQQuantizer


def test_levels_and_threshold() -> None:
    w = torch.tensor([[-1.0, -0.04, 0.05, 0.5], [0.2, -0.3, 0.0, 0.01]])
    tern = SYQQuantizer("ternary", "layer", (2, 4))
    # eta = 0.05 * max|W| = 0.05: |w| >= eta is non-zero
    assert tern.levels(w).tolist() == [[-1, 0, 1, 1], [1, -1, 0, 0]]
    binary = SYQQuantizer("binary", "row", (2, 4))
    assert binary.levels(w).tolist() == [[-1, -1, 1, 1], [1, -1, 1, 1]]


def test_alpha_initialised_to_the_subgroup_mean() -> None:
    w = torch.tensor([[1.0, -3.0], [0.5, 0.5]])
    row = SYQQuantizer("binary", "row", (2, 2))
    row(w)
    assert row.alpha.detach().tolist() == [2.0, 0.5]
    layer = SYQQuantizer("binary", "layer", (2, 2))
    layer(w)
    assert float(layer.alpha.detach()) == pytest.approx(1.25)


def test_gradients_follow_eqs_5_10_and_5_11() -> None:
    w = torch.tensor([[0.4, -0.2, 0.01], [-0.6, 0.3, 0.5]], requires_grad=True)
    q = SYQQuantizer("ternary", "row", (2, 3))
    out = q(w)
    g = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    (out * g).sum().backward()
    alpha = q.alpha.detach()
    levels = q.levels(w.detach())
    assert torch.allclose(w.grad, alpha[:, None] * g)  # eq. 5.11
    assert torch.allclose(q.alpha.grad, (levels * g).sum(dim=1))  # eq. 5.10


@pytest.mark.parametrize(("levels", "granularity"),
                         [("binary", "layer"), ("ternary", "row"), ("ternary", "layer")])
def test_syq_mlp_exports_bit_exactly(levels: str, granularity: str) -> None:
    from hwnn.data.base import InputQuant
    from hwnn.ir import run
    from hwnn.ir.export import export_model
    from hwnn.nn.model import build_mlp, set_quant_enabled

    torch.manual_seed(1)
    model = build_mlp(20, [12], 3, InputQuant(bits=8, signed=True, scale=None))
    for layer in (m for m in model.modules() if isinstance(m, QuantLinear)):
        layer.weight_quant = SYQQuantizer(levels, granularity, tuple(layer.weight.shape))  # type: ignore[arg-type]
    set_quant_enabled(model, True)
    x = torch.randn(300, 20)
    model.train()
    model(x)
    with torch.no_grad():  # learned scales away from their initial values
        for layer in (m for m in model.modules() if isinstance(m, QuantLinear)):
            layer.weight_quant.alpha.mul_(1.3)
    model.eval()
    ir = export_model(model, "syq", "argmax", {})
    assert set(np.unique(ir.layers[0].weight)) <= {-1, 0, 1}
    codes = model.quantize_input(x)
    assert np.array_equal(run(ir, codes.value.numpy()).outputs[-1],
                          model.forward_int(codes).value.numpy())


def test_syq_run_trains_and_reloads(tmp_path) -> None:
    from toy import toy_dataset

    from hwnn.config import parse_config
    from hwnn.train.build import load_run
    from hwnn.train.loop import Trainer

    stage = {"epochs": 3, "lr": 3e-3, "lr_step": 2, "patience": 3}
    cfg = parse_config({"name": "syq", "data": {"task": "mnist"},
                        "model": {"hidden": [16], "weights": "syq_ternary",
                                  "syq_granularity": "row"},
                        "train": {"seed": 1, "batch_size": 64, "float": stage, "qat": stage}})
    metrics = Trainer(cfg, toy_dataset(n=1200), tmp_path / "r", progress=False).run()
    assert metrics["summary_test"]["qat"] > 0.4
    _, model, _ = load_run(tmp_path / "r")
    quants = [m.weight_quant for m in model.modules() if isinstance(m, QuantLinear)]
    assert all(isinstance(q, SYQQuantizer) and q.granularity == "row" for q in quants)
    assert quants[0].alpha.shape == (16,) and bool(quants[0].initialized)


@pytest.mark.parametrize(("granularity", "shape"), [("row", (3,)), ("pixel", (3, 3))])
def test_conv_subgroups_follow_section_5_4_2(granularity: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    w = torch.randn(4, 2, 3, 3, requires_grad=True)
    q = SYQQuantizer("binary", granularity, tuple(w.shape))  # type: ignore[arg-type]
    out = q(w)
    assert q.alpha.shape == shape and not q.per_output
    dims = (0, 1, 3) if granularity == "row" else (0, 1)
    assert torch.allclose(q.alpha.detach(), w.detach().abs().mean(dim=dims))  # eq. 5.12
    g = torch.randn_like(w)
    (out * g).sum().backward()
    levels = q.levels(w.detach())
    assert torch.allclose(q.alpha.grad, (levels * g).sum(dim=dims))  # eq. 5.10 per subgroup
    with pytest.raises(RuntimeError, match="no integer mode"):
        q.quantize(w)


def test_fc_layer_under_pixel_wise_syq_is_layer_wise() -> None:
    q = SYQQuantizer("ternary", "pixel", (5, 7))
    assert q.granularity == "layer" and q.alpha.shape == () and q.per_output


def test_syq_pixel_cnn_trains(tmp_path) -> None:
    from toy import toy_dataset

    from hwnn.config import parse_config
    from hwnn.train.loop import Trainer

    stage = {"epochs": 3, "lr": 3e-3, "lr_step": 2, "patience": 3}
    cfg = parse_config({"name": "syqcnn", "data": {"task": "mnist"},
                        "model": {"kind": "cnn", "image": [1, 4, 6], "channels": [4],
                                  "hidden": [8], "weights": "syq_binary",
                                  "syq_granularity": "pixel"},
                        "train": {"seed": 1, "batch_size": 64, "float": stage, "qat": stage}})
    metrics = Trainer(cfg, toy_dataset(n=1200), tmp_path / "r", progress=False).run()
    assert metrics["summary_test"]["qat"] > 0.4


def test_fixed_point_activations_follow_eq_5_13(tmp_path) -> None:
    import numpy as np
    from toy import toy_dataset

    from hwnn.config import parse_config
    from hwnn.ir import run
    from hwnn.ir.export import export_run
    from hwnn.nn.layers import QuantAct
    from hwnn.train.build import load_run
    from hwnn.train.loop import Trainer

    stage = {"epochs": 2, "lr": 3e-3, "lr_step": 2, "patience": 3}
    cfg = parse_config({"name": "g", "data": {"task": "mnist"},
                        "model": {"hidden": [16], "weights": "syq_ternary", "act_bits": 4,
                                  "act_frac_bits": 2},
                        "train": {"seed": 1, "batch_size": 64, "float": stage, "qat": stage}})
    ds = toy_dataset(n=900)
    Trainer(cfg, ds, tmp_path / "r", progress=False).run()
    _, model, _ = load_run(tmp_path / "r")
    relu = next(m for m in model.modules() if isinstance(m, QuantAct) and m.relu)
    assert float(relu.output_scale()) == 0.25  # 2^-f; range [0, 2^(4-2) - 2^-2] = [0, 3.75]
    h = relu(torch.tensor([[-1.0, 0.1, 0.125, 0.2, 1.3, 9.0]]))
    assert h.tolist() == [[0.0, 0.0, 0.25, 0.25, 1.25, 3.75]]  # floor(4x + 1/2)/4, saturated
    x = torch.from_numpy(ds.test.x)
    codes = model.quantize_input(x)
    assert np.array_equal(run(export_run(tmp_path / "r"), codes.value.numpy()).outputs[-1],
                          model.forward_int(codes).value.numpy())
