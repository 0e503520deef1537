# A tiny local derivation for the nix builder's tests (written for refkit): builtins only,
# no nixpkgs (unreachable offline). /bin/sh is the builder: Debian's nix-bin runs as root
# without a sandbox here (../shared/DOMAIN.md section 8), and the script uses only shell
# built-ins, so its output depends on the arguments alone.
{ name ? "refkit-nix-test", greeting ? "hello from a pinned derivation" }:
derivation {
  inherit name greeting;
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ "-c" "echo \"$greeting\" > $out" ];
}
