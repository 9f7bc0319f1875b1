"""Benchmark: train the whole mini zoo from an empty cache, then rerun the zoo section from the cache.

Targets: training <= 8 min on a 2-core machine; the cached zoo section <= 30 s.
Usage: .venv/bin/python tests/bench/bench_train.py [--profile mini]
"""
import argparse, os, resource, tempfile, time

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--profile', default='mini'); args = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        os.environ['SIMARCH_CACHE'] = t   # an empty cache: every model is trained
        from simarch.profiles import get_profile
        from simarch.sections import run_section
        from simarch.train import train_zoo
        profile = get_profile(args.profile)
        names = list(profile.models)
        t0 = time.perf_counter()
        train_zoo(names, profile.digits.load(), profile.recipe)
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_section('zoo', args.profile, out_dir=os.path.join(t, 'figs'))   # papermill run, every model from the cache
        section_s = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'profile {args.profile}: {len(names)} models')
    print(f'train whole zoo (empty cache): {train_s:.1f} s  (target <= 480 s)')
    print(f'zoo section from cache (papermill): {section_s:.1f} s  (target <= 30 s)')
    print(f'peak RSS of this process: {rss:.0f} MB')

if __name__ == '__main__': main()
