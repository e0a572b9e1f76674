#!/usr/bin/env python3
"""Regenerate NotoSansSC-subset.otf, the CJK font bundled by homeseason-charts.

Source: Noto Sans CJK SC Regular, face 2 of NotoSansCJK-Regular.ttc
(Debian package fonts-noto-cjk 1:20220127+repack1-1, font version 2.004).
Needs fonttools (`pip install fonttools`) for pyftsubset.

Usage (from this directory):
    python3 make_subset.py [/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc]

The character set is: printable ASCII, Latin-1 Supplement, General Punctuation,
a few arrows/maths/shape symbols used by charts, CJK Symbols and Punctuation,
Halfwidth and Fullwidth Forms, and every character of GB2312 (all 6,763 hanzi
plus its symbol rows), obtained by decoding each GB2312 code point with
Python's codec.
"""
import os
import subprocess
import sys
import tempfile

from fontTools.ttLib import TTCollection

SRC = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "NotoSansSC-subset.otf")
WANT_FAMILY = "Noto Sans CJK SC"


def sc_face_index(path):
    """Index of the Simplified Chinese face, verified through the name table."""
    coll = TTCollection(path, lazy=True)
    for i, font in enumerate(coll.fonts):
        if font["name"].getDebugName(1) == WANT_FAMILY:
            return i
    raise SystemExit(f"no face named {WANT_FAMILY!r} in {path}")


def gb2312_chars():
    chars, hanzi = [], 0
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                ch = bytes([hi, lo]).decode("gb2312")
            except UnicodeDecodeError:
                continue
            chars.append(ch)
            if 0x4E00 <= ord(ch) <= 0x9FFF:
                hanzi += 1
    assert hanzi == 6763, hanzi
    return chars


def ranges(*spans):
    out = []
    for a, b in spans:
        out.extend(chr(c) for c in range(a, b + 1))
    return out


def main():
    face = sc_face_index(SRC)
    chars = set(gb2312_chars())
    chars.update(ranges(
        (0x0020, 0x007E),  # ASCII
        (0x00A0, 0x00FF),  # Latin-1 Supplement (punctuation, ×, ÷, ±, °, ·)
        (0x2000, 0x206F),  # General Punctuation (–, —, ‰, …, “ ”)
        (0x2190, 0x2199),  # arrows
        (0x2212, 0x2212),  # minus sign
        (0x2264, 0x2265),  # ≤ ≥
        (0x25A0, 0x25CF),  # geometric shapes (■ □ ▲ ▼ ● ○)
        (0x3000, 0x303F),  # CJK Symbols and Punctuation
        (0xFF00, 0xFFEF),  # Halfwidth and Fullwidth Forms
    ))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("".join(sorted(chars)))
        text_file = f.name
    try:
        cmd = [
            "pyftsubset", SRC,
            f"--font-number={face}",
            f"--text-file={text_file}",
            f"--output-file={OUT}",
            # Only width/vertical/kerning features: the charts use the cmap alone, and
            # "*" (or the default set, with locl) would add ~6,000 alternate glyphs (+1.3 MB).
            "--layout-features=kern,palt,halt,vert,vrt2,pwid,fwid,hwid",
            "--no-hinting",
            "--name-IDs=*",
            "--name-languages=*",
        ]
        print(" ".join(cmd))
        subprocess.run(cmd, check=True)
    finally:
        os.unlink(text_file)
    size = os.path.getsize(OUT)
    print(f"{OUT}: {size} bytes, {len(chars)} requested characters, face {face}")
    assert size < 5 * 1024 * 1024, "subset must stay under 5 MiB"


if __name__ == "__main__":
    main()
