default_scope = 'mmlite'
randomness = dict(seed=0)
log_level = 'INFO'
# Modules imported before training; extend it with
#   --cfg-options custom_imports.imports=[mmlite.metrics,mmlite.error_metric]
custom_imports = dict(imports=['mmlite.metrics'], allow_failed_imports=False)
