"""Plain-text tables of scores for the terminal, and errors in one line."""

from __future__ import annotations

COLUMNS = (
    ("params", "params", "{:,.0f}"),
    ("nmse_db", "nmse dB", "{:.2f}"),
    ("nmse_valid_db", "valid dB", "{:.2f}"),
    ("accuracy", "accuracy", "{:.4f}"),
    ("pslr_db", "PSLR dB", "{:.2f}"),
    ("islr_db", "ISLR dB", "{:.2f}"),
    ("irw_samples", "IRW", "{:.3f}"),
    ("latency_ms_per_column", "ms/col", "{:.3f}"),
)
SCORE_KEYS = tuple(key for key, _, _ in COLUMNS)  # the output contract's scores, in the order tables print them


def aligned(rows: list[list[str]]) -> str:
    """Rows of cells as text columns: the first (names) left-aligned, the figures right-aligned, two spaces
    apart; the first row is the header. Every table kdssm prints goes through here."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(r, widths))) for r in rows
    )


def format_table(rows: dict[str, dict]) -> str:
    """One line per named row of scores, aligned; missing figures show as '-'."""
    header = ["", *(title for _, title, _ in COLUMNS)]
    body = [
        [name, *(fmt.format(scores[key]) if scores.get(key) is not None else "-" for key, _, fmt in COLUMNS)]
        for name, scores in rows.items()
    ]
    return aligned([header, *body])


def print_scores(rows: dict[str, dict]) -> None:
    print(format_table(rows))


def first_line(err: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (at most `limit` characters; '' when it has none)."""
    text = str(err).strip()
    return text.splitlines()[0][:limit] if text else ""
