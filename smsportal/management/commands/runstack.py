"""Web server, the Celery workers (one for tasks, one for contact imports)
and beat together in the foreground; Ctrl-C stops them all. A worker (or
beat) that dies is started again, with a line saying so."""

import os
import signal
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from smsportal.celery import worker_command

# Seconds before a dead worker or beat is started again; doubled (up to the
# most) each time it dies within STABLE_AFTER seconds of starting.
RESTART_PAUSE = 1.0
MAX_RESTART_PAUSE = 30.0
STABLE_AFTER = 30.0


class Command(BaseCommand):
    help = "Run the web server, the Celery workers and Celery beat until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("RUN_ADDR", "127.0.0.1:8000"))
        parser.add_argument("--concurrency", default="2")

    @staticmethod
    def _worker(queue: str, name: str, *extra: str) -> list[str]:
        return worker_command("-Q", queue, "-n", f"{name}@%h", *extra)

    def handle(self, *args, addr, concurrency, **options):
        # Webhook URLs default to the address served on (PUBLIC_BASE_URL
        # unset): every process started here builds them from this one.
        os.environ["RUN_ADDR"] = addr
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
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        login_file = settings.VAR_DIR / "demo-login.txt"
        login = login_file.read_text().split() if login_file.exists() else ["admin", "?"]
        self.supervise(
            commands,
            lambda: stopping,
            ready=(
                f"\nsmsportal is running at http://{addr}/  (login: {login[0]} / {login[1]})\n"
                "Press Ctrl-C to stop the web server, workers and beat.\n"
            ),
        )

    def supervise(self, commands: dict[str, list[str]], stopping, *, ready: str = "") -> None:
        """Run the commands until ``stopping()`` or the web server exits. A
        worker (or beat) that dies is started again, after a pause that grows
        while it keeps dying soon after starting; the web server exiting (its
        port taken, say) stops everything."""
        processes = {name: self._start(name, command) for name, command in commands.items()}
        if ready:
            self.stdout.write(self.style.SUCCESS(ready))
        started = dict.fromkeys(processes, time.monotonic())
        pause = dict.fromkeys(processes, RESTART_PAUSE)
        due: dict[str, float] = {}
        try:
            while not stopping():
                now = time.monotonic()
                for name, process in processes.items():
                    if name in due:
                        if now >= due[name]:
                            del due[name]
                            processes[name] = self._start(name, commands[name])
                            started[name] = now
                        continue
                    if process.poll() is None:
                        continue
                    if name == "web":
                        self.stderr.write(f"web exited with {process.returncode}; stopping.")
                        return
                    if now - started[name] > STABLE_AFTER:
                        pause[name] = RESTART_PAUSE
                    self.stderr.write(
                        f"{name} exited with {process.returncode}; restarting it in "
                        f"{pause[name]:.0f} s."
                    )
                    due[name] = now + pause[name]
                    pause[name] = min(pause[name] * 2, MAX_RESTART_PAUSE)
                time.sleep(0.2)
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

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self._relay, args=(name, process), daemon=True).start()
        return process

    def _relay(self, name, process):
        for line in process.stdout:
            self.stdout.write(f"{name:>6} | {line.rstrip()}")
