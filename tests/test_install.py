"A non-editable install into a fresh virtual environment runs from outside the checkout, with its tables inside it."
import os, shutil, subprocess, sys, sysconfig
from pathlib import Path

import pandas as pd, pytest

from simarch.profiles import get_profile

ROOT = Path(__file__).resolve().parents[1]
SMOKE = list(get_profile('smoke').models)

def run(cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert r.returncode == 0, f'{cmd} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}'
    return r

def source_copy(dest: Path) -> Path:
    "The project as pip sees it, copied so that building it leaves no build/ folder in the checkout."
    keep = ['setup.py', 'settings.ini', 'README.md', 'simarch']
    for name in keep:
        src = ROOT/name
        if src.is_dir(): shutil.copytree(src, dest/name, ignore=shutil.ignore_patterns('__pycache__'))
        else: dest.mkdir(parents=True, exist_ok=True); shutil.copy2(src, dest/name)
    return dest

@pytest.mark.slow
def test_installed_package_runs_outside_the_checkout(tmp_path):
    venv = tmp_path/'venv'
    run([sys.executable, '-m', 'venv', venv])
    py = venv/'bin'/'python'
    site = Path(run([py, '-c', "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    # the dev environment's libraries, but not its editable simarch: a plain path line does not run that
    # directory's own .pth files (where the editable finder is hooked in)
    (site/'dev_libs.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    home, cache, elsewhere = tmp_path/'home', tmp_path/'cache', tmp_path/'elsewhere'
    for d in (home, elsewhere): d.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ('PYTHONPATH', 'SIMARCH_ROOT', 'SIMARCH_MODELS', 'SIMARCH_PROFILE', 'VIRTUAL_ENV')}
    env.update(HOME=str(home), SIMARCH_CACHE=str(cache), TQDM_DISABLE='1', PIP_NO_CACHE_DIR='1')
    run([py, '-m', 'pip', 'install', '-q', '--no-deps', '--no-build-isolation', '--no-index',
         source_copy(tmp_path/'src')], env=env, cwd=tmp_path)

    where = run([py, '-c', 'import simarch, sys; print(simarch.__file__)'], env=env, cwd=elsewhere).stdout.strip()
    pkg = Path(where).resolve().parent
    assert pkg.is_relative_to(venv.resolve()) and not pkg.is_relative_to(ROOT), where
    assert {'paper_models.csv', 'mini_zoo.csv'} <= {p.name for p in pkg.iterdir()}   # the tables came along

    helped = run([py, '-m', 'simarch', '--help'], env=env, cwd=elsewhere)
    assert 'reproduce' in helped.stdout and 'sat' in helped.stdout

    run([venv/'bin'/'simarch', 'sat', '--profile', 'smoke', '--out', 'out'], env=env, cwd=elsewhere, timeout=1800)
    sat = pd.read_csv(elsewhere/'out'/'sat.csv', index_col=0)
    assert len(SMOKE) == 5 and list(sat.index) == SMOKE and list(sat.columns) == SMOKE
    assert len(list((cache/'models').glob('*.safetensors'))) == len(SMOKE)   # trained into $SIMARCH_CACHE
    assert (cache/'sat').is_dir() and sorted(p.name for p in elsewhere.iterdir()) == ['out']   # nothing else written
