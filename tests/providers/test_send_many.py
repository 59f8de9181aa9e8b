"""The default ``send_many``: a backend that sends a batch per request has
its requests made on a few threads, answers kept in order, and one failed
request standing for itself only."""

import threading
import time

from providers.base import OutboundSms, ProviderBackend, ProviderError, SendOptions, SubmitResult
from providers.status import Status


class Recording(ProviderBackend):
    label = "recording"

    def __init__(self):
        super().__init__(base_url="http://provider.invalid/")
        self.threads = set()

    def send_batch(self, messages, options):
        self.threads.add(threading.get_ident())
        time.sleep(0.01 * (5 - len(self.threads)))  # finish out of order
        first = messages[0].ref
        if first == "refused":
            raise ProviderError("Refused.", permanent=True, code="E1")
        if first == "bug":
            raise KeyError("no such field")
        return [SubmitResult(ref=m.ref, status=Status.ACCEPTED) for m in messages]


def batch(*refs):
    return [OutboundSms(ref=ref, to="+4915112345601", text="Hi", sender="Shop") for ref in refs]


def test_answers_come_back_in_order_and_failures_stay_with_their_request():
    backend = Recording()
    batches = [batch("a", "b"), batch("refused"), batch("c"), batch("bug"), batch("d")]

    results = backend.send_many(batches, SendOptions(), connections=4)

    assert [r.ref for r in results[0]] == ["a", "b"]
    assert (results[1].code, results[1].permanent) == ("E1", True)
    assert [r.ref for r in results[2]] == ["c"]
    # A backend that crashed may have sent: never resent blindly.
    assert isinstance(results[3], ProviderError) and results[3].maybe_sent
    assert "no such field" in results[3].message
    assert [r.ref for r in results[4]] == ["d"]
    assert len(backend.threads) > 1


def test_one_connection_sends_one_request_after_the_other_in_this_thread():
    backend = Recording()
    results = backend.send_many([batch("a"), batch("b")], SendOptions(), connections=1)
    assert [r[0].ref for r in results] == ["a", "b"]
    assert backend.threads == {threading.get_ident()}
