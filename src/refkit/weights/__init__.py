"""Model weights: two identities for the same model, computed as fast as the machine allows.

* the **files digest**: the subject digest of an OpenSSF model signing (OMS) manifest, a
  SHA-256 over per-file or per-shard digests (:mod:`refkit.weights.digest`,
  :mod:`refkit.weights.oms`), signed and verified interoperably with model_signing
  (:mod:`refkit.weights.signing`, :mod:`refkit.weights.verify`);
* the **verity root**: the dm-verity root hash of a deterministic EROFS image of the model
  (``verity``, ``erofs``, ``disk``, ``bind`` modules).

The two are different values and are never called just "the digest".
"""
