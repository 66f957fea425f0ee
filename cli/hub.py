"""An unreachable Hugging Face Hub fails in seconds, with the hint a user needs.

huggingface_hub retries every connection error five times with backoff, for each file it looks
up: a misspelt model id on a machine without network spent 99 s in 46 lines of retries before
the error. A connection that cannot be opened is reported here as the hub's offline-mode error,
which it does not retry and which sends it to the local cache, exactly as ``HF_HUB_OFFLINE=1``
would: a cached model still loads, anything else fails at once."""

from __future__ import annotations

import os
import re

import httpx2
import huggingface_hub
from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

CONNECT_TIMEOUT_S = 10.0  # opening a connection; reading a large file keeps no limit
# A repository's file or API address (not a documentation page the message links to).
_REPO = re.compile(
    r"https?://[^/\s]+/(?:api/(?:models|datasets)/|datasets/)?([\w.-]+/[\w.-]+)/"
    r"(?:resolve|revision|tree|paths-info)/"
)
# ``datasets`` reports the hub's absence in words, without chaining the hub's error.
_DATASETS_UNREACHABLE = re.compile(r"Couldn't reach '([^']+)' on the Hub")


class FailFastTransport(httpx2.HTTPTransport):
    """A transport whose failed connection reads as offline mode (not retried, cache used)."""

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return super().handle_request(request)
        except (httpx2.ConnectError, httpx2.ConnectTimeout) as error:
            raise OfflineModeIsEnabled(f"cannot connect to {request.url}: {error}") from error


def fail_fast_when_unreachable() -> None:
    """Makes every later hub request of this process go through :class:`FailFastTransport`,
    keeping the hub's own request hooks (offline mode, request ids)."""
    hooks = huggingface_hub.get_session().event_hooks
    huggingface_hub.set_client_factory(
        lambda: httpx2.Client(
            event_hooks=hooks,
            follow_redirects=True,
            timeout=httpx2.Timeout(None, connect=CONNECT_TIMEOUT_S),
            transport=FailFastTransport(),
        )
    )


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    link: BaseException | None = error
    while link is not None and link not in seen:
        seen.append(link)
        link = link.__cause__ or link.__context__
    return seen


def hub_failure(error: BaseException) -> str | None:
    """One line for an error the hub's absence caused (None for any other error): what could
    not be fetched, and the ``HF_HUB_OFFLINE`` hint."""
    chain = _chain(error)
    said = [_DATASETS_UNREACHABLE.search(str(link)) for link in chain]
    hub_errors = LocalEntryNotFoundError | OfflineModeIsEnabled
    if not any(said) and not any(isinstance(link, hub_errors) for link in chain):
        return None
    repos = [match[1] for match in said if match]
    repos += [match[1] for link in chain if (match := _REPO.search(str(link)))]
    what = f"'{repos[0]}'" if repos else "the files"
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        return (
            f"{what} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set: "
            "check the name, or unset HF_HUB_OFFLINE to download it"
        )
    return (
        f"cannot reach the Hugging Face Hub for {what}, and it is not in the local cache: check "
        "the name and the network (HF_HUB_OFFLINE=1 skips the hub and reads only the cache)"
    )
