"""The API layer: Kubernetes objects as plain dicts, and the rules around them.

The bottom of the engine; it imports nothing but the standard library and
``kitlib.errors`` / ``kitlib.clock`` / ``kitlib.slots``. Every component above
shares it:

- :mod:`kitlib.api.meta`: names, ``namespace/name`` keys, UIDs, timestamps,
  owner references, ``deep_copy`` (copy before you modify a cached object);
- :mod:`kitlib.api.selectors` and :mod:`kitlib.api.fields`: label and field
  selectors, parsed and matched as apimachinery does (label matching is the
  ``api.label_selector_matches`` slot);
- :mod:`kitlib.api.field` and :mod:`kitlib.api.validation`: field errors and
  the metadata rules, with Kubernetes' exact messages;
- :mod:`kitlib.api.validate`: every served kind's own rules (the
  ``validation_*`` modules, one per API area, and :mod:`kitlib.api.quantity`
  for resource amounts), behind one entry point the API server calls;
- :mod:`kitlib.api.errors`: ``NotFound``, ``Conflict``, ``Invalid``... each
  rendering the ``Status`` body kube-apiserver sends, and ``from_status``
  reading one back.

Simplifications: see each module.
"""

from kitlib.api.errors import (
    AlreadyExists,
    APIError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    InternalError,
    Invalid,
    InvalidSelector,
    MethodNotAllowed,
    NotFound,
    Timeout,
    TooManyRequests,
    Unauthorized,
    from_status,
    success_status,
)
from kitlib.api.meta import deep_copy, key_of, split_key
from kitlib.api.selectors import (
    EVERYTHING,
    NOTHING,
    FieldSelector,
    Requirement,
    Selector,
    parse_field_selector,
    parse_label_selector,
    selector_from_label_selector,
    selector_from_set,
)
from kitlib.api.field import FieldError

__all__ = [
    "APIError", "AlreadyExists", "BadRequest", "Conflict", "Forbidden", "Gone", "InternalError", "Invalid",
    "MethodNotAllowed", "NotFound", "Timeout", "TooManyRequests", "Unauthorized", "from_status", "success_status",
    "deep_copy", "key_of", "split_key",
    "EVERYTHING", "NOTHING", "FieldSelector", "InvalidSelector", "Requirement", "Selector",
    "parse_field_selector", "parse_label_selector", "selector_from_label_selector", "selector_from_set",
    "FieldError",
]
