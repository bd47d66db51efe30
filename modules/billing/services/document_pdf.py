"""A document as PDF, drawn with fpdf2 (pure Python) on A4: title, parties, facts, then the
lines, whose table continues on as many pages as it needs with its heading repeated, then the
totals. Every page's footer names the document and its page ("page 2 of 7").

Text is placed with `FPDF.text` at positions computed here, and descriptions are wrapped here:
fpdf2's `multi_cell`/`table` take about 8 ms a line, too slow for an invoice of 1,000 lines.

The font is DejaVu Sans when the system has it (Debian's `fonts-dejavu-core`, see the Dockerfile):
every customer's name and address prints as written. Without it the PDF falls back to the
built-in Helvetica, which covers Windows-1252 only (Western European text and `€`); any other
character prints as `?` (the HTML document always shows them)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from fpdf import FPDF

from modules.billing.services.document_model import Document, DocumentLine, Figure, Party

FONT_DIRECTORIES = (
    Path("/usr/share/fonts/truetype/dejavu"),  # Debian, Ubuntu
    Path("/usr/share/fonts/dejavu-sans-fonts"),  # Fedora
    Path("/usr/share/fonts/dejavu"),  # Alpine
    Path("/usr/share/fonts/TTF"),  # Arch
)
LEFT, RIGHT, TOP, BOTTOM = 15.0, 195.0, 15.0, 280.0  # mm on A4 (210 x 297)
LINE = 4.2  # mm per line of 9 pt text
MAX_DESCRIPTION_LINES = 40  # a row never outgrows a page
MAX_PARTY_LINES = 12
# the lines table: description from LEFT, then four right-aligned columns ending at these x
COLUMNS = (("Quantity", 116.0, 16.0), ("Unit amount", 143.0, 26.0), ("Discount", 169.0, 25.0))
AMOUNT_COLUMN = ("Amount", RIGHT, 25.0)
DESCRIPTION_WIDTH = 82.0
TOTALS_X = 98.0  # labels of totals from here, their values end at RIGHT
GREY, BLACK, RED = (90, 90, 90), (17, 17, 17), (176, 0, 0)


@cache
def system_unicode_font() -> tuple[Path, Path] | None:
    """DejaVu Sans and DejaVu Sans Bold, if the system has them."""
    for directory in FONT_DIRECTORIES:
        regular, bold = directory / "DejaVuSans.ttf", directory / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


def wrap(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """`text` in lines no wider than `width`, broken between words (inside a word only when the
    word alone is wider)."""
    if measure(text) <= width:
        return [text]
    lines: list[str] = []
    current, space = "", measure(" ")
    current_width = 0.0
    for word in text.split():
        word_width = measure(word)
        if current and current_width + space + word_width <= width:
            current, current_width = f"{current} {word}", current_width + space + word_width
            continue
        if current:
            lines.append(current)
        while word_width > width and len(word) > 1:
            cut = _longest_prefix(word, width, measure)
            lines.append(word[:cut])
            word = word[cut:]
            word_width = measure(word)
        current, current_width = word, word_width
    if current:
        lines.append(current)
    return lines or [""]


def _longest_prefix(word: str, width: float, measure: Callable[[str], float]) -> int:
    """How many of `word`'s characters fit in `width` (at least one), by bisection."""
    low, high = 1, len(word)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(word[:middle]) <= width:
            low = middle
        else:
            high = middle - 1
    return low


class _Pages(FPDF):
    def __init__(self, footer_text: str, family: str) -> None:
        super().__init__(format="A4", unit="mm")
        self._footer_text, self._family = footer_text, family
        self.set_auto_page_break(False)
        self.set_margins(LEFT, TOP, 210 - RIGHT)

    def footer(self) -> None:
        self.set_font(self._family, "", 7.5)
        self.set_text_color(*GREY)
        self.set_xy(LEFT, 287)
        self.cell(RIGHT - LEFT, 4, f"{self._footer_text} · page {self.page_no()} of {{nb}}", align="C")


class _Writer:
    """Draws one document, top to bottom, keeping the current height `y` (mm)."""

    def __init__(self, doc: Document, font: tuple[Path, Path] | None) -> None:
        self.doc = doc
        if font is None:
            self.family, self.clean = "helvetica", _windows_1252
        else:
            self.family, self.clean = "dejavu", _as_written
        footer = f"{doc.title} {doc.number or doc.marker or ''}".strip()
        self.pdf = _Pages(self.clean(footer), self.family)
        if font is None:
            self.pdf.core_fonts_encoding = "windows-1252"
        else:
            self.pdf.add_font("dejavu", "", str(font[0]))
            self.pdf.add_font("dejavu", "B", str(font[1]))
        self.pdf.set_title(self.clean(footer))
        self.pdf.set_creator("Keel")
        self.pdf.add_page()
        self.y = TOP
        self._style: tuple[str, float, tuple[int, int, int]] | None = None
        self._widths: dict[tuple[str, float, str], float] = {}  # amounts and words recur on every line

    def style(self, weight: str = "", size: float = 9, color: tuple[int, int, int] = BLACK) -> None:
        if self._style != (weight, size, color):
            self.pdf.set_font(self.family, weight, size)
            self.pdf.set_text_color(*color)
            self._style = (weight, size, color)

    def measure(self, text: str) -> float:
        """`text`'s width in the current font, remembered (fpdf2 takes ~0.1 ms to measure)."""
        weight, size, _ = self._style or ("", 9, BLACK)
        key = (weight, size, text)
        width = self._widths.get(key)
        if width is None:
            width = self._widths[key] = self.pdf.get_string_width(text)
        return width

    def put(self, x: float, text: str, *, right: bool = False, width: float | None = None) -> None:
        """`text` at the baseline of the current line, from `x`, or ending at `x` (`right`),
        made smaller if it is wider than `width`."""
        text = self.clean(text)
        if not text:
            return
        text_width = self.measure(text)
        if width is not None and text_width > width and self._style is not None:
            weight, size, color = self._style
            self.style(weight, max(4.0, size * width / text_width), color)
            text_width = self.measure(text)
            self.pdf.text(x - text_width if right else x, self.y + LINE - 1, text)
            self.style(weight, size, color)
            return
        self.pdf.text(x - text_width if right else x, self.y + LINE - 1, text)

    def room(self, height: float) -> bool:
        """Start a new page unless `height` fits on this one; True when a page was started."""
        if self.y + height <= BOTTOM:
            return False
        self.pdf.add_page()
        self.y = TOP
        self._style = None
        return True

    def rule(self, x1: float = LEFT, x2: float = RIGHT) -> None:
        self.pdf.set_draw_color(200, 200, 200)
        self.pdf.line(x1, self.y, x2, self.y)

    def wrapped(self, text: str, width: float) -> list[str]:
        return wrap(self.clean(text), width, self.measure)

    def heading(self) -> None:
        self.style("B", 18)
        self.put(LEFT, " ".join(p for p in (self.doc.title, self.doc.number) if p))
        if self.doc.marker:
            self.style("B", 18, RED)
            self.put(RIGHT, self.doc.marker, right=True)
        self.y += 14

    def parties(self) -> None:
        top, bottom = self.y, self.y
        for x, heading, party in ((LEFT, "From", self.doc.issuer), (110.0, "Bill to", self.doc.customer)):
            self.y = top
            self._party(x, heading, party)
            bottom = max(bottom, self.y)
        self.y = bottom + 4

    def _party(self, x: float, heading: str, party: Party) -> None:
        self.style("B", 7.5, GREY)
        self.put(x, heading.upper())
        self.y += LINE
        self.style("B", 10)
        for line in self.wrapped(party.name, 85)[:6]:
            self.put(x, line)
            self.y += LINE + 0.6
        self.style()
        texts = [
            *party.address,
            *(f"Tax id {t}" for t in party.tax_ids),
            *([party.email] if party.email else []),
        ]
        for text in texts[:MAX_PARTY_LINES]:  # the parties fit on the first page, whatever is set
            for line in self.wrapped(text, 85)[:3]:
                self.put(x, line)
                self.y += LINE

    def figures(self, figures: list[Figure], label_x: float, value_x: float, *, right: bool) -> None:
        for figure in figures:
            self.room(LINE + 1)
            if figure.strong:
                self.rule(label_x, RIGHT)
            self.style("B" if figure.strong else "", 9, BLACK if figure.strong or right else GREY)
            self.put(label_x, figure.label, width=value_x - label_x - (34 if right else 2))
            self.style("B" if figure.strong else "")
            self.put(value_x, figure.value, right=right, width=32 if right else RIGHT - value_x)
            self.y += LINE + (0.8 if figure.strong else 0)

    def lines(self) -> None:
        self.y += 4
        self._table_heading()
        for line in self.doc.lines:
            self._row(line)
        self.y += 3

    def _table_heading(self) -> None:
        self.style("B", 8, GREY)
        self.put(LEFT, "Description")
        for title, right_edge, _ in (*COLUMNS, AMOUNT_COLUMN):
            self.put(right_edge, title, right=True)
        self.y += LINE + 0.5
        self.rule()
        self.y += 0.8

    def _row(self, line: DocumentLine) -> None:
        self.style()
        description = self.wrapped(line.description, DESCRIPTION_WIDTH)
        if len(description) > MAX_DESCRIPTION_LINES:
            description = [
                *description[: MAX_DESCRIPTION_LINES - 1],
                f"{description[MAX_DESCRIPTION_LINES - 1]}…",
            ]
        self.style("", 7.5, GREY)
        details = [part for detail in line.details for part in self.wrapped(detail, DESCRIPTION_WIDTH)]
        height = len(description) * LINE + len(details) * (LINE - 0.8) + 1.2
        if self.room(height):
            self._table_heading()
        top = self.y
        self.style()
        for text, (_, right_edge, width) in zip(
            (line.quantity, line.unit_amount, line.discount, line.amount),
            (*COLUMNS, AMOUNT_COLUMN),
            strict=True,
        ):
            self.put(right_edge, text, right=True, width=width)
        for text in description:
            self.put(LEFT, text)
            self.y += LINE
        self.style("", 7.5, GREY)
        for text in details:
            self.put(LEFT, text)
            self.y += LINE - 0.8
        self.y = top + height

    def notes(self) -> None:
        self.style("", 8.5)
        for note in self.doc.notes:
            for line in self.wrapped(note, RIGHT - LEFT):
                self.room(LINE)
                self.put(LEFT, line)
                self.y += LINE

    def render(self) -> bytes:
        self.heading()
        self.parties()
        self.figures(self.doc.facts, LEFT, 50.0, right=False)
        self.lines()
        self.figures(self.doc.totals, TOTALS_X, RIGHT, right=True)
        if self.doc.related:
            self.y += 3
            self.figures(self.doc.related, TOTALS_X, RIGHT, right=True)
        self.y += 3
        self.notes()
        return bytes(self.pdf.output())


def _as_written(text: str) -> str:
    """One line of text: tabs and line breaks a description may hold become spaces."""
    return " ".join(text.split())


def _windows_1252(text: str) -> str:
    """What Helvetica can print: one line, any character beyond Windows-1252 as `?`."""
    return _as_written(text).encode("cp1252", "replace").decode("cp1252")


def render_pdf(doc: Document, font: tuple[Path, Path] | None = None, *, system_font: bool = True) -> bytes:
    """The document as a PDF, in `font` (regular, bold TTF files), else the system's DejaVu
    Sans (unless `system_font` is False), else Helvetica."""
    return _Writer(doc, font or (system_unicode_font() if system_font else None)).render()
