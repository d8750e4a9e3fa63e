"""README result tables generated from the published leaderboards, never typed.

A README marks each generated block with two comments::

    <!-- leaderboard: leaderboards/default/synthetic.md -->
    ...generated...
    <!-- end leaderboard -->

and the block is the first table of that Markdown file with the footer under it (the
conventions for ±, intervals and tests). Paths are relative to the repository root.

    python -m wsbench.leaderboard.readme README.md            # rewrite the blocks
    python -m wsbench.leaderboard.readme --check README.md    # exit 1 when one is stale
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(
    r"(<!-- leaderboard: (?P<src>\S+) -->\n)(?P<body>.*?)(<!-- end leaderboard -->)", re.S
)


def first_table(markdown: str) -> str:
    """The first Markdown table of a published leaderboard page and the paragraph after it."""
    lines = markdown.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if start is None:
        raise ValueError("the leaderboard page has no table")
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    block = lines[start:end]
    rest = lines[end:]
    while rest and not rest[0].strip():
        rest = rest[1:]
    if rest and not rest[0].startswith(("|", "#")):
        block += ["", rest[0]]
    return "\n".join(block) + "\n"


def render(readme: str, root: Path = ROOT) -> str:
    """``readme`` with every marked block replaced by its leaderboard's table."""

    def fill(m: re.Match[str]) -> str:
        source = root / m["src"]
        if not source.is_file():
            raise FileNotFoundError(
                f"{m['src']}: the published leaderboard a README block names does not exist; "
                "publish it with `wsbench leaderboard --results DIR --to leaderboards/<grid>`"
            )
        return m.group(1) + first_table(source.read_text()) + m.group(4)

    return BLOCK.sub(fill, readme)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("readmes", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="exit 1 when a block is stale")
    args = parser.parse_args(argv)
    stale = []
    for path in args.readmes:
        text = path.read_text()
        new = render(text)
        if new != text:
            stale.append(path)
            if not args.check:
                path.write_text(new)
    if args.check and stale:
        names = ", ".join(map(str, stale))
        print(
            f"{names}: result tables differ from leaderboards/; regenerate with "
            f"python -m wsbench.leaderboard.readme {names}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
