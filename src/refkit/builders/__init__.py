"""Deterministic builders: recipes of artifacts built from pinned inputs, bit for bit.

- :mod:`refkit.builders.api`: the one interface every builder implements
  (:class:`Builder`, :class:`BuildContext`, :class:`Built`) and the registry.
- ``recipe``: recipes (YAML, validated against the published JSON Schema), the
  dependency graph; ``rebuild``: the orchestration behind ``refkit rebuild`` (inputs,
  cache, progress, atomic outputs, in-toto links).
- one module per builder (``rootfs``, ``oci``, ``initrd``, ``uki``, ``erofs``,
  ``verity``, ``nix``), each registered in :data:`refkit.builders.api.BUILDERS`.

Nothing here prints or reaches the network; fetching pinned inputs is ``refkit.inputs``.
"""
