"""English words in text that should read Chinese, apart from technical tokens (argument, metric, file and
package names, ids, units, Optuna's sampler names, audit action values): shared by the zh-CN browser walk
and the unit tests of translated messages."""

from __future__ import annotations

import re

# Words that are technical tokens, not UI text: names from the test's data and the example package, units,
# Optuna's sampler names, product names, the language switch's own "English", audit action values.
ALLOWED = {
    "Trainyard", "Streamlit", "English",
    "pets", "cat", "dog", "quadratic", "browser", "admin",  # dataset, classes, model, the signed-in person
    "epoch", "epochs", "Epoch", "loss", "score", "step", "sleep", "opt", "sgd", "adam", "fail", "data",
    "train", "label", "class", "count", "work", "dir", "device", "cpu", "cuda",  # argument and metric names
    "py", "zip", "yaml", "yml", "json", "txt", "jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp",
    "configs", "weights", "requirements", "install", "dependencies", "predict",
    "KiB", "MiB", "GiB", "TiB", "px", "RSS", "CPU", "GPU", "Redis", "worker", "workers", "stderr", "stdout",
    "auto", "TPE", "Hyperband",
    "key", "value", "name", "print", "logging", "pip", "uv", "argparse", "zh", "CN", "en",
    "int", "float", "str", "bool", "max", "min",  # argparse types; the direction's option values
    "create", "update", "delete", "stop", "deploy", "sign", "login", "logout",  # audit actions
}
# Identifiers, file names, flags, paths and environment variables are tokens as a whole.
_TOKEN = re.compile(r"\S*[_./=\\@]\S*|--?[a-z][\w-]*|\b[A-Z][A-Z0-9_]{2,}\b")
_WORD = re.compile(r"[A-Za-z]{3,}")


def english_words(text: str) -> list[str]:
    stripped = _TOKEN.sub(" ", text)
    return sorted({w for w in _WORD.findall(stripped) if w not in ALLOWED})
