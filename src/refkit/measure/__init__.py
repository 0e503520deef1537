"""Launch measurements computed from boot artifacts.

- :mod:`refkit.measure.firmware`: OVMF footer table, SEV and TDX metadata (shared by SEV
  and TDX measurement);
- :mod:`refkit.measure.snp`: AMD SEV, SEV-ES and SEV-SNP launch digests.

Everything here is pure: bytes and paths in, frozen values out; nothing is printed or
written.
"""
