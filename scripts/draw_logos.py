"""Draws the connectors' logos (src/biconnector/portal/logos/*.png): a database cylinder on a
rounded square in each engine's colour. Run it again after changing a colour or a shape."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

SIZE = 128
SAMPLES = 4  # per axis: edges are averaged over 16 points per pixel
LOGOS = {"mysql": (0x00, 0x75, 0x8F), "postgresql": (0x33, 0x67, 0x91)}
WHITE = (0xFF, 0xFF, 0xFF)


def _inside_square(x: float, y: float) -> bool:
    radius, low, high = 24.0, 4.0, SIZE - 4.0
    cx = min(max(x, low + radius), high - radius)
    cy = min(max(y, low + radius), high - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2 and low <= x <= high and low <= y <= high


def _in_ellipse(x: float, y: float, cy: float) -> bool:
    return ((x - 64) / 36) ** 2 + ((y - cy) / 11) ** 2 <= 1


def _on_arc(x: float, y: float, cy: float) -> bool:
    """On the lower half of the rim of an ellipse centred at (64, cy), 3 pixels wide."""
    distance = ((x - 64) / 36) ** 2 + ((y - cy) / 11) ** 2
    return y > cy and 0.78 <= distance <= 1.0


def _on_cylinder(x: float, y: float) -> bool:
    """The white parts: a cylinder whose top and two seams are drawn as gaps."""
    in_body = (abs(x - 64) <= 36 and 34 <= y <= 96) or _in_ellipse(x, y, 96)
    if not (in_body or _in_ellipse(x, y, 34)):
        return False
    return not any(_on_arc(x, y, cy) for cy in (34, 55, 76))


def _pixel(colour: tuple[int, int, int], px: int, py: int) -> bytes:
    counts = {"background": 0, "white": 0}
    for sx in range(SAMPLES):
        for sy in range(SAMPLES):
            x, y = px + (sx + 0.5) / SAMPLES, py + (sy + 0.5) / SAMPLES
            if _inside_square(x, y):
                counts["white" if _on_cylinder(x, y) else "background"] += 1
    total = SAMPLES * SAMPLES
    covered = counts["background"] + counts["white"]
    if not covered:
        return bytes(4)
    mix = [
        (colour[i] * counts["background"] + WHITE[i] * counts["white"]) // covered
        for i in range(3)
    ]
    return bytes([*mix, 255 * covered // total])


def _png(rows: list[bytes]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    target = Path(__file__).resolve().parent.parent / "src/biconnector/portal/logos"
    for name, colour in LOGOS.items():
        rows = [b"".join(_pixel(colour, x, y) for x in range(SIZE)) for y in range(SIZE)]
        (target / f"{name}.png").write_bytes(_png(rows))


if __name__ == "__main__":
    main()
