"The analysis sections on files in the authors' release format, and their determinism."
import subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest
from simarch.cluster import spectral_clusters, tsne_map
from simarch.importance import component_importance
from simarch.components import COMPONENTS
from simarch.release import ReleaseFormatError, analysis_inputs, read_components_csv, read_sat_csv, write_release
from simarch.profiles import get_profile
from simarch.registry import components_table

NBS = Path(__file__).resolve().parents[1]/'nbs'/'paper'

@pytest.fixture(scope='module')
def release_files(tmp_path_factory):
    "A 24-model release-format pair of files made here: SAT = a block structure by base architecture plus noise."
    names = list(get_profile('mini').models)[:24]
    comps = components_table(names).drop(columns='family')
    rng = np.random.default_rng(0)
    base = comps.base.to_numpy()
    s = 2.0 + 1.5 * (base[:, None] == base[None, :]) + rng.normal(0, 0.2, (24, 24))
    s = (s + s.T) / 2; np.fill_diagonal(s, 4.6)
    d = tmp_path_factory.mktemp('release')
    return write_release(pd.DataFrame(s, index=names, columns=names), comps, d)

def run_nb(nb, out, **params):
    args = [sys.executable, '-m', 'papermill', str(NBS/nb), str(out/f'run_{nb}'), '--cwd', str(NBS)]
    for k, v in params.items(): args += ['-p', k, str(v)]
    r = subprocess.run(args, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]

def test_release_profile_runs_feature_importance_on_release_files(release_files, tmp_path):
    sat_csv, comp_csv = release_files
    r = subprocess.run([sys.executable, '-m', 'simarch', 'reproduce', '--profile', 'release',
                        '--only', 'feature_importance', '--sat-csv', str(sat_csv), '--components-csv', str(comp_csv),
                        '--out', str(tmp_path/'D')], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    fi = pd.read_csv(tmp_path/'D'/'feature_importance.csv')
    assert list(fi.columns) == ['component', 'importance', 'ci_low', 'ci_high', 'rank_1', 'rank_2', 'rank_3']
    assert len(fi) == 13 and fi.importance.is_monotonic_decreasing
    assert fi.component.iloc[0] == 'Base architecture'          # the only component that drives this SAT
    assert fi.rank_1.iloc[0] == 1.0 and (fi.ci_low <= fi.ci_high).all()    # first in every bootstrap resample
    settings = pd.read_csv(tmp_path/'D'/'feature_importance_settings.csv')
    assert len(settings) == 19 and (settings.rank_1 == 'Base architecture').all()    # 18 XGBoost settings + linear
    assert (tmp_path/'D'/'shap_summary.png').stat().st_size > 0

def test_clustering_notebook_on_release_files(release_files, tmp_path):
    sat_csv, comp_csv = release_files
    run_nb('30_clustering.ipynb', tmp_path, sat_csv=sat_csv, components_csv=comp_csv, out_dir=tmp_path/'D',
           n_clusters=10, n_runs=3)
    cl = pd.read_csv(tmp_path/'D'/'clusters.csv')
    assert list(cl.columns) == ['model', 'cluster'] and len(cl) == 24 and cl.cluster.nunique() == 10

def test_clustering_scores_the_paper_figure1_pairs(tmp_path):
    "Release-format files of the 20 Figure 1 models whose SAT pairs them up: the section scores 10 of 10."
    pairs = get_profile('release').figure1_pairs
    names = [m for p in pairs for m in p]
    pair_of = np.repeat(np.arange(len(pairs)), 2)
    rng = np.random.default_rng(1)
    s = 1.5 + 2.5 * (pair_of[:, None] == pair_of[None, :]) + rng.normal(0, 0.1, (len(names),) * 2)
    s = (s + s.T) / 2; np.fill_diagonal(s, 4.6)
    sat_csv, _ = write_release(pd.DataFrame(s, index=names, columns=names),
                               components_table(names).drop(columns='family'), tmp_path/'files')
    r = subprocess.run([sys.executable, '-m', 'simarch', 'reproduce', '--profile', 'release', '--only', 'clustering',
                        '--sat-csv', str(sat_csv), '--out', str(tmp_path/'D')], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    scored = pd.read_csv(tmp_path/'D'/'figure1_pairs.csv')
    assert len(scored) == 10 and scored.same_cluster.all() and (scored.co_seeds == 1).all()
    assert pd.read_csv(tmp_path/'D'/'clusters.csv').cluster.nunique() == 10      # the release profile's k

def test_trust_section_on_release_files_finds_the_model_effects(tmp_path):
    "Release-format SAT = base-architecture structure + strong per-model effects: the section measures both."
    names = list(get_profile('mini').models)[:16]
    comps = components_table(names).drop(columns='family')
    comps['base'] = np.repeat(['CNN', 'Transformer', 'MLP-Mixer', 'Hybrid'], 4)   # four groups of four
    rng = np.random.default_rng(2)
    base = comps.base.to_numpy()
    effect = rng.normal(0, 0.6, len(names)); effect -= effect.mean()
    s = 2.5 + 0.8 * (base[:, None] == base[None, :]) + effect[:, None] + effect[None, :]
    s = s + rng.normal(0, 0.05, s.shape); s = np.minimum((s + s.T) / 2, 4.6); np.fill_diagonal(s, 4.6)  # <= ln 100
    sat_csv, comp_csv = write_release(pd.DataFrame(s, index=names, columns=names), comps, tmp_path/'files')
    r = subprocess.run([sys.executable, '-m', 'simarch', 'reproduce', '--profile', 'release', '--only', 'trust',
                        '--sat-csv', str(sat_csv), '--components-csv', str(comp_csv), '--out', str(tmp_path/'D')],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    effects = pd.read_csv(tmp_path/'D'/'trust_effects.csv', index_col=0)
    assert np.corrcoef(effects.effect[names], effect)[0, 1] > 0.95
    measures = pd.read_csv(tmp_path/'D'/'trust_measures.csv', index_col=0)
    assert measures.loc['adjusted', 'base architecture'] > measures.loc['sat', 'base architecture']
    assert measures.loc['adjusted', 'base architecture'] > 0.9
    written = sorted(p.name for p in (tmp_path/'D').iterdir())
    assert 'trust_seeds.csv' not in written and 'trust_noise.png' not in written      # no records, no seeds here

def test_analysis_inputs_take_components_from_the_file_or_the_registry(release_files):
    sat, comps = analysis_inputs(release_files[0])                       # components from the registry
    sat2, comps2 = analysis_inputs(*release_files)                       # components from the release file
    assert list(comps.index) == list(sat.index) == list(sat2.index) and list(comps.columns) == list(COMPONENTS)
    pd.testing.assert_frame_equal(sat, sat2)
    pd.testing.assert_frame_equal(comps, comps2, check_names=False)

def test_same_seed_same_results(release_files):
    sat, comps = read_sat_csv(release_files[0]), read_components_csv(release_files[1])
    a, b = component_importance(sat, comps, seed=3), component_importance(sat, comps, seed=3)
    pd.testing.assert_series_equal(a.importance, b.importance); assert a.cv_r2 == b.cv_r2
    pd.testing.assert_series_equal(spectral_clusters(sat, 4, seed=1), spectral_clusters(sat, 4, seed=1))
    pd.testing.assert_frame_equal(tsne_map(sat, seed=2), tsne_map(sat, seed=2))

@pytest.mark.parametrize('damage, message', [
    (lambda s: s.iloc[:, :-1], 'not square'),
    (lambda s: s.set_axis([*s.columns[:-1], 'nope'], axis=1), 'columns only: nope'),
    (lambda s: s.mask(s > 4.5), 'NaN or non-numeric entries'),
])
def test_malformed_sat_files_are_refused(release_files, tmp_path, damage, message):
    damage(pd.read_csv(release_files[0], index_col=0)).to_csv(tmp_path/'bad.csv')
    with pytest.raises(ReleaseFormatError, match=message.replace('[', r'\[').replace(']', r'\]')):
        read_sat_csv(tmp_path/'bad.csv')

def test_asymmetric_matrix_is_named_and_symmetrised(release_files, tmp_path):
    s = pd.read_csv(release_files[0], index_col=0); s.iloc[0, 1] += 0.5; s.to_csv(tmp_path/'asym.csv')
    with pytest.warns(UserWarning, match=f'{s.index[0]}/{s.columns[1]} by 0.5'):
        back = read_sat_csv(tmp_path/'asym.csv')
    assert np.allclose(back, back.T)

def test_unknown_component_value_is_named(release_files, tmp_path):
    c = pd.read_csv(release_files[1]); c.loc[2, 'Activation'] = 'Mish'; c.to_csv(tmp_path/'c.csv', index=False)
    with pytest.warns(UserWarning, match=f"{c.loc[2, 'Model name']} Activation='Mish'"):
        read_components_csv(tmp_path/'c.csv')

def test_mismatched_names_between_files(release_files, tmp_path):
    c = pd.read_csv(release_files[1]).iloc[1:]; c.to_csv(tmp_path/'c.csv', index=False)
    r = subprocess.run([sys.executable, '-m', 'papermill', str(NBS/'30_clustering.ipynb'), str(tmp_path/'o.ipynb'),
                        '--cwd', str(NBS), '-p', 'sat_csv', str(release_files[0]),
                        '-p', 'components_csv', str(tmp_path/'c.csv'), '-p', 'out_dir', str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode != 0 and 'only in SAT' in r.stderr + r.stdout

def test_analysis_outputs_do_not_depend_on_the_order_of_the_models(release_files, tmp_path):
    "The same release files with the models in reverse order: every output of the three sections, byte for byte."
    sat_csv, comp_csv = release_files
    sat, comps = read_sat_csv(sat_csv), read_components_csv(comp_csv)
    backwards = list(sat.index)[::-1]
    reversed_files = write_release(sat.loc[backwards, backwards], comps.loc[backwards], tmp_path/'reversed_input')
    params = {'20_feature_importance.ipynb': dict(n_boot=20), '30_clustering.ipynb': dict(n_runs=3, n_clusters=4),
              '60_trust.ipynb': dict(n_boot=10)}
    for name, (s, c) in {'given': release_files, 'reversed': reversed_files}.items():
        for nb, extra in params.items():
            run_nb(nb, tmp_path, sat_csv=s, components_csv=c, out_dir=tmp_path/name, **extra)
    files = sorted(p.name for p in (tmp_path/'given').iterdir())
    assert len(files) >= 15 and files == sorted(p.name for p in (tmp_path/'reversed').iterdir())
    for f in files: assert (tmp_path/'given'/f).read_bytes() == (tmp_path/'reversed'/f).read_bytes(), f
