"""Network builders, kept apart from the models that use them."""

from __future__ import annotations

import math

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
            layers.append(SparseDropout(dropout))
        layers += [nn.LayerNorm(d_out), nn.SiLU()]
    layers.append(nn.Linear(dims[-1], out_dim))
    net = nn.Sequential(*layers)
    for module in net:
        if isinstance(module, nn.Linear):
            _small_init(module.weight, module.bias)
    return net


class SparseDropout(nn.Module):
    """Dropout that draws random numbers for the dropped entries only, not for every entry.

    The same distribution as ``nn.Dropout``: each entry is zeroed independently with probability
    ``p`` and the rest scaled by 1/(1-p). The dropped positions of the flattened input are a
    Bernoulli(p) process, drawn as the running sum of its Geometric(p) gaps, so for the Q-heads'
    p = 0.01 there are ~100x fewer random draws than entries and no mask the input's size. On an
    AMX Xeon a (768, 256) activation took 2.2-2.6 ms with ``nn.Dropout`` (CPU random numbers cost
    ~10 ns each), 0.6 ms with this class's earlier draw (count, then distinct positions through a
    sort) and ~0.2 ms this way. Large ``p`` uses ``nn.Dropout``.
    """

    SPARSE_BELOW = 0.1

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout p must be in [0, 1); got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.p >= self.SPARSE_BELOW:
            return nn.functional.dropout(x, self.p, True)
        out = x * (1.0 / (1.0 - self.p))
        # in place on the product: its backward (a scale) does not need it, and index_fill_'s zeroes the
        # gradient exactly at the dropped entries
        out.view(-1).index_fill_(0, bernoulli_positions(out.numel(), self.p, x.device), 0.0)
        return out

    def extra_repr(self) -> str:
        return f"p={self.p}"


def bernoulli_positions(n: int, p: float, device: torch.device) -> torch.Tensor:
    """The indices in range(n) where independent Bernoulli(p) draws succeed, in increasing order.

    Gaps between successes are Geometric(p): G = floor(log U / log(1 - p)) + 1 for U uniform in
    (0, 1], since P(G > j) = P(U <= (1 - p)^j) = (1 - p)^j. Their running sum, in float64 (exact for
    any realistic n), gives the positions; more gaps are drawn until the sum passes n.
    """
    expected = n * p
    log_q = math.log1p(-p)
    chunks, last = [], -1.0
    while last < n:
        count = int(expected + 6 * math.sqrt(expected) + 16)
        u = 1.0 - torch.rand(count, dtype=torch.float64, device=device)  # (0, 1]
        gaps = torch.floor(torch.log(u) / log_q) + 1.0
        positions = gaps.cumsum_(0).add_(last)
        chunks.append(positions)
        last = float(positions[-1])
        expected = (n - last) * p  # what a further chunk still has to cover
    positions = chunks[0] if len(chunks) == 1 else torch.cat(chunks)
    return positions[positions < n].long()


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
        # Channels-last: oneDNN's transposed convolutions run 1.2x faster that way on this project's
        # CPU (forward+backward), and the NHWC output needs no copy. (The encoder's input, NHWC frames
        # permuted to NCHW, is channels-last already.)
        x = self.fc(z).reshape(-1, self.first, 4, 4).contiguous(memory_format=torch.channels_last)
        return self.deconv(x).permute(0, 2, 3, 1)

