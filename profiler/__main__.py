import sys

from profiler.commands import main

# The guard matters: spawned workers import this module again and must not start a run.
if __name__ == "__main__":
    sys.exit(main())
