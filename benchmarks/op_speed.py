"""The small operations an env step is made of, each timed against the form it replaced or was weighed against.

Every row is a pair (A = what the agent runs now, B = the alternative) timed side by side in one
process: rounds alternate A and B so that a drift of this shared machine's speed hits both, and
each side's figure is its median round. ``B/A`` > 1 means the agent's choice is faster.

Shapes are the agent's defaults on reacher (latent 128, hidden 256, 101 bins, batch 256 x horizon 3
= 768 rows in an update, 256 + 24 = 280 rows per planning rollout step).

    python benchmarks/op_speed.py                 # all rows, 2 threads
    python benchmarks/op_speed.py --threads 1 --label 1thread
    python benchmarks/op_speed.py --compile       # also torch.compile of an MLP's forward+backward (minutes)

The table goes to ``benchmarks/results/op_speed[_<label>].md`` (and ``.json``) with the command.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from agent.model.ops import adam, ema_, simnorm  # noqa: E402
from agent.model.networks import SparseDropout, mlp  # noqa: E402

PLAN_ROWS, UPDATE_ROWS, LATENT, HIDDEN, BINS, ACTION = 280, 768, 128, 256, 101, 6


def time_pair(a: Callable[[], object], b: Callable[[], object], rounds: int, calls: int) -> tuple[float, float]:
    """Median microseconds per call of ``a`` and of ``b``, rounds interleaved (a warm-up round first)."""
    samples: dict[str, list[float]] = {"a": [], "b": []}
    for r in range(rounds + 1):
        for name, fn in (("a", a), ("b", b)) if r % 2 == 0 else (("b", b), ("a", a)):
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            if r:  # round 0 warms up both
                samples[name].append(1e6 * (time.perf_counter() - start) / calls)
    return statistics.median(samples["a"]), statistics.median(samples["b"])


def plain_simnorm(z: torch.Tensor, group: int = 8) -> torch.Tensor:
    """The softmax over the natural (N, groups, group) view: the form agent.math.simnorm replaced."""
    return F.softmax(z.float().reshape(*z.shape[:-1], -1, group), dim=-1).reshape(z.shape)


def sorted_unique_dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """SparseDropout's earlier draw: a Binomial count, then that many distinct positions through a sort."""
    n = x.numel()
    k = int(torch.binomial(torch.tensor([float(n)]), torch.tensor([p])).item())
    draws = torch.empty(0, dtype=torch.long)
    while draws.numel() < k:
        draws = torch.unique(torch.cat([draws, torch.randint(n, (k - draws.numel() + 8 + k // 16,))]))
    dropped = torch.zeros(n, dtype=torch.bool)
    dropped[draws[torch.randperm(draws.numel())[:k]]] = True
    return x.masked_fill(dropped.view_as(x), 0.0) * (1.0 / (1.0 - p))


def learner_parameters() -> list[torch.nn.Parameter]:
    """A tensor list shaped like the learner's (encoder, dynamics, reward, decoder, 5 Q-heads)."""
    za = LATENT + ACTION
    nets = [mlp(6, [HIDDEN], LATENT), mlp(za, [HIDDEN, HIDDEN], LATENT), mlp(za, [HIDDEN, HIDDEN], BINS),
            mlp(LATENT, [HIDDEN], 6), *(mlp(za, [HIDDEN, HIDDEN], BINS, 0.01) for _ in range(5))]
    params = [p for net in nets for p in net.parameters()]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    return params


class BatchedHeads(torch.nn.Module):
    """The Q ensemble as one batched matmul per layer (torch.func.stack_module_state would give the same)."""

    def __init__(self, heads: torch.nn.ModuleList) -> None:
        super().__init__()
        stack = lambda get: torch.nn.Parameter(torch.stack([get(h) for h in heads]))  # noqa: E731
        self.w = torch.nn.ParameterList(stack(lambda h, i=i: h[i].weight.t()) for i in (0, 3, 6))
        self.b = torch.nn.ParameterList(stack(lambda h, i=i: h[i].bias.unsqueeze(0)) for i in (0, 3, 6))
        self.ln = torch.nn.ParameterList(stack(lambda h, i=i: getattr(h[i], attr).unsqueeze(0))
                                         for i in (1, 4) for attr in ("weight", "bias"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.expand(len(self.w[0]), -1, -1)
        for layer in range(3):
            h = torch.baddbmm(self.b[layer], h, self.w[layer])
            if layer < 2:
                gain, shift = self.ln[2 * layer], self.ln[2 * layer + 1]
                h = F.silu(F.layer_norm(h, (h.shape[-1],)) * gain + shift)
        return h


def rows(args: argparse.Namespace) -> list[dict]:
    torch.manual_seed(0)
    out: list[dict] = []

    def pair(name: str, now: str, other: str, a: Callable[[], object], b: Callable[[], object], calls: int) -> None:
        ta, tb = time_pair(a, b, args.rounds, calls)
        out.append({"op": name, "agent": now, "alternative": other, "agent_us": round(ta, 1),
                    "alternative_us": round(tb, 1), "ratio": round(tb / ta, 2)})
        print(f"{name}: {now} {ta:.1f} us, {other} {tb:.1f} us ({tb / ta:.2f}x)", flush=True)

    for n in (PLAN_ROWS, UPDATE_ROWS):
        z = torch.randn(n, LATENT)
        pair(f"simnorm forward ({n}x{LATENT})", "transposed view", "softmax over last dim 8",
             lambda: simnorm(z, 8), lambda: plain_simnorm(z), 200)
        zg = z.clone().requires_grad_()
        pair(f"simnorm forward+backward ({n}x{LATENT})", "transposed view", "softmax over last dim 8",
             lambda: simnorm(zg, 8).sum().backward(), lambda: plain_simnorm(zg).sum().backward(), 100)

    params = learner_parameters()
    fused = adam(params, lr=1e-6)
    looped = torch.optim.Adam(params, lr=1e-6)
    pair(f"Adam step ({len(params)} tensors)", "fused", "per-tensor loop", fused.step, looped.step, 50)
    targets = [p.detach().clone() for p in params]
    pair(f"EMA of {len(params)} tensors", "one foreach lerp", "loop of lerp_",
         lambda: ema_(targets, params, 0.01), lambda: [t.lerp_(p.detach(), 0.01) for t, p in zip(targets, params)], 100)

    x = torch.randn(UPDATE_ROWS, HIDDEN)
    sparse = SparseDropout(0.01).train()
    pair(f"Q-head dropout p=0.01 ({UPDATE_ROWS}x{HIDDEN})", "geometric gaps", "binomial count + sorted positions",
         lambda: sparse(x), lambda: sorted_unique_dropout(x, 0.01), 100)
    pair(f"Q-head dropout p=0.01 ({UPDATE_ROWS}x{HIDDEN})", "geometric gaps", "nn.Dropout (a mask per entry)",
         lambda: sparse(x), lambda: F.dropout(x, 0.01, True), 50)

    heads = torch.nn.ModuleList(mlp(LATENT + ACTION, [HIDDEN, HIDDEN], BINS) for _ in range(5))
    batched = BatchedHeads(heads)
    za = torch.randn(UPDATE_ROWS, LATENT + ACTION, requires_grad=True)
    for bf16 in (True, False):
        label = "bf16 autocast" if bf16 else "fp32"
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            pair(f"5 Q-heads forward+backward ({UPDATE_ROWS} rows, {label})", "loop of heads", "batched (baddbmm)",
                 lambda: torch.stack([h(za) for h in heads]).float().sum().backward(),
                 lambda: batched(za).float().sum().backward(), 20)
    if args.compile:
        net = mlp(LATENT + ACTION, [HIDDEN, HIDDEN], BINS)
        compiled = torch.compile(copy.deepcopy(net), dynamic=False)
        with torch.autocast("cpu", torch.bfloat16):
            compiled(za).float().sum().backward()  # compile outside the timed rounds
            pair(f"MLP forward+backward ({UPDATE_ROWS} rows, bf16 autocast)", "eager", "torch.compile (inductor)",
                 lambda: net(za).float().sum().backward(), lambda: compiled(za).float().sum().backward(), 50)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default: 2)")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds per side (default: 6)")
    parser.add_argument("--compile", action="store_true", help="add the torch.compile row (compiles for minutes)")
    parser.add_argument("--label", default="", help="results name: op_speed[_<label>]")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    table_rows = rows(args)
    command = "python benchmarks/" + Path(__file__).name + (" " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "")
    lines = ["| op | agent's form | us | alternative | us | alternative / agent |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['op']} | {r['agent']} | {r['agent_us']} | {r['alternative']} | {r['alternative_us']} | "
              f"{r['ratio']:.2f}x |" for r in table_rows]
    text = (f"# Small operations of an env step, side by side\n\nCommand: `{command}`\n\n"
            f"{platform.machine()}, python {platform.python_version()}, torch {torch.__version__}, cpu_capability "
            f"{torch.backends.cpu.get_cpu_capability()}, native bf16 "
            f"{bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())}, {args.threads} thread(s); median of "
            f"{args.rounds} interleaved rounds per side.\n\n" + "\n".join(lines) + "\n")
    print("\n" + text)
    if not args.no_write:
        out = ROOT / "benchmarks" / "results" / ("op_speed" + (f"_{args.label}" if args.label else ""))
        out.with_suffix(".md").write_text(text)
        out.with_suffix(".json").write_text(json.dumps({"command": command, "threads": args.threads,
                                                        "rows": table_rows}, indent=2) + "\n")
        print(f"wrote {out}.md and .json")


if __name__ == "__main__":
    main()
