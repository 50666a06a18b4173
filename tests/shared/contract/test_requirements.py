from __future__ import annotations

import os
from pathlib import Path

import pytest

from shared.contract.requirements import FlatRequirements, flatten_requirements
from shared.core.errors import PackageError


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith("/"):
            p.mkdir(exist_ok=True)
        elif isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
    return root


VALID = [
    # (files, requirements, options, constraints, files read)
    ("plain list with comments and blanks",
     {"requirements.txt": "# deps\nnumpy>=1.23.5\n\npillow>=10.3.0  # imaging\nopencv-python>=4.1.1\n"},
     ["numpy>=1.23.5", "pillow>=10.3.0", "opencv-python>=4.1.1"], [], [], ["requirements.txt"]),
    ("contract example: -r includes, relative to the including file",
     {"requirements.txt": "-r requirements/base.txt\n-r requirements/production.txt\n",
      "requirements/base.txt": "torch==2.1.0\n-r optional.txt\n",
      "requirements/optional.txt": "tqdm\n",
      "requirements/production.txt": "mmengine>=0.7\n"},
     ["torch==2.1.0", "tqdm", "mmengine>=0.7"], [], [],
     ["requirements.txt", "requirements/base.txt", "requirements/optional.txt", "requirements/production.txt"]),
    ("all include spellings",
     {"requirements.txt": "--requirement a.txt\n--requirement=b.txt\n-rc.txt\n-r=d.txt\n",
      "a.txt": "a\n", "b.txt": "b\n", "c.txt": "c\n", "d.txt": "d\n"},
     ["a", "b", "c", "d"], [], [], ["requirements.txt", "a.txt", "b.txt", "c.txt", "d.txt"]),
    ("constraints, nested -r inside a constraints file is a constraint too",
     {"requirements.txt": "numpy\n-c constraints.txt\n--constraint=more.txt\n",
      "constraints.txt": "numpy<2\n-r pins.txt\n", "pins.txt": "torch==2.1.0\n", "more.txt": "pillow<11\n"},
     ["numpy"], [], ["numpy<2", "torch==2.1.0", "pillow<11"],
     ["requirements.txt", "constraints.txt", "pins.txt", "more.txt"]),
    ("dedupe keeps first; diamond includes are read once",
     {"requirements.txt": "numpy\n-r a.txt\n-r b.txt\nnumpy\n", "a.txt": "-r common.txt\nscipy\n",
      "b.txt": "-r common.txt\nnumpy\n", "common.txt": "pyyaml\n"},
     ["numpy", "pyyaml", "scipy"], [], [], ["requirements.txt", "a.txt", "common.txt", "b.txt"]),
    ("index options kept separately, in long form",
     {"requirements.txt": "-i https://pypi.tuna.tsinghua.edu.cn/simple\n--extra-index-url https://x.org/simple\n"
                          "--index-url=https://y.org/simple\n--pre\n--trusted-host x.org\ntorch\n"},
     ["torch"],
     ["--index-url https://pypi.tuna.tsinghua.edu.cn/simple", "--extra-index-url https://x.org/simple",
      "--index-url https://y.org/simple", "--pre", "--trusted-host x.org"], [], ["requirements.txt"]),
    ("line continuations and inline comments",
     {"requirements.txt": "numpy \\\n    >=1.23 \\\n    # not a comment continuation\nrequests==2.31 # pinned\n"
                          "pkg#name\n"},
     ["numpy     >=1.23", "requests==2.31", "pkg#name"], [], [], ["requirements.txt"]),
    ("hashes and markers are kept verbatim",
     {"requirements.txt": "six==1.16.0 --hash=sha256:abc\ncolorama; sys_platform == 'win32'\n"},
     ["six==1.16.0 --hash=sha256:abc", "colorama; sys_platform == 'win32'"], [], [], ["requirements.txt"]),
    ("local paths inside the package stay as they are",
     {"requirements.txt": "-e .\n./libs/mylib\nwheels/tool-1.0-py3-none-any.whl\nlib2 @ file:./libs/lib2\n"
                          "-f wheels\n",
      "setup.py": "", "libs/mylib/setup.py": "", "libs/lib2/setup.py": "",
      "wheels/tool-1.0-py3-none-any.whl": ""},
     ["-e .", "./libs/mylib", "wheels/tool-1.0-py3-none-any.whl", "lib2 @ file:./libs/lib2"],
     ["--find-links wheels"], [], ["requirements.txt"]),
    ("find-links relative to the including file",
     {"requirements.txt": "-r reqs/base.txt\n", "reqs/base.txt": "--find-links ../wheels\nfoo\n", "wheels/": ""},
     ["foo"], ["--find-links wheels"], [], ["requirements.txt", "reqs/base.txt"]),
    ("remote requirements pass through",
     {"requirements.txt": "git+https://github.com/open-mmlab/mmdetection.git@v3.3.0\n"
                          "pkg @ https://example.org/pkg-1.0.tar.gz\n-e git+https://x.org/r.git#egg=r\n"},
     ["git+https://github.com/open-mmlab/mmdetection.git@v3.3.0", "pkg @ https://example.org/pkg-1.0.tar.gz",
      "-e git+https://x.org/r.git#egg=r"], [], [], ["requirements.txt"]),
    ("UTF-8 BOM and CRLF line endings (Windows Notepad)",
     {"requirements.txt": b"\xef\xbb\xbfnumpy\r\n-r base.txt\r\n", "base.txt": b"scipy\r\n"},
     ["numpy", "scipy"], [], [], ["requirements.txt", "base.txt"]),
    ("UTF-16 with BOM",
     {"requirements.txt": "numpy\nscipy\n".encode("utf-16")}, ["numpy", "scipy"], [], [], ["requirements.txt"]),
    ("empty file", {"requirements.txt": ""}, [], [], [], ["requirements.txt"]),
]


@pytest.mark.parametrize(("files", "reqs", "opts", "cons", "read"), [v[1:] for v in VALID], ids=[v[0] for v in VALID])
def test_valid(tmp_path: Path, files, reqs, opts, cons, read) -> None:
    flat = flatten_requirements(package_root=write_tree(tmp_path, files))
    assert flat.requirements == reqs
    assert flat.options == opts
    assert flat.constraints == cons
    assert flat.files == read
    assert FlatRequirements.from_dict(flat.to_dict()) == flat


INVALID = [
    ("missing include",
     {"requirements.txt": "numpy\n-r requirements/base.txt\n"},
     ["requirements.txt line 2", "requirements/base.txt", "does not exist in the package", "add the file"]),
    ("missing nested include names the nested file and line",
     {"requirements.txt": "-r requirements/base.txt\n", "requirements/base.txt": "a\nb\n-r prod.txt\n"},
     ["requirements/base.txt line 3", "-r prod.txt", "requirements/prod.txt"]),
    ("include outside via ..",
     {"requirements.txt": "-r ../secret.txt\n"}, ["requirements.txt line 1", "outside the package"]),
    ("absolute include",
     {"requirements.txt": "x\n\n-r /etc/passwd\n"}, ["requirements.txt line 3", "absolute path"]),
    ("URL include",
     {"requirements.txt": "-r https://example.org/req.txt\n"}, ["requirements.txt line 1", "URL",
                                                                "Download the file"]),
    ("URL constraint",
     {"requirements.txt": "-c https://example.org/c.txt\n"}, ["requirements.txt line 1", "URL"]),
    ("include is a folder",
     {"requirements.txt": "-r requirements\n", "requirements/": ""}, ["is a folder"]),
    ("cycle",
     {"requirements.txt": "-r a.txt\n", "a.txt": "x\n-r sub/b.txt\n", "sub/b.txt": "-r ../requirements.txt\n"},
     ["sub/b.txt line 1", "include cycle", "requirements.txt -> a.txt -> sub/b.txt -> requirements.txt"]),
    ("self include",
     {"requirements.txt": "numpy\n-r requirements.txt\n"}, ["requirements.txt line 2", "include cycle"]),
    ("editable outside the package",
     {"requirements.txt": "-e ..\n"}, ["requirements.txt line 1", "`-e ..`", "outside the package"]),
    ("local path outside the package",
     {"requirements.txt": "numpy\n../other/pkg\n"}, ["requirements.txt line 2", "outside the package"]),
    ("absolute local path",
     {"requirements.txt": "/opt/wheels/x.whl\n"}, ["requirements.txt line 1", "absolute path"]),
    ("file URL outside",
     {"requirements.txt": "x @ file:///opt/x\n"}, ["requirements.txt line 1", "absolute path"]),
    ("local path that does not exist",
     {"requirements.txt": "./libs/missing\n"}, ["requirements.txt line 1", "does not exist"]),
    ("find-links outside",
     {"requirements.txt": "--find-links /tmp/wheels\n"}, ["requirements.txt line 1", "outside the package"]),
    ("unknown option",
     {"requirements.txt": "numpy\n--frobnicate\n"}, ["requirements.txt line 2", "unknown option `--frobnicate`"]),
    ("-r without a file",
     {"requirements.txt": "-r\n"}, ["requirements.txt line 1", "needs a file name"]),
    ("continued line reports its first line",
     {"requirements.txt": "a\n-r \\\n  missing.txt\n"}, ["requirements.txt line 2", "missing.txt"]),
    ("not UTF-8",
     {"requirements.txt": b"numpy\n# caf\xe9\n"}, ["requirements.txt line 2", "not UTF-8", "save it with UTF-8"]),
    ("unbalanced quotes in an option line",
     {"requirements.txt": "-r 'a.txt\n"}, ["requirements.txt line 1", "quotes"]),
]


@pytest.mark.parametrize(("files", "words"), [v[1:] for v in INVALID], ids=[v[0] for v in INVALID])
def test_invalid(tmp_path: Path, files, words) -> None:
    root = tmp_path / "pkg"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("x\n")
    write_tree(root, files)
    with pytest.raises(PackageError) as exc:
        flatten_requirements(package_root=root)
    for w in words:
        assert w in str(exc.value)


def test_symlink_escape(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    write_tree(root, {"requirements.txt": "-r reqs/base.txt\n"})
    (tmp_path / "outside.txt").write_text("evil\n")
    (root / "reqs").mkdir()
    os.symlink(tmp_path / "outside.txt", root / "reqs" / "base.txt")
    with pytest.raises(PackageError, match=r"requirements.txt line 1: .*outside the package"):
        flatten_requirements(package_root=root)


def test_missing_top_file(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="no requirements.txt"):
        flatten_requirements(package_root=tmp_path)


def test_other_top_filename(tmp_path: Path) -> None:
    write_tree(tmp_path, {"reqs-dev.txt": "pytest\n-r reqs.txt\n", "reqs.txt": "numpy\n"})
    flat = flatten_requirements(package_root=tmp_path, filename="reqs-dev.txt")
    assert flat.requirements == ["pytest", "numpy"]
    assert flat.files == ["reqs-dev.txt", "reqs.txt"]
