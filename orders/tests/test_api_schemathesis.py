"""schemathesis against the OpenAPI schema, every operation, authenticated: no 5xx, responses match the schema.

Driven through schemathesis' Python API with hypothesis directly (its pytest plugin does not yet support
pytest 9), in-process against the WSGI application.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from orders.choices import OrderStatus
from orders.tests.factories import UserFactory, order_in_status

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
EXAMPLES_PER_OPERATION = 12


@pytest.mark.django_db
def test_every_operation_conforms_to_the_schema():
    from oms.wsgi import application

    user = UserFactory(username="fuzzer", is_superuser=True)
    order_in_status(OrderStatus.AWAITING_SHIPMENT)
    order_in_status(OrderStatus.SHIPPED)
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    # Like Django's test client: requests must not close the test's connection (it sits in a transaction).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        _check_every_operation(application, headers)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _check_every_operation(application, headers: dict) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, "every endpoint is in the schema"
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            check()
        except (
            Exception,
            BaseExceptionGroup,
        ) as error:  # collect every operation's failure, then report them together
            failures.append(f"{operation.label}: {str(error)[:600]}")
    assert not failures, "\n\n".join(failures)
