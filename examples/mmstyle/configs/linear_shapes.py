_base_ = [
    '_base_/models/linear.py',
    '_base_/datasets/shapes.py',
    '_base_/schedules/sgd_10e.py',
    '_base_/default_runtime.py',
]

# Overrides of the bases, merged key by key.
train_cfg = dict(max_epochs=5)
