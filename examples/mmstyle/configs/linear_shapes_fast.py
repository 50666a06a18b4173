_base_ = './linear_shapes.py'

model = dict(input_size=8)
optim_wrapper = dict(optimizer=dict(lr=1.0))
train_cfg = dict(max_epochs=2)
