"""Redis and PostgreSQL stopped and started during a campaign: it carries on,
nobody is lost and nobody gets the message twice (counted at the provider).
Needs the servers `make test` starts, which it may restart."""

import contextlib
import os
import subprocess
import time

import pytest
from django.db import close_old_connections, connection

from campaigns import services
from campaigns.models import Campaign, Message
from campaigns.tasks import dispatch_due
from providers.status import Status

from .conftest import wait_for
from .test_dispatch_faults import audience, campaign_for, received, slow_infobip

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def restart_redis():
    port, work = os.environ["SMSPORTAL_TEST_REDIS"].split("|")
    subprocess.run(["redis-cli", "-p", port, "shutdown", "nosave"], capture_output=True)
    time.sleep(1.0)
    subprocess.Popen(
        [
            "redis-server",
            "--port",
            port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            work,
            "--daemonize",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
    ).wait()
    assert wait_for(
        lambda: (
            subprocess.run(["redis-cli", "-p", port, "ping"], capture_output=True).stdout.strip()
            == b"PONG"
        ),
        timeout=10,
    )


def restart_postgres():
    pg_bin, data, _port, work = os.environ["SMSPORTAL_TEST_PG"].split("|")
    command = [
        f"{pg_bin}/pg_ctl",
        "-D",
        data,
        "-m",
        "fast",
        "-w",
        "-l",
        f"{work}/postgres.log",
        "restart",
    ]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    # The server's output goes to its log: a pipe here would be held open by
    # the new server for ever.
    subprocess.run(
        command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60
    )
    connection.close()


def settled(campaign):
    close_old_connections()
    try:
        done = Campaign.objects.filter(pk=campaign.pk, materialised_at__isnull=False).exists()
        return (
            done
            and not Message.objects.filter(
                campaign=campaign, status__in=[Status.PENDING, Status.SENDING, Status.UNKNOWN]
            ).exists()
        )
    except Exception:  # the database is coming back
        connection.close()
        return False


@pytest.fixture
def restartable():
    if "SMSPORTAL_TEST_PG" not in os.environ or "SMSPORTAL_TEST_REDIS" not in os.environ:
        pytest.skip("needs the PostgreSQL and Redis that `make test` starts")


def test_a_campaign_survives_broker_and_database_restarts(restartable, worker, manager):
    handler = slow_infobip(0.02)
    with serve_provider(handler) as url:
        campaign = campaign_for(url, audience(6000), throughput=1500)
        env = {"DISPATCH_STUCK_AFTER": "3", "DISPATCH_TIME_BUDGET": "2"}
        workers = [worker(**env)]

        def supervise():
            """What the service manager and Celery beat do in production:
            restart a worker that exited (Celery's worker can exit when its
            broker goes away), and kick running campaigns every few seconds."""
            if workers[-1].process.poll() is not None:
                workers.append(worker(**env))
            with contextlib.suppress(Exception):  # the broker is coming back
                dispatch_due.delay()
            return True

        services.campaign_launch(campaign=campaign, user=manager)
        assert wait_for(lambda: len(received(handler)) > 500, timeout=60)
        restart_redis()
        assert wait_for(
            lambda: supervise() and len(received(handler)) > 2500, timeout=90, interval=1.0
        )
        restart_postgres()

        def finished():
            supervise()
            return settled(campaign)

        assert wait_for(finished, timeout=120, interval=1.0)
        got = received(handler)
        assert len(got) == len(set(got)) == 6000


def serve_provider(handler):
    from tests.providers.fakes import serve

    return serve(handler)
