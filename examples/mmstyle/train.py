"""Train a classifier from a config file, the way MM projects' tools/train.py do:

    python train.py configs/linear_shapes.py --work-dir work_dir \
        --cfg-options train_cfg.max_epochs=3 custom_imports.imports=[mmlite.metrics,mmlite.error_metric]

The dataset's path is not an argument: the config holds it (data_root =
'DATA_PATH'), and the platform writes the real path into the run's copy.
"""

import argparse
import importlib
import json
import os
import sys

import numpy as np
from mmlite.config import DictAction, load_config, set_option
from mmlite.metrics import METRICS
from mmlite.model import LinearClassifier, class_names, load_folder


def parse_args():
    parser = argparse.ArgumentParser(description='Train a classifier')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='mixed precision (accepted for compatibility; numpy trains in float32)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from this checkpoint, or without a path from the work dir\'s last one')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config file, as key=value pairs '
                             '(e.g. train_cfg.max_epochs=3 custom_imports.imports=[a,b])')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none', help='job launcher')
    # A distributed launcher passes --local-rank (older ones --local_rank) to every process.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_config(args):
    cfg = load_config(args.config)
    for key, value in (args.cfg_options or {}).items():
        set_option(cfg, key, value)
    cfg['work_dir'] = args.work_dir or cfg.get('work_dir') or os.path.join(
        'work_dirs', os.path.splitext(os.path.basename(args.config))[0])
    return cfg


def import_custom(cfg):
    imports = cfg.get('custom_imports') or {}
    for name in imports.get('imports') or []:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            if not imports.get('allow_failed_imports'):
                sys.exit(f'custom_imports: cannot import {name!r}: {exc}')
            print(f'WARNING custom_imports: {name!r} not imported ({exc})', flush=True)


def evaluate(model, x, y):
    probs = model.probs(x)
    return {'loss': model.loss(x, y), **{name: fn(probs, y) for name, fn in METRICS.items()}}


def main():
    args = parse_args()
    if args.launcher != 'none':
        sys.exit('this example trains in one process; run it with --launcher none')
    cfg = build_config(args)
    import_custom(cfg)
    os.makedirs(cfg['work_dir'], exist_ok=True)
    with open(os.path.join(cfg['work_dir'], 'config.json'), 'w', encoding='utf-8') as fh:
        json.dump(cfg, fh, indent=2, default=str)  # what was trained, after the overrides

    train_ds = cfg['train_dataloader']['dataset']
    val_ds = cfg['val_dataloader']['dataset']
    train_dir = os.path.join(train_ds['data_root'], train_ds['data_prefix'])
    val_dir = os.path.join(val_ds['data_root'], val_ds['data_prefix'])
    names = class_names(train_ds.get('classes'), train_dir)
    size = int(cfg['model']['input_size'])
    num_classes = int(cfg['model'].get('num_classes') or len(names))
    x, y = load_folder(train_dir, names, size)
    vx, vy = load_folder(val_dir, names, size) if os.path.isdir(val_dir) else (None, None)
    print(f'config {args.config}: {len(y)} training images in {len(names)} classes from {train_dir}', flush=True)
    if not len(y):
        sys.exit(f'no training images under {train_dir}/<class>/')

    seed = (cfg.get('randomness') or {}).get('seed', 0)
    model = LinearClassifier(size, num_classes, seed=seed)
    last = os.path.join(cfg['work_dir'], 'last.pth')
    resume = last if args.resume == 'auto' else args.resume
    if resume and os.path.isfile(resume):
        model, names = LinearClassifier.load(resume)
        print(f'resumed from {resume}', flush=True)

    opt = cfg['optim_wrapper']['optimizer']
    batch = int(cfg['train_dataloader']['batch_size'])
    rng = np.random.default_rng(seed)
    best = None
    for epoch in range(1, int(cfg['train_cfg']['max_epochs']) + 1):
        order = rng.permutation(len(y))
        for i in range(0, len(y), batch):
            idx = order[i:i + batch]
            model.step(x[idx], y[idx], float(opt['lr']), float(opt.get('weight_decay', 0.0)))
        metrics = evaluate(model, x, y)
        line = f'epoch: {epoch}, ' + ', '.join(f'{k}: {v:.4f}' for k, v in metrics.items())
        score = metrics['accuracy']
        if vy is not None and len(vy):
            val = evaluate(model, vx, vy)
            line += ', ' + ', '.join(f'val_{k}: {v:.4f}' for k, v in val.items())
            score = val['accuracy']
        print(line, flush=True)
        model.save(last, names)
        if best is None or score >= best:
            best = score
            model.save(os.path.join(cfg['work_dir'], 'best.pth'), names)


if __name__ == '__main__':
    main()
