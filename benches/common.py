"""Shell helpers of the benchmark scripts."""

import os
import subprocess
import sys
import time


def sh(cmd, capture=False):
    """Runs a shell command (pipefail), failing loudly."""
    out = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"command failed ({out.returncode}): {cmd}\n{out.stdout}{out.stderr}")
    return out.stdout if capture else None


def timed(cmd):
    """Wall seconds and peak RSS (MiB, the largest process of the tree) of a shell command;
    exits with its stderr if it fails."""
    seconds, rss, err = attempt(cmd)
    if err is not None:
        sys.exit(f"benchmark command failed: {cmd}\n{err}")
    return seconds, rss


def attempt(cmd):
    """Wall seconds and peak RSS (MiB, the largest process of the tree, from wait4) of a shell
    command; a failure is a result: (seconds, rss, None) or (None, None, the error's text).
    stderr goes to a file, not a pipe: a chatty tool (pgcopydb logs every table) would block on a
    full pipe that nobody reads until it exits."""
    import tempfile

    with tempfile.TemporaryFile() as err_file:
        start = time.perf_counter()
        proc = subprocess.Popen(["bash", "-o", "pipefail", "-c", cmd], stdout=subprocess.DEVNULL, stderr=err_file)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        err_file.seek(0)
        err = err_file.read().decode(errors="replace").strip()
    if os.waitstatus_to_exitcode(status) != 0:
        return None, None, err or f"exit code {os.waitstatus_to_exitcode(status)}"
    return seconds, usage.ru_maxrss / 1024.0, None
