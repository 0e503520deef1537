"""Reference manifests: the model, its canonical form, signing, verification and exports.

A reference manifest is an in-toto Statement v1 whose predicate (type
:data:`refkit.manifests.constants.PREDICATE_TYPE`) says which artifact digests, launch
measurements, model digests and platform values are the genuine ones for one release.
It is serialised as RFC 8785 canonical JSON, wrapped in DSSE and shipped as a Sigstore
bundle v0.3.
"""
