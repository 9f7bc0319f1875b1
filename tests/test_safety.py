"Nothing lost, nothing wrong, nothing outside its folders: corrupted cache entries, stale temporaries, unsafe names."
import os, subprocess, sys
from pathlib import Path

import pandas as pd
import pytest

from simarch.components import COMPONENTS
from simarch.core import project_root
from simarch.paper_zoo import paper_models
from simarch.sections import SECTIONS

from conftest import MODELS

ARGS = ['--profile', 'smoke', '--models', ','.join(MODELS), '--n-samples', '100', '--steps', '2']

def simarch(args, cache, **env):
    return subprocess.run([sys.executable, '-m', 'simarch', *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, 'SIMARCH_CACHE': str(cache), 'TQDM_DISABLE': '1', **env})

def flip_last_byte(path: Path):
    data = bytearray(path.read_bytes()); data[-1] ^= 1; path.write_bytes(bytes(data))

def tree(root: Path) -> set:
    return {p.relative_to(root) for p in root.rglob('*')}

@pytest.mark.slow
def test_a_flipped_bit_in_any_cache_file_is_recomputed_to_the_same_matrix(cache, tmp_path):
    first = simarch(['sat', *ARGS, '--out', str(tmp_path/'first')], cache)
    assert first.returncode == 0, first.stderr[-3000:]
    sat_dir = cache/'sat'
    victims = [next(sat_dir.rglob(f'{kind}/*.safetensors')) for kind in ('clean', 'adv', 'eval')]
    victims.append(next((cache/'models').glob('vit_p8-*.safetensors')))
    for v in victims: flip_last_byte(v)
    folder = sorted(sat_dir.rglob('eval/*.safetensors'))[-1]     # a folder where a cache file should be
    folder.unlink(); folder.mkdir(); (folder/'junk').write_text('x')
    victims.append(folder)
    second = simarch(['sat', *ARGS, '--out', str(tmp_path/'second')], cache)
    assert second.returncode == 0, second.stderr[-3000:]
    for v in victims: assert v.name in second.stderr, v            # one warning names each corrupted file
    named = [l for l in second.stderr.splitlines() if any(v.name in l for v in victims)]
    assert all(l.startswith('simarch: warning: ') for l in named) and 'warnings.warn(' not in second.stderr, named
    for f in ('sat.csv', 'transfer.csv', 'joint.csv'):
        assert (tmp_path/'first'/f).read_bytes() == (tmp_path/'second'/f).read_bytes(), f

def test_stale_temporaries_of_killed_writers_are_removed_at_start(cache, tmp_path):
    dead = subprocess.Popen(['true']); dead.wait()
    import socket
    host = socket.gethostname().replace('~', '-')
    stale = cache/'sat'/f'.x.safetensors~{host}~{dead.pid}~abc.tmp'
    stale.parent.mkdir(parents=True); stale.write_bytes(b'0' * 1000)
    r = simarch(['sat', *ARGS, '--models', 'resnet,convnext', '--out', str(tmp_path/'out')], cache)
    assert r.returncode == 0, r.stderr[-3000:]
    assert not stale.exists()

@pytest.mark.parametrize('column, value', [('name', '../../../../PWNED'), ('profile', '../../../PWNED')])
def test_unsafe_names_fail_early_and_write_nothing(tmp_path, column, value):
    comps = paper_models().iloc[0][list(COMPONENTS)].to_dict()
    row = {'name': 'my_lcnet', 'timm_name': 'lcnet_050.ra2_in1k', 'profile': 'mine', **comps, column: value}
    csv = tmp_path/'models'/'mine.csv'
    csv.parent.mkdir(); pd.DataFrame([row]).to_csv(csv, index=False)
    before = tree(tmp_path)
    r = simarch(['sat', '--profile', 'mine', '--data', str(tmp_path), '--out', str(tmp_path/'out')],
                tmp_path/'cache', SIMARCH_MODELS=str(csv))
    assert r.returncode != 0 and 'is not a safe name' in r.stderr and 'Traceback' not in r.stderr, r.stderr[-2000:]
    assert tree(tmp_path) - before <= {Path('cache')}, tree(tmp_path) - before

def test_an_unsafe_profile_name_writes_nothing(tmp_path):
    r = subprocess.run([sys.executable, '-m', 'simarch', 'reproduce', '--profile', '../../../PWNED'], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and 'unknown profile' in r.stderr and 'Traceback' not in r.stderr, r.stderr[-2000:]
    assert not list(tmp_path.iterdir())

def computed(stderr: str) -> list[str]:
    "The adversarial sets and evaluations a run computed (its `SIMARCH_LOG=debug` lines)."
    return [line.split('computed ', 1)[1] for line in stderr.splitlines()
            if 'computed ' in line and ('/adv/' in line or '/eval/' in line)]

@pytest.mark.slow
def test_two_runs_on_one_cache_share_the_work(cache, tmp_path, trained_models):
    import shutil
    alone_cache = tmp_path/'alone'
    shutil.copytree(trained_models, alone_cache/'models')
    alone = simarch(['sat', *ARGS, '--out', str(tmp_path/'alone_out')], alone_cache, SIMARCH_LOG='debug')
    assert alone.returncode == 0, alone.stderr[-3000:]
    env = {**os.environ, 'SIMARCH_CACHE': str(cache), 'TQDM_DISABLE': '1', 'SIMARCH_LOG': 'debug'}
    runs = [subprocess.Popen([sys.executable, '-m', 'simarch', 'sat', *ARGS, '--out', str(tmp_path/f'out{i}')],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    errs = [r.communicate(timeout=600)[1] for r in runs]
    assert all(r.returncode == 0 for r in runs), errs
    together = computed(errs[0]) + computed(errs[1])
    assert len(together) == len(set(together)), 'an entry was computed twice'
    assert len(together) == len(computed(alone.stderr)) > 0          # together, exactly one run's work
    for i in range(2):
        for f in ('sat.csv', 'transfer.csv', 'joint.csv'):
            assert (tmp_path/f'out{i}'/f).read_bytes() == (tmp_path/'alone_out'/f).read_bytes(), f

def bad_inputs(tmp_path: Path) -> dict:
    "Command lines that must fail before any work, with what the one-line error must say."
    a_file = tmp_path/'a_file'; a_file.write_text('x')
    names = ['resnet', 'vit_p8']
    sat = pd.DataFrame([[4.6, float('inf')], [float('inf'), 4.6]], index=names, columns=names)
    sat.to_csv(tmp_path/'inf.csv')
    (tmp_path/'binary.csv').write_bytes(bytes(range(256)) * 8)
    cases = {
        'out is a file': (['sat', *ARGS, '--out', str(a_file)], 'is a file, not a folder'),
        'unknown device': (['sat', *ARGS, '--device', 'tpu', '--out', str(tmp_path/'o')], "device must be 'cpu'"),
        'negative threads': (['sat', *ARGS, '--threads', '-1', '--out', str(tmp_path/'o')], 'threads must be >= 1'),
        'empty model list': (['sat', '--profile', 'smoke', '--models', '', '--out', str(tmp_path/'o')],
                             '--models is empty'),
        'eps beyond the pixel range': (['sat', *ARGS, '--eps', '300/255', '--out', str(tmp_path/'o')],
                                       'eps must be in [0, 1] for linf'),
        'infinite release SAT': (['reproduce', '--profile', 'release', '--sat-csv', str(tmp_path/'inf.csv'),
                                  '--out', str(tmp_path/'o')], 'entries outside [ln 0.01, ln 100]'),
        'binary release SAT': (['reproduce', '--profile', 'release', '--sat-csv', str(tmp_path/'binary.csv'),
                                '--out', str(tmp_path/'o')], 'not a CSV table'),
        'unknown profile': (['reproduce', '--profile', 'nope', '--out', str(tmp_path/'o')], 'unknown profile'),
        'parameter out of range': (['reproduce', '--profile', 'smoke', '--n-clusters', '1', '--out', str(tmp_path/'o')],
                                   'parameter n_clusters must be an integer >= 2, got 1'),
        'empty output folder': (['sat', *ARGS, '--out', ''], '--out is empty'),
        'empty profile name': (['sat', '--profile', '', '--out', str(tmp_path/'o')], 'the profile name is empty'),
        'zero batch size': (['sat', *ARGS, '--batch-size', '0', '--out', str(tmp_path/'o')], 'batch_size must be >= 1'),
        'one model': (['sat', '--profile', 'smoke', '--models', 'resnet', '--out', str(tmp_path/'o')],
                      'give at least two, got 1 (resnet)'),
        'an image folder for digit models': (['sat', *ARGS, '--data', str(tmp_path), '--out', str(tmp_path/'o')],
                                             'are for pretrained profiles'),
        'binary $SIMARCH_MODELS file': (['sat', *ARGS, '--out', str(tmp_path/'o')],
                                        f'$SIMARCH_MODELS: {tmp_path/"binary.csv"}: not a CSV table of models',
                                        {'SIMARCH_MODELS': str(tmp_path/'binary.csv')}),
        'cache on an unwritable path': (['sat', *ARGS, '--out', str(tmp_path/'o')],
                                        'cannot be written: Not a directory', {'SIMARCH_CACHE': str(a_file/'cache')}),
    }
    import torch
    if not torch.cuda.is_available():
        cases['no CUDA'] = (['sat', *ARGS, '--device', 'cuda', '--out', str(tmp_path/'o')], 'no CUDA GPU')
    return cases

def test_bad_inputs_fail_at_once_in_one_line(tmp_path):
    runs = project_root()/'_runs'
    runs_before = tree(runs) if runs.exists() else set()
    for case, (args, message, *env) in bad_inputs(tmp_path).items():
        r = simarch(args, tmp_path/'cache', **(env[0] if env else {}))
        lines = r.stderr.strip().splitlines()
        assert r.returncode != 0 and message in r.stderr, (case, r.stderr[-2000:])
        assert 'Traceback' not in r.stderr and len([l for l in lines if 'error' in l]) == 1, (case, r.stderr[-2000:])
        made = [p for p in (tmp_path/'cache').rglob('*') if p.is_file()] if (tmp_path/'cache').exists() else []
        assert not made and not (tmp_path/'o').exists(), (case, made)      # no training, no attack, no output
    assert (tree(runs) if runs.exists() else set()) == runs_before                 # no executed notebook either

def test_a_disk_that_fills_up_mid_run_ends_in_one_line_and_leaves_no_temporaries(tmp_path):
    "Writes past 20 kB fail (RLIMIT_FSIZE, as on a full disk): the first checkpoint write stops the run."
    code = ('import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000)); '
            'from simarch.cli import main; main(sys.argv[1:])')
    r = subprocess.run([sys.executable, '-c', code, 'sat', *ARGS, '--out', str(tmp_path/'out')], capture_output=True,
                       text=True, timeout=600, env={**os.environ, 'SIMARCH_CACHE': str(tmp_path/'cache'),
                                                     'TQDM_DISABLE': '1'})
    assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr[-3000:]
    assert r.stderr.strip().splitlines()[-1].startswith('simarch sat: error: cannot write '), r.stderr[-3000:]
    assert 'File too large' in r.stderr
    assert not list((tmp_path/'cache').rglob('*.tmp')) and not (tmp_path/'out').exists()

def test_a_bad_papermill_parameter_stops_the_notebook_before_any_work(tmp_path):
    nb = project_root()/'nbs'/SECTIONS['clustering'].notebook
    r = subprocess.run([sys.executable, '-m', 'papermill', str(nb), str(tmp_path/'run.ipynb'), '-p', 'profile', 'smoke',
                        '-p', 'out_dir', str(tmp_path/'out'), '-p', 'n_runs', '-5'], cwd=nb.parent,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode != 0
    message = 'InputError: section clustering: parameter n_runs must be an integer >= 1, got -5'
    assert message in r.stderr, r.stderr[-3000:]
    assert not (tmp_path/'out').exists()

def test_a_section_failing_in_its_kernel_leaves_no_empty_output_folder(tmp_path, monkeypatch):
    import simarch.sections as sections
    def fails(name, profile, out, **_):
        Path(out).mkdir(parents=True, exist_ok=True)       # as open_section does inside the kernel
        raise sections.SectionError(f'section {name}: ValueError: bad')
    monkeypatch.setattr(sections, 'run_section', fails)
    with pytest.raises(sections.SectionError): sections.reproduce('smoke', only=['zoo'], out_dir=tmp_path/'new')
    assert not (tmp_path/'new').exists()
    (tmp_path/'kept').mkdir(); (tmp_path/'kept'/'old.csv').write_text('a\n1\n')
    with pytest.raises(sections.SectionError): sections.reproduce('smoke', only=['zoo'], out_dir=tmp_path/'kept')
    assert (tmp_path/'kept'/'old.csv').exists()             # a folder the run did not make is left as it was
