# The demo recipe's Nix artifact (written for refkit): a local derivation from builtins only,
# since nixpkgs is unreachable offline. /bin/sh runs shell built-ins only, so the output
# depends on the arguments alone.
derivation {
  name = "refkit-demo-hello";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ "-c" "echo 'hello from the refkit demo recipe' > $out" ];
}
