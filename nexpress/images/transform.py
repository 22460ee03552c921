"""Pillow's part: read a source's header, then decode, resize and encode one variant.

Pillow is the ``images`` extra, imported on first use. Only the decoders of the
formats served (JPEG, PNG, GIF, WebP, AVIF) are tried, and a source's pixel count is
read from its header and checked before anything is decoded, so a small file that
claims a 20000x20000 canvas is refused in microseconds. A file that is not an
image, is truncated or otherwise cannot be decoded is an :class:`ImageError` (422).
These functions block: the endpoint runs them in a thread.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from .._optional import require
from ..http.errors import HTTPError
from .protocol import fallback_format

__all__ = ["Encoded", "ImageError", "encode_variant", "probe"]

FORMATS = {"JPEG": "jpeg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "AVIF": "avif"}
"""Pillow's format names of the sources served, and ours."""
FEATURE = "Image optimisation (nexpress.images)"


class ImageError(HTTPError):
    """A source that cannot be served as an image: 422, naming why."""

    def __init__(self, detail: str) -> None:
        super().__init__(422, detail)


@dataclass(frozen=True, slots=True)
class Encoded:
    """One encoded variant."""

    data: bytes
    format: str  # avif, webp, jpeg, png, gif


def pil() -> Any:
    """``PIL.Image``, or a MissingExtraError naming the ``images`` extra."""
    return require("PIL.Image", "images", FEATURE)


def can_encode(fmt: str) -> bool:
    """Whether this Pillow can write ``fmt`` (AVIF needs Pillow >= 11.3 built with libavif)."""
    image_module = pil()
    image_module.init()
    return fmt.upper() in image_module.SAVE


_LIMIT = "more pixels than the {} allowed (App(images={{'max_pixels': ...}}))"
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError, ZeroDivisionError)


def _open(source: bytes | str, max_pixels: int) -> Any:
    """Open ``source`` (bytes or a path) reading its header only; check format and size."""
    image_module = pil()
    fp = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        image = image_module.open(fp, formats=list(FORMATS))
    except image_module.DecompressionBombError:
        raise ImageError(f"The image has {_LIMIT.format(max_pixels)}") from None
    except _DECODE_ERRORS:
        raise ImageError("The source is not an image this server can read (JPEG, PNG, GIF, WebP or AVIF)") from None
    width, height = image.size
    if width < 1 or height < 1 or width * height > max_pixels:
        image.close()
        raise ImageError(f"The image is {width}x{height}: {_LIMIT.format(max_pixels)}")
    return image


def probe(source: bytes | str, max_pixels: int) -> tuple[str, int, int]:
    """(format, width, height) from the header alone: nothing is decoded."""
    image = _open(source, max_pixels)
    with image:
        return FORMATS[image.format], image.width, image.height


def encode_variant(source: bytes, width: int, quality: int, fmt: str | None, max_pixels: int) -> Encoded:
    """Decode ``source``, resize it to ``width`` (never larger than it is: no
    upscaling) and encode it as ``fmt`` (None: its own format). Animated images are
    served as they are (frames are not resized)."""
    image_module = pil()
    image = _open(source, max_pixels)
    with image:
        own = FORMATS[image.format]
        if getattr(image, "n_frames", 1) > 1:
            return Encoded(source, own)
        try:
            return _resize_encode(image_module, image, width, quality, fmt or fallback_format(own))
        except ImageError:
            raise
        except _DECODE_ERRORS as exc:
            raise ImageError(f"The image could not be decoded ({type(exc).__name__}: {str(exc)[:120]})") from None


def _resize_encode(image_module: Any, image: Any, width: int, quality: int, fmt: str) -> Encoded:
    from PIL import ImageOps  # loaded: pil() imported PIL

    target = min(width, image.width)
    if image.format == "JPEG":  # decode at a reduced scale when much larger than needed
        side = max(target, round(image.height * target / image.width))
        image.draft("RGB", (side, side))
    image.load()
    oriented = ImageOps.exif_transpose(image)
    if oriented is not None:
        image = oriented
    target = min(width, image.width)
    height = max(1, round(image.height * target / image.width))
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    if (target, height) != image.size:
        image = image.resize((target, height), image_module.Resampling.LANCZOS, reducing_gap=3.0)
    options: dict[str, Any] = {}
    icc = image.info.get("icc_profile")
    if icc:
        options["icc_profile"] = icc
    if fmt == "jpeg":
        if image.mode != "RGB" and image.mode != "L":
            image = image.convert("RGB")
        options.update(quality=quality, optimize=True, progressive=True)
    elif fmt == "webp":
        options.update(quality=quality, method=4)
    elif fmt == "avif":
        options.update(quality=quality, speed=7)
    elif fmt == "png":
        options.update(optimize=False, compress_level=6)
    out = io.BytesIO()
    image.save(out, format=fmt.upper(), **options)
    return Encoded(out.getvalue(), fmt)
