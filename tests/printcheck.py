"""Print check: what a PDF really draws, measured from the file (issue 15, R2, R3).

pdfminer.six interprets every page's content stream (text, paths, form XObjects, images) the
way a viewer or a printer does; for each page we take the distance from every drawn object to
each of the four edges and the smallest font size of any printed character. Layout code only
promises where its boxes are; this reads what actually landed on the page, so a template or CSS
change that moves anything towards an edge fails the tests.

What counts: every visible character (whitespace draws nothing and is skipped) with its glyph
box (advance × [descent, descent + size]); every stroked or filled path, widened by half its
line width as the printer draws it (a straight line's butt ends excepted); every image.
Clipping is ignored: an object is measured whole even where the page clips it, which can only
make the check stricter.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pdfminer.converter import PDFPageAggregator
from pdfminer.layout import LTChar, LTComponent, LTContainer, LTCurve, LTImage, LTLine
from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
from pdfminer.pdfpage import PDFPage

MM_PER_PT = 25.4 / 72


@dataclass(frozen=True, slots=True)
class PageInk:
    """Where the ink of one page is: the clearance to each edge (mm) and the smallest type (pt)."""

    page: int  # 1-based
    width: float  # page size, mm
    height: float
    left: float  # distance of the nearest object to the left edge, mm
    right: float
    top: float
    bottom: float
    smallest_pt: float  # smallest font size of a printed character (inf: no text)
    nearest: dict[str, str]  # edge → what is nearest to it, for the failure message

    def describe(self) -> str:
        return (
            f"page {self.page}: left {self.left:.1f} mm ({self.nearest['left']}), "
            f"right {self.right:.1f} mm ({self.nearest['right']}), top {self.top:.1f} mm "
            f"({self.nearest['top']}), bottom {self.bottom:.1f} mm ({self.nearest['bottom']}), "
            f"smallest type {self.smallest_pt:.2f} pt"
        )


def _objects(item: LTComponent) -> Iterator[LTComponent]:
    if isinstance(item, (LTChar, LTCurve, LTImage)):
        yield item
    elif isinstance(item, LTContainer):
        for child in item:
            yield from _objects(child)


def measure_pdf(path: Path) -> list[PageInk]:
    """Every page of the PDF at `path`, measured."""
    resources = PDFResourceManager()
    device = PDFPageAggregator(resources, laparams=None)
    interpreter = PDFPageInterpreter(resources, device)
    pages = []
    with open(path, "rb") as handle:
        for number, page in enumerate(PDFPage.get_pages(handle), start=1):
            interpreter.process_page(page)
            layout = device.get_result()
            x0, y0, x1, y1 = layout.bbox
            edges = {"left": math.inf, "right": math.inf, "top": math.inf, "bottom": math.inf}
            nearest = dict.fromkeys(edges, "nothing")
            smallest = math.inf
            for obj in _objects(layout):
                if isinstance(obj, LTChar):
                    text = obj.get_text()
                    if not text.strip():
                        continue
                    smallest = min(smallest, obj.size)
                    what, grow = f"«{text}» {obj.size:.1f} pt", 0.0
                elif isinstance(obj, LTCurve):
                    if not (obj.stroke or obj.fill):
                        continue
                    grow = (obj.linewidth or 0.0) / 2 if obj.stroke else 0.0  # pdfminer: page units
                    size = f"{obj.width * MM_PER_PT:.0f}×{obj.height * MM_PER_PT:.0f} mm"
                    what = f"{'line' if obj.stroke else 'fill'} {size}"
                else:
                    what, grow = "image", 0.0
                # A straight line's butt ends do not reach past its points; only its sides do.
                grow_x = 0.0 if isinstance(obj, LTLine) and obj.height < 1e-6 else grow
                grow_y = 0.0 if isinstance(obj, LTLine) and obj.width < 1e-6 else grow
                gaps = {
                    "left": obj.x0 - grow_x - x0,
                    "right": x1 - obj.x1 - grow_x,
                    "bottom": obj.y0 - grow_y - y0,
                    "top": y1 - obj.y1 - grow_y,
                }
                for edge, gap in gaps.items():
                    if gap < edges[edge]:
                        edges[edge], nearest[edge] = gap, what
            pages.append(
                PageInk(
                    page=number,
                    width=(x1 - x0) * MM_PER_PT,
                    height=(y1 - y0) * MM_PER_PT,
                    **{edge: gap * MM_PER_PT for edge, gap in edges.items()},
                    smallest_pt=smallest,
                    nearest=nearest,
                )
            )
    return pages


TOLERANCE_MM = 0.01
"""Coordinates in the PDF are rounded (and a right-aligned glyph's advance may end a few µm past
its box): 10 µm, far below a printer's dot (42 µm at 600 dpi)."""
TOLERANCE_PT = 0.001
"""WeasyPrint writes 7 pt as 6.99976 pt after its px ↔ pt conversions."""


def margin_faults(
    pages: list[PageInk], *, duplex: bool, bound: float = 20.0, edge: float = 10.0, smallest_pt: float = 7.0
) -> list[str]:
    """What breaks the print rules: the bound edge (left; on the back of a duplex sheet, right)
    closer than `bound` mm, any other edge closer than `edge` mm, type below `smallest_pt`."""
    faults = []
    for ink in pages:
        back = duplex and ink.page % 2 == 0
        need = {
            "left": edge if back else bound,
            "right": bound if back else edge,
            "top": edge,
            "bottom": edge,
        }
        broken = [
            f"{side} {getattr(ink, side):.2f} < {need[side]} mm"
            for side in need
            if getattr(ink, side) < need[side] - TOLERANCE_MM
        ]
        if ink.smallest_pt < smallest_pt - TOLERANCE_PT:
            broken.append(f"type {ink.smallest_pt:.2f} < {smallest_pt} pt")
        if broken:
            faults.append(f"{'; '.join(broken)} — {ink.describe()}")
    return faults
