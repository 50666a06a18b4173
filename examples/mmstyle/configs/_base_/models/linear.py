# A softmax-regression classifier over small grey thumbnails.
# 'LABEL_CLASS_COUNT' becomes the dataset's class count (an int) in the run's copy.
model = dict(
    type='LinearClassifier',
    input_size=16,
    num_classes='LABEL_CLASS_COUNT',
)
