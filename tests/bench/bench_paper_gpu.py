"""GPU throughput of the paper profile: full-size paper architectures with random weights on random
images in the canonical 256 px pixel space, N = 256 samples, L-inf PGD 10 steps. Prints images per second per
model for the attack (forward + backward, 10 steps) and for an evaluation (forward), in fp32 and under bf16
autocast, with channels-last. Needs a CUDA device; elsewhere it says so and exits.
Usage: .venv/bin/python tests/bench/bench_paper_gpu.py [--models a,b] [--n 256] [--batch-size 128]
"""
import argparse, time

DEFAULT = ('resnet50,convnext_tiny,vit_small_patch16_224,swin_tiny_patch4_window7_224,botnet26t_256,crossvit_base_240,'
           'gluon_xception65,resmlp_24_224')

def main():
    import torch
    ap = argparse.ArgumentParser()
    ap.add_argument('--models', default=DEFAULT)
    ap.add_argument('--n', type=int, default=256)
    ap.add_argument('--batch-size', type=int, default=128)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print('no CUDA device here: nothing measured (run this on a GPU machine)')
        return
    from simarch.attack import AttackConfig, pgd
    from simarch.engine import _logits
    from simarch.registry import get_spec
    torch.backends.cudnn.benchmark = True
    g = torch.Generator().manual_seed(0)
    n, bs = args.n, args.batch_size
    x, y, ids = torch.rand(n, 3, 256, 256, generator=g), torch.randint(0, 1000, (n,), generator=g), torch.arange(n)
    print(f'{torch.cuda.get_device_name()}, torch {torch.__version__}, N={n}, batch {bs}, 10 PGD steps, channels-last')
    print(f'{"model":32s} {"res":>4s} {"attack fp32":>12s} {"attack bf16":>12s} {"eval fp32":>10s}   (images/s)')
    for name in args.models.split(','):
        spec = get_spec(name)
        model = spec.build().cuda().eval().to(memory_format=torch.channels_last)
        rates = []
        for precision in ('fp32', 'bf16'):
            cfg = AttackConfig(eps=8 / 255, steps=10, precision=precision)
            pgd(model, x[:bs], y[:bs], ids[:bs], cfg, bs)   # warm-up
            torch.cuda.synchronize(); t0 = time.perf_counter()
            pgd(model, x, y, ids, cfg, bs)
            torch.cuda.synchronize(); rates.append(n / (time.perf_counter() - t0))
        _logits(model, x[:bs], bs, 'cuda')
        torch.cuda.synchronize(); t0 = time.perf_counter()
        _logits(model, x, bs, 'cuda')
        torch.cuda.synchronize(); rates.append(n / (time.perf_counter() - t0))
        res = spec.data_config['input_size'][1]
        print(f'{name:32s} {res:4d} {rates[0]:12.1f} {rates[1]:12.1f} {rates[2]:10.1f}', flush=True)
        del model; torch.cuda.empty_cache()

if __name__ == '__main__': main()
