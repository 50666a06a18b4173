optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.5, weight_decay=1e-4))
train_cfg = dict(max_epochs=10, val_interval=1)
