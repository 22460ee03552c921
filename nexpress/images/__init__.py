"""Image optimisation (SPEC 11, docs/images.md): ``App(images={...})``, the ``image()``
template helper and ``/_nexpress/image``. Pillow (the ``images`` extra) loads on first use."""

from .config import ImageConfig, image_config
from .helper import srcset_widths
from .plugin import Images

__all__ = ["ImageConfig", "Images", "image_config", "srcset_widths"]
