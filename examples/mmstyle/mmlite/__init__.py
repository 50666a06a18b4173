"""A few hundred lines in the shape of the OpenMMLab tools (config files with
``_base_`` inheritance, ``--cfg-options`` overrides, a registry of metrics),
written from scratch on numpy so the example runs anywhere on a CPU."""
