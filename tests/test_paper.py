"The paper profile's code path, offline: the 69 names, pretrained weights from local files, an ImageNet-style folder."
import hashlib, json, os, subprocess, sys
from dataclasses import replace
from pathlib import Path

import numpy as np, pandas as pd, pytest, timm, torch
from PIL import Image
from safetensors.torch import save_file

from simarch.cli import main
from simarch.data import DataLayoutError, IMAGENET_SIZE, ImageSet, imagenet_synsets, select_samples
from simarch.extract import extract_components
from simarch.measures import PAIR_MEASURES
from simarch.components import COMPONENTS
from simarch.paper_zoo import AUTHORS_TABLE, paper_models
from simarch.pixel import PixelModel
from simarch.pretrained import WeightsError, load_pretrained
from simarch.distill import distill_grid, distillation_inputs, even_classes
from simarch.profiles import PROFILES, DistillGrid, get_profile, load_workload, register_profile
from simarch.train import Recipe
from simarch.registry import UnknownModelError, components_table, get_spec, register_pretrained, registered_names
from simarch.release import read_components_csv

# Three small timm architectures at three input resolutions stand in for the paper's models.
TINY = {'tiny_vit': 'test_vit.r160_in1k', 'tiny_lcnet': 'lcnet_050.ra2_in1k',
        'tiny_mobilevit': 'mobilevit_xxs.cvnets_in1k'}
for _name, _timm in TINY.items():
    if _name not in registered_names():
        register_pretrained(_name, _timm, extract_components(timm.create_model(_timm.split('.')[0])))
if 'tiny-paper' not in PROFILES:          # the paper profile's settings (ImageNet images, PGD 8/255) on TINY
    register_profile(replace(get_profile('paper'), name='tiny-paper', summary='three tiny pretrained models',
                             models=tuple(TINY), distill=None))

def test_paper_profile_uses_the_authors_component_table(tmp_path):
    "Rebuilt in the authors' layout from our data file, the paper profile's table is their file, byte for byte."
    table = components_table(list(get_profile('paper').models), paper_columns=True).drop(columns='family')
    text = table.rename_axis('Model name').reset_index().to_csv(index=False, lineterminator='\r\n')
    copy = tmp_path/AUTHORS_TABLE['file']
    copy.write_bytes(text.removesuffix('\r\n').encode())        # their file has CRLF and no final newline
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == AUTHORS_TABLE['sha256']
    authors = read_components_csv(copy)
    ours = paper_models()[list(COMPONENTS)]
    assert list(authors.index) == list(ours.index) and (authors == ours).all().all()     # cell by cell
    assert (paper_models('extractor')[list(COMPONENTS)] != ours).sum().sum() == 20

@pytest.mark.slow
def test_every_paper_model_builds_and_matches_its_components():
    "The extractor still reads exactly its recorded labels off all 69 architectures."
    table = paper_models('extractor')
    assert len(table) == 69 and set(get_profile('paper').models) == set(table.index)
    for name in table.index:
        spec = get_spec(name)
        assert spec.pretrained and spec.timm_name == table.timm_name[name], name
        arch = spec.timm_name.split('.')[0]
        assert timm.is_model(arch) and spec.timm_name in timm.list_pretrained(arch + '.*'), name
        model = spec.build()                                    # pretrained=False: random weights, no download
        assert model.data_config['num_classes'] == 1000
        found = extract_components(model, nas=spec.base.startswith('NAS'))
        recorded = {k: table.loc[name, k] for k in COMPONENTS}
        assert found == recorded, (name, {k: (found[k], v) for k, v in recorded.items() if found[k] != v})
        del model

def test_canonical_pixels_give_timms_own_view():
    "A 224 px / crop 0.875 model sees exactly timm's eval transform; other resolutions the same field of view."
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:300, 0:420]
    img = np.stack([np.sin(xx / 17) + np.cos(yy / 23), np.cos(xx / 29), np.sin((xx + yy) / 31)], -1)
    img = ((img - img.min()) / np.ptp(img) * 255 + rng.normal(0, 2, img.shape)).clip(0, 255).astype(np.uint8)
    img = Image.fromarray(img)
    from torchvision.transforms.functional import to_tensor
    import torchvision.transforms.functional as TF
    bicubic = TF.InterpolationMode.BICUBIC
    canon = to_tensor(TF.center_crop(TF.resize(img, IMAGENET_SIZE, interpolation=bicubic), IMAGENET_SIZE))[None]
    for name, exact in [('convnext_tiny', True), ('resnet50', False), ('deit_small_patch16_224', False),
                        ('botnet26t_256', False), ('gluon_xception65', False)]:
        spec = get_spec(name)
        seen = []
        probe = torch.nn.Identity()
        probe.register_forward_hook(lambda m, a, out: seen.append(out))
        PixelModel(probe, spec.data_config)(canon)
        ref = timm.data.create_transform(**{k: v for k, v in spec.data_config.items() if k != 'num_classes'})(img)
        ref = ref[None]
        assert seen[0].shape == ref.shape, name
        diff = (seen[0] - ref).abs().mean().item()
        assert diff < (1e-5 if exact else 0.05), (name, diff)

def synset_folder(root: Path, n_classes: int = 1000, per_class: int = 1) -> Path:
    "An ImageNet-style folder of tiny images, one sub-folder per synset."
    rng = np.random.default_rng(0)
    for c in imagenet_synsets()[:n_classes]:
        (root/c).mkdir(parents=True)
        for j in range(per_class):
            Image.fromarray(rng.integers(0, 255, (10, 12, 3), dtype=np.uint8)).save(root/c/f'ILSVRC2012_val_{j}.png')
    return root

@pytest.fixture(scope='module')
def imagenet(tmp_path_factory):
    return synset_folder(tmp_path_factory.mktemp('imagenet')/'val')

N_SAMPLES = 100
# the class of the first image `--n-samples 100` picks from a folder of one image per class
_ONE_PER_CLASS = ImageSet(torch.zeros(1000, 1, 1, 1), torch.arange(1000), torch.arange(1000), ())
TARGET = int(select_samples(_ONE_PER_CLASS, N_SAMPLES).y[0])

@pytest.fixture(scope='module')
def weights(tmp_path_factory):
    "Random weights saved as local checkpoints in three layouts; every head predicts TARGET so X_AB is not empty."
    d = tmp_path_factory.mktemp('weights')
    for i, (name, tname) in enumerate(TINY.items()):
        torch.manual_seed(i)
        net = timm.create_model(tname.split('.')[0])
        head = net.get_classifier()
        with torch.no_grad(): head.weight.mul_(0.01); head.bias.zero_(); head.bias[TARGET] = 4.0
        sd = net.state_dict()
        if i == 0: save_file(sd, str(d/f'{tname}.safetensors'))
        elif i == 1: torch.save(sd, d/f'{tname}.pth')
        else: (d/tname).mkdir(); save_file(sd, str(d/tname/'model.safetensors'))
    return d

def test_offline_weights_load_through_timm(weights):
    m = load_pretrained('tiny_lcnet', weights)
    ref = torch.load(weights/'lcnet_050.ra2_in1k.pth', weights_only=True)
    bias = ref[next(k for k in ref if k.endswith('bias') and ref[k].shape == (1000,))]
    assert torch.equal(m.module.net.get_classifier().bias, bias)
    assert m.source.endswith('lcnet_050.ra2_in1k.pth')

def test_sat_on_pretrained_models_end_to_end(imagenet, weights, tmp_path, tmp_cache):
    top1 = tmp_path/'top1.csv'
    pd.DataFrame({'model': list(TINY), 'top1': [70.0, 60.0, 50.0]}).to_csv(top1, index=False)
    out = tmp_path/'out'
    main(['sat', '--profile', 'tiny-paper', '--data', str(imagenet), '--weights', str(weights), '--n-per-class', '1',
          '--n-samples', str(N_SAMPLES), '--steps', '2', '--expected', str(top1), '--out', str(out)])
    sat = pd.read_csv(out/'sat.csv', index_col=0)
    joint = pd.read_csv(out/'joint.csv', index_col=0)
    transfer = pd.read_csv(out/'transfer.csv', index_col=0)
    for df in (sat, joint, transfer): assert list(df.index) == list(TINY) and list(df.columns) == list(TINY)
    assert (joint.to_numpy() == 1).all()                    # every model is right on the TARGET image only
    np.testing.assert_array_equal(sat.to_numpy(), sat.to_numpy().T)
    assert np.isfinite(sat.to_numpy()).all() and (sat.to_numpy() <= np.log(100) + 1e-9).all()
    meta = json.loads((out/'meta.json').read_text())
    assert meta['n_samples'] == N_SAMPLES and meta['data']['canonical_size'] == 256
    assert meta['data']['size'] == [3, 256, 256]
    assert meta['data']['timm_names'] == TINY and meta['attack']['eps'] == pytest.approx(8 / 255)
    assert meta['clean_accuracy'] == {m: 1.0 for m in TINY} and meta['accuracy_flagged'] == list(TINY)
    assert all(Path(p).exists() for p in meta['data']['weights'].values())
    # the three resolutions were all fed from the same canonical tensors
    assert sorted(get_spec(m).data_config['input_size'][1] for m in TINY) == [160, 224, 256]

def cli_error(argv) -> str:
    with pytest.raises(SystemExit) as e: main(argv)
    return str(e.value.code)

def test_bad_inputs_fail_before_any_attack(imagenet, weights, tmp_path, tmp_cache):
    base = ['sat', '--profile', 'tiny-paper', '--weights', str(weights), '--n-per-class', '1',
            '--out', str(tmp_path/'o')]
    flat = tmp_path/'flat'; flat.mkdir()
    Image.new('RGB', (8, 8)).save(flat/'ILSVRC2012_val_00000001.JPEG')
    assert 'flat folder of images' in cli_error([*base, '--data', str(flat)])
    short = synset_folder(tmp_path/'short', n_classes=999)
    assert '999 class folders, but the models predict 1000' in cli_error([*base, '--data', str(short)])
    partial = tmp_path/'partial'; partial.mkdir()
    (partial/'test_vit.r160_in1k.safetensors').write_bytes((weights/'test_vit.r160_in1k.safetensors').read_bytes())
    msg = cli_error(['sat', '--profile', 'tiny-paper', '--weights', str(partial), '--data', str(imagenet),
                     '--out', str(tmp_path/'o')])
    assert 'for 2 model(s): tiny_lcnet, tiny_mobilevit' in msg and 'lcnet_050.ra2_in1k.safetensors' in msg
    bad_name = cli_error([*base, '--data', str(imagenet), '--models', 'tiny_vitt,tiny_lcnet'])
    assert "unknown model 'tiny_vitt'" in bad_name
    comps = get_spec('resnet50').components
    with pytest.raises(UnknownModelError, match='is not a timm model'):
        register_pretrained('mine', 'resnet_fifty.a1_in1k', comps)
    with pytest.raises(UnknownModelError, match='no pretrained weights under this tag'):
        register_pretrained('mine', 'resnet50.b9_in1k', comps)
    assert not (tmp_cache/'sat').exists() and not (tmp_path/'o').exists()     # nothing was attacked or written

def test_hub_offline_is_respected(tmp_path):
    "Without a weights folder, HF_HUB_OFFLINE=1 and an empty hub cache give one clear error (no network use)."
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'HF_HOME': str(tmp_path/'hf')}
    code = "from simarch.pretrained import load_pretrained; load_pretrained('resnet50')"
    r = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=120)
    msg = ('WeightsError: resnet50: could not load resnet50.a1_in1k from the Hugging Face cache '
           '(HF_HUB_OFFLINE=1)')
    assert r.returncode != 0 and msg in r.stderr, r.stderr[-2000:]

def test_paper_workload_checks_folder_then_weights(imagenet, tmp_path):
    with pytest.raises(DataLayoutError, match='no class sub-folders'):
        load_workload('paper', ['resnet50'], tmp_path, tmp_path)
    with pytest.raises(WeightsError, match='for 1 model\\(s\\): resnet50'):
        load_workload('paper', ['resnet50'], imagenet, tmp_path)

def test_reproduce_runs_the_sections_on_pretrained_models(imagenet, weights, tmp_path):
    "`simarch reproduce` on a profile of your own pretrained models (registered by $SIMARCH_MODELS), fresh kernels."
    csv = tmp_path/'mine.csv'
    pd.DataFrame({'name': ['my_vit', 'my_effnet', 'my_lcnet'], 'profile': 'mine',
                  'timm_name': ['test_vit.r160_in1k', 'test_efficientnet.r160_in1k', 'lcnet_050.ra2_in1k']}
                 ).to_csv(csv, index=False)
    torch.manual_seed(5)
    net = timm.create_model('test_efficientnet')
    head = net.get_classifier()
    with torch.no_grad(): head.weight.mul_(0.01); head.bias.zero_(); head.bias[TARGET] = 4.0
    wdir = tmp_path/'w'; wdir.mkdir()
    for f in ['test_vit.r160_in1k.safetensors', 'lcnet_050.ra2_in1k.pth']:
        (wdir/f).write_bytes((weights/f).read_bytes())
    save_file(net.state_dict(), str(wdir/'test_efficientnet.r160_in1k.safetensors'))
    env = {**os.environ, 'SIMARCH_MODELS': str(csv), 'SIMARCH_CACHE': str(tmp_path/'cache'), 'TQDM_DISABLE': '1'}
    out = tmp_path/'figs'
    r = subprocess.run([sys.executable, '-m', 'simarch', 'reproduce', '--profile', 'mine',
                        '--only', 'zoo,similarity,clustering,ensemble,measures', '--data', str(imagenet),
                        '--weights', str(wdir),
                        '--n-per-class', '1', '--out', str(out)],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    zoo = pd.read_csv(out/'zoo.csv')
    assert list(zoo.model) == ['my_vit', 'my_effnet', 'my_lcnet'] and (zoo.test_acc == 0.001).all()
    assert list(pd.read_csv(out/'sat.csv', index_col=0).index) == list(zoo.model)
    assert len(pd.read_csv(out/'ensemble.csv')) == 2 * 3        # 3 pairs, clean and noisy images
    measures = pd.read_csv(out/'measures.csv')
    assert set(measures.measure) == set(PAIR_MEASURES) and (measures.measure == 'cka').sum() == 3
    assert len(pd.read_csv(out/'measures_leaderboard.csv')) == 2 * (len(PAIR_MEASURES) + 1)   # no distillation

def test_distillation_on_a_class_subset_of_pretrained_models(imagenet, weights, tmp_path, tmp_cache):
    "The paper profile's distillation recipe on tiny models: 10 classes at 64 px, students built for them."
    train = synset_folder(tmp_path/'train', per_class=2)
    grid = DistillGrid(('tiny_vit', 'tiny_lcnet'), ('tiny_mobilevit',), (0,), 2, Recipe(epochs=1, batch_size=8),
                       n_classes=10, image_size=64, test_per_class=1)
    profile = replace(get_profile('tiny-paper'), name='tiny-distill', distill=grid)
    data, teachers, students, classes = distillation_inputs(profile, list(grid.teachers), list(grid.students), 2,
                                                            imagenet, train, weights, n_per_class=1)
    assert classes == even_classes(10) == list(range(0, 1000, 100)) and students == ['tiny_mobilevit-10c-64px']
    assert data.train.x.shape[1:] == (3, 64, 64) and data.train.y.tolist() == sorted(list(range(10)) * 2)
    assert len(data.test) == 10 and data.test.classes == tuple(imagenet_synsets()[c] for c in classes)
    with torch.no_grad(): assert teachers['tiny_vit'].module(data.test.x[:2]).shape == (2, 10)
    assert get_spec(students[0]).build().net.get_classifier().out_features == 10
    table, sat = distill_grid(list(grid.teachers), students, [0], data, None, grid.recipe, profile.attack_with(steps=2),
                              2, teacher_models=teachers)
    assert len(table) == 2 and table.acc_baseline.between(0, 1).all() and table.acc_distilled.between(0, 1).all()
    assert list(sat.index) == ['tiny_vit', 'tiny_lcnet', 'tiny_mobilevit-10c-64px@0']
