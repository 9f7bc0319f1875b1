"""The embedded default's regime search (issue 26): every configuration tried, in a committed table.

For each configuration of CONFIGS (in order): train its zoo (or load it from the cache), calibrate the PGD radius
to the authors' mean transfer as the similarity section does (or use a fixed radius), compute the SAT matrix on
its test digits, then its regime measures (`simarch.regime.regime_measures`, the only columns the selection rule
reads) and, in separate columns, what the analyses conclude (`regime_conclusions`). Each finished configuration
is appended to figures/mini/regime_search.csv at once, so an interrupted search resumes where it stopped; rows
are never removed (rejected configurations stay). The rule (`choose_regime`) is printed at the end.

Rows A-F were written down before any row was computed; the later ones were added as the search went, each with
its reason in a comment (the rule reads the regime columns of every row alike). Costs (`cost_s`: training +
calibration sweep + similarity run) are seconds on the machine that ran the row, +-15% (other work ran beside it).
The committed rows' conclusion columns were computed with the models in zoo order; `regime_conclusions` has taken
them in name order since (as the sections do), so a rerun may change those columns, never the regime columns.
Usage: .venv/bin/python tests/bench/bench_regime.py [--only NAME ...] [--table PATH]
"""
import argparse, platform, time
from dataclasses import replace
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
R = 1 / 255
# the grid: data split, recipe, attack; rows with the same split and recipe share their zoo (and its training time)
SWEEP = tuple(e * R for e in (8, 16, 24, 32, 48))   # radii of the calibration sweep (the similarity section's)
SWEEP_WIDE = (*SWEEP, 64 * R, 96 * R)               # for models trained to resist noise
CONFIGS = [
    dict(config='A-previous-default', n_test=360, epochs=15, shift=0, steps=10, eps=32 * R),
    dict(config='B-calibrated', n_test=360, epochs=15, shift=0, steps=10, eps='calibrated'),
    dict(config='C-test900', n_test=900, epochs=15, shift=0, steps=10, eps='calibrated'),
    dict(config='D-test900-shift2-20ep', n_test=900, epochs=20, shift=2, steps=10, eps='calibrated'),
    dict(config='E-test900-shift2-20ep-steps5', n_test=900, epochs=20, shift=2, steps=5, eps='calibrated'),
    dict(config='F-test900-shift2-20ep-steps20', n_test=900, epochs=20, shift=2, steps=20, eps='calibrated'),
    # added after rows A-B (and the issue's own numbers) showed per-model effects dominating: training with pixel
    # noise makes models robust alike, which may leave less of SAT to how easily each one is fooled
    dict(config='G-test900-shift2-noise0.1-20ep', n_test=900, epochs=20, shift=2, noise=0.1, steps=10,
         eps='calibrated', sweep=SWEEP_WIDE),
    # (H, noise 0.2, was planned beside G and stopped a minute into its training, unmeasured, once G showed that
    # noise 0.1 already costs the ViTs their accuracy: deit_p8 76%)
    # added after rows C-G: every model >= 90% with fewer training digits needs more epochs and milder shifts;
    # J keeps G's noise, which lowered the effects' share
    dict(config='J-test800-shift1-noise0.1-30ep', n_test=800, epochs=30, shift=1, noise=0.1, steps=10,
         eps='calibrated', sweep=SWEEP_WIDE),
    # (I, J without noise, was stopped a minute into its training, unmeasured: D against G already isolates the
    # noise, and J met every criterion but the intervals, by 0.003)
    dict(config='K-test850-shift1-noise0.1-30ep', n_test=850, epochs=30, shift=1, noise=0.1, steps=10,
         eps='calibrated', sweep=SWEEP_WIDE),
]

def run_config(c: dict, trained_s: dict) -> dict:
    from simarch.attack import AttackConfig
    from simarch.data import DigitsSplit
    from simarch.engine import Runtime, clean_logits
    from simarch.ensemble import NOISE_SIGMA, noisy
    from simarch.paper_zoo import RELEASE_MEAN_TRANSFER
    from simarch.profiles import PROFILES, get_profile, load_workload, register_profile
    from simarch.regime import REGIME, regime_conclusions, regime_measures
    from simarch.sat import calibrated_eps, eps_sweep, run_sat
    mini = get_profile('mini')
    c = {'noise': 0.0, 'sweep': SWEEP, **c}
    zoo = f"test{c['n_test']}-ep{c['epochs']}-shift{c['shift']}" + (f"-noise{c['noise']}" if c['noise'] else '')
    name = f'regime-{c["config"]}'
    PROFILES.pop(name, None)
    profile = register_profile(replace(mini, name=name, digits=DigitsSplit(n_test=c['n_test']),
                                       recipe=replace(mini.recipe, epochs=c['epochs'], shift=c['shift'],
                                                      noise=c['noise']),
                                       attack=AttackConfig(eps=c['sweep'][-1], steps=c['steps'])))
    runtime = Runtime(batch_size=profile.batch_size)
    t0 = time.perf_counter()
    workload = load_workload(profile)
    took = time.perf_counter() - t0
    train_s = trained_s.get(zoo, took) if took < 60 else took    # a cached zoo keeps the time it took to train
    t0 = time.perf_counter()
    if c['eps'] == 'calibrated':
        sweep = eps_sweep(profile, list(mini.sweep_models), profile.attack, c['sweep'], n_samples=120,
                          runtime=runtime)
        print(sweep.round(3).to_string(index=False))
        try: eps, note = calibrated_eps(sweep, RELEASE_MEAN_TRANSFER), ''
        except ValueError as e: eps, note = c['sweep'][-1], f'calibration failed ({e}): the largest radius'
    else: eps, note = c['eps'], ''
    sweep_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = run_sat(profile, attack=replace(profile.attack, eps=eps, alpha=None), runtime=runtime)
    sat_s = time.perf_counter() - t0
    accuracy = {m: a / 100 for m, a in res.meta['clean_accuracy'].items()}
    measures = regime_measures(res.sat, res.intervals, accuracy)
    checks = REGIME.checks(measures)
    split = noisy(workload.test, NOISE_SIGMA, 0)
    logits = {m: clean_logits(workload.models[m], split, runtime) for m in res.sat.index}
    conclusions = regime_conclusions(res.sat, logits, split.y)
    return {**c, 'sweep': ','.join(f'{e * 255:g}' for e in c['sweep']),
            'eps': 'calibrated' if c['eps'] == 'calibrated' else 'fixed', 'eps_255': round(eps * 255, 3),
            'zoo': zoo, 'train_s': round(train_s, 1), 'sweep_s': round(sweep_s, 1), 'sat_s': round(sat_s, 1),
            'cost_s': round(train_s + sweep_s + sat_s, 1), **measures,
            **{f'meets_{k}': v for k, v in checks.items()}, 'meets_all': all(checks.values()),
            **{f'conclusion_{k}': v for k, v in conclusions.items()},
            'note': note, 'machine': f'{platform.machine()} {platform.processor() or ""}'.strip(),
            'date': time.strftime('%Y-%m-%d')}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--only', nargs='*', help='configurations to run (default: every one not yet in the table)')
    ap.add_argument('--table', default=str(ROOT/'figures'/'mini'/'regime_search.csv'))
    args = ap.parse_args()
    from simarch.core import atomic_path
    from simarch.regime import choose_regime
    path = Path(args.table)
    table = pd.read_csv(path, keep_default_na=False, na_values=['']) if path.exists() else pd.DataFrame()
    if len(table):            # columns added to the grid later: the earlier rows had their defaults
        for k, v in {'noise': 0.0, 'sweep': '8,16,24,32,48', 'note': ''}.items():
            table[k] = table[k].astype(object).where(table[k].notna(), v) if k in table else v
    for c in CONFIGS:
        if (args.only and c['config'] not in args.only) or (len(table) and c['config'] in set(table.config)): continue
        print(f'--- {c["config"]}', flush=True)
        trained_s = dict(zip(table.zoo, table.train_s)) if len(table) else {}
        row = run_config(c, trained_s)
        table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
        with atomic_path(path) as tmp: table.to_csv(tmp, index=False, float_format='%.4f')
        print(pd.Series(row).to_string(), flush=True)
    cols = ['config', 'eps_255', 'cost_s', 'mean_transfer_pct', 'effects_r2', 'median_ci_width', 'min_accuracy',
            'meets_all']
    print(table[cols].to_string(index=False))
    print(f'the selection rule picks: {choose_regime(table).config}')

if __name__ == '__main__': main()
