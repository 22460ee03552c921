"""``nexpress.auth`` needs the ``auth`` extra (``pip install 'nexpress[auth]'``): this
module is imported first by the package, so a missing piece fails here, naming the
extra, instead of as ``No module named 'authlib'`` from one of its modules."""

from .._optional import require_extra

require_extra("auth", "nexpress.auth")
