"`torchrun` with gloo on CPU: sharded SAT equals one process to the bit; a killed rank fails the job, reruns resume."
import os, signal, subprocess, sys, time
from pathlib import Path

import pytest

from conftest import MODELS

ARGS = ['--profile', 'smoke', '--models', ','.join(MODELS), '--n-samples', '200', '--steps', '3', '--threads', '1']
FILES = ['sat.csv', 'transfer.csv', 'joint.csv']
TORCHRUN = [sys.executable, '-m', 'torch.distributed.run', '--standalone']

def env_for(cache):
    return {**os.environ, 'SIMARCH_CACHE': str(cache), 'TQDM_DISABLE': '1', 'OMP_NUM_THREADS': '1'}

def sat_alone(out, cache, extra=('--workers', '1')):
    r = subprocess.run([sys.executable, '-m', 'simarch', 'sat', *ARGS, '--out', str(out), *extra], env=env_for(cache),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]

def torchrun(out, cache, nproc=2, **kw):
    cmd = [*TORCHRUN, f'--nproc_per_node={nproc}', '-m', 'simarch', 'sat', *ARGS, '--out', str(out)]
    return subprocess.Popen(cmd, env=env_for(cache), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)

def same_files(a: Path, b: Path):
    for f in FILES: assert (a/f).read_bytes() == (b/f).read_bytes(), f

@pytest.fixture(scope='module')
def single(tmp_path_factory, trained_models):
    "The single-process run every distributed run must equal."
    import shutil
    root = tmp_path_factory.mktemp('single')
    shutil.copytree(trained_models, root/'cache'/'models')
    sat_alone(root/'out', root/'cache')
    return root/'out'

def test_two_workers_equal_one_process(single, cache, tmp_path):
    "The default on a 2-core machine: forked workers, every other chunk of samples each, the same files to the bit."
    sat_alone(tmp_path/'out', cache, extra=('--workers', '2'))
    same_files(tmp_path/'out', single)
    assert len([d for d in (cache/'sat').iterdir() if d.is_dir()]) == 1   # one cache, the image set's, for any layout

def test_two_ranks_equal_one_process(single, cache, tmp_path):
    p = torchrun(tmp_path/'out', cache)
    out, _ = p.communicate(timeout=600)
    assert p.returncode == 0, out[-3000:]
    same_files(tmp_path/'out', single)
    import json
    meta = json.loads((tmp_path/'out'/'meta.json').read_text())
    assert meta['world_size'] == 2 and meta['n_samples'] == 200 and meta['batch_size'] == 64
    data = [d for d in (cache/'sat').iterdir() if d.is_dir()]
    assert len(data) == 1                                      # the ranks share the image set's one cache

def worker_pids(parent: int) -> dict[int, int]:
    "rank -> pid of the torchrun workers below `parent` (read from /proc)."
    found, todo = {}, [parent]
    while todo:
        pid = todo.pop()
        try: kids = Path(f'/proc/{pid}/task/{pid}/children').read_text().split()
        except OSError: continue
        for k in map(int, kids):
            todo.append(k)
            try: env = dict(e.split('=', 1) for e in Path(f'/proc/{k}/environ').read_text().split('\0') if '=' in e)
            except OSError: continue
            if 'RANK' in env and 'TORCHELASTIC_RUN_ID' in env: found[int(env['RANK'])] = k
    return found

def test_a_killed_rank_fails_the_job_and_a_rerun_resumes(single, cache, tmp_path):
    p = torchrun(tmp_path/'killed', cache)
    deadline = time.time() + 300
    while time.time() < deadline and len(list((cache/'sat').rglob('eval/*.safetensors'))) < 6: time.sleep(0.05)
    ranks = worker_pids(p.pid)
    assert 1 in ranks, f'no rank-1 worker found: {ranks}'
    os.kill(ranks[1], signal.SIGKILL)
    out, _ = p.communicate(timeout=300)
    assert p.returncode != 0 and 'rank: 1' in out.replace('rank      : 1', 'rank: 1'), out[-3000:]
    assert not (tmp_path/'killed'/'sat.csv').exists()
    cached = len(list((cache/'sat').rglob('eval/*.safetensors')))
    total = len(MODELS) * 4                                       # one file per (target, chunk of 64 of 200 samples)
    assert 6 <= cached < total, f'the kill should land mid-run ({cached} of {total} evaluation files cached)'
    p = torchrun(tmp_path/'resumed', cache)
    out, _ = p.communicate(timeout=600)
    assert p.returncode == 0, out[-3000:]
    same_files(tmp_path/'resumed', single)

DDP_SCRIPT = '''
import json, sys
from simarch.core import fingerprint
from simarch.data import load_digits
from simarch.distributed import group_rank_and_world, init_distributed, launch_rank_and_world
from simarch.registry import get_spec
from simarch.train import Recipe, accuracy, fit
init_distributed()
assert group_rank_and_world() == launch_rank_and_world() and launch_rank_and_world()[1] == 2
d = load_digits()
model = fit(get_spec('resnet').build(), d.train, Recipe(epochs=3, threads=1), seed=0, distributed=True)
json.dump({'weights': fingerprint(dict(model.net.state_dict())), 'accuracy': accuracy(model, d.test)},
          open(f'{sys.argv[1]}/rank{launch_rank_and_world()[0]}.json', 'w'))
'''

def test_training_under_torchrun_uses_ddp(tmp_path):
    "Two ranks train one model with DistributedDataParallel: identical weights on both, and a model that learned."
    import json
    (tmp_path/'ddp.py').write_text(DDP_SCRIPT)
    r = subprocess.run([*TORCHRUN, '--nproc_per_node=2', str(tmp_path/'ddp.py'), str(tmp_path)],
                       env=env_for(tmp_path/'cache'), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    ranks = [json.loads((tmp_path/f'rank{i}.json').read_text()) for i in range(2)]
    assert ranks[0]['weights'] == ranks[1]['weights']
    assert ranks[0]['accuracy'] > 0.8, ranks               # one process gets 0.93 from this recipe

def test_reproduce_under_torchrun_equals_one_process(cache, tmp_path):
    "`torchrun -m simarch reproduce`: the similarity kernels join the job; rank 0 writes what one process writes."
    env = env_for(cache)
    base = ['-m', 'simarch', 'reproduce', '--profile', 'smoke', '--only', 'similarity']
    r = subprocess.run([sys.executable, *base, '--out', str(tmp_path/'one')], env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    r = subprocess.run([*TORCHRUN, '--nproc_per_node=2', *base, '--out', str(tmp_path/'two')],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    same_files(tmp_path/'two', tmp_path/'one')
    import json
    assert json.loads((tmp_path/'two'/'meta.json').read_text())['world_size'] == 2
