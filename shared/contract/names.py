"""The custom-model contract's names, declared once (CONTRACT §1, §2).

Every module that needs a flag, a global variable, a package file name, a
forbidden install-script command, an image extension or an OS junk name
imports it from here, so that a change to the contract is one edit.
Only names live here: no logic, no imports of the platform.
"""

from __future__ import annotations

# --------------------------------------------------------------------------- datasets (§1)

SPLITS: tuple[str, ...] = ("train", "val", "test")

# §1.2: "jpg, jpeg, png, bmp, tif, tiff, webp (case-insensitive)".
IMAGE_EXTS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

# §1.1's "OS junk": never data, never extracted. Compared case-sensitively by the
# dataset walker and case-insensitively by the archive reader (zips from Windows).
JUNK_DIRS: frozenset[str] = frozenset({"__MACOSX"})
JUNK_FILES: frozenset[str] = frozenset({".DS_Store", "Thumbs.db", "desktop.ini", "ehthumbs.db"})
APPLEDOUBLE_PREFIX = "._"  # macOS resource-fork twins of real files ("._photo.jpg")

# --------------------------------------------------------------------------- model packages (§2)

TRAIN_SCRIPT = "train.py"
PREDICT_SCRIPT = "predict.py"
REQUIREMENTS_FILE = "requirements.txt"
WEIGHTS_DIR = "weights"
INSTALL_SCRIPT = "install_dependencies.sh"

# §2.3, platform-set arguments of train.py.
WORK_DIR_FLAG = "--work-dir"
DATA_FLAG = "--data"
SPLIT_DATA_FLAGS: dict[str, str] = {s: f"--{s}-data" for s in SPLITS}    # --train-data, --val-data, ...
SPLIT_LABEL_FLAGS: dict[str, str] = {s: f"--{s}-label" for s in SPLITS}  # --train-label, ...
TRAIN_DATA_FLAG = SPLIT_DATA_FLAGS["train"]
LABEL_CLASS_FLAG = "--label-class"
LABEL_CLASS_COUNT_FLAG = "--label-class-count"
# The flags that carry dataset values: the dataset root, each split's data and label, the class map.
DATASET_FLAGS: tuple[str, ...] = (
    DATA_FLAG,
    *SPLIT_DATA_FLAGS.values(),
    *SPLIT_LABEL_FLAGS.values(),
    LABEL_CLASS_FLAG,
    LABEL_CLASS_COUNT_FLAG,
)
# The dataset's YOLO view (shared/contract/datasets/yolo.py): its data.yaml, as runs see it.
# Built only for a script that asks for it; --data keeps meaning the dataset root.
DATA_YAML_FLAG = "--data-yaml"
PLATFORM_TRAIN_FLAGS: tuple[str, ...] = (WORK_DIR_FLAG, *DATASET_FLAGS, DATA_YAML_FLAG)

# §2.4, platform-set arguments of predict.py.
SOURCE_FLAG = "--source"
OUT_DIR_FLAG = "--out-dir"
PLATFORM_PREDICT_FLAGS: tuple[str, ...] = (SOURCE_FLAG, OUT_DIR_FLAG)

# User arguments the platform still fills: the task form's epochs, the GPU
# assignment, and the prediction page's weights and confidence.
EPOCHS_FLAG = "--epochs"
DEVICE_FLAG = "--device"
WEIGHTS_FLAG = "--weights"
CONFIDENCE_FLAG = "--confidence"

# Arguments a distributed launcher (torch.distributed.run, mmengine's launchers)
# sets in every worker process: never a user parameter, never passed by a plain run.
LAUNCHER_FLAGS: tuple[str, ...] = ("--local_rank", "--local-rank")

# Config files a package may carry (MM-style `configs/**/*.py`, YOLO-style yaml):
# offered to a config parameter, and searched for global variables at run time.
CONFIG_DIR = "configs"
CONFIG_SUFFIXES: tuple[str, ...] = (".py", ".yaml", ".yml", ".json")

# §2.3/§2.4 global variables, each mirroring one platform flag, so one mapping
# of flag values serves scripts that use either form.
GLOBAL_TO_FLAG: dict[str, str] = {
    "WORK_DIR_PATH": WORK_DIR_FLAG,
    "DATA_PATH": DATA_FLAG,
    "TRAIN_DATA_PATH": SPLIT_DATA_FLAGS["train"],
    "VAL_DATA_PATH": SPLIT_DATA_FLAGS["val"],
    "TEST_DATA_PATH": SPLIT_DATA_FLAGS["test"],
    "TRAIN_LABEL_PATH": SPLIT_LABEL_FLAGS["train"],
    "VAL_LABEL_PATH": SPLIT_LABEL_FLAGS["val"],
    "TEST_LABEL_PATH": SPLIT_LABEL_FLAGS["test"],
    "LABEL_CLASS": LABEL_CLASS_FLAG,
    "LABEL_CLASS_COUNT": LABEL_CLASS_COUNT_FLAG,
    "DATA_YAML_PATH": DATA_YAML_FLAG,
    "SOURCE_PATH": SOURCE_FLAG,
    "OUT_DIR_PATH": OUT_DIR_FLAG,
}
TRAIN_GLOBALS: tuple[str, ...] = tuple(g for g, f in GLOBAL_TO_FLAG.items() if f in PLATFORM_TRAIN_FLAGS)
PREDICT_GLOBALS: tuple[str, ...] = tuple(g for g, f in GLOBAL_TO_FLAG.items() if f in PLATFORM_PREDICT_FLAGS)
GLOBAL_VARIABLES: tuple[str, ...] = (*TRAIN_GLOBALS, *PREDICT_GLOBALS)
FLAG_TO_GLOBAL: dict[str, str] = {f: g for g, f in GLOBAL_TO_FLAG.items()}

# Owned by the distributed launcher: torchrun tells each process its rank through the LOCAL_RANK variable,
# so the platform never passes these and the form never offers them.
LAUNCHER_FLAGS: tuple[str, ...] = ("--local_rank", "--local-rank")

# §2.2, in the contract's order (messages list them so).
FORBIDDEN_COMMANDS: tuple[str, ...] = (
    "rm", "kill", "remove", "mv", "reboot", "shutdown", "gcc", "g++", "clang++", "cmake", "make",
    "chown", "chmod", "chgrp", "source", "crontab", "eval", "exec", "set -e", "mkfs", "fdisk",
)

__all__ = [
    "APPLEDOUBLE_PREFIX", "CONFIDENCE_FLAG", "CONFIG_DIR", "CONFIG_SUFFIXES", "DATASET_FLAGS", "DATA_FLAG",
    "DATA_YAML_FLAG", "DEVICE_FLAG", "EPOCHS_FLAG",
    "FLAG_TO_GLOBAL", "FORBIDDEN_COMMANDS", "GLOBAL_TO_FLAG", "GLOBAL_VARIABLES", "IMAGE_EXTS", "INSTALL_SCRIPT",
    "JUNK_DIRS", "JUNK_FILES", "LABEL_CLASS_COUNT_FLAG", "LAUNCHER_FLAGS", "LABEL_CLASS_FLAG", "OUT_DIR_FLAG",
    "PLATFORM_PREDICT_FLAGS", "PLATFORM_TRAIN_FLAGS", "PREDICT_GLOBALS", "PREDICT_SCRIPT", "REQUIREMENTS_FILE",
    "SOURCE_FLAG", "SPLITS", "SPLIT_DATA_FLAGS", "SPLIT_LABEL_FLAGS",
    "TRAIN_DATA_FLAG", "TRAIN_GLOBALS", "TRAIN_SCRIPT", "WEIGHTS_DIR", "WORK_DIR_FLAG",
]
