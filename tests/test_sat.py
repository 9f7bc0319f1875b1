import math, os, shutil, signal, subprocess, sys, time, warnings
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch

import simarch.engine as engine
from simarch.attack import AttackConfig
from simarch.cli import _parser
from simarch.data import load_digits, select_samples
from simarch.engine import compute_records
from simarch.records import EPS_S, TransferRecords
from simarch.train import load_or_train

from conftest import MODELS, QUICK
CFG = AttackConfig(eps=32 / 255, steps=3)

@pytest.fixture(scope='module')
def digits(): return load_digits()

def zoo(names, digits):
    return [load_or_train(m, digits.train, QUICK)[0] for m in names]

def brute_force_sat(correct, fooled, eps_s=EPS_S):
    "SAT straight from the paper's formula, one pair and one sample at a time."
    k, n = correct.shape
    out = np.full((k, k), np.nan)
    for a in range(k):
        for b in range(k):
            xs = [i for i in range(n) if correct[a, i] and correct[b, i]]
            if xs:
                fooled_both = sum(int(fooled[b, a, i]) + int(fooled[a, b, i]) for i in xs)
                out[a, b] = math.log(max(eps_s, 100 / (2 * len(xs)) * fooled_both))
    return out

def test_sat_matches_the_formula_on_random_records():
    g = torch.Generator().manual_seed(0)
    correct = torch.rand(5, 40, generator=g) < 0.8
    fooled = torch.rand(5, 5, 40, generator=g) < 0.3
    correct[4] = False                                  # a model that is never right: empty X_AB with everyone
    rec = TransferRecords(list('abcde'), torch.arange(40), correct, fooled)
    np.testing.assert_allclose(rec.sat().numpy(), brute_force_sat(correct.numpy(), fooled.numpy()), equal_nan=True)
    assert torch.isnan(rec.sat()[4]).all() and len(rec.flagged(min_joint=1)) == 4

def test_floor_when_nothing_transfers():
    rec = TransferRecords(['a', 'b'], torch.arange(3), torch.ones(2, 3, dtype=torch.bool),
                          torch.zeros(2, 2, 3, dtype=torch.bool))
    assert rec.sat()[0, 1].item() == pytest.approx(math.log(EPS_S))
    assert rec.sat(eps_s=0.5)[0, 1].item() == pytest.approx(math.log(0.5))

def test_only_correct_samples_are_attacked(cache, digits, monkeypatch):
    split = select_samples(digits.test, 60)
    attacked = []
    real = engine.pgd
    monkeypatch.setattr(engine, 'pgd',
                        lambda m, x, y, ids, cfg, bs: attacked.append(ids.clone()) or real(m, x, y, ids, cfg, bs))
    models = zoo(['resnet', 'vit_p8'], digits)
    rec = compute_records(models, split, CFG)
    for k, ids in enumerate(attacked):
        assert torch.equal(ids, split.ids[rec.correct[k]])       # exactly the clean-correct samples
    assert not (rec.fooled & ~rec.joint_mask()).any()              # nothing recorded outside X_st
    assert (~rec.correct).any(), 'the 2-epoch models should miss a few digits, or this test checks nothing'

def test_incremental_add_costs_one_attack_and_2k_plus_1_evaluations(cache, digits, monkeypatch):
    split = select_samples(digits.test, 60)
    models = zoo(MODELS, digits)
    base = compute_records(models[:3], split, CFG)
    calls = {'pgd': 0, 'logits': 0}
    real_pgd, real_logits = engine.pgd, engine._logits
    def count(name, fn):
        def wrapped(*a, **k): calls[name] += 1; return fn(*a, **k)
        return wrapped
    monkeypatch.setattr(engine, 'pgd', count('pgd', real_pgd))
    monkeypatch.setattr(engine, '_logits', count('logits', real_logits))
    full = compute_records(models, split, CFG)
    k = 3
    assert calls == {'pgd': 1, 'logits': 1 + 2 * k + 1}          # clean pass of the new model + 2K+1 evaluations
    assert torch.equal(full.fooled[:3, :3], base.fooled) and torch.equal(full.correct[:3], base.correct)
    monkeypatch.setattr(engine, 'pgd', real_pgd); monkeypatch.setattr(engine, '_logits', real_logits)
    shutil.rmtree(cache/'sat')
    fresh = compute_records(models, split, CFG)                    # from scratch: the same records
    assert torch.equal(fresh.fooled, full.fooled) and torch.equal(fresh.correct, full.correct)

def test_corrupt_cache_files_are_recomputed(cache, digits):
    split = select_samples(digits.test, 60)
    models = zoo(['resnet', 'convnext'], digits)
    first = compute_records(models, split, CFG)
    files = sorted((cache/'sat').rglob('*.safetensors'))
    adv = next(f for f in files if f.parent.name == 'adv'); ev = next(f for f in files if f.parent.name == 'eval')
    adv.write_bytes(adv.read_bytes()[:200]); ev.write_bytes(b'garbage')
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        again = compute_records(models, split, CFG)
    msgs = [str(x.message) for x in w if 'corrupt cache file' in str(x.message)]
    assert len(msgs) == 2 and any(adv.name in m for m in msgs)
    assert torch.equal(again.fooled, first.fooled)

def test_a_valid_file_of_another_entry_is_recomputed(cache, digits):
    "A cache file copied under another entry's name (clean logits, adversarial images, scores) is caught by name."
    split = select_samples(digits.test, 130)
    models = zoo(['resnet', 'convnext'], digits)
    first = compute_records(models, split, CFG)
    victims = []
    for kind in ('clean', 'adv', 'eval'):
        files = sorted((cache/'sat').rglob(f'{kind}/*.safetensors'))
        shutil.copy(files[-1], files[0]); victims.append(files[0])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        again = compute_records(models, split, CFG)
    msgs = [str(x.message) for x in w if 'written as the cache entry' in str(x.message)]
    assert len(msgs) == 3 and all(any(str(v) in m for m in msgs) for v in victims), msgs
    assert torch.equal(again.correct, first.correct) and torch.equal(again.fooled, first.fooled)

def run_cli(args, env, **kw):
    return subprocess.Popen([sys.executable, '-m', 'simarch', 'sat', '--profile', 'smoke', *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)

def _children(pid: int) -> list[int]:
    "The processes whose parent is `pid` (from /proc)."
    kids = []
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try: fields = stat.read_text().rsplit(')', 1)[1].split()
        except OSError: continue
        if int(fields[1]) == pid: kids.append(int(stat.parent.name))
    return kids

def _running(pid: int) -> bool:
    "The process exists and is not a zombie."
    try: return Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError: return False

def test_resume_after_kill_gives_the_same_matrix(cache, tmp_path):
    env = {**os.environ, 'SIMARCH_CACHE': str(cache), 'TQDM_DISABLE': '1'}
    args = ['--models', ','.join(MODELS), '--n-samples', '200', '--steps', '5']
    p = run_cli([*args, '--out', str(tmp_path/'killed')], env)
    evals = cache/'sat'
    deadline = time.time() + 120
    while time.time() < deadline and len(list(evals.rglob('eval/*.safetensors'))) < 3: time.sleep(0.05)
    workers = _children(p.pid)
    os.kill(p.pid, signal.SIGKILL); p.wait()
    assert workers, 'the run should have forked its workers by now'
    deadline = time.time() + 15
    while time.time() < deadline and any(map(_running, workers)): time.sleep(0.1)
    assert not any(map(_running, workers)), 'workers outlived their killed parent'
    done = len(list(evals.rglob('eval/*.safetensors')))
    total = len(MODELS) * math.ceil(200 / 64)                     # one file per (target, chunk of 64 samples)
    assert 3 <= done < total, f'the kill should land mid-run ({done} of {total} evaluation files cached)'
    assert not (tmp_path/'killed'/'sat.csv').exists()
    r = run_cli([*args, '--out', str(tmp_path/'resumed')], env)
    out, err = r.communicate(); assert r.returncode == 0, err
    shutil.rmtree(cache/'sat')
    r = run_cli([*args, '--out', str(tmp_path/'fresh')], env)
    out, err = r.communicate(); assert r.returncode == 0, err
    for f in ['sat.csv', 'transfer.csv', 'joint.csv']:
        assert (tmp_path/'resumed'/f).read_bytes() == (tmp_path/'fresh'/f).read_bytes(), f
    sat = pd.read_csv(tmp_path/'fresh'/'sat.csv', index_col=0)
    assert list(sat.index) == MODELS and list(sat.columns) == MODELS
    np.testing.assert_array_equal(sat.to_numpy(), sat.to_numpy().T)

@pytest.mark.parametrize('args, message', [
    (['--models', 'resnet,vitp8'], "unknown model 'vitp8'; did you mean vit_p8"),
    (['--eps', '-0.1'], 'eps must be >= 0'),
    (['--steps', '0'], 'steps must be an integer >= 1'),
    (['--n-samples', '5000'], 'n_samples=5000 is larger than the data (360 samples)'),
    (['--norm', 'l1'], "invalid choice: 'l1'"),
])
def test_bad_arguments_get_one_clear_message(args, message, tmp_path, cache):
    p = run_cli([*args, '--out', str(tmp_path)], {**os.environ, 'SIMARCH_CACHE': str(cache)})
    out, err = p.communicate()
    assert p.returncode != 0 and message in err, err
    assert 'Traceback' not in err

def test_zoo_is_an_alias_of_profile(tmp_path):
    for flag in ('--profile', '--zoo'):
        assert _parser().parse_args(['sat', flag, 'smoke', '--out', str(tmp_path)]).profile == 'smoke'

def test_exact_float_adversarial_images_and_none_kept(cache, tmp_path):
    env = {**os.environ, 'SIMARCH_CACHE': str(cache), 'TQDM_DISABLE': '1'}
    r = run_cli(['--models', 'resnet,convnext', '--n-samples', '60', '--steps', '2', '--float-adversarial',
                 '--no-keep-adversarial', '--out', str(tmp_path)], env)
    out, err = r.communicate(); assert r.returncode == 0, err
    import json
    assert json.loads((tmp_path/'meta.json').read_text())['attack']['quantize'] is False
    assert not list((cache/'sat').rglob('adv/*.safetensors')) and list((cache/'sat').rglob('eval/*.safetensors'))
