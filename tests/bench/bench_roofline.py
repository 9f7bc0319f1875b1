"""Roofline of the mini zoo on this CPU: how much of the machine's arithmetic peak each pass reaches.

1. Peak: an n x n matmul on one thread (fp32, and bf16 where the CPU has it), median of interleaved repeats.
2. For every model of the profile (freshly initialised: time and FLOPs do not depend on the weights), on one thread
   as the engine's workers run, the FLOPs (torch's formulas of `torch.utils.flop_counter`) and the time of
     train  one optimiser step as `simarch.train.fit` takes it (augmented batch of the recipe's size, AdamW, clipping)
     pgd    one PGD step as `simarch.attack.pgd` takes it (forward + input gradient, frozen weights, engine batch)
     eval   one evaluation forward pass (no gradients, engine batch)
   Passes are interleaved (train pgd eval train pgd eval ...) and each time is a median over repeats.
3. The share of the fp32 peak per pass, per base architecture (CNN, Transformer, ...) and overall (FLOPs of one
   batch of each pass of every model over their summed time), and the work of the profile's similarity section
   (training the zoo, PGD on the test digits, every target on every source's adversarial images) at those rates.
Usage: .venv/bin/python tests/bench/bench_roofline.py [--profile mini] [--repeats 5] [--models a,b]
"""
import argparse, statistics, time

import simarch                      # first: its OMP_WAIT_POLICY default must be set before torch loads OpenMP
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); out.append(time.perf_counter() - t)
    return out


class FlopCount(TorchDispatchMode):
    "FLOPs of every op torch has a formula for (FlopCounterMode's module tracker breaks on frozen CaiT blocks)."
    def __init__(self):
        super().__init__(); self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func._overloadpacket is torch.ops.aten.convolution_backward and not args[7]:
            # torch's formula counts a grouped convolution's weight gradient `groups` times over (a depthwise 9x9
            # layer of 64 channels: 65x its forward pass); each gradient costs what the forward pass costs
            grad_out, _, weight, *_, mask = args
            self.total += 2 * grad_out.numel() * weight[0].numel() * (int(mask[0]) + int(mask[1]))
        elif (formula := flop_registry.get(func._overloadpacket)) is not None:
            self.total += formula(*args, **(kwargs or {}), out_val=out)
        return out


def flops_of(fn) -> int:
    with FlopCount() as counter: fn()
    return counter.total


def matmul_peak(repeats: int, n: int = 2048) -> dict:
    "GFLOP/s of an n x n matmul per dtype (interleaved repeats, median, min, max)."
    dtypes = [torch.float32] + ([torch.bfloat16] if torch.backends.mkldnn.is_available() else [])
    mats = {d: (torch.randn(n, n).to(d), torch.randn(n, n).to(d)) for d in dtypes}
    for a, b in mats.values(): a @ b                                        # warm-up
    times = {d: [] for d in dtypes}
    for _ in range(repeats):
        for d, (a, b) in mats.items(): times[d] += timed(lambda: a @ b, 1)
    return {str(d).removeprefix('torch.'): [2 * n ** 3 / t / 1e9 for t in ts] for d, ts in times.items()}


def passes(name: str, profile, data):
    "The three passes of model `name` as closures over a fixed batch."
    from simarch.registry import build_model
    from simarch.train import augmented
    model = build_model(name)
    recipe, bs = profile.recipe, profile.batch_size
    xt, yt = data.train.x[:recipe.batch_size], data.train.y[:recipe.batch_size]
    xe, ye = data.test.x[:bs], data.test.y[:bs]
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    g = torch.Generator().manual_seed(0)

    def train():
        model.train()
        loss = F.cross_entropy(model(augmented(xt, recipe, g)), yt)
        opt.zero_grad(set_to_none=True); loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.clip_grad); opt.step()

    def pgd():
        model.eval()
        for p in model.parameters(): p.requires_grad_(False)
        adv = xe.clone().requires_grad_(True)
        torch.autograd.grad(F.cross_entropy(model(adv), ye, reduction='sum'), adv)
        for p in model.parameters(): p.requires_grad_(True)

    @torch.no_grad()
    def evaluate():
        model.eval(); model(xe)

    return {'train': (train, len(xt)), 'pgd': (pgd, len(xe)), 'eval': (evaluate, len(xe))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--profile', default='mini'); ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--models', default=None, help='comma-separated subset of the profile (default: all)')
    args = ap.parse_args()
    from simarch.profiles import get_profile
    from simarch.registry import get_spec
    torch.set_num_threads(1)
    profile = get_profile(args.profile)
    names = args.models.split(',') if args.models else list(profile.models)
    data = profile.digits.load()

    peaks = matmul_peak(args.repeats)
    peak = statistics.median(peaks['float32'])
    print(f'# machine peak, one thread ({torch.__version__}, {torch.get_num_threads()} thread)')
    for d, g in peaks.items():
        print(f'{d:>9} matmul 2048: median {statistics.median(g):6.1f} GFLOP/s (min {min(g):.1f}, max {max(g):.1f})')

    rows = []
    for name in names:
        p = passes(name, profile, data)
        for fn, _ in p.values(): fn(); fn()                                  # warm-up (allocator, oneDNN kernels)
        flops = {k: flops_of(fn) for k, (fn, _) in p.items()}
        times = {k: [] for k in p}
        for _ in range(args.repeats):                                       # interleaved: train pgd eval train ...
            for k, (fn, _) in p.items(): times[k] += timed(fn, 1)
        for k, (fn, n) in p.items():
            t = statistics.median(times[k])
            rows.append(dict(model=name, base=get_spec(name).base, pass_=k, batch=n, mflop_per_img=flops[k] / n / 1e6,
                             ms=1e3 * t, spread_ms=1e3 * (max(times[k]) - min(times[k])),
                             gflops=flops[k] / t / 1e9, share=flops[k] / t / 1e9 / peak))
        print(f'  {name:14s}', '  '.join(f'{r["pass_"]} {r["gflops"]:5.1f} GFLOP/s ({r["share"]:4.0%})'
                                          for r in rows[-3:]), flush=True)
    df = pd.DataFrame(rows).rename(columns={'pass_': 'pass'})
    df['gflop'] = df.gflops * df.ms / 1e3

    print('\n# per model and pass (one thread; share of the fp32 matmul peak)')
    print(df.drop(columns='gflop').to_string(index=False, float_format=lambda v: f'{v:.3g}'))

    def share(g): return g.gflop.sum() / (g.ms.sum() / 1e3) / peak
    print('\n# share of the fp32 peak: FLOPs of one batch of each pass over their summed time')
    table = df.groupby(['base', 'pass']).apply(share, include_groups=False).unstack()
    table['all passes'] = df.groupby('base').apply(share, include_groups=False)
    total = df.groupby('pass').apply(share, include_groups=False)
    table.loc['all models'] = [*total[table.columns[:-1]], share(df)]
    print(table.to_string(float_format=lambda v: f'{v:.0%}'))

    # the similarity section's passes at these rates: zoo training, PGD on every test digit, every target on
    # every source's adversarial images (an upper bound: PGD runs only on the samples a source gets right)
    per_img = df.pivot(index='model', columns='pass', values='mflop_per_img') * 1e6
    rate = df.pivot(index='model', columns='pass', values='gflops') * 1e9
    n_train, n_test, k = len(data.train), len(data.test), len(names)
    work = pd.DataFrame({
        'train': per_img['train'] * n_train * profile.recipe.epochs,
        'pgd': per_img['pgd'] * n_test * profile.attack.steps,
        'eval': per_img['eval'] * n_test * (k + 1)})                      # its clean pass and k targets' passes
    seconds = (work / rate).sum()
    print(f'\n# the {profile.name} similarity section at these rates ({k} models, {n_train} training and {n_test} '
          f'test digits, {profile.recipe.epochs} epochs, PGD {profile.attack.steps} steps)')
    for p in work:
        print(f'{p:>6}: {work[p].sum() / 1e12:7.2f} TFLOP, {seconds[p] / 60:5.1f} core-minutes at the measured '
              f'rates, {work[p].sum() / 1e9 / peak / 60:5.1f} at the fp32 peak')
    print(f' total: {work.sum().sum() / 1e12:7.2f} TFLOP, {seconds.sum() / 60:5.1f} core-minutes, '
          f'{work.sum().sum() / 1e9 / peak / 60:5.1f} at the peak: {work.sum().sum() / 1e9 / seconds.sum() / peak:.0%}'
          ' of the peak overall')


if __name__ == '__main__':
    main()
