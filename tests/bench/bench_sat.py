"""Benchmark of the SAT engine on the mini zoo. Prints:
(a) wall time of the full matrix from an empty SAT cache (checkpoints already trained);
(b) its ratio to the floor: the same attack forward+backward passes and evaluation forward passes, timed alone;
(c) the speed-up over a straightforward torchattacks baseline (PGD on every sample with every model, every pair
    evaluated on every sample, nothing cached), same models, samples and settings;
(d) the cost of adding one model to the cached zoo, as a fraction of the full run;
(e) peak memory (max RSS of this process).
torchattacks is installed on demand into .bench-deps/ (its pin of requests would break `pip check` in .venv).
Usage: .venv/bin/python tests/bench/bench_sat.py [--profile mini] [--n-samples N]
"""
import argparse, os, resource, shutil, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPS = ROOT/'.bench-deps'

def torchattacks():
    if not (DEPS/'torchattacks').exists():
        subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--target', str(DEPS),
                        'torchattacks==3.5.1'], check=True)
    sys.path.insert(0, str(DEPS))
    import torchattacks
    return torchattacks

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--profile', default='mini'); ap.add_argument('--n-samples', type=int, default=None)
    args = ap.parse_args()
    ta = torchattacks()
    import torch
    from simarch.attack import AttackConfig, frozen
    from simarch.core import num_threads
    from simarch.data import load_digits, select_samples
    from simarch.engine import Runtime, compute_records
    from simarch.profiles import get_profile
    from simarch.train import train_zoo

    profile = get_profile(args.profile)
    names = list(profile.models)
    data = load_digits()
    zoo = train_zoo(names, data, profile.recipe)                        # from data/cache/models
    nets = {n: m.module for n, m in zoo.items()}                       # the pixel-space modules
    split = select_samples(data.test, args.n_samples)
    cfg, bs, threads = AttackConfig(), 256, 2
    runtime = Runtime(threads=threads, batch_size=bs, workers=1)   # one process, like the baseline

    def fresh_cache():
        d = Path(tempfile.mkdtemp(prefix='simarch-bench-'))
        os.environ['SIMARCH_CACHE'] = str(d)
        return d

    # (a) full matrix, empty SAT cache
    c = fresh_cache(); t0 = time.perf_counter()
    rec = compute_records(list(zoo.values()), split, cfg, runtime)
    full = time.perf_counter() - t0; shutil.rmtree(c)

    # (b) floor: the same passes, nothing else
    with num_threads(threads):
        t0 = time.perf_counter()
        for k, m in enumerate(nets.values()):
            x, y = split.x[rec.correct[k]], split.y[rec.correct[k]]
            with frozen(m):
                for xb, yb in zip(x.split(bs), y.split(bs)):
                    for _ in range(cfg.steps):
                        xb = xb.clone().requires_grad_(True)
                        torch.autograd.grad(torch.nn.functional.cross_entropy(m(xb), yb, reduction='sum'), xb)
        with torch.no_grad():
            for k, m in enumerate(nets.values()): m(split.x)                # clean pass
            for s in range(len(names)):
                for t, m in enumerate(nets.values()):
                    keep = rec.correct[s] & rec.correct[t]
                    for xb in split.x[keep].split(bs): m(xb)
        floor = time.perf_counter() - t0

    # (c) torchattacks baseline: attack every sample with every model, evaluate all pairs on all samples
    with num_threads(threads):
        t0 = time.perf_counter()
        advs = {}
        with torch.no_grad():
            clean = {n: torch.cat([m(xb) for xb in split.x.split(bs)]).argmax(1) for n, m in nets.items()}
        for n, m in nets.items():
            m.eval()
            atk = ta.PGD(m, eps=cfg.eps, alpha=cfg.step_size, steps=cfg.steps, random_start=True)
            advs[n] = torch.cat([atk(xb, yb) for xb, yb in zip(split.x.split(bs), split.y.split(bs))])
        with torch.no_grad():
            fooled = {(s, t): torch.cat([nets[t](xb) for xb in advs[s].split(bs)]).argmax(1) != split.y
                      for s in names for t in names}
        base = time.perf_counter() - t0

    # (d) add one model to a cached zoo of K-1
    c = fresh_cache()
    compute_records([zoo[n] for n in names[:-1]], split, cfg, runtime)
    t0 = time.perf_counter()
    compute_records(list(zoo.values()), split, cfg, runtime)
    add = time.perf_counter() - t0; shutil.rmtree(c)

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'profile {args.profile}: {len(names)} models, {len(split)} samples, PGD {cfg.record()}, {threads} threads')
    print(f'(a) full SAT matrix, empty cache:        {full:7.1f} s')
    print(f'(b) floor (attack fwd+bwd, eval fwd):    {floor:7.1f} s   ratio {full / floor:.2f}  (target <= 1.2)')
    print(f'(c) torchattacks baseline:               {base:7.1f} s   simarch is {base / full:.2f}x faster  '
          '(target >= 1.5)')
    print(f'(d) add one model to the cached zoo:     {add:7.1f} s   {add / full:.3f} of the full run  '
          '(target <= 0.15)')
    print(f'(e) peak RSS:                            {rss:7.0f} MB  (target <= 3072)')

if __name__ == '__main__': main()
