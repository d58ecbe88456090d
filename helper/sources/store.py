"""The helper's own store as a lookup source: most specific key first, then the host's entry."""

from __future__ import annotations

from ..address import Target, is_hub_token_key
from ..errors import HelperError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..backends import Backend
    from .base import Answer, Trace


class StoreSource:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def get(self, address: str, target: Target, trace: Trace) -> Answer:
        keys = [address] if is_hub_token_key(address) else target.store_keys()
        for key in keys:
            creds = self.backend.get(key)
            if creds is not None:
                trace(f"store: entry {key!r} answers (username {creds.username!r}, secret ***)")
                return creds.with_server(address)
        if not is_hub_token_key(address):
            from ..authfile import namespaced_fallback  # only on a miss: a backend hit never needs authfile

            try:
                listed = self.backend.list()
            except HelperError as err:  # a backend helper that cannot list still answers get, as it does for docker
                trace(f"store: no namespaced fallback: {err}")
                listed = {}
            key = namespaced_fallback(target, listed)
            if key is not None:
                creds = self.backend.get(key)
                if creds is not None:
                    trace(f"store: no host entry; namespaced entry {key!r} answers (username {creds.username!r})")
                    return creds.with_server(address)
        trace(f"store: no entry for {' / '.join(keys)}")
        return None

    def list_keys(self) -> list[str]:
        return list(self.backend.list())
