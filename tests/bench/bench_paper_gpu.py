"""GPU cost of the paper profile: bench_paper_cost.py's measurements and projection on a CUDA device, channels-last,
in fp32 and under bf16 autocast (target: the full 69 x 69 matrix at 5 images per class in <= 20 minutes on one
H100 or H200). Needs a CUDA device; elsewhere it says so and exits.
Usage: .venv/bin/python tests/bench/bench_paper_gpu.py [--models a,b] [--batch 128] [--n-images 5000]
"""
import argparse, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_paper_cost import rates, report   # noqa: E402

def main():
    import torch
    ap = argparse.ArgumentParser()
    ap.add_argument('--models', default=None); ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--n-images', type=int, default=5000)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print('no CUDA device here: nothing measured (run this on a GPU machine)')
        return
    from simarch.paper_zoo import paper_models
    torch.backends.cudnn.benchmark = True
    table = paper_models()
    names = args.models.split(',') if args.models else list(table.index)
    print(f'{torch.cuda.get_device_name()}, torch {torch.__version__}, batch {args.batch}, channels-last')
    print(f'{"model":34s} {"step fp32":>10s} {"step bf16":>10s} {"eval fp32":>10s} {"eval bf16":>10s}  (images/s)')
    measured, t0 = {'fp32': {}, 'bf16': {}}, time.perf_counter()
    for name in names:
        for precision in measured:
            measured[precision][name] = rates(name, 'cuda', args.batch, precision, channels_last=True)
        torch.cuda.empty_cache()
        (s32, e32), (s16, e16) = measured['fp32'][name], measured['bf16'][name]
        print(f'{name:34s} {s32:10.1f} {s16:10.1f} {e32:10.1f} {e16:10.1f}', flush=True)
    print(f'measured in {time.perf_counter() - t0:.0f} s')
    for precision, m in measured.items(): report(table, m, args.n_images, f'{torch.cuda.get_device_name()} {precision}')

if __name__ == '__main__': main()
