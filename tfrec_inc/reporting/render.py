"""The one table renderer of the reports: Markdown and LaTeX (``booktabs``), one LaTeX escaper.

Table writers give a header and rows of cells; a cell is a string, a `Cell` (text with a
bold flag and a mark after it, such as a significance dagger) or None (no value). Texts
are plain: ``±``, ``×``, ``Δ``, ``†`` and ``–`` as Unicode, which `escape_latex` turns
into LaTeX along with every LaTeX special character. Markdown cells are written as given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

# Every character with a special meaning in LaTeX text, and the Unicode symbols of the tables.
LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "×": r"$\times$",
    "Δ": r"$\Delta$",
    "†": r"$^{\dagger}$",
    "–": "--",
}
MARKDOWN_MISSING = "–"
LATEX_MISSING = "--"


@dataclasses.dataclass(frozen=True)
class Cell:
    """A table cell: plain text, shown bold or not, followed by ``mark`` (outside the bold).

    Attributes:
      text: the cell's plain text.
      bold: whether the text is bold (the best value of its column).
      mark: appended after the (bold) text, e.g. ``†`` for a significant difference.
    """

    text: str
    bold: bool = False
    mark: str = ""


CellLike = Cell | str | None


def escape_latex(text: str) -> str:
    r"""Escapes text for LaTeX: every special character, and the tables' Unicode symbols.

    Args:
      text: plain text.

    Returns:
      The text with ``\ & % $ # _ { } ~ ^`` escaped and ``± × Δ † –`` as LaTeX.

    Example:
      >>> print(escape_latex("a_b & c% #1 {x} ~y^2 $5 \\"))
      a\_b \& c\% \#1 \{x\} \textasciitilde{}y\textasciicircum{}2 \$5 \textbackslash{}
      >>> print(escape_latex("0.5 ± 0.1 × 2, 1–3"))
      0.5 $\pm$ 0.1 $\times$ 2, 1--3
    """
    return "".join(LATEX_ESCAPES.get(ch, ch) for ch in text)


def _markdown_cell(cell: CellLike) -> str:
    if cell is None:
        return MARKDOWN_MISSING
    if isinstance(cell, str):
        return cell
    return (f"**{cell.text}**" if cell.bold else cell.text) + cell.mark


def _latex_cell(cell: CellLike, missing: str) -> str:
    if cell is None:
        return missing
    if isinstance(cell, str):
        return escape_latex(cell)
    text = escape_latex(cell.text)
    return (rf"\textbf{{{text}}}" if cell.bold else text) + escape_latex(cell.mark)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[CellLike]]) -> str:
    """A Markdown (pipe) table.

    Args:
      header: the column titles.
      rows: the rows' cells (None: no value, shown as ``–``).

    Returns:
      The table's lines, each ending with a newline.

    Example:
      >>> print(markdown_table(["model", "recall"], [["a", Cell("0.5", bold=True, mark="†")],
      ...                                            ["b", None]]), end="")
      | model | recall |
      |---|---|
      | a | **0.5**† |
      | b | – |
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_markdown_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def latex_table(
    header: Sequence[str],
    rows: Sequence[Sequence[CellLike]],
    comments: Sequence[str] = (),
    groups: Sequence[tuple[str, int]] = (),
    missing: str = LATEX_MISSING,
) -> str:
    r"""A LaTeX ``booktabs`` tabular: first column left-aligned, the others right-aligned.

    Args:
      header: the column titles (escaped).
      rows: the rows' cells (escaped; None: no value).
      comments: lines written before the tabular as ``%`` comments (not escaped).
      groups: column groups over the header, ``(title, width)`` each, covering every
        column but the first: a ``\multicolumn`` line and ``\cmidrule`` s.
      missing: what a cell without a value shows.

    Returns:
      The LaTeX text, ending with a newline.

    Example:
      >>> print(latex_table(["model", "recall"], [["a_1", Cell("0.5 ± 0.1", bold=True)], ["b", None]],
      ...                   comments=["All users"]), end="")
      % All users
      \begin{tabular}{lr}
      \toprule
      model & recall \\
      \midrule
      a\_1 & \textbf{0.5 $\pm$ 0.1} \\
      b & -- \\
      \bottomrule
      \end{tabular}
      >>> tex = latex_table(["", "r", "n", "r", "n"], [], groups=[("ml", 2), ("syn", 2)])
      >>> print("\n".join(tex.splitlines()[2:4]))
       & \multicolumn{2}{c}{ml} & \multicolumn{2}{c}{syn} \\
      \cmidrule(lr){2-3} \cmidrule(lr){4-5}
    """
    lines = [f"% {line}" for line in comments]
    lines += [r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}", r"\toprule"]
    if groups:
        titles = (rf"\multicolumn{{{width}}}{{c}}{{{escape_latex(title)}}}" for title, width in groups)
        lines.append(" & " + " & ".join(titles) + r" \\")
        rules, start = [], 2
        for _, width in groups:
            rules.append(rf"\cmidrule(lr){{{start}-{start + width - 1}}}")
            start += width
        lines.append(" ".join(rules))
    lines += [" & ".join(escape_latex(h) for h in header) + r" \\", r"\midrule"]
    lines += [" & ".join(_latex_cell(c, missing) for c in row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)
