"""refkit: make a confidential AI service verifiable from its source code.

Subpackages, one per capability (the CLI in :mod:`refkit.cli` is a thin layer on top):

- :mod:`refkit.measure`: launch measurements computed from boot artifacts;
- :mod:`refkit.manifests`: signed reference manifests (in-toto, DSSE, Sigstore bundles);
- :mod:`refkit.inputs`: pinned, content-addressed inputs (Debian packages, files).

The library never prints, never imports click or rich, and reaches the network only in
functions whose job is exactly that.
"""

__version__ = "0.1.0"
