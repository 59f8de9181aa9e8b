"""Web server, the Celery workers (one for tasks, one for contact imports)
and beat together in the foreground; Ctrl-C stops them all."""

import os
import signal
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from smsportal.celery import worker_command


class Command(BaseCommand):
    help = "Run the web server, the Celery workers and Celery beat until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("RUN_ADDR", "127.0.0.1:8000"))
        parser.add_argument("--concurrency", default="2")

    @staticmethod
    def _worker(queue: str, name: str, *extra: str) -> list[str]:
        return worker_command("-Q", queue, "-n", f"{name}@%h", *extra)

    def handle(self, *args, addr, concurrency, **options):
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        commands = {
            "web": [python, manage, "runserver", addr, "--noreload"],
            "worker": self._worker("celery", "tasks", "--concurrency", concurrency),
            # Imports run one at a time in a worker of their own, whose
            # process may start the import's normalising processes.
            "imports": self._worker("imports", "imports", "-P", "solo"),
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "smsportal",
                "beat",
                "-l",
                "info",
                "-s",
                settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ],
        }
        processes = {}
        for name, command in commands.items():
            processes[name] = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
            )
            threading.Thread(target=self._relay, args=(name, processes[name]), daemon=True).start()
        login_file = settings.VAR_DIR / "demo-login.txt"
        login = login_file.read_text().split() if login_file.exists() else ["admin", "?"]
        self.stdout.write(
            self.style.SUCCESS(
                f"\nsmsportal is running at http://{addr}/  (login: {login[0]} / {login[1]})\n"
                "Press Ctrl-C to stop the web server, workers and beat.\n"
            )
        )
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with {process.returncode}; stopping.")
                        stopping = True
                time.sleep(0.5)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            deadline = time.monotonic() + 10
            for process in processes.values():
                try:
                    process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
        self.stdout.write("Stopped.")

    def _relay(self, name, process):
        for line in process.stdout:
            self.stdout.write(f"{name:>6} | {line.rstrip()}")
