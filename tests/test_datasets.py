import urllib.request

import pytest
from omegaconf import OmegaConf

from bench.data import datasets
from bench.core.errors import BenchError
from tests.helpers import write_photos


def cfg(**kw):
    return OmegaConf.create(kw)


def test_builtin_photos_ship_with_scikit_image():
    refs = datasets.resolve(cfg(name="builtin", kind="builtin", files=["astronaut.png", "chelsea.png"], limit=None))
    assert [r.name for r in refs] == ["astronaut", "chelsea"] and all(len(r.sha256) == 64 for r in refs)


def test_folder_glob_and_limit(tmp_path):
    write_photos(tmp_path / "a")
    write_photos(tmp_path / "a" / "sub")
    flat = datasets.resolve(cfg(name="folder", kind="folder", root=str(tmp_path / "a"), glob="*.png", limit=None))
    deep = datasets.resolve(cfg(name="folder", kind="folder", root=str(tmp_path / "a"), glob="**/*.png", limit=None))
    limited = datasets.resolve(cfg(name="folder", kind="folder", root=str(tmp_path / "a"), glob="**/*.png", limit=3))
    assert [r.name for r in flat] == ["p0", "p1"]
    assert [r.name for r in deep] == ["p0", "p1", "sub/p0", "sub/p1"]
    assert limited == deep[:3]


def test_manifest_checks_every_file(tmp_path):
    write_photos(tmp_path / "img")
    from bench.core.files import sha256_file

    good = sha256_file(tmp_path / "img" / "p0.png")
    (tmp_path / "m.csv").write_text(f"file,url,sha256,width,height\np0.png,,{good},96,64\np1.png,,{'0' * 64},97,65\n")
    c = cfg(name="mine", kind="manifest", manifest=str(tmp_path / "m.csv"), root=str(tmp_path / "img"), cache=None, limit=None)
    with pytest.raises(BenchError, match=r"p1.png has sha256 .* manifest says 000000000000"):
        datasets.resolve(c)


def test_kodak_from_local_folder(kodak_dir):
    refs = datasets.resolve(cfg(name="kodak", kind="manifest", manifest="kodak.csv", root=str(kodak_dir), cache=None, limit=None))
    assert len(refs) == 24 and refs[0].name == "kodim01" and refs[-1].name == "kodim24"


def test_kodak_offline_says_what_to_do(tmp_path, monkeypatch):
    def offline(*a, **k):
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    c = cfg(name="kodak", kind="manifest", manifest="kodak.csv", root=None, cache=str(tmp_path / "cache"), limit=None)
    with pytest.raises(BenchError, match=r"cannot download http://r0k.us/graphics/kodak/kodak/kodim01.png .*dataset.root="):
        datasets.resolve(c)
    assert not list((tmp_path / "cache").glob("*.png"))  # nothing half-written


def test_download_is_checked_and_atomic(tmp_path, monkeypatch, kodak_dir):
    """A download whose bytes differ from the manifest is refused and leaves no file behind."""
    import io

    def fake(url, timeout=60):
        return io.BytesIO(b"corrupted download")

    monkeypatch.setattr(urllib.request, "urlopen", fake)
    c = cfg(name="kodak", kind="manifest", manifest="kodak.csv", root=None, cache=str(tmp_path / "cache"), limit=None)
    with pytest.raises(BenchError, match="sha256"):
        datasets.resolve(c)
    assert not list((tmp_path / "cache").iterdir())
