"""Benchmark of the measures section on the mini profile: what it adds to `make reproduce`. Times each step in
process on the SAT run of figures/mini (its zoo trained first if missing, from data/cache/models): the penultimate
features of every model from an empty features cache (one forward pass each), the long table with its intervals,
the leaderboard, the Mantel tests, the partner-picking test; then the whole section as `simarch reproduce --only
measures` runs it (papermill kernel and figures included) into a temporary folder. Target: section <= 60 s on a
2-core machine.
Usage: .venv/bin/python tests/bench/bench_measures.py
"""
import shutil, subprocess, sys, tempfile, time
from pathlib import Path

import pandas as pd

def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0

def main():
    from simarch.core import figures_dir
    from simarch.engine import Runtime, clean_features
    from simarch.measures import (GAIN_COVARIATES, PAIR_MEASURES, gain_folds, halves, leaderboard, mantel_table,
                                  measure_matrix, model_outputs, pair_measures, partner_test)
    from simarch.profiles import get_profile, load_workload
    from simarch.records import load_records
    mini, folder = get_profile('mini'), figures_dir('mini')
    records = load_records(folder/'records.safetensors')
    names = list(records.models)
    workload = load_workload(mini, names)
    where = {int(i): p for p, i in enumerate(workload.test.ids)}
    images = workload.test.subset([where[int(i)] for i in records.ids])
    runtime = Runtime(batch_size=mini.batch_size)
    models = [workload.models[n] for n in names]
    with tempfile.TemporaryDirectory() as t:
        import os
        cache = os.environ.get('SIMARCH_CACHE')
        os.environ['SIMARCH_CACHE'] = t               # features (and nothing else) from an empty cache
        try: _, features_s = timed(lambda: [clean_features(m, images, runtime) for m in models])
        finally:
            if cache is None: del os.environ['SIMARCH_CACHE']
            else: os.environ['SIMARCH_CACHE'] = cache
    outputs, outputs_s = timed(lambda: model_outputs(models, images, runtime, records))
    table, table_s = timed(lambda: pair_measures(outputs, mini.n_boot, 200))
    folds, folds_s = timed(lambda: gain_folds(outputs, pd.read_csv(folder/'distillation.csv')))
    measures = list(PAIR_MEASURES)
    _, board_s = timed(lambda: [leaderboard(f, measures, GAIN_COVARIATES[t], t, mini.n_boot) for t, f in folds.items()])
    _, mantel_s = timed(lambda: mantel_table(table, measures, 999))
    known, test = (outputs.subset(p) for p in halves(outputs.y))
    matrices = {m: measure_matrix(pair_measures(known, n_boot=0), m, names) for m in measures}
    _, partners_s = timed(lambda: [partner_test(test.logits[v], test.y, names, matrices, known.accuracy(v),
                                                n_boot=mini.n_boot) for v in ('clean', 'noisy')])
    with tempfile.TemporaryDirectory() as out:
        for f in ('records.safetensors', 'distillation.csv'): shutil.copy(folder/f, Path(out)/f)
        _, section_s = timed(lambda: subprocess.run(
            [sys.executable, '-m', 'simarch', 'reproduce', '--profile', 'mini', '--only', 'measures', '--out', out],
            check=True, capture_output=True))
    print(f'measures section, mini profile: {len(names)} models, {len(images)} images, {len(table)} table rows')
    print(f'features, one forward pass per model (empty cache): {features_s:.1f} s')
    print(f'logits and features from the caches: {outputs_s:.1f} s')
    print(f'measures.csv with {mini.n_boot} resamples (CKA: 200): {table_s:.1f} s')
    print(f'measures on each half of the images, gains on the other (both ways round): {folds_s:.1f} s')
    print(f'leaderboard, 3 targets x 2 folds, {mini.n_boot} model resamples: {board_s:.1f} s')
    print(f'Mantel tests, {len(measures) * (len(measures) - 1) // 2} pairs of measures, 999 permutations: '
          f'{mantel_s:.1f} s')
    print(f'partner-picking test, 2 variants, k = 1, 2, 3: {partners_s:.1f} s')
    print(f'whole section (simarch reproduce --only measures): {section_s:.1f} s  (target <= 60 s)')

if __name__ == '__main__': main()
