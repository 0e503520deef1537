# The same toolchain as ./default.nix as a flake (not run in refkit's CI).
#
#   nix build ./nix#refkit     nix develop ./nix
#
# Pin nixpkgs with the lock file `nix flake lock` writes beside this file: without it a
# user's toolchain is whatever the channel holds that day, which is what refkit's
# builders exist to avoid.
{
  description = "refkit: verify a confidential AI service from its source";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";

  outputs = { self, nixpkgs }:
    let
      system = "x86_64-linux";
      toolchain = import ./default.nix { pkgs = nixpkgs.legacyPackages.${system}; };
    in
    {
      packages.${system} = {
        refkit = toolchain.refkit;
        default = toolchain.refkit;
      };
      devShells.${system}.default = toolchain.shell;
    };
}
