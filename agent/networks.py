"""Network builders, kept apart from the models that use them."""

from __future__ import annotations

import torch
from torch import nn


def mlp(in_dim: int, hidden_dims: list[int], out_dim: int, dropout: float = 0.0) -> nn.Sequential:
    """Linear -> LayerNorm -> SiLU blocks, then a plain linear output layer.

    LayerNorm keeps activations well scaled when inputs (raw proprioception,
    SimNorm latents) differ in scale, which matters at high update ratios. SiLU
    rather than TD-MPC2's Mish: the same shape, 5x cheaper forward+backward on CPU.
    ``dropout`` acts on the first layer's output, before its LayerNorm (as TD-MPC2's Q-heads).
    """
    layers: list[nn.Module] = []
    dims = [in_dim, *hidden_dims]
    for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(d_in, d_out))
        if i == 0 and dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [nn.LayerNorm(d_out), nn.SiLU()]
    layers.append(nn.Linear(dims[-1], out_dim))
    net = nn.Sequential(*layers)
    for module in net:
        if isinstance(module, nn.Linear):
            _small_init(module.weight, module.bias)
    return net


def _small_init(weight: torch.Tensor, bias: torch.Tensor | None) -> None:
    """TD-MPC2's initialisation: small truncated-normal weights, zero biases. With LayerNorm after
    every hidden layer only the output layers feel the scale, and small outputs keep the first
    reward and value predictions near zero instead of at random."""
    nn.init.trunc_normal_(weight, std=0.02)
    if bias is not None:
        nn.init.zeros_(bias)


def _conv_stages(image_size: int) -> int:
    """Number of stride-2 stages that bring the image down to 4x4 (64 -> 4 is four)."""
    stages, size = 0, image_size
    while size > 4 and size % 2 == 0:
        size //= 2
        stages += 1
    if size != 4:
        raise ValueError(f"image_size={image_size} is not accepted: expected 4 times a power of two (32, 64, 128)")
    return stages


class PixelEncoder(nn.Module):
    """(B, H, W, 3) uint8 frames -> (B, out_dim) features."""

    def __init__(self, image_size: int, out_dim: int, channels: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for i in range(_conv_stages(image_size)):
            c_out = channels * min(2 ** i, 4)
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.SiLU()]
            c_in = c_out
        self.conv = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(c_in * 16, out_dim)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames.permute(0, 3, 1, 2).float() / 255.0 - 0.5
        return self.head(self.conv(x))


class PixelDecoder(nn.Module):
    """(B, in_dim) latents -> (B, H, W, 3) frames in [-0.5, 0.5] (the encoder's input scale)."""

    def __init__(self, image_size: int, in_dim: int, channels: int = 32) -> None:
        super().__init__()
        stages = _conv_stages(image_size)
        widths = [channels * min(2 ** i, 4) for i in range(stages)][::-1]
        self.first = widths[0]
        self.fc = nn.Linear(in_dim, widths[0] * 16)
        layers: list[nn.Module] = []
        for c_in, c_out in zip(widths, widths[1:] + [3]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), nn.SiLU()]
        self.deconv = nn.Sequential(*layers[:-1])  # no activation on the output

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.fc(z).reshape(-1, self.first, 4, 4)
        return self.deconv(x).permute(0, 2, 3, 1)

