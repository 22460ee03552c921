"""Image optimisation (SPEC 11, docs/images.md): ``App(images={...})``, the ``image()``
template helper and ``/_nexpress/image``. Pillow (the ``images`` extra) loads on first use."""

from .config import ImageConfig, image_config
from .helper import images_off, srcset_widths
from .plugin import Images

__all__ = ["ImageConfig", "Images", "image_config", "images_off", "srcset_widths"]
