from __future__ import annotations

import os
import stat
import struct
import warnings
import zipfile
from pathlib import Path

import pytest

from shared.contract.archive import ArchiveLimits, is_junk, safe_extract
from shared.contract.package import list_tree
from shared.core.errors import ArchiveError
from shared.core.settings import Settings

LIMITS = ArchiveLimits(max_compressed_bytes=None, max_uncompressed_bytes=None, max_entries=1000, max_ratio=200.0)


def make_zip(path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]],
             method: int = zipfile.ZIP_DEFLATED) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names some tests need
        with zipfile.ZipFile(path, "w", compression=method) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    return path


def info(name: str, mode: int) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name)
    zi.create_system = 3
    zi.external_attr = mode << 16
    return zi


def patch_central(path: Path, *, flags: int | None = None, method: int | None = None,
                  file_size: int | None = None) -> None:
    """Forge fields of every central-directory and local header (what a hostile tool could write)."""
    data = bytearray(path.read_bytes())
    for sig, flag_at, method_at, usize_at in ((b"PK\x01\x02", 8, 10, 24), (b"PK\x03\x04", 6, 8, 22)):
        start = 0
        while (i := data.find(sig, start)) >= 0:
            if flags is not None:
                struct.pack_into("<H", data, i + flag_at, struct.unpack_from("<H", data, i + flag_at)[0] | flags)
            if method is not None:
                struct.pack_into("<H", data, i + method_at, method)
            if file_size is not None:
                struct.pack_into("<I", data, i + usize_at, file_size)
            start = i + 4
    path.write_bytes(bytes(data))


@pytest.fixture
def out(tmp_path: Path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


def assert_nothing_left(out: Path) -> None:
    assert sorted(os.listdir(out)) == []


HOSTILE = [
    # (entries, expected words in the message)
    ([("../evil.txt", b"x")], ["'../evil.txt'", "'..'"]),
    ([("a/../../evil.txt", b"x")], ["a/../../evil.txt", "'..'"]),
    ([("/abs/evil.txt", b"x")], ["/abs/evil.txt", "absolute path"]),
    ([("C:/evil.txt", b"x")], ["C:/evil.txt", "drive letter"]),
    ([("C:\\evil.txt", b"x")], ["drive letter"]),
    ([("..\\..\\evil.txt", b"x")], ["'..'"]),
    ([("ok\\..\\..\\evil.txt", b"x")], ["'..'"]),
    ([("\\abs\\evil.txt", b"x")], ["absolute path"]),
    ([("bad\nname.txt", b"x")], ["control characters"]),
    ([(info("link", 0o120777), b"/etc/passwd")], ["'link'", "symbolic link"]),
    ([("a.txt", b"x"), (info("data/link", 0o120777), b"../../x")], ["'data/link'", "symbolic link"]),
    ([(info("fifo", 0o010644), b"")], ["'fifo'", "named pipe"]),
    ([(info("dev", 0o020644), b"")], ["'dev'", "character device"]),
    ([(info("blk", 0o060644), b"")], ["'blk'", "block device"]),
    ([("a.txt", b"1"), ("a.txt", b"2")], ["'a.txt'", "appears twice"]),
    ([("Data/A.txt", b"1"), ("Data/a.txt", b"2")], ["Data/A.txt", "Data/a.txt", "upper/lower case"]),
    ([("Images/x.jpg", b"1"), ("images/y.jpg", b"2")], ["'Images/x.jpg' and 'images/y.jpg'", "upper/lower case"]),
    ([("x", b"1"), ("x/y.txt", b"2")], ["'x/y.txt'", "both as a file and as a folder"]),
    ([("x/y.txt", b"2"), ("x", b"1")], ["'x'", "both as a file and as a folder"]),
]


@pytest.mark.parametrize(("entries", "words"), HOSTILE, ids=[str(i) for i in range(len(HOSTILE))])
def test_hostile_entries_are_refused_and_leave_nothing(tmp_path: Path, out: Path, entries, words) -> None:
    z = make_zip(tmp_path / "up.zip", entries)
    with pytest.raises(ArchiveError) as exc:
        safe_extract(zip_path=z, dest=out / "ds", limits=LIMITS)
    for w in words:
        assert w in str(exc.value)
    assert_nothing_left(out)


def test_not_a_zip(tmp_path: Path, out: Path) -> None:
    z = tmp_path / "notes.zip"
    z.write_text("this is plain text, not a zip")
    with pytest.raises(ArchiveError, match=r"^notes.zip is not a zip archive"):
        safe_extract(zip_path=z, dest=out / "ds", limits=LIMITS)
    assert_nothing_left(out)


def test_truncated_zip(tmp_path: Path, out: Path) -> None:
    z = make_zip(tmp_path / "up.zip", [("a.txt", os.urandom(4000))])
    z.write_bytes(z.read_bytes()[:1500])
    with pytest.raises(ArchiveError, match="not a zip archive"):
        safe_extract(zip_path=z, dest=out / "ds", limits=LIMITS)
    assert_nothing_left(out)


def test_empty_zip_and_junk_only_zip(tmp_path: Path, out: Path) -> None:
    for entries in ([], [("__MACOSX/._a", b"x"), (".DS_Store", b"x")]):
        z = make_zip(tmp_path / "up.zip", entries)
        with pytest.raises(ArchiveError, match="contains no files"):
            safe_extract(zip_path=z, dest=out / "ds", limits=LIMITS)
        assert_nothing_left(out)


def test_encrypted_entry(tmp_path: Path, out: Path) -> None:
    z = make_zip(tmp_path / "up.zip", [("secret.txt", b"x" * 100)], method=zipfile.ZIP_STORED)
    patch_central(z, flags=0x1)
    with pytest.raises(ArchiveError, match=r"'secret.txt' is encrypted"):
        safe_extract(zip_path=z, dest=out / "ds", limits=LIMITS)
    assert_nothing_left(out)


def test_unsupported_compression_is_named(tmp_path: Path, out: Path) -> None:
    z = make_zip(tmp_path / "up.zip", [("big.bin", b"x" * 100)])
    patch_central(z, method=9)
    with pytest.raises(ArchiveError, match=r"'big.bin' is compressed with Deflate64"):
        safe_extract(zip_path=z, dest=out / "ds", limits=LIMITS)
    assert_nothing_left(out)


def test_too_many_entries(tmp_path: Path, out: Path) -> None:
    z = make_zip(tmp_path / "up.zip", [(f"f{i}.txt", b"x") for i in range(5)])
    limits = ArchiveLimits(max_compressed_bytes=None, max_uncompressed_bytes=None, max_entries=4, max_ratio=200)
    with pytest.raises(ArchiveError, match=r"up.zip has 5 entries; the limit is 4"):
        safe_extract(zip_path=z, dest=out / "ds", limits=limits)
    assert_nothing_left(out)


def test_upload_size_limit(tmp_path: Path, out: Path) -> None:
    z = make_zip(tmp_path / "up.zip", [("a.bin", os.urandom(5000))])
    limits = ArchiveLimits(max_compressed_bytes=1000, max_uncompressed_bytes=None, max_entries=10, max_ratio=200)
    with pytest.raises(ArchiveError, match=r"uploads are limited to 1000 B"):
        safe_extract(zip_path=z, dest=out / "ds", limits=limits)
    assert_nothing_left(out)


def test_declared_uncompressed_limit(tmp_path: Path, out: Path) -> None:
    z = make_zip(tmp_path / "up.zip", [("a.bin", b"a" * 3000), ("b.bin", b"b" * 3000)])
    limits = ArchiveLimits(max_compressed_bytes=None, max_uncompressed_bytes=5000, max_entries=10, max_ratio=200)
    with pytest.raises(ArchiveError, match=r"unpacks to more than 4.9 KiB \(reached at entry 'b.bin'\)"):
        safe_extract(zip_path=z, dest=out / "ds", limits=limits)
    assert_nothing_left(out)


def test_zip_bomb_entry_ratio(tmp_path: Path, out: Path) -> None:
    z = make_zip(tmp_path / "bomb.zip", [("readme.txt", b"hi"), ("zeros.bin", bytes(50 * 1024 * 1024))])
    assert z.stat().st_size < 200_000
    with pytest.raises(ArchiveError, match=r"'zeros.bin' expands .* zip bomb"):
        safe_extract(zip_path=z, dest=out / "ds", limits=LIMITS)
    assert_nothing_left(out)


def test_small_well_compressed_files_are_not_bombs(tmp_path: Path, out: Path) -> None:
    # 1 MiB of spaces compresses ~1000:1 but is far below the floor where ratios mean anything.
    z = make_zip(tmp_path / "up.zip", [("pad.json", b" " * (1024 * 1024))])
    res = safe_extract(zip_path=z, dest=out / "ds", limits=LIMITS)
    assert res.bytes == 1024 * 1024


def test_overall_ratio_over_many_entries(tmp_path: Path, out: Path) -> None:
    # Each entry stays under the per-entry floor; together they are a bomb.
    z = make_zip(tmp_path / "up.zip", [(f"z{i}.bin", bytes(2 * 1024 * 1024)) for i in range(8)])
    limits = ArchiveLimits(max_compressed_bytes=None, max_uncompressed_bytes=None, max_entries=100,
                           max_ratio=200, ratio_floor_bytes=4 * 1024 * 1024)
    with pytest.raises(ArchiveError, match=r"up.zip would unpack 16 MiB .* zip bomb"):
        safe_extract(zip_path=z, dest=out / "ds", limits=limits)
    assert_nothing_left(out)


def test_forged_declared_size_is_not_trusted(tmp_path: Path, out: Path) -> None:
    # The headers claim 100 bytes; the stream holds 5 MB. Extraction must not write past the claim.
    z = make_zip(tmp_path / "up.zip", [("a.txt", b"ok"), ("big.bin", bytes(5 * 1024 * 1024))])
    data = bytearray(z.read_bytes())
    for sig, usize_at in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        i = data.rfind(sig)
        struct.pack_into("<I", data, i + usize_at, 100)
    z.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=r"'big.bin'.*(corrupt|more data)"):
        safe_extract(zip_path=z, dest=out / "ds", limits=LIMITS)
    assert_nothing_left(out)


def test_corrupt_data_is_reported_with_entry(tmp_path: Path, out: Path) -> None:
    z = make_zip(tmp_path / "up.zip", [("a.bin", os.urandom(20000))], method=zipfile.ZIP_STORED)
    data = bytearray(z.read_bytes())
    data[100:200] = bytes(100)
    z.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=r"'a.bin' is corrupt"):
        safe_extract(zip_path=z, dest=out / "ds", limits=LIMITS)
    assert_nothing_left(out)


def test_dest_must_not_exist(tmp_path: Path, out: Path) -> None:
    z = make_zip(tmp_path / "up.zip", [("a.txt", b"x")])
    (out / "ds").mkdir()
    with pytest.raises(ArchiveError, match="already exists"):
        safe_extract(zip_path=z, dest=out / "ds", limits=LIMITS)
    assert sorted(os.listdir(out)) == ["ds"]
    assert os.listdir(out / "ds") == []


def test_progress_error_cleans_up(tmp_path: Path, out: Path) -> None:
    z = make_zip(tmp_path / "up.zip", [("a.txt", b"x")])

    def cancel(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        safe_extract(zip_path=z, dest=out / "ds", limits=LIMITS, progress=cancel)
    assert_nothing_left(out)


def test_unwraps_single_top_folder_and_skips_junk(tmp_path: Path, out: Path) -> None:
    z = make_zip(tmp_path / "up.zip", [
        ("data/", b""),
        ("data/annotations/train.json", b"{}"),
        ("data/images/train/example1.jpg", b"jpg"),
        ("data/.DS_Store", b"junk"),
        ("data/images/Thumbs.db", b"junk"),
        ("__MACOSX/data/._annotations", b"junk"),
        (".DS_Store", b"junk"),
    ])
    res = safe_extract(zip_path=z, dest=out / "ds", limits=LIMITS)
    assert res.root == out / "ds"
    assert res.unwrapped == "data"
    assert res.files == 2 and res.bytes == 5
    assert list_tree(res.root) == ["annotations/", "annotations/train.json", "images/", "images/train/",
                                   "images/train/example1.jpg"]
    assert sorted(os.listdir(out)) == ["ds"]


@pytest.mark.parametrize(("names", "unwrapped", "tree"), [
    (["a/x.txt", "b/y.txt"], None, ["a/", "a/x.txt", "b/", "b/y.txt"]),
    (["train.py"], None, ["train.py"]),
    (["pkg/train.py", "readme.md"], None, ["pkg/", "pkg/train.py", "readme.md"]),
    (["pkg/sub/train.py"], "pkg", ["sub/", "sub/train.py"]),
    (["pkg\\weights\\a.pt", "pkg\\train.py"], "pkg", ["train.py", "weights/", "weights/a.pt"]),
    (["./pkg/train.py"], "pkg", ["train.py"]),
])
def test_root_unwrapping_rule(tmp_path: Path, out: Path, names, unwrapped, tree) -> None:
    z = make_zip(tmp_path / "up.zip", [(n, b"x") for n in names])
    res = safe_extract(zip_path=z, dest=out / "ds", limits=LIMITS)
    assert res.unwrapped == unwrapped
    assert list_tree(res.root) == tree
    assert sorted(os.listdir(out)) == ["ds"]


def test_permissions_are_normalised(tmp_path: Path, out: Path) -> None:
    z = make_zip(tmp_path / "up.zip", [
        (info("run.sh", 0o104777), b"#!/bin/sh\n"),  # setuid, world-writable
        (info("secret/", 0o040700), b""),
        (info("secret/key", 0o100600), b"k"),
    ])
    res = safe_extract(zip_path=z, dest=out / "ds", limits=LIMITS)
    assert stat.S_IMODE((res.root / "run.sh").stat().st_mode) == 0o644
    assert stat.S_IMODE((res.root / "secret").stat().st_mode) == 0o755
    assert stat.S_IMODE((res.root / "secret" / "key").stat().st_mode) == 0o644
    assert stat.S_IMODE(res.root.stat().st_mode) == 0o755


def test_streams_large_entries_and_reports_progress(tmp_path: Path, out: Path) -> None:
    payload = os.urandom(3 * 1024 * 1024)
    z = make_zip(tmp_path / "up.zip", [("a.bin", payload), ("b.bin", payload[:1000])], method=zipfile.ZIP_STORED)
    calls: list[tuple[int, int]] = []
    res = safe_extract(zip_path=z, dest=out / "ds", limits=LIMITS, progress=lambda d, t: calls.append((d, t)))
    total = len(payload) + 1000
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert (res.root / "a.bin").read_bytes() == payload
    assert res.bytes == total and res.files == 2


def test_bzip2_and_lzma_entries(tmp_path: Path, out: Path) -> None:
    for method in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        z = make_zip(tmp_path / f"up{method}.zip", [("a.txt", b"hello" * 100)], method=method)
        res = safe_extract(zip_path=z, dest=out / f"ds{method}", limits=LIMITS)
        assert (res.root / "a.txt").read_bytes() == b"hello" * 100


@pytest.mark.parametrize(("name", "junk"), [
    ("__MACOSX/", True), ("__MACOSX/data/._x.jpg", True), ("a/.DS_Store", True), (".DS_Store", True),
    ("Thumbs.db", True), ("x/thumbs.db", True), ("._train.py", True), ("a/._b", True),
    ("train.py", False), (".gitignore", False), ("data/_x.jpg", False), ("weights/", False),
    ("macosx/a", False),
])
def test_is_junk(name: str, junk: bool) -> None:
    assert is_junk(name) is junk


def test_list_tree_truncates(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"f{i}.txt").write_text("x")
    (tmp_path / "d").mkdir()
    assert list_tree(tmp_path, max_entries=3) == ["d/", "f0.txt", "f1.txt", "... (3 more entries)"]


def test_limits_from_settings(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, max_upload_bytes="1GiB", max_uncompressed_bytes="2GiB", max_entries=7,
                 max_compression_ratio=50)
    lim = ArchiveLimits.from_settings(s)
    assert lim == ArchiveLimits(max_compressed_bytes=1024**3, max_uncompressed_bytes=2 * 1024**3,
                                max_entries=7, max_ratio=50.0)


@pytest.mark.parametrize("encoding", ["gbk", "utf-8"])
def test_names_without_utf8_flag_are_decoded(tmp_path: Path, out: Path, encoding: str) -> None:
    # Windows Explorer (Chinese locale) writes GBK names, macOS/Linux tools UTF-8, both without the UTF-8 flag.
    real = "数据/训练.txt"
    raw = real.encode(encoding)
    placeholder = "d" * raw.index(b"/") + "/" + "x" * (len(raw) - raw.index(b"/") - 5) + ".txt"
    assert len(placeholder.encode()) == len(raw)
    z = make_zip(tmp_path / "up.zip", [(placeholder, b"hello"), ("other.txt", b"x")])
    z.write_bytes(z.read_bytes().replace(placeholder.encode(), raw))
    res = safe_extract(zip_path=z, dest=out / "ds", limits=LIMITS)
    assert (res.root / "数据" / "训练.txt").read_bytes() == b"hello"
