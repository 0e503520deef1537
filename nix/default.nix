# refkit's toolchain for users who have nixpkgs: the refkit package built from this
# checkout, and a shell with every external tool its builders, measurements and peer
# tests call. Not run in refkit's CI (nixpkgs is not reachable there); the nix builder's
# own tests use tests/assets/nix, a builtins-only derivation.
#
#   nix-build nix -A refkit          # the refkit command
#   nix-shell nix -A shell           # a development shell
#
# A name nixpkgs lacks (older or newer channels rename packages) is left out rather than
# failing evaluation: `present` filters the lists below.
{ pkgs ? import <nixpkgs> { } }:
let
  lib = pkgs.lib;
  python = pkgs.python311;
  py = python.pkgs;
  present = set: names: builtins.filter (p: p != null) (map (n: set.${n} or null) names);

  runtimeDeps = present py [
    "click" "rich" "pyyaml" "cryptography" "rfc8785" "jsonschema" "zstandard" "blake3"
    "cyclonedx-python-lib" "defusedxml" "lxml" "signxml" "in-toto"
  ];
  testDeps = present py [
    "pytest" "hypothesis" "pefile" "securesystemslib" "pyopenssl" "in-toto-attestation"
  ];
  # external programs: builders (erofs-utils, cryptsetup, ukify, skopeo, umoci, cpio,
  # mmdebstrap, dpkg, nix), measurements and peers (systemd-measure, pesign, tpm2-tools)
  tools = present pkgs [
    "erofs-utils" "cryptsetup" "systemdUkify" "systemd" "skopeo" "umoci" "cpio"
    "mmdebstrap" "dpkg" "nix" "pesign" "tpm2-tools"
  ];

  refkit = py.buildPythonApplication {
    pname = "refkit";
    version = "0.1.0";
    pyproject = true;
    src = lib.cleanSource ../.;
    build-system = [ py.hatchling ];
    dependencies = runtimeDeps;
    # the builders call these at run time
    makeWrapperArgs = [ "--prefix" "PATH" ":" (lib.makeBinPath tools) ];
    # the test suite needs ../shared (vectors and the input mirror): run it with `make test`
    doCheck = false;
  };
in
{
  inherit refkit;
  shell = pkgs.mkShell {
    packages = [ (python.withPackages (_: runtimeDeps ++ testDeps)) ] ++ tools;
    # refkit's builders take SOURCE_DATE_EPOCH from the recipe; nothing else is needed
  };
}
