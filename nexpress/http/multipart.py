"""Reading a ``multipart/form-data`` body (python-multipart's push parser) into form
fields and spooled uploads, with the limits that keep a hostile body from costing
memory, disk or a 500: per-file size, total field size, number of parts, boundary
length (RFC 2046: 1 to 70 characters)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .errors import BadRequest, HTTPError

MiB = 1024 * 1024
MAX_PARTS = 1000
MAX_BOUNDARY = 200  # RFC 2046 allows 70; browsers send ~40-70: generous, still bounded


class PayloadTooLarge(HTTPError):
    def __init__(self, what: str, limit: int) -> None:
        super().__init__(413, f"{what} is larger than the limit of {human_size(limit)}", limit=limit)


def human_size(size: int) -> str:
    if size % MiB == 0:
        return f"{size // MiB} MiB"
    if size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} bytes"


class UploadFile:
    """A file from a multipart form, spooled to disk past 1 MiB."""

    __slots__ = ("content_type", "file", "filename", "headers", "size")

    def __init__(self, filename: str, content_type: str, headers: dict[str, str]) -> None:
        self.filename = filename
        self.content_type = content_type
        self.headers = headers
        self.size = 0
        import tempfile  # with the first upload, not at import

        self.file = tempfile.SpooledTemporaryFile(max_size=MiB)  # noqa: SIM115 (closed by FormData.close)

    def read(self, size: int = -1) -> bytes:
        return self.file.read(size)

    def seek(self, offset: int) -> None:
        self.file.seek(offset)

    def save(self, path: str) -> None:
        """Copy the upload to ``path``."""
        import shutil

        self.file.seek(0)
        with open(path, "wb") as out:
            shutil.copyfileobj(self.file, out)

    def close(self) -> None:
        self.file.close()

    def __repr__(self) -> str:
        return f"UploadFile({self.filename!r}, {self.content_type!r}, size={self.size})"


def check_boundary(boundary: bytes | None) -> bytes:
    """The boundary parameter, or a 400 saying what is wrong with it."""
    if not boundary:
        raise BadRequest("Multipart form without a boundary parameter")
    if len(boundary) > MAX_BOUNDARY:
        raise BadRequest(f"The multipart boundary is {len(boundary)} characters long; at most {MAX_BOUNDARY} are accepted")
    return boundary


class MultipartReader:
    """Collects (name, str | UploadFile) pairs from python-multipart's callbacks."""

    def __init__(self, boundary: bytes, body_limit: int, file_limit: int) -> None:
        self.body_limit = body_limit
        self.file_limit = file_limit
        self.pairs: list[tuple[str, Any]] = []
        self.ended = False
        self.field_bytes = 0
        self.part: dict[str, Any] = {}
        self.header_field = bytearray()
        self.header_value = bytearray()
        from python_multipart.multipart import MultipartParser  # with the first multipart body

        try:
            self.parser = MultipartParser(check_boundary(boundary), self.callbacks())
        except Exception as exc:  # python-multipart refuses some boundaries itself
            raise BadRequest(f"Malformed multipart boundary: {exc}") from None

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }

    async def read(self, chunks: AsyncIterator[bytes]) -> list[tuple[str, Any]]:
        """Feed the body through the parser; the pairs, or a 4xx (uploads closed)."""
        try:
            async for chunk in chunks:
                self.parser.write(chunk)
            self.parser.finalize()
        except HTTPError:
            self.close()
            raise
        except Exception as exc:  # python-multipart raises its own errors on bad framing
            self.close()
            raise BadRequest(f"Malformed multipart body: {exc}") from None
        if not self.ended:
            self.close()
            raise BadRequest("Truncated multipart body: the closing boundary is missing")
        return self.pairs

    def close(self) -> None:
        for _, value in self.pairs:
            if isinstance(value, UploadFile):
                value.close()
        upload = self.part.get("file")
        if upload is not None:
            upload.close()

    # --- parser callbacks -------------------------------------------------------------

    def on_part_begin(self) -> None:
        if len(self.pairs) >= MAX_PARTS:
            raise BadRequest(f"Too many parts in the multipart form (limit {MAX_PARTS})")
        self.part = {"headers": {}, "disposition": b""}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field.extend(data[start:end])

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value.extend(data[start:end])

    def on_header_end(self) -> None:
        try:
            name = self.header_field.decode("ascii").lower()
            value = self.header_value.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("A multipart part header is not valid UTF-8") from None
        self.part["headers"][name] = value
        if name == "content-disposition":
            self.part["disposition"] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        # raw bytes: browsers send names and filenames as UTF-8, which the latin-1
        # round trip of parse_options_header keeps intact for decoding below
        from python_multipart.multipart import parse_options_header

        disposition, options = parse_options_header(self.part["disposition"])
        if disposition != b"form-data" or b"name" not in options:
            raise BadRequest("A multipart part has no Content-Disposition: form-data name")
        try:
            self.part["name"] = options[b"name"].decode("utf-8")
            filename = options.get(b"filename")
            filename = filename.decode("utf-8") if filename is not None else None
        except UnicodeDecodeError:
            raise BadRequest("A multipart field name is not valid UTF-8") from None
        if filename is not None:
            headers = self.part["headers"]
            self.part["file"] = UploadFile(filename, headers.get("content-type", "application/octet-stream"), headers)
        else:
            self.part["data"] = bytearray()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        upload = self.part.get("file")
        if upload is not None:
            upload.size += len(chunk)
            if upload.size > self.file_limit:
                raise PayloadTooLarge(f"Uploaded file {upload.filename!r}", self.file_limit)
            upload.file.write(chunk)
            return
        self.field_bytes += len(chunk)
        if self.field_bytes > self.body_limit:
            raise PayloadTooLarge("The form fields", self.body_limit)
        self.part["data"].extend(chunk)

    def on_part_end(self) -> None:
        upload = self.part.pop("file", None)
        if upload is not None:
            upload.file.seek(0)
            self.pairs.append((self.part["name"], upload))
            return
        try:
            self.pairs.append((self.part["name"], self.part["data"].decode("utf-8")))
        except UnicodeDecodeError:
            raise BadRequest(f"Form field {self.part['name']!r} is not valid UTF-8") from None

    def on_end(self) -> None:
        self.ended = True
