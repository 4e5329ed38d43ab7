"""LangGraph's figures over stategraph's, from the Markdown tables each side printed.

    python ratios.py STATEGRAPH_OUTPUT LANGGRAPH_OUTPUT

Each table of stategraph's output is paired with the next unpaired table of LangGraph's that has
as many columns; rows are paired in order, and a ratio is printed for every cell that holds a
measurement on both sides (the first number of the cell; cells that are already ratios are
left out). Used by benches/side_by_side.sh, so each block ends with its ratios.
"""

import re
import sys

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
RATIO = re.compile(r"^\s*-?\d[\d,]*(?:\.\d+)?\s*[x×]\s*$")


def tables(text: str) -> list[tuple[str, list[list[str]]]]:
    """Every Markdown table of `text` with the line of text before it (its title): the header,
    then the rows, as lists of cells."""
    found, current, title, last = [], [], "", ""
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            if not current:
                title = last
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= set("-: ") for c in cells):
                current.append(cells)
        else:
            if current:
                found.append((title, current))
                current = []
            if line.strip():
                last = line.strip()
    return [(title, t) for title, t in found if len(t) > 1]


def measurement(cell: str) -> float | None:
    if RATIO.match(cell):
        return None
    match = NUMBER.search(cell)
    return float(match.group().replace(",", "")) if match else None


def main() -> None:
    ours = tables(open(sys.argv[1], encoding="utf-8").read())
    theirs = tables(open(sys.argv[2], encoding="utf-8").read())
    used = set()
    for title, table in ours:
        width = len(table[0])
        match = next(
            (i for i, (_, t) in enumerate(theirs) if i not in used and len(t[0]) == width), None
        )
        if match is None:
            continue
        used.add(match)
        other = theirs[match][1]
        # Leading cells without a measurement name the row (the run, the saver, ...).
        labels = 1
        while labels < width and all(
            measurement(r[labels]) is None for r in table[1:] if len(r) == width
        ):
            labels += 1
        columns = [
            c
            for c in range(labels, width)
            if any(
                measurement(a[c]) and measurement(b[c])
                for a, b in zip(table[1:], other[1:])
                if len(a) == width and len(b) == width
            )
        ]
        if not columns:
            continue
        print(f"\nLangGraph / stategraph — {title}")
        print("(LangGraph's rows, paired in order: "
              + " · ".join(", ".join(r[:labels]) for r in other[1:]) + ")\n")
        print("| " + " | ".join(table[0][:labels] + [table[0][c] for c in columns]) + " |")
        print("|" + "---|" * (len(columns) + labels))
        for a, b in zip(table[1:], other[1:]):
            cells = a[:labels]
            for c in columns:
                x = measurement(a[c]) if len(a) == width else None
                y = measurement(b[c]) if len(b) == width else None
                cells.append(f"{y / x:,.1f}×" if x and y else "—")
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
