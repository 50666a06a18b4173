# The dataset: class sub-folders (train/<class>/*.png, val/<class>/*.png).
# 'DATA_PATH' and 'LABEL_CLASS' are the platform's global variables: in the
# run's copy of the package they are replaced by the dataset's real path and
# class map (a JSON object such as {"0": "circle"}), as in train.py itself.
data_root = 'DATA_PATH'
class_map = 'LABEL_CLASS'

train_dataloader = dict(
    batch_size=8,
    shuffle=True,
    dataset=dict(type='ImageFolder', data_root=data_root, data_prefix='train', classes=class_map),
)
val_dataloader = dict(
    batch_size=16,
    shuffle=False,
    dataset=dict(type='ImageFolder', data_root=data_root, data_prefix='val', classes=class_map),
)
