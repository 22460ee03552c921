"""Write the starters' venv requirements (make .venv-starters): what the starters'
requirements.txt files ask a new user to install, with `nexpress[extras]` pointing at this
checkout (editable, the union of the extras the starters declare) instead of PyPI.

Usage: python tools/starters_requirements.py REPO OUT REQUIREMENTS.TXT...
(standard library only: it runs before any venv exists)
"""

import re
import sys

NEXPRESS = re.compile(r"^nexpress\s*(?:\[([^\]]*)\])?\s*$")


def main(repo: str, out: str, files: list[str]) -> None:
    extras: set[str] = set()
    others: list[str] = []
    for name in files:
        with open(name, encoding="utf-8") as f:
            for raw in f:
                line = raw.split("#", 1)[0].strip()
                if not line:
                    continue
                match = NEXPRESS.match(line)
                if match:
                    extras.update(e.strip() for e in (match.group(1) or "").split(",") if e.strip())
                elif line.startswith("nexpress"):
                    sys.exit(f"{name}: {line!r}: write nexpress as nexpress or nexpress[extra,...]")
                elif line not in others:
                    others.append(line)
    suffix = f"[{','.join(sorted(extras))}]" if extras else ""
    with open(out, "w", encoding="utf-8") as f:
        f.write("".join(f"{line}\n" for line in [f"-e {repo}{suffix}", *others]))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
