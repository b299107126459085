"""Print one of the two commands at the top of README.md: ``main`` (set up and run the main job)
or ``test`` (set up and pass the tests). They are the first two fenced code blocks; .ci/run runs
``test`` so that CI checks exactly what the README tells a user to type."""

import sys
from pathlib import Path


def commands(text: str) -> dict[str, str]:
    blocks, inside, cur = [], False, []
    for line in text.splitlines():
        if line.startswith("```"):
            if inside:
                blocks.append("\n".join(cur).strip())
                cur = []
            inside = not inside
        elif inside:
            cur.append(line)
    if len(blocks) < 2:
        raise SystemExit("README.md: expected the main-job and test commands as its first two "
                         "code blocks")
    return {"main": blocks[0], "test": blocks[1]}


if __name__ == "__main__":
    readme = Path(__file__).resolve().parent.parent / "README.md"
    print(commands(readme.read_text())[sys.argv[1]])
