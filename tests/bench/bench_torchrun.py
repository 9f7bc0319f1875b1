"""Speed-up of SAT on every core: the mini zoo's full matrix from an empty SAT cache, by one process, by the default
forked workers (`--workers 2`) and by `torchrun --nproc_per_node=2`, every process with one thread; checks that all
three write the same files.
Zoo checkpoints come from data/cache/models (trained first if missing).
Usage: .venv/bin/python tests/bench/bench_torchrun.py [--nproc 2] [--profile mini]
"""
import argparse, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

def timed(cmd, env):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode: sys.exit(f'{" ".join(cmd)} failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}')
    return time.perf_counter() - t0

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--nproc', type=int, default=2)
    ap.add_argument('--profile', '--zoo', dest='profile', default='mini')
    args = ap.parse_args()
    from simarch.core import cache_dir
    from simarch.data import load_digits
    from simarch.profiles import get_profile
    from simarch.train import train_zoo
    profile = get_profile(args.profile)
    train_zoo(list(profile.models), load_digits(), profile.recipe)     # make sure the checkpoints exist
    sat_args = ['-m', 'simarch', 'sat', '--profile', args.profile, '--threads', '1']
    torchrun = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={args.nproc}']
    with tempfile.TemporaryDirectory() as t:
        t = Path(t)
        env = {**os.environ, 'TQDM_DISABLE': '1', 'OMP_NUM_THREADS': '1'}
        times = {}
        contenders = [('1 process', [sys.executable], ['--workers', '1']),
                      (f'{args.nproc} workers (the default)', [sys.executable], ['--workers', str(args.nproc)]),
                      (f'{args.nproc} torchrun ranks', torchrun, [])]
        for label, launcher, extra in contenders:
            folder = t/label.split(' (')[0].replace(' ', '_')
            shutil.copytree(cache_dir('models'), folder/'models')
            times[label] = timed([*launcher, *sat_args, *extra, '--out', str(folder/'out')],
                                 {**env, 'SIMARCH_CACHE': str(folder)})
        outs = [t/label.split(' (')[0].replace(' ', '_')/'out' for label in times]
        same = all((outs[0]/f).read_bytes() == (o/f).read_bytes()
                   for o in outs[1:] for f in ['sat.csv', 'transfer.csv', 'joint.csv'])
    one = times['1 process']
    print(f'SAT of the {args.profile} zoo from an empty SAT cache, one thread per process, on {os.cpu_count()} cores')
    for label, s in times.items(): print(f'{label:>28s}: {s:6.1f} s ({one / s:.2f}x)')
    print(f'sat/transfer/joint.csv identical across all three: {same}')

if __name__ == '__main__': main()
