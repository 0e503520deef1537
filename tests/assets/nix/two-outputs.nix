# A derivation with two outputs (written for refkit): the nix builder refuses it.
derivation {
  name = "refkit-two-outputs";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  outputs = [ "out" "doc" ];
  args = [ "-c" "echo a > $out; echo b > $doc" ];
}
