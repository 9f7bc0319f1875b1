"The paper sections behind `simarch reproduce`: declarations, the papermill runner and the smoke profile end to end."
import json, os, re, signal, subprocess, sys, time
from pathlib import Path

import nbformat, pandas as pd, pytest
from simarch.components import COMPONENTS
from simarch.profiles import get_profile
from simarch.report import report_problems
from simarch.sections import SECTIONS, Section, register_section, reproduce, run_section, runs_dir, section_order

ROOT = Path(__file__).resolve().parents[1]

def test_reproduce_cli_writes_zoo_table(tmp_path):
    "The README's runner end to end on the smoke profile: papermill executes the section and checks its outputs."
    out = tmp_path/'figs'                     # given relative to where the user stands, not to the notebook's folder
    r = subprocess.run([sys.executable, '-m', 'simarch', 'reproduce', '--profile', 'smoke', '--only', 'zoo',
                        '--out', 'figs'], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    df = pd.read_csv(out/'zoo.csv')
    assert list(df.model) == list(get_profile('smoke').models)
    assert set(COMPONENTS) <= set(df.columns) and {'family', 'params', 'test_acc'} <= set(df.columns)
    assert df.test_acc.between(0, 1).all() and (df.params > 0).all()
    assert (out/'zoo.md').read_text().startswith('| Model name')

def simarch_reproduce_zoo(out: Path, cache: Path, interrupt_after: float | None = None):
    env = {**os.environ, 'SIMARCH_CACHE': str(cache), 'SIMARCH_PROGRESS_EVERY': '1'}    # a progress line a second
    p = subprocess.Popen([sys.executable, '-m', 'simarch', 'reproduce', '--profile', 'smoke', '--only', 'zoo',
                          '--out', str(out)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = ''
    if interrupt_after:            # Ctrl-C once the zoo is training (seen in the relayed progress), not while starting
        deadline = time.time() + 300
        while time.time() < deadline and 'train:' not in (line := p.stdout.readline()) and line: seen += line
        seen += line
        time.sleep(interrupt_after); p.send_signal(signal.SIGINT)
        try: p.wait(10)
        except subprocess.TimeoutExpired: p.send_signal(signal.SIGINT)   # a user presses again: see issue 16's note
    out, err = p.communicate(timeout=600)
    return p.returncode, seen + out, err

def test_reproduce_relays_the_kernels_progress_without_kernel_warnings(tmp_path):
    "From an empty cache the zoo trains for a while: its bar reaches the terminal, as a line every second in a pipe."
    rc, out, err = simarch_reproduce_zoo(tmp_path/'figs', tmp_path/'cache')
    assert rc == 0, out + err
    eta = r'^\[smoke\] zoo \d\d:\d\d \| cell \d+/\d+ \| train: .*\d+/5 \[\d\d:\d\d<\d\d:\d\d'
    assert re.search(eta, out, re.M), out                     # elapsed time, the cell count and the training bar
    assert 'Kernel is running over TCP' not in err and 'WARNING' not in err, err
    executed = (runs_dir('smoke', tmp_path/'figs')/'00_zoo.ipynb').read_text()
    assert 'IProgress' not in executed and 'train:' not in executed          # no bar noise in the notebook

def test_ctrl_c_ends_in_one_line_and_leaves_no_kernel(tmp_path):
    rc, out, err = simarch_reproduce_zoo(tmp_path/'figs', tmp_path/'cache', interrupt_after=1)
    assert rc == 130 and 'Traceback' not in err, err
    assert err.strip().splitlines()[-1].endswith('interrupted; finished work is cached: the same command resumes it')
    time.sleep(2)
    kernels = subprocess.run(['pgrep', '-f', 'ipykernel_launcher'], capture_output=True, text=True).stdout.split()
    assert not [k for k in kernels if Path(f'/proc/{k}/environ').exists()
                and str(tmp_path) in Path(f'/proc/{k}/environ').read_text(errors='replace')]

def test_unknown_section_is_refused():
    r = subprocess.run([sys.executable, '-m', 'simarch', 'reproduce', '--only', 'nope'], capture_output=True,
                       text=True)
    assert r.returncode != 0 and 'unknown section(s) nope' in r.stderr
    assert 'Traceback' not in r.stderr

def test_release_profile_refuses_model_sections(tmp_path):
    with pytest.raises(ValueError, match='do not run on the release profile'):
        reproduce('release', only=['zoo'], out_dir=tmp_path, sat_csv='SAT_release.csv')
    assert not any(tmp_path.iterdir())

def test_sections_run_after_the_sections_they_read():
    order = section_order(list(SECTIONS))
    assert sorted(order) == sorted(SECTIONS)
    for name, s in SECTIONS.items():
        for f in s.inputs:
            src = next(p for p, q in SECTIONS.items() if f in q.outputs)
            assert order.index(src) < order.index(name), (src, name)

def test_readme_lists_every_section_output():
    "The README's table of sections names each notebook and, on its row, every file the section writes."
    readme = (ROOT/'README.md').read_text()
    for s in SECTIONS.values():
        rows = [line for line in readme.splitlines() if line.startswith('|') and f'nbs/{s.notebook}' in line]
        assert len(rows) == 1, f'README has {len(rows)} table rows for nbs/{s.notebook}'
        missing = [o for o in s.outputs if f'`{o}`' not in rows[0]]
        assert not missing, f'README row of {s.name} does not list {missing}'

def write_notebook(path: Path):
    "A section notebook that writes its declared file, and an undeclared one when `extra` is set."
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = None\nout_dir = None\nextra = False')
    params.metadata['tags'] = ['parameters']
    body = nbformat.v4.new_code_cell("from pathlib import Path\n"
                                     "Path(out_dir).mkdir(parents=True, exist_ok=True)\n"
                                     "Path(out_dir, 'declared.txt').write_text(profile)\n"
                                     "if extra: Path(out_dir, 'undeclared.txt').write_text('not in the section')")
    nb.cells = [params, body]
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
    nbformat.write(nb, str(path))
    return path

def test_run_section_refuses_undeclared_outputs(tmp_path):
    nb = write_notebook(tmp_path/'_test_undeclared_section.ipynb')
    name = '_test_undeclared'
    register_section(Section(name, str(nb), 'a test section', ('declared.txt',)))   # absolute: nbs/ + nb is nb
    try:
        run_section(name, 'smoke', out_dir=tmp_path/'ok')                              # only the declared file
        assert (tmp_path/'ok'/'declared.txt').read_text() == 'smoke'
        with pytest.raises(RuntimeError, match='undeclared files undeclared.txt'):
            run_section(name, 'smoke', out_dir=tmp_path/'extra', extra=True)
    finally:
        SECTIONS.pop(name, None)
    assert name not in SECTIONS

@pytest.mark.slow
def test_reproduce_smoke_writes_exactly_the_declared_files(tmp_path):
    "Every section on the smoke profile (what nbdev_test ran the paper notebooks for): exactly the declared files."
    out = tmp_path/'figs'
    env = {**os.environ, 'TQDM_DISABLE': '1'}         # the repository's cache: checkpoints shared with other runs
    r = subprocess.run([sys.executable, '-m', 'simarch', 'reproduce', '--profile', 'smoke', '--out', str(out)],
                       env=env, capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    found = r'^found:\n  check: min diagonal SAT: (True|False) \(an attack on a model'
    assert re.search(found, r.stdout, re.M), r.stdout                 # what the run found, each item explained
    smoke = get_profile('smoke')
    expected = {o for s in SECTIONS.values() for o in s.outputs_for(smoke)}
    written = {str(p.relative_to(out)) for p in out.rglob('*')
               if p.is_file() and p.parent.name not in ('report', '_runs')}
    assert {p.name for p in (out/'report').iterdir()} == {'index.html', *(f'{s}.html' for s in SECTIONS)}
    assert report_problems(out/'report') == []             # every image loads, no traceback
    assert written == expected, (sorted(written - expected), sorted(expected - written))
    # one attack for every section: the distillation section's SAT of two teachers is the similarity section's
    sat, distill_sat = (pd.read_csv(out/f, index_col=0) for f in ('sat.csv', 'distillation_sat.csv'))
    a, b = smoke.distill.teachers
    assert distill_sat.loc[a, b] == sat.loc[a, b]
    meta, distill_meta = (json.loads((out/f).read_text()) for f in ('meta.json', 'distillation_meta.json'))
    assert distill_meta['attack'] == meta['attack'] and distill_meta['n_samples'] == meta['n_samples']
    # from a new model to its partners among this run's zoo, by this run's leaderboard and partner test
    from timm.models.resnet import BasicBlock, ResNet
    from simarch.measures import recommend_for
    from simarch.mini_zoo import DIGITS_CONFIG
    from simarch.registry import get_spec, register
    register('partner_probe', 'resnet', lambda **kw: ResNet(BasicBlock, [1, 1, 1, 1], **kw),
             get_spec('resnet').components, fixed_config=DIGITS_CONFIG)
    advice = recommend_for('partner_probe', 'smoke', run_dir=out)
    assert len(advice.chosen) == 2 and set(advice.chosen.partner) <= set(smoke.models), advice
    floor = float(re.search(r'partner_probe \(accuracy >= ([\d.]+)\)', advice.question).group(1))
    assert (advice.chosen.accuracy >= floor - 5e-4).all(), advice           # never a partner below the floor
