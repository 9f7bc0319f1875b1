"""By hand (not in CI): JupyterLab in a real browser. On a copy of the checkout, start the lab as `make lab` does,
open notebooks in headless Chromium, run all their cells, save them from the lab, then run `make check-sync` there.
Prints what the lab saved and what the check said; screenshots go to the copy's `lab-*.png`.
Needs Debian's chromium and chromium-driver and selenium (e.g. `pip install --target /tmp/seldeps selenium`).
Usage: .venv/bin/python tests/check_lab_in_chromium.py [--selenium /tmp/seldeps] [nbs/00_core.ipynb ...]
"""
import argparse, json, os, shutil, socket, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ['nbs/00_core.ipynb', 'nbs/paper/30_clustering.ipynb']
COPIED = ['Makefile', 'settings.ini', 'setup.py', 'nbs', 'simarch', '.jupyter', 'figures/mini']

def checkout_copy() -> Path:
    dest = Path(tempfile.mkdtemp(prefix='simarch-lab-'))
    for name in COPIED:
        src, dst = ROOT/name, dest/name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir(): shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', 'report'))
        else: shutil.copy2(src, dst)
    subprocess.run(['git', 'init', '-q'], cwd=dest, check=True)
    subprocess.run(['git', 'add', '-A'], cwd=dest, check=True)
    subprocess.run(['git', '-c', 'user.name=lab', '-c', 'user.email=lab@localhost', 'commit', '-qm', 'copy'],
                   cwd=dest, check=True)
    return dest

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

RUN_AND_SAVE = """
const [path, done] = [arguments[0], arguments[arguments.length - 1]];
(async () => {
  const app = window.jupyterapp;
  const panel = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  await panel.context.ready; await panel.sessionContext.ready;
  const ok = await app.commands.execute('notebook:run-all-cells');
  await app.commands.execute('docmanager:save');
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  const errors = cells.flatMap(c => c.model.outputs.toJSON()).filter(o => o.output_type === 'error')
                      .map(o => o.ename + ': ' + o.evalue);
  done({ok, cells: cells.length, run: cells.filter(c => c.model.executionCount).length, errors});
})().catch(e => done({failed: String(e)}));
"""

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('notebooks', nargs='*', default=NOTEBOOKS)
    ap.add_argument('--selenium', default='/tmp/seldeps', help='a folder selenium is installed in (pip --target)')
    args = ap.parse_args()
    sys.path.insert(0, args.selenium)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    copy, port, token = checkout_copy(), free_port(), 'simarch-lab-check'
    venv = Path(sys.executable).parents[1]
    env = dict(os.environ, JUPYTER_CONFIG_PATH=str(copy/'.jupyter'), PYTHONPATH=str(copy))
    lab = subprocess.Popen([str(venv/'bin'/'jupyter'), 'lab', '--no-browser', f'--port={port}',
                            '--expose-app-in-browser', f'--IdentityProvider.token={token}', '--ServerApp.ip=127.0.0.1',
                            '--allow-root'],
                           cwd=copy, env=env, stdout=open(copy/'lab.log', 'w'), stderr=subprocess.STDOUT)
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which('chromium')
    for flag in ('--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--window-size=1400,1000'):
        opts.add_argument(flag)
    browser = webdriver.Chrome(service=Service(shutil.which('chromedriver')), options=opts)
    browser.set_script_timeout(600)
    try:
        time.sleep(5)
        browser.get(f'http://127.0.0.1:{port}/lab?token={token}')
        for _ in range(120):
            if browser.execute_script('return !!(window.jupyterapp && window.jupyterapp.shell)'): break
            time.sleep(1)
        time.sleep(5)                                    # the lab restores its layout
        for i, nb in enumerate(args.notebooks):
            t0 = time.time()
            result = browser.execute_async_script(RUN_AND_SAVE, nb)
            browser.save_screenshot(str(copy/f'lab-{i}.png'))
            saved = json.loads((copy/nb).read_text())
            meta = sorted(saved['metadata'])
            outputs = sum(len(c.get('outputs', [])) for c in saved['cells'])
            counts = sum(c.get('execution_count') is not None for c in saved['cells'] if c['cell_type'] == 'code')
            print(f'{nb}: {result} in {time.time() - t0:.0f} s; saved with metadata {meta}, {outputs} outputs, '
                  f'{counts} execution counts')
    finally:
        browser.quit(); lab.terminate(); lab.wait(30)
    diff = subprocess.run(['git', 'status', '--short'], cwd=copy, capture_output=True, text=True).stdout
    print('changed after the lab saved:', ' '.join(diff.split()) or 'nothing')
    check = subprocess.run(['make', '-s', 'check-sync', f'VENV={venv}', '-o', str(venv/'.simarch-installed')],
                           cwd=copy, capture_output=True, text=True)
    print(f'make check-sync: exit {check.returncode}: {check.stdout.strip()} {check.stderr.strip()}')
    print(f'the copy, its lab.log and screenshots: {copy}')

if __name__ == '__main__': main()
