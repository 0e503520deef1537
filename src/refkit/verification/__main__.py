"""``python -m refkit.verification``: write docs/codes.md (the code registry) to stdout."""

from __future__ import annotations

import sys

from refkit.verification.codes import codes_markdown

if __name__ == "__main__":
    sys.stdout.write(codes_markdown())
