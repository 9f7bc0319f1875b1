import shutil
import numpy as np, pytest, torch
from PIL import Image
from simarch.data import DataLayoutError, load_digits, load_image_folder, per_class_subset, scan_image_folder

def make_folder(root, n_classes=4, per_class=3):
    rng = np.random.default_rng(1)
    for c in range(n_classes):
        d = root/f'n{c:08d}'; d.mkdir(parents=True)
        for j in range(per_class):
            Image.fromarray(rng.integers(0, 255, (12, 15, 3), dtype=np.uint8)).save(d/f'{j}.JPEG')
    return root

def test_missing_folder(tmp_path):
    msg = r'nope: no such folder; expected an image folder with one sub-folder per class'
    with pytest.raises(DataLayoutError, match=msg):
        scan_image_folder(tmp_path/'nope')

def test_flat_folder(tmp_path):
    for j in range(3): Image.new('RGB', (8, 8)).save(tmp_path/f'ILSVRC2012_val_{j:08d}.JPEG')
    with pytest.raises(DataLayoutError, match=r'flat folder of images \(3 images.*expected one sub-folder per class'):
        load_image_folder(tmp_path)

def test_images_beside_class_folders(tmp_path):
    make_folder(tmp_path, 2); Image.new('RGB', (8, 8)).save(tmp_path/'stray.png')
    with pytest.raises(DataLayoutError, match='images beside class folders'):
        scan_image_folder(tmp_path)

def test_class_count_mismatch(tmp_path):
    make_folder(tmp_path, 4)
    with pytest.raises(DataLayoutError, match=str(tmp_path) + r': 4 class folders, but the models predict 10 classes'):
        load_image_folder(tmp_path, n_classes=10)

def test_empty_class_folder(tmp_path):
    make_folder(tmp_path, 2); (tmp_path/'n99999999').mkdir()
    with pytest.raises(DataLayoutError, match='n99999999: class folder without images'):
        scan_image_folder(tmp_path)

def test_unreadable_image(tmp_path):
    make_folder(tmp_path, 3)
    (tmp_path/'n00000002'/'1.JPEG').write_bytes(b'\x00' * 50)
    with pytest.raises(DataLayoutError, match=r'n00000002/1.JPEG: unreadable image'):
        load_image_folder(tmp_path, size=8)

def test_folder_subset_is_deterministic_and_ids_stable(tmp_path):
    make_folder(tmp_path, 4, per_class=5)
    a, b = load_image_folder(tmp_path, 8, n_per_class=2, seed=3), load_image_folder(tmp_path, 8, n_per_class=2, seed=3)
    assert torch.equal(a.x, b.x) and torch.equal(a.ids, b.ids)
    full = load_image_folder(tmp_path, 8)
    assert torch.equal(full.x[a.ids], a.x) and torch.equal(full.y[a.ids], a.y)   # ids index the full folder
    assert a.y.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]

def test_digits_split():
    d = load_digits(size=32)
    assert (len(d.train), len(d.test)) == (1437, 360)
    assert d.train.x.dtype == torch.float32 and d.train.x.shape[1:] == (1, 32, 32)
    assert np.bincount(d.test.y.numpy()).min() >= 35
    assert torch.equal(load_digits(size=32).test.x, d.test.x)

def test_per_class_subset_errors():
    with pytest.raises(ValueError, match='n_per_class must be >= 1'): per_class_subset(torch.tensor([0, 1]), 0)

def test_a_flipped_byte_in_the_image_cache_is_decoded_again(tmp_path, tmp_cache):
    make_folder(tmp_path/'imgs', 3, per_class=2)
    first = load_image_folder(tmp_path/'imgs', 8)
    cached, = (tmp_cache/'images').glob('*.safetensors')
    data = bytearray(cached.read_bytes()); data[-1] ^= 1; cached.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match=cached.name):
        second = load_image_folder(tmp_path/'imgs', 8)
    assert torch.equal(first.x, second.x) and first.fingerprint == second.fingerprint

def test_an_image_cache_file_of_another_subset_is_decoded_again(tmp_path, tmp_cache):
    make_folder(tmp_path/'imgs', 3, per_class=3)
    one, two = load_image_folder(tmp_path/'imgs', 8, n_per_class=1), load_image_folder(tmp_path/'imgs', 8, n_per_class=2)
    small, large = sorted((tmp_cache/'images').glob('*.safetensors'), key=lambda p: p.stat().st_size)
    shutil.copy(large, small)                  # a valid cache file, under the name of another entry
    with pytest.warns(UserWarning, match=f'{small.name}: written as the cache entry images/{large.name}'):
        again = load_image_folder(tmp_path/'imgs', 8, n_per_class=1)
    assert torch.equal(again.x, one.x) and len(two.x) == 2 * len(one.x)
