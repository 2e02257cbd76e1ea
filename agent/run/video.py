"""Real-beside-imagined rollout pictures for TensorBoard.

Pixel runs show real frames next to frames decoded from the model's open-loop
imagination. Proprioceptive runs show the real rendered frames next to a panel of
state traces (real in white, imagined in orange) with a cursor at the current step.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

REAL_COLOUR = (235, 235, 235)
IMAGINED_COLOUR = (255, 140, 0)
# Safety marks on the real frames: the env's violation as an outer red border, the safety
# head's "unsafe" prediction as an inner yellow one (both can show at once).
VIOLATION_COLOUR = (230, 30, 30)
PREDICTED_UNSAFE_COLOUR = (255, 220, 0)
BORDER = 2


def frames_from_decoder(decoded: np.ndarray) -> np.ndarray:
    """Decoder output in [-0.5, 0.5] -> uint8 frames."""
    return np.clip((decoded + 0.5) * 255.0, 0, 255).astype(np.uint8)


def trace_panel(real: np.ndarray, imagined: np.ndarray, height: int, width: int, max_dims: int = 6) -> np.ndarray:
    """Draw real and imagined state traces (T, D) as stacked strips; (height, width, 3) uint8."""
    dims = min(real.shape[1], max_dims)
    strip = height // dims
    image = Image.new("RGB", (width, height), (20, 20, 30))
    draw = ImageDraw.Draw(image)
    steps = len(real)
    xs = np.linspace(0, width - 1, steps)
    for d in range(dims):
        lo, hi = float(real[:, d].min()), float(real[:, d].max())
        span = max(hi - lo, 1e-3)
        top = d * strip
        draw.line([(0, top), (width, top)], fill=(60, 60, 70))
        for series, colour in ((real[:, d], REAL_COLOUR), (imagined[:, d], IMAGINED_COLOUR)):
            # Imagined values far outside the real range are clipped to the strip's edges.
            ys = top + (strip - 2) * (1 - np.clip((series - lo) / span, -0.05, 1.05)) + 1
            draw.line(list(zip(xs.tolist(), ys.tolist())), fill=colour, width=1)
    return np.asarray(image)


def side_by_side_video(real_frames: np.ndarray, right: np.ndarray | None = None, panel: np.ndarray | None = None,
                       stride: int = 2) -> np.ndarray:
    """Compose (T, H, W', 3) uint8 video: real frames | imagined frames or a trace panel with a cursor.

    Exactly one of ``right`` (frames, same length as ``real_frames``) or ``panel`` (one static
    trace image of height H) is given. ``stride`` keeps every n-th step to bound video size.
    """
    steps = len(real_frames)
    keep = np.arange(0, steps, stride)
    out = []
    for t in keep:
        if right is not None:
            other = right[t]
        else:
            assert panel is not None
            other = panel.copy()
            x = int(round(t / max(steps - 1, 1) * (panel.shape[1] - 1)))
            other[:, x] = (120, 200, 255)
        out.append(np.concatenate([real_frames[t], other], axis=1))
    return np.stack(out)


def mark_safety(frames: np.ndarray, flags: list[tuple[bool, bool]]) -> np.ndarray:
    """Border each (T, H, W, 3) frame by its (predicted unsafe, really unsafe) flags; a new array."""
    out = frames.copy()
    b = BORDER
    for frame, (predicted, actual) in zip(out, flags):
        if actual:
            frame[:b], frame[-b:], frame[:, :b], frame[:, -b:] = (VIOLATION_COLOUR,) * 4
        if predicted:
            inner = frame[b:-b, b:-b]
            inner[:b], inner[-b:], inner[:, :b], inner[:, -b:] = (PREDICTED_UNSAFE_COLOUR,) * 4
    return out
