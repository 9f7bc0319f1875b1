"A notebook saved by JupyterLab: through `make lab`'s save hook it stays clean; without it, `make test` says what to do."
import json, shutil, subprocess, sys
from pathlib import Path

from jupyter_server.services.contents.filemanager import FileContentsManager
from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[1]

def lab_saved(nb: dict) -> dict:
    "What JupyterLab writes after opening and running a notebook: its kernelspec, language_info and outputs."
    nb = json.loads(json.dumps(nb))
    nb['metadata']['kernelspec'] = {'display_name': 'Python 3 (ipykernel)', 'language': 'python', 'name': 'python3'}
    nb['metadata']['language_info'] = {'name': 'python', 'version': '3.11.7'}
    code = next(c for c in nb['cells'] if c['cell_type'] == 'code')
    code['execution_count'] = 3
    code['metadata']['execution'] = {'iopub.status.busy': '2026-11-28T10:00:00Z'}
    return nb

def checkout_copy(tmp: Path) -> Path:
    for f in ('Makefile', 'settings.ini', 'setup.py'): shutil.copy2(ROOT/f, tmp/f)
    for d in ('nbs', 'simarch', '.jupyter'): shutil.copytree(ROOT/d, tmp/d, ignore=shutil.ignore_patterns('__pycache__'))
    return tmp

def check_sync(where: Path):
    venv = Path(sys.executable).parents[1]
    return subprocess.run(['make', '-s', 'check-sync', f'VENV={venv}', '-o', str(venv/'.simarch-installed')],
                          cwd=where, capture_output=True, text=True, timeout=300)

def test_a_notebook_saved_through_make_labs_hook_stays_in_sync(tmp_path, monkeypatch):
    copy = checkout_copy(tmp_path)
    monkeypatch.chdir(copy)                                     # `make lab` serves the checkout from its root
    path = copy/'nbs'/'00_core.ipynb'
    config = Config()
    exec((copy/'.jupyter'/'jupyter_server_config.py').read_text(), {'c': config})
    model = {'type': 'notebook', 'format': 'json', 'content': lab_saved(json.loads(path.read_text()))}
    config.ContentsManager.pre_save_hook(model=json.loads(json.dumps(model)), path='nbs/00_core.ipynb',
                                         contents_manager=None)     # raises if the hook cannot run (Jupyter logs it)
    FileContentsManager(root_dir=str(copy), config=config).save(model, 'nbs/00_core.ipynb')   # the server's save
    assert 'language_info' not in path.read_text()
    r = check_sync(copy)
    assert r.returncode == 0 and 'in sync' in r.stdout, r.stdout + r.stderr

def test_a_notebook_saved_without_the_hook_fails_the_check_once_with_the_fix(tmp_path):
    copy = checkout_copy(tmp_path)
    path = copy/'nbs'/'00_core.ipynb'
    path.write_text(json.dumps(lab_saved(json.loads(path.read_text())), indent=1) + '\n')
    first = check_sync(copy)
    assert first.returncode != 0 and "'make lab' starts a JupyterLab that saves notebooks clean" in first.stdout
    assert "they are fixed now: review 'git diff', commit, and run 'make test' again" in first.stdout
    again = check_sync(copy)
    assert again.returncode == 0, again.stdout + again.stderr
