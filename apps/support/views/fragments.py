"""Views that answer htmx with a fragment and a browser with the page (each also sends ``Vary: HX-Request``)."""


def partial_answer(request) -> bool:
    """A fragment for htmx's own requests; the whole page when htmx restores history after Back (it swaps in
    the body of what it gets) or when the browser asks itself."""
    return bool(request.htmx) and not request.htmx.history_restore_request
