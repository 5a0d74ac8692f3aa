"""QR codes as small inline SVG (no style attributes, so the Content-Security-Policy allows them)."""

from __future__ import annotations

import functools

import qrcode
import qrcode.constants
from markupsafe import Markup, escape


@functools.lru_cache(maxsize=256)
def qr_svg(data: str, label: str = "", border: int = 2) -> Markup:
    """An inline <svg> QR code of ``data``, one path of merged horizontal runs (a few KB at most).

    Kept per process by its arguments (a receipt shown again costs a lookup, not ~10 ms of
    encoding): the same input always makes the same picture, so no one sees another's.
    """
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=border)
    qr.add_data(data)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    size = len(matrix)
    runs = []
    # qrcode's own SvgPathImage writes one square per module (~10 KB for a URL); merging the
    # dark runs of each row keeps the same picture at a fraction of the bytes.
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if row[x]:
                start = x
                while x < size and row[x]:
                    x += 1
                runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    title = f"<title>{escape(label)}</title>" if label else ""
    # Every interpolated value is a number or escaped above; the rest is fixed markup.
    return Markup(  # noqa: S704
        f'<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'role="img" aria-label="{escape(label)}" shape-rendering="crispEdges">{title}'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>'
    )
