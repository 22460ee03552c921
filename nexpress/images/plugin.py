"""``App(images={...})`` installs the image feature through this plugin: the
``/_nexpress/image`` route, the shutdown of its remote client, and the ``image``
template global the app hands to its pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._optional import check_installed
from ..cache import Cache
from ..routing import Plugin, Router
from .config import ImageConfig, cache_folder, image_config
from .endpoint import ImageEndpoint, ImageService
from .helper import ImageHelper
from .store import DiskVariants, SharedVariants
from .transform import FEATURE

__all__ = ["Images"]


class Images(Plugin):
    """Image optimisation for one app (docs/images.md): ``app.use(Images(...))``, which
    ``App(images=...)`` does."""

    def __init__(
        self,
        options: dict[str, Any] | bool = True,
        *,
        root: str = ".",
        public: str | None = None,
        debug: bool = False,
        cache: Cache | None = None,
    ) -> None:
        self.config: ImageConfig = image_config(options)
        check_installed("PIL", "images", FEATURE)  # Pillow is imported on the first image
        if self.config.store == "cache":
            if cache is None:
                raise ValueError("App(images={'store': 'cache'}) needs the app's cache")
            shared = cache
            store: DiskVariants | SharedVariants = SharedVariants(lambda: shared.store)
        else:
            store = DiskVariants(cache_folder(root))
        self.service = ImageService(self.config, public, store)
        self.helper = ImageHelper(self.config, public, debug)

    @property
    def decodes(self) -> int:
        """Variants this process decoded and encoded (stored ones are served without)."""
        return self.service.decodes

    def install(self, router: Router, prefix: str) -> None:
        path = self.config.path if prefix in ("", "/") else prefix.rstrip("/") + self.config.path
        router.get(path, ImageEndpoint(self.service), include_in_schema=False)
        router.on_shutdown(self.service.close)

    def template_global(self) -> Callable[..., Any]:
        """The ``image`` function for the app's templates."""
        return self.helper.template_global()
