"""What 8-bit adversarial images (`AttackConfig(quantize=True)`, the default) change, on a profile's zoo: white-box
rate (a source fooled by its own adversarial images), off-diagonal transfer rate, the SAT matrix, and the disk an
adversarial image takes, as int8 perturbation steps, zlib-compressed steps and exact float32; then the disk the
paper profile's adversarial cache would take (69 models, N images at 256 px, each model's published top-1).
Usage: .venv/bin/python tests/bench/bench_quantize.py [--profile mini] [--n-images 5000]
"""
import argparse, time, zlib
from dataclasses import replace

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--profile', default='mini'); ap.add_argument('--n-images', type=int, default=5000)
    args = ap.parse_args()
    import numpy as np, torch
    from scipy.stats import spearmanr
    from simarch.core import cache_root, read_cache
    from simarch.paper_zoo import paper_models
    from simarch.profiles import get_profile
    from simarch.sat import run_sat

    profile_attack = None
    results = {}
    for quantize in (False, True):
        t0 = time.perf_counter()
        profile_attack = replace(get_profile(args.profile).attack, quantize=quantize)
        res = run_sat(args.profile, attack=profile_attack)
        rec = res.records
        k = len(rec.models)
        white = torch.stack([rec.fooled[i, i][rec.correct[i]].float().mean() for i in range(k)])
        off = ~torch.eye(k, dtype=torch.bool)
        joint = rec.joint_mask()
        transfer = (rec.fooled & joint).sum(-1).float() / joint.sum(-1).clamp_min(1)
        results[quantize] = dict(white=white, transfer=transfer[off], sat=res.sat.to_numpy()[off.numpy()])
        print(f'quantize={quantize}: {time.perf_counter() - t0:.0f} s (cached parts read back)', flush=True)
    f, q = results[False], results[True]
    print(f'\nprofile {args.profile}, attack {profile_attack.record()}')
    for name, label in (('white', 'white-box rate'), ('transfer', 'off-diagonal transfer rate')):
        d = (q[name] - f[name]).numpy()
        print(f'{label:28s} float {f[name].mean():.4f}  8-bit {q[name].mean():.4f}  change per model/pair: mean '
              f'{d.mean():+.4f}, min {d.min():+.4f}, max {d.max():+.4f}')
    d = q['sat'] - f['sat']
    print(f'{"SAT (off-diagonal)":28s} Spearman {spearmanr(f["sat"], q["sat"]).statistic:.4f}, mean change '
          f'{d.mean():+.4f}, largest |change| {np.abs(d).max():.4f}')

    # bytes per adversarial image as the cache stores it, and compressed
    files = sorted(cache_root().rglob('adv/*-c*.safetensors'))
    stored = [t for t in (read_cache(p) for p in files[-200:]) if t is not None and 'delta' in t and len(t['pos'])]
    raw = sum(t['delta'].numel() for t in stored)
    packed = sum(len(zlib.compress(t['delta'].numpy().tobytes(), 6)) for t in stored)
    per_value = {'float32': 4.0, 'int8': 1.0, 'int8 + zlib': packed / raw}
    print(f'\nstored perturbations (last {len(stored)} cache files): zlib level 6 keeps {packed / raw:.1%} of the int8 '
          f'bytes')
    table = paper_models()
    values = 3 * 256 * 256
    attacked = sum(float(a) / 100 for a in table.top1) * args.n_images        # each source's X_A, summed
    for fmt, b in per_value.items():
        print(f'paper adversarial cache, {len(table)} models x {args.n_images} images, {fmt:12s}: '
              f'{attacked * values * b / 1e9:6.1f} GB')

if __name__ == '__main__': main()
