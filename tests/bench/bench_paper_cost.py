"""Cost model of the paper profile from measured throughputs. Every paper architecture (full size, random weights,
its own input resolution inside the 256 px pixel space) is timed on random images: images/s of one PGD step
(forward + backward to the input) and of an evaluation (forward). From these, the 69 x 69 SAT matrix at N images
(5 per class) is projected:
  clean    N / eval_rate(m) for every model m
  attacks  N * acc(s) * steps / step_rate(s) for every source s (only X_s is attacked)
  scores   N * acc(s) * acc(t) / eval_rate(t) for every (source, target) (only X_st is scored), errors taken as
           independent at each model's published top-1 (`simarch.paper_zoo`)
and the disk of the adversarial cache (int8 perturbation steps of X_s, 3 x 256 x 256 values an image).
On a GPU run it through tests/bench/bench_paper_gpu.py (fp32 and bf16, channels-last).
Usage: .venv/bin/python tests/bench/bench_paper_cost.py [--device cpu] [--batch 4] [--models a,b] [--n-images 5000]
"""
import argparse, time

def sync(device):
    import torch
    if device.startswith('cuda'): torch.cuda.synchronize()

def rates(name, device='cpu', batch=4, precision='fp32', channels_last=False, repeats=2):
    "(step images/s, eval images/s) of paper model `name`: the better of `repeats` timings after one warm-up."
    import torch
    from simarch.attack import AttackConfig, pgd
    from simarch.registry import get_spec
    model = get_spec(name).build().to(device).eval()
    if channels_last: model = model.to(memory_format=torch.channels_last)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(batch, 3, 256, 256, generator=g), torch.randint(0, 1000, (batch,), generator=g)
    cfg = AttackConfig(eps=8 / 255, steps=1, precision=precision)
    def step(): pgd(model, x, y, torch.arange(batch), cfg, batch)
    @torch.no_grad()
    def evaluate():
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=precision == 'bf16'):
            model(x.to(device))
    out = []
    for fn in (step, evaluate):
        fn(); sync(device)
        best = float('inf')
        for _ in range(repeats):
            t0 = time.perf_counter(); fn(); sync(device); best = min(best, time.perf_counter() - t0)
        out.append(batch / best)
    return tuple(out)

def project(table, measured, n_images=5000, steps=10):
    "Seconds of the clean passes, attacks and scores of the full matrix, from `measured[name] = (step, eval)`."
    acc = {m: float(table.top1[m]) / 100 for m in measured}
    clean = sum(n_images / e for _, e in measured.values())
    attacks = sum(n_images * acc[s] * steps / measured[s][0] for s in measured)
    scores = sum(n_images * acc[s] * acc[t] / measured[t][1] for s in measured for t in measured)
    disk = sum(n_images * acc[s] * 3 * 256 * 256 for s in measured) / 1e9
    return clean, attacks, scores, disk

def report(table, measured, n_images, label):
    clean, attacks, scores, disk = project(table, measured, n_images)
    total = clean + attacks + scores
    hours = lambda s: f'{s / 3600:8.2f} h'
    print(f'\nprojected {len(measured)} x {len(measured)} SAT matrix at {n_images} images, 10 PGD steps, {label}:')
    print(f'  clean passes {hours(clean)}\n  attacks      {hours(attacks)}\n  scores       {hours(scores)}  '
          f'({scores / attacks:.2f}x the attacks)\n  total        {hours(total)}  ({total / 60:.1f} min)')
    print(f'  adversarial cache as int8 steps: {disk:.1f} GB (float32: {4 * disk:.1f} GB)')
    return total

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--device', default='cpu'); ap.add_argument('--batch', type=int, default=4)
    ap.add_argument('--models', default=None); ap.add_argument('--n-images', type=int, default=5000)
    ap.add_argument('--precision', default='fp32'); ap.add_argument('--channels-last', action='store_true')
    args = ap.parse_args()
    import torch
    from simarch.paper_zoo import paper_models
    from simarch.registry import get_spec
    table = paper_models()
    names = args.models.split(',') if args.models else list(table.index)
    print(f'{args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, '
          f'{args.precision}{", channels-last" if args.channels_last else ""}')
    print(f'{"model":34s} {"res":>4s} {"step img/s":>11s} {"eval img/s":>11s}', flush=True)
    measured, t0 = {}, time.perf_counter()
    for name in names:
        measured[name] = rates(name, args.device, args.batch, args.precision, args.channels_last)
        res = get_spec(name).data_config['input_size'][1]
        print(f'{name:34s} {res:4d} {measured[name][0]:11.2f} {measured[name][1]:11.2f}', flush=True)
    print(f'measured in {time.perf_counter() - t0:.0f} s')
    report(table, measured, args.n_images, f'{args.device} {args.precision}')

if __name__ == '__main__': main()
