import subprocess, sys
import pandas as pd
from simarch.zoo import COMPONENTS, profile_models

def test_reproduce_cli_writes_zoo_table(tmp_path):
    "The README's runner end to end on the smoke profile: papermill executes the section and checks its outputs."
    out = tmp_path/'figs'
    r = subprocess.run([sys.executable, '-m', 'simarch.repro', '--profile', 'smoke', '--only', 'zoo', '--out', str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    df = pd.read_csv(out/'zoo.csv')
    assert list(df.model) == profile_models('smoke')
    assert set(COMPONENTS) <= set(df.columns) and {'family', 'params', 'test_acc'} <= set(df.columns)
    assert df.test_acc.between(0, 1).all() and (df.params > 0).all()
    assert (out/'zoo.md').read_text().startswith('| Model name')

def test_unknown_section_is_refused():
    r = subprocess.run([sys.executable, '-m', 'simarch.cli', 'reproduce', '--only', 'nope'], capture_output=True, text=True)
    assert r.returncode != 0 and 'unknown section(s) nope' in r.stderr
