"""Bytes of one output stream -> complete lines, a chunk at a time."""

from __future__ import annotations

# Per line of a chunk that is not plain: index -> (bytes cut off, ended by a lone \r).
Specials = dict[int, tuple[int, bool]]


class LineSplitter:
    """Bytes of one stream -> complete lines, a chunk at a time.

    ``feed`` returns the complete lines (each at most ``max_line`` bytes) and
    the few that need care: cut ones and ones ended by a lone ``\\r`` (progress
    bars). A partial line waits for the next read and is kept only up to
    ``max_line`` bytes, so an endless line costs no memory. ``\\r\\n`` is one break.
    Working on whole chunks keeps the per-line cost to a few C-level operations.
    """

    def __init__(self, max_line: int) -> None:
        self.max = max_line
        self.buf = b""
        self.over = 0
        self.held_cr = False

    def feed(self, data: bytes) -> tuple[list[bytes], Specials]:
        if self.held_cr:
            data = b"\r" + data
            self.held_cr = False
        if data.endswith(b"\r"):
            # It may be the first half of \r\n: decide when the next read comes.
            data = data[:-1]
            self.held_cr = True
        first_over = self.over
        if self.buf:
            data = self.buf + data
        specials: Specials = {}
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
            lines: list[bytes] = []
            for piece in data.split(b"\n"):
                segs = piece.split(b"\r")
                for seg in segs[:-1]:
                    specials[len(lines)] = (0, True)
                    lines.append(seg)
                lines.append(segs[-1])
            # The unfinished line ended neither by \n nor by \r.
            rest = lines.pop()
        else:
            lines = data.split(b"\n")
            rest = lines.pop()
        if lines:
            if first_over:
                specials[0] = (first_over, specials.get(0, (0, False))[1])
            if max(map(len, lines)) > self.max:
                for i, line in enumerate(lines):
                    if len(line) > self.max:
                        over, cr = specials.get(i, (0, False))
                        specials[i] = (over + len(line) - self.max, cr)
                        lines[i] = line[:self.max]
            self.over = 0
        if len(rest) > self.max:
            self.over += len(rest) - self.max
            rest = rest[:self.max]
        self.buf = rest
        return lines, specials

    def finish(self) -> tuple[list[bytes], Specials]:
        self.held_cr = False
        if not self.buf and not self.over:
            return [], {}
        lines, specials = [self.buf], ({0: (self.over, False)} if self.over else {})
        self.buf, self.over = b"", 0
        return lines, specials

