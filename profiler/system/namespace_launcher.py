"""Start an interpreter inside a private network namespace: ``python namespace_launcher.py PYTHON
ARGS...``.

A worker whose pipeline starts servers that listen on every interface is spawned through this
file instead of the bare interpreter. It enters the namespace while it is still the only thread
(a new user namespace, needed without privileges, demands that; importing numpy alone starts a
thread pool), then replaces itself with ``PYTHON ARGS...``: the namespace survives the exec, and
so do the descriptors multiprocessing passed. The outcome reaches the worker in NETWORK_ENV.
"""

import os
import sys
from pathlib import Path

NETWORK_ENV = "TF_PIPELINE_PROFILER_NETWORK"
PRIVATE = "private"


def main() -> None:
    # Run as a file, not a module: find the package beside this file, and nothing in this folder
    # may shadow a standard module.
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [str(Path(here).parents[1])] + [entry for entry in sys.path if entry != here]
    from profiler.system.network_namespace import IsolationUnavailable, enter_private_network

    try:
        enter_private_network()
        os.environ[NETWORK_ENV] = PRIVATE
    except IsolationUnavailable as problem:
        os.environ[NETWORK_ENV] = f"open: {problem}"
    os.execv(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
