"""Benchmark of the distillation section on the mini profile: the grid from an empty distillation
cache (zoo checkpoints copied from data/cache/models, trained first if missing), then the same grid again from
the cache. Targets: grid <= 6 min on a 2-core machine, rerun <= 30 s.
Usage: .venv/bin/python tests/bench/bench_distill.py
"""
import os, shutil, tempfile, time
from pathlib import Path

def main():
    from simarch.core import cache_dir
    from simarch.data import load_digits
    from simarch.profiles import get_profile
    from simarch.train import train_zoo
    mini = get_profile('mini')
    recipe, attack, grid_cfg = mini.recipe, mini.attack, mini.distill
    # the profile's grid: resnet, swin_p4, gmlp_p8, coatnet -> convnext, vit_gap_p8, mixer_p8, seeds 0 and 1
    teachers, students, seeds = list(grid_cfg.teachers), list(grid_cfg.students), list(grid_cfg.seeds)
    data = load_digits()
    train_zoo(teachers, data, recipe)                                    # make sure the teachers exist
    models = cache_dir('models')
    with tempfile.TemporaryDirectory() as t:
        teacher_files = lambda d, names: [n for n in names if not any(n.startswith(m + '-') for m in teachers)]
        shutil.copytree(models, Path(t)/'models', ignore=teacher_files)
        os.environ['SIMARCH_CACHE'] = t
        from simarch.distill import distill_grid
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            grid, _ = distill_grid(teachers, students, seeds, data, recipe, grid_cfg.recipe, attack,
                                grid_cfg.train_per_class)
            times.append(time.perf_counter() - t0)
    print(f'distillation grid {len(teachers)} teachers x {len(students)} students x {len(seeds)} seeds '
          f'({len(grid)} students + {len(students) * len(seeds)} baselines)')
    print(f'from an empty cache: {times[0]:.1f} s  (target <= 360 s)')
    print(f'again from the cache: {times[1]:.1f} s  (target <= 30 s)')

if __name__ == '__main__': main()
