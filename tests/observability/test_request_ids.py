"""Request ids: a client's own kept when it is sane; made ones unique and in the order they were made."""

import re
import time

from gateway.http import request_id_from


def test_a_sane_client_id_is_kept_and_anything_else_replaced():
    assert request_id_from({"x-request-id": "client-123"}) == "client-123"
    assert request_id_from({"x-request-id": "bad id\n"}).startswith("req_")


def test_made_ids_have_the_documented_shape_and_are_unique():
    ids = [request_id_from({}) for _ in range(10_000)]
    assert all(re.fullmatch(r"req_[0-9a-f]{32}", made) for made in ids)
    assert len(set(ids)) == len(ids)


def test_made_ids_sort_in_the_order_they_were_made():
    # What keeps the request log's unique index appending at its end instead of splitting pages everywhere.
    earlier = request_id_from({})
    time.sleep(0.002)
    later = request_id_from({})
    assert earlier < later
    assert int(later[4:16], 16) - int(earlier[4:16], 16) >= 2  # milliseconds
