"""Code 128 barcodes as inline SVG (code set B, which covers every printable ASCII character).

No dependency and no image files: the print page embeds the SVG, and couriers' scanners read it.
"""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PATTERNS = (
    "212222",
    "222122",
    "222221",
    "121223",
    "121322",
    "131222",
    "122213",
    "122312",
    "132212",
    "221213",
    "221312",
    "231212",
    "112232",
    "122132",
    "122231",
    "113222",
    "123122",
    "123221",
    "223211",
    "221132",
    "221231",
    "213212",
    "223112",
    "312131",
    "311222",
    "321122",
    "321221",
    "312212",
    "322112",
    "322211",
    "212123",
    "212321",
    "232121",
    "111323",
    "131123",
    "131321",
    "112313",
    "132113",
    "132311",
    "211313",
    "231113",
    "231311",
    "112133",
    "112331",
    "132131",
    "113123",
    "113321",
    "133121",
    "313121",
    "211331",
    "231131",
    "213113",
    "213311",
    "213131",
    "311123",
    "311321",
    "331121",
    "312113",
    "312311",
    "332111",
    "314111",
    "221411",
    "431111",
    "111224",
    "111422",
    "121124",
    "121421",
    "141122",
    "141221",
    "112214",
    "112412",
    "122114",
    "122411",
    "142112",
    "142211",
    "241211",
    "221114",
    "413111",
    "241112",
    "134111",
    "111242",
    "121142",
    "121241",
    "114212",
    "124112",
    "124211",
    "411212",
    "421112",
    "421211",
    "212141",
    "214121",
    "412121",
    "111143",
    "111341",
    "131141",
    "114113",
    "114311",
    "411113",
    "411311",
    "113141",
    "114131",
    "311141",
    "411131",
    "211412",
    "211214",
    "211232",
)
"""Bar/space widths (in modules) of symbol values 0..105."""

START_B = 104
STOP = "2331112"
QUIET_ZONE = 10


def code128b_values(text: str) -> list[int]:
    """Symbol values for `text` in code set B, with start code and checksum (stop not included)."""
    values = [START_B]
    for char in text:
        code = ord(char)
        if not 32 <= code <= 126:
            raise ValueError(f"Code 128 B cannot encode {char!r}")
        values.append(code - 32)
    checksum = (values[0] + sum(position * value for position, value in enumerate(values[1:], start=1))) % 103
    values.append(checksum)
    return values


def code128_modules(text: str) -> str:
    """The barcode as a string of '1' (bar) and '0' (space) modules, quiet zones included."""
    widths = "".join(PATTERNS[value] for value in code128b_values(text)) + STOP
    modules = []
    for index, width in enumerate(widths):
        modules.append(("1" if index % 2 == 0 else "0") * int(width))
    quiet = "0" * QUIET_ZONE
    return quiet + "".join(modules) + quiet


def code128_svg(text: str, *, height: int = 60, module: float = 2.0, show_text: bool = True) -> SafeString:
    """An inline SVG Code 128 barcode of `text` (module width in px), with the text printed below."""
    modules = code128_modules(text)
    rects = []
    start = None
    for index, bit in enumerate(modules + "0"):
        if bit == "1" and start is None:
            start = index
        elif bit == "0" and start is not None:
            rects.append(
                f'<rect x="{start * module:g}" y="0" width="{(index - start) * module:g}" height="{height}"/>'
            )
            start = None
    width = len(modules) * module
    text_height = 16 if show_text else 0
    label = (
        f'<text x="{width / 2:g}" y="{height + 14}" text-anchor="middle" font-family="monospace" '
        f'font-size="14">{escape(text)}</text>'
        if show_text
        else ""
    )
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="barcode" role="img" aria-label="{escape(text)}" '
        f'width="{width:g}" height="{height + text_height}" viewBox="0 0 {width:g} {height + text_height}">'
        f'<rect width="100%" height="100%" fill="#fff"/><g fill="#000">{"".join(rects)}</g>{label}</svg>'
    )
