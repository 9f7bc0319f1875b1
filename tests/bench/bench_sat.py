"""Benchmark of the SAT engine by a fair protocol: every contender computes the same matrix from scratch (same models,
samples, attack, cores), one warm-up round, then interleaved repeats (A B C A B C ...); medians, min, max, ratios.

Contenders:
  engine    `simarch.engine.sharded_records` as `simarch sat` runs it: its defaults (one worker process per core,
            the profile's batch size), from an empty SAT cache (clean logits, attacks, evaluations)
  baseline  a torchattacks pipeline as a user would write it: one process with torch's threads on every core, PGD on
            every sample with every model, every pair evaluated on every sample, nothing cached
  floor     the engine's attack forward+backward passes and evaluation forward passes alone: the same samples,
            batches and worker processes, nothing else
Then the cost of adding one model to a cached zoo of the others (engine), and peak RSS (this process and its worker
processes). `--load N` keeps N busy processes running during every timing (a machine busy with other work).
torchattacks is installed on demand into .bench-deps/ (its pin of requests would break `pip check` in .venv).
Usage: .venv/bin/python tests/bench/bench_sat.py [--profile mini] [--n-samples N] [--repeats 3] [--load 0]
"""
import argparse, multiprocessing, os, resource, shutil, statistics, subprocess, sys, tempfile, time
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

def busy():
    while True: pass

def summary(times: list[float]) -> str:
    return f'median {statistics.median(times):7.1f} s  (min {min(times):.1f}, max {max(times):.1f}, n={len(times)})'

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--profile', default='mini'); ap.add_argument('--n-samples', type=int, default=None)
    ap.add_argument('--repeats', type=int, default=3); ap.add_argument('--load', type=int, default=0)
    ap.add_argument('--baseline-batch', type=int, default=256)
    args = ap.parse_args()
    import simarch                      # first: its OMP_WAIT_POLICY default must be set before torch loads OpenMP
    ta = torchattacks()
    import torch
    from simarch.attack import frozen
    from simarch.core import default_workers, num_threads, parallel_map
    from simarch.data import load_digits, select_samples
    from simarch.distributed import shard_positions
    from simarch.engine import Runtime, sharded_records
    from simarch.profiles import get_profile
    from simarch.train import train_zoo

    profile = get_profile(args.profile)
    names = list(profile.models)
    data = load_digits()
    zoo = train_zoo(names, data, profile.recipe)                       # from data/cache/models
    nets = {n: m.module.eval() for n, m in zoo.items()}                # the pixel-space modules
    split = select_samples(data.test, args.n_samples or profile.n_samples)
    cfg, runtime, cores = profile.attack, Runtime(batch_size=profile.batch_size), default_workers()
    bs, base_bs = runtime.batch_size, args.baseline_batch
    cache_parent = Path(tempfile.mkdtemp(prefix='simarch-bench-'))

    def fresh_cache():
        shutil.rmtree(cache_parent, ignore_errors=True)
        os.environ['SIMARCH_CACHE'] = str(cache_parent/'cache')

    def engine(models=None):
        return sharded_records([zoo[n] for n in (models or names)], split, cfg, runtime)

    def run_engine():
        fresh_cache(); return engine()

    correct = run_engine().correct                                     # the floor needs X_A of every model

    def floor_shard(shard):
        x, y, ok = split.x[shard], split.y[shard], correct[:, shard]
        chunks = [c for c in torch.arange(len(shard)).split(bs)]
        for k, m in enumerate(nets.values()):                          # attack passes on each source's X_A
            with frozen(m):
                for c in chunks:
                    xb, yb = x[c][ok[k, c]], y[c][ok[k, c]]
                    for _ in range(cfg.steps):
                        xb = xb.clone().requires_grad_(True)
                        torch.autograd.grad(torch.nn.functional.cross_entropy(m(xb), yb, reduction='sum'), xb)
        with torch.no_grad():
            for m in nets.values():                                    # clean pass
                for c in chunks: m(x[c])
            for s in range(len(names)):                                # evaluation passes on X_st
                for t, m in enumerate(nets.values()):
                    for c in chunks:
                        if (keep := ok[s, c] & ok[t, c]).any(): m(x[c][keep])
        return 0

    def run_floor():
        shards = [s for s in (shard_positions(len(split), bs, r, cores) for r in range(cores)) if len(s)]
        parallel_map(floor_shard, shards, cores)

    def run_baseline():
        with num_threads(cores), torch.no_grad():
            [torch.cat([m(xb) for xb in split.x.split(base_bs)]).argmax(1) for m in nets.values()]
        advs = {}
        with num_threads(cores):
            for n, m in nets.items():
                atk = ta.PGD(m, eps=cfg.eps, alpha=cfg.step_size, steps=cfg.steps, random_start=True)
                advs[n] = torch.cat([atk(xb, yb) for xb, yb in zip(split.x.split(base_bs), split.y.split(base_bs))])
            with torch.no_grad():
                return {(s, t): torch.cat([nets[t](xb) for xb in advs[s].split(base_bs)]).argmax(1) != split.y
                        for s in names for t in names}

    def run_add_one():
        fresh_cache(); engine(names[:-1])                              # the cached zoo of the others, untimed
        t0 = time.perf_counter(); engine(); return time.perf_counter() - t0

    contenders = {'engine': run_engine, 'baseline': run_baseline, 'floor': run_floor}
    load = [multiprocessing.get_context('fork').Process(target=busy, daemon=True) for _ in range(args.load)]
    for p in load: p.start()
    times = {k: [] for k in contenders} | {'add one': []}
    load_before = os.getloadavg()[0]
    try:
        for rnd in range(args.repeats + 1):                            # round 0 warms up, not counted
            for name, fn in contenders.items():
                t0 = time.perf_counter(); fn(); dt = time.perf_counter() - t0
                if rnd: times[name].append(dt)
                print(f'round {rnd}{" (warm-up)" if not rnd else ""}: {name} {dt:.1f} s', flush=True)
            if rnd: times['add one'].append(run_add_one()); print(f'round {rnd}: add one {times["add one"][-1]:.1f} s')
    finally:
        for p in load: p.kill()
        shutil.rmtree(cache_parent, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss_workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    spread = max((max(v) - min(v)) / statistics.median(v) for v in times.values())
    print(f'\nprofile {profile.name}: {len(names)} models, {len(split)} samples, PGD {cfg.record()}')
    print(f'{cores} cores; engine: {runtime.n_workers} worker process(es) x 1 thread, batch {bs}; baseline: 1 process x '
          f'{cores} threads, batch {base_bs}; {args.load} competing busy process(es); load average '
          f'{load_before:.2f} at start, {os.getloadavg()[0]:.2f} at end; OMP_WAIT_POLICY '
          f'{os.environ.get("OMP_WAIT_POLICY", "unset")}')
    for k in times: print(f'{k:9s} {summary(times[k])}')
    print(f'engine vs baseline: {med["baseline"] / med["engine"]:.2f}x faster (ratio of medians; target >= 1.5)')
    print(f'engine / floor:     {med["engine"] / med["floor"]:.2f} (target <= 1.1)')
    print(f'add one model:      {med["add one"] / med["engine"]:.3f} of the full run (target <= 0.1)')
    print(f'peak RSS:           {rss_self:.0f} MB this process, {rss_workers:.0f} MB the largest worker '
          f'(target <= 3072)')
    print(f'machine noise:      largest (max - min) / median over the contenders: {spread:.1%}')

if __name__ == '__main__': main()
