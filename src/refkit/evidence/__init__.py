"""Live attestation evidence: parse it, check that it is authentic, compare it with a
signed reference manifest.

Layout: one subpackage per evidence family (``snp`` for AMD SEV-SNP reports and Azure's HCL
wrapper, ``tdx`` for Intel TDX quotes), each with a parser of bytes into frozen values, an
authenticity check (signatures, certificate chains to pinned roots, TCB binding) and a
comparison against the manifest's reference and declared values. Every answer is a
:class:`refkit.verification.Result` with a registered code; nothing here prints, and only
the ``fetch`` modules reach the network.
"""
