"""Schemathesis over the stats API's own OpenAPI schema, with a staff token: whatever it sends, valid
by the schema or not, no operation answers with a 5xx. Bounded: a few examples per operation."""

import httpx
import pytest
import schemathesis
from django.contrib.auth.models import User
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode

pytestmark = pytest.mark.django_db(transaction=True)  # every app: users and tokens too
EXAMPLES = settings(max_examples=3, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


@pytest.fixture
def staff_token(gw):
    return Token.objects.create(user=User.objects.create_user("fuzzer", is_staff=True, is_superuser=True)).key


def operations(url: str, token: str) -> list:
    raw = httpx.get(f"{url}/api/schema/?format=json", headers={"authorization": f"Token {token}"}).json()
    return [result.ok() for result in schemathesis.openapi.from_dict(raw).get_all_operations()]


def test_no_stats_api_operation_answers_with_a_server_error(gw, staff_token):
    headers = {"Authorization": f"Token {staff_token}"}
    found = operations(gw.url, staff_token)
    assert len(found) > 10
    failures, calls = [], []
    for operation in found:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @EXAMPLES
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case):
                response = case.call(base_url=gw.url, headers=headers, timeout=10)
                calls.append(response.status_code)
                if response.status_code >= 500:
                    failures.append(f"{operation.label} {mode.value}: {response.status_code} {case.as_curl_command()}")

            try:
                call()
            except Unsatisfiable:  # nothing in this operation can be made invalid (no parameters, no body)
                assert mode == GenerationMode.NEGATIVE
    assert failures == []
    assert len(calls) > 3 * len(found)
