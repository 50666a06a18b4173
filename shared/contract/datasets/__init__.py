"""Dataset formats (CONTRACT §1.2): one module per format, ``validate_dataset`` choosing by task type.

``common`` holds the report and the shared readers, ``context`` the state of one
validation walk; ``preview`` (with ``preview_labels`` and ``preview_draw``) shows
an accepted dataset. Import the public names from here.
"""

from shared.contract.datasets.common import (
    MAX_ERROR_DETAILS,
    DatasetReport,
    Issue,
    SplitInfo,
    is_image_name,
    read_classes_file,
    walk_images,
)
from shared.contract.datasets.instance_segmentation import rle_counts
from shared.contract.datasets.validate import platform_values, validate_dataset

__all__ = [
    "MAX_ERROR_DETAILS", "DatasetReport", "Issue", "SplitInfo", "is_image_name", "platform_values",
    "read_classes_file", "rle_counts", "validate_dataset", "walk_images",
]
